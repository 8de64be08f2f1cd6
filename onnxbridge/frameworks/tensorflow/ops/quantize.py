"""Quantization: QuantizeLinear / DequantizeLinear (per tensor, per axis, blocked), DynamicQuantizeLinear,
and the integer kernels QLinearMatMul, QLinearConv, MatMulInteger, ConvInteger, written with Keras ops.

Integer products are computed exactly in float64 (every 8/16-bit product sum fits in its 53-bit mantissa)
and rounded half to even as ONNX specifies (``ops.round``), then saturated to the output type. Keras tensors
have no float8 or 4-bit types, so those are refused.
"""

from __future__ import annotations

import onnx

from onnxbridge.codegen.writer import Code, call, dotted, lit
from onnxbridge.frameworks.tensorflow.context import TensorFlowContext
from onnxbridge.frameworks.tensorflow.helpers import define
from onnxbridge.frameworks.tensorflow.registry import TF_OPS
from onnxbridge.ir.dtypes import onnx_type_name

T = onnx.TensorProto
_INTEGERS: dict[int, tuple[int, int]] = {T.INT8: (-128, 127), T.UINT8: (0, 255), T.INT16: (-32768, 32767), T.INT32: (-(2**31), 2**31 - 1)}


def _ops(name: str, *args: Code, **kwargs: Code) -> Code:
    return call(dotted("ops", name), *args, **kwargs)


def _f64(code: Code) -> Code:
    return _ops("cast", code, lit("float64"))


def _broadcast(ctx: TensorFlowContext, i: int, axis: int, rank: int, block: int) -> Code:
    """Input ``i`` (a scale or zero point) shaped to broadcast against the data: per tensor as is, per axis
    along ``axis``, blocked repeated ``block`` times along it."""
    value = ctx.x(i)
    shape = ctx.shape(i)
    if len(shape) == 0 or (len(shape) == 1 and shape[0] == 1 and block == 0):
        return value
    if block:
        size = ctx.shape(0)[axis]
        if not isinstance(size, int):
            ctx.fail("blocked quantization needs the size of the quantized axis")
        repeated = _ops("repeat", value, lit(block), axis=lit(axis))
        return _ops("slice", repeated, lit([0] * rank), lit([-1 if a != axis else size for a in range(rank)]))
    if len(shape) != 1:
        ctx.fail(f"a per-axis scale must be 1-D, got shape {list(shape)}")
    trailing = rank - 1 - axis
    return value if trailing == 0 else _ops("reshape", value, lit((-1,) + (1,) * trailing))


def _quantize_attrs(ctx: TensorFlowContext) -> tuple[int, int, int]:
    rank, block = ctx.rank(0), int(ctx.attr("block_size", 0))
    scale = ctx.shape(1)
    per_tensor = len(scale) == 0 or (len(scale) == 1 and scale[0] == 1 and not block)
    # the axis only matters for a per-axis or blocked scale (the default 1 may not exist otherwise)
    axis = 0 if per_tensor else ctx.axis(ctx.attr("axis", 1), rank)
    return rank, axis, block


def _saturated(ctx: TensorFlowContext, y: Code, elem: int | None) -> Code:
    if elem not in _INTEGERS:
        ctx.fail(f"{onnx_type_name(elem)} is not an 8/16/32-bit integer type Keras holds")
    low, high = _INTEGERS[elem]
    return _ops("cast", _ops("clip", y, lit(low), lit(high)), lit(ctx.dtype(elem)))


@TF_OPS.register("QuantizeLinear", since=10)
def quantize_linear(ctx: TensorFlowContext) -> None:
    """ONNX ``QuantizeLinear`` (see the module docstring)."""
    rank, axis, block = _quantize_attrs(ctx)
    elem = ctx.elem(2) if ctx.has(2) else int(ctx.attr("output_dtype", 0) or T.UINT8)
    y = _ops("round", _ops("divide", ctx.x(0), _broadcast(ctx, 1, axis, rank, block)))
    if ctx.has(2):
        y = _ops("add", y, _ops("cast", _broadcast(ctx, 2, axis, rank, block), lit(ctx.dtype(ctx.elem(0)))))
    ctx.emit(_saturated(ctx, y, elem))


@TF_OPS.register("DequantizeLinear", since=10)
def dequantize_linear(ctx: TensorFlowContext) -> None:
    """ONNX ``DequantizeLinear`` (see the module docstring)."""
    rank, axis, block = _quantize_attrs(ctx)
    if ctx.elem(0) not in _INTEGERS:
        ctx.fail(f"dequantizing {onnx_type_name(ctx.elem(0))} is not supported (8/16/32-bit integers are)")
    dtype = lit(ctx.dtype(int(ctx.attr("output_dtype", 0) or ctx.elem(1) or T.FLOAT)))
    x = _ops("cast", ctx.x(0), dtype)
    if ctx.has(2):
        x = _ops("subtract", x, _ops("cast", _broadcast(ctx, 2, axis, rank, block), dtype))
    ctx.emit(_ops("multiply", x, _broadcast(ctx, 1, axis, rank, block)))


@TF_OPS.register("DynamicQuantizeLinear", since=11)
def dynamic_quantize_linear(ctx: TensorFlowContext) -> None:
    """ONNX ``DynamicQuantizeLinear`` (see the module docstring)."""
    x = ctx.x(0)
    low, high = ctx.scope.new_var("low"), ctx.scope.new_var("high")
    # the range always includes 0, so that 0 is exactly representable
    ctx.define_raw(low, _ops("minimum", _ops("min", x), lit(0.0)))
    ctx.define_raw(high, _ops("maximum", _ops("max", x), lit(0.0)))
    ctx.uses.update({low, high})
    spread = _ops("where", _ops("equal", high, low), lit(1.0), _ops("subtract", high, low))
    scale = ctx.emit(_ops("divide", spread, lit(255.0)), 1)
    ctx.uses.add(scale)
    zero = ctx.scope.new_var("zero_point")
    ctx.define_raw(zero, _ops("round", _ops("clip", _ops("divide", _ops("negative", low), scale), lit(0), lit(255))))
    ctx.uses.add(zero)
    ctx.emit(_ops("cast", zero, lit("uint8")), 2)
    y = _ops("add", _ops("round", _ops("divide", x, scale)), zero)
    ctx.emit(_saturated(ctx, y, T.UINT8))


def _centred(ctx: TensorFlowContext, i: int, zero: int, per_row_rank: int | None = None) -> Code:
    """Input ``i`` as float64 minus its zero point (input ``zero``); a 1-D zero point of a weight with
    ``per_row_rank`` axes is per output channel."""
    x = _f64(ctx.x(i))
    if not ctx.has(zero):
        return x
    z = _f64(ctx.x(zero))
    shape = ctx.shape(zero)
    if per_row_rank is not None and len(shape) == 1 and shape[0] != 1:
        z = _ops("reshape", z, lit((-1,) + (1,) * (per_row_rank - 1)))
    return _ops("subtract", x, z)


def _requantize(ctx: TensorFlowContext, acc: Code, scales: tuple[int, int, int], y_zero: int,
                per_channel_rank: int | None = None) -> None:
    """``acc * (s0 * s1 / s2) + zero point``, rounded half to even and saturated to the zero point's type."""
    parts = [_f64(ctx.x(i)) for i in scales]
    if per_channel_rank is not None and len(ctx.shape(scales[1])) == 1 and ctx.shape(scales[1])[0] != 1:
        parts[1] = _ops("reshape", parts[1], lit((1, -1) + (1,) * (per_channel_rank - 2)))
    y = _ops("multiply", acc, _ops("divide", _ops("multiply", parts[0], parts[1]), parts[2]))
    if ctx.has(y_zero):
        y = _ops("add", y, _f64(ctx.x(y_zero)))
    ctx.emit(_saturated(ctx, _ops("round", y), ctx.elem(y_zero) if ctx.has(y_zero) else ctx.elem(0)))


@TF_OPS.register("QLinearMatMul", since=10)
def qlinear_matmul(ctx: TensorFlowContext) -> None:
    """ONNX ``QLinearMatMul`` (see the module docstring)."""
    _requantize(ctx, _ops("matmul", _centred(ctx, 0, 2), _centred(ctx, 3, 5)), (1, 4, 6), 7)


@TF_OPS.register("MatMulInteger", since=10)
def matmul_integer(ctx: TensorFlowContext) -> None:
    """ONNX ``MatMulInteger`` (see the module docstring)."""
    ctx.emit(_ops("cast", _ops("matmul", _centred(ctx, 0, 2), _centred(ctx, 1, 3)), lit("int32")))


CONV = define("ChannelsFirstConvolution", '''
class ChannelsFirstConvolution(keras.layers.Layer):
    """A (grouped) convolution of channels-first x by a run-time kernel [out, in / groups, *k], with explicit
    ONNX pads (begins, then ends), in the inputs' float type (float64 keeps integer sums exact)."""

    def __init__(self, strides, pads, dilations, groups=1, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.strides, self.pads, self.dilations, self.groups = list(strides), list(pads), list(dilations), groups

    def call(self, x, kernel):
        axes = len(self.strides)
        x = tf.transpose(x, [0, *range(2, axes + 2), 1])
        x = tf.pad(x, [[0, 0]] + [[self.pads[d], self.pads[axes + d]] for d in range(axes)] + [[0, 0]])
        kernel = tf.transpose(kernel, [*range(2, axes + 2), 1, 0])
        parts = [tf.nn.convolution(xs, ks, strides=self.strides, dilations=self.dilations, padding="VALID")
                 for xs, ks in zip(tf.split(x, self.groups, -1), tf.split(kernel, self.groups, -1))]
        y = parts[0] if self.groups == 1 else tf.concat(parts, -1)
        return tf.transpose(y, [0, axes + 1, *range(1, axes + 1)])
''')


def _conv(ctx: TensorFlowContext, x: Code, w: Code, w_index: int) -> Code:
    shape = ctx.shape(w_index)
    kernel = [int(k) for k in ctx.attr("kernel_shape", [])] or list(shape[2:])
    nd = len(kernel)
    if not all(isinstance(k, int) for k in kernel):
        ctx.fail("the kernel size must be known when converting")
    strides = [int(s) for s in ctx.attr("strides", [1] * nd)]
    dilations = [int(d) for d in ctx.attr("dilations", [1] * nd)]
    layer = ctx.layer(str(ctx.helper(CONV)), module="", strides=strides,
                      pads=ctx.spatial_pads(kernel, strides, dilations), dilations=dilations,
                      groups=int(ctx.attr("group", 1)) if int(ctx.attr("group", 1)) != 1 else None)
    return call(layer, x, w)


@TF_OPS.register("ConvInteger", since=10)
def conv_integer(ctx: TensorFlowContext) -> None:
    """ONNX ``ConvInteger`` (see the module docstring)."""
    acc = _conv(ctx, _centred(ctx, 0, 2), _centred(ctx, 1, 3, per_row_rank=ctx.rank(1)), 1)
    ctx.emit(_ops("cast", acc, lit("int32")))


@TF_OPS.register("QLinearConv", since=10)
def qlinear_conv(ctx: TensorFlowContext) -> None:
    """ONNX ``QLinearConv`` (see the module docstring)."""
    rank = ctx.rank(3)
    acc = _conv(ctx, _centred(ctx, 0, 2), _centred(ctx, 3, 5, per_row_rank=rank), 3)
    if ctx.has(8):
        acc = _ops("add", acc, _ops("reshape", _f64(ctx.x(8)), lit((1, -1) + (1,) * (rank - 2))))
    _requantize(ctx, acc, (1, 4, 6), 7, per_channel_rank=rank)
