"""Quantization: QuantizeLinear / DequantizeLinear (per tensor, per axis, blocked), DynamicQuantizeLinear,
and the integer kernels QLinearMatMul, QLinearConv, MatMulInteger, ConvInteger.

Integer products are computed exactly in float64 (every 8/16-bit product sum fits in its 53-bit mantissa)
and rounded half to even as ONNX specifies (``torch.round``), then saturated to the output type.
"""

from __future__ import annotations

import onnx

from onnxbridge.codegen.writer import Code, fmt, lit
from onnxbridge.frameworks.torch.context import TorchContext, compact, fn
from onnxbridge.frameworks.torch.ops.conv import torch_pad
from onnxbridge.frameworks.torch.registry import TORCH_OPS
from onnxbridge.ir.dtypes import onnx_type_name

REG = TORCH_OPS.register

T = onnx.TensorProto
_INTEGERS: dict[int | None, tuple[int, int]] = {T.INT8: (-128, 127), T.UINT8: (0, 255), T.INT16: (-32768, 32767), T.UINT16: (0, 65535),
             T.INT32: (-(2**31), 2**31 - 1)}
_FLOAT8: dict[int | None, float] = {T.FLOAT8E4M3FN: 448.0, T.FLOAT8E4M3FNUZ: 240.0, T.FLOAT8E5M2: 57344.0, T.FLOAT8E5M2FNUZ: 57344.0}


def _check_type(ctx: TorchContext, elem: int | None) -> int:
    if elem is None or (elem not in _INTEGERS and elem not in _FLOAT8):
        ctx.fail(f"quantizing to {onnx_type_name(elem)} is not supported (8/16/32-bit integers and float8 are)")
    return elem


def _broadcast(ctx: TorchContext, i: int, axis: int, rank: int, block: int) -> Code:
    """Input ``i`` (a scale or zero point) shaped to broadcast against the data: per tensor as is, per axis
    along ``axis``, blocked repeated ``block`` times along it."""
    value = ctx.t(i)
    shape = ctx.shape(i)
    if len(shape) == 0 or (len(shape) == 1 and shape[0] == 1 and block == 0):
        return value
    if block:
        return fmt("{}.repeat_interleave({}, {}).narrow({}, 0, {}.shape[{}])", value, lit(block), lit(axis),
                   lit(axis), ctx.t(0), lit(axis))
    if len(shape) != 1:
        ctx.fail(f"a per-axis scale must be 1-D, got shape {list(shape)}")
    trailing = rank - 1 - axis
    return value if trailing == 0 else fmt("{}.reshape({})", value, lit((-1,) + (1,) * trailing))


def _quantize_attrs(ctx: TorchContext) -> tuple[int, int, int]:
    rank, block = ctx.rank(0), int(ctx.attr("block_size", 0))
    scale = ctx.shape(1)
    per_tensor = len(scale) == 0 or (len(scale) == 1 and scale[0] == 1 and not block)
    # the axis only matters for a per-axis or blocked scale (the default 1 may not exist otherwise)
    axis = 0 if per_tensor else ctx.axis(ctx.attr("axis", 1), rank)
    return rank, axis, block


@REG("QuantizeLinear", since=10)
def quantize_linear(ctx: TorchContext) -> None:
    """ONNX ``QuantizeLinear`` (see the module docstring)."""
    rank, axis, block = _quantize_attrs(ctx)
    elem = ctx.elem(2) if ctx.has(2) else int(ctx.attr("output_dtype", 0) or T.UINT8)
    _check_type(ctx, elem)
    scaled = fmt("{} / {}", ctx.t(0), _broadcast(ctx, 1, axis, rank, block))
    if elem in _FLOAT8:
        if ctx.has(2):
            scaled = fmt("{} + {}.to({}.dtype)", scaled, _broadcast(ctx, 2, axis, rank, block), ctx.t(0))
        if int(ctx.attr("saturate", 1)):
            limit = _FLOAT8[elem]
            scaled = fn("torch.clamp", scaled, lit(-limit), lit(limit))
        ctx.emit(fmt("({}).to({})", scaled, ctx.dtype(elem)))
        return
    y = fn("torch.round", scaled)
    if ctx.has(2):
        y = fmt("{} + {}", y, _broadcast(ctx, 2, axis, rank, block))
    low, high = _INTEGERS[elem]
    ctx.emit(fmt("{}.to({})", fn("torch.clamp", y, lit(low), lit(high)), ctx.dtype(elem)))


@REG("DequantizeLinear", since=10)
def dequantize_linear(ctx: TorchContext) -> None:
    """ONNX ``DequantizeLinear`` (see the module docstring)."""
    rank, axis, block = _quantize_attrs(ctx)
    elem = ctx.elem(0)
    if elem not in _INTEGERS and elem not in _FLOAT8:
        ctx.fail(f"dequantizing {onnx_type_name(elem)} is not supported (8/16/32-bit integers and float8 are)")
    out = int(ctx.attr("output_dtype", 0) or ctx.elem(1) or T.FLOAT)
    dtype = ctx.dtype(out)
    x = fmt("{}.to({})", ctx.t(0), dtype)
    if ctx.has(1) and ctx.has(2):
        x = fmt("({} - {}.to({}))", x, _broadcast(ctx, 2, axis, rank, block), dtype)
    ctx.emit(fmt("{} * {}", x, _broadcast(ctx, 1, axis, rank, block)))


@REG("DynamicQuantizeLinear", since=11)
def dynamic_quantize_linear(ctx: TorchContext) -> None:
    """ONNX ``DynamicQuantizeLinear`` (see the module docstring)."""
    x = ctx.t(0)
    low, high = ctx.temp("low"), ctx.temp("high")
    # the range always includes 0, so that 0 is exactly representable
    ctx.line("{} = {}.min().clamp(max=0)", low, x)
    ctx.line("{} = {}.max().clamp(min=0)", high, x)
    scale = ctx.emit(fmt("torch.where({} == {}, 1.0, {} - {}) / 255", high, low, high, low), 1)
    zero = ctx.emit(fmt("torch.round(torch.clamp(-{} / {}, 0, 255))", low, scale), 2)
    ctx.emit(fmt("torch.clamp(torch.round({} / {}) + {}, 0, 255).to(torch.uint8)", x, scale, zero))
    ctx.line("{} = {}.to(torch.uint8)", zero, zero)


def _centred(ctx: TorchContext, i: int, zero: int | None, per_row_rank: int | None = None) -> Code:
    """Input ``i`` as float64 minus its zero point (input ``zero``); a 1-D zero point of a weight with
    ``per_row_rank`` axes is per output channel."""
    x = fmt("{}.double()", ctx.t(i))
    if zero is None or not ctx.has(zero):
        return x
    z = fmt("{}.double()", ctx.t(zero))
    shape = ctx.shape(zero)
    if per_row_rank is not None and len(shape) == 1 and shape[0] != 1:
        z = fmt("{}.reshape({})", z, lit((-1,) + (1,) * (per_row_rank - 1)))
    return fmt("({} - {})", x, z)


def _requantize(ctx: TorchContext, acc: Code, scale: Code, y_zero: int) -> None:
    """``acc * scale + zero point``, rounded half to even and saturated to the zero point's type."""
    elem = ctx.elem(y_zero) if ctx.has(y_zero) else ctx.elem(0)
    if elem not in _INTEGERS:
        ctx.fail(f"the output type {onnx_type_name(elem)} is not an 8/16/32-bit integer")
    y = fmt("{} * {}", acc, scale)
    if ctx.has(y_zero):
        y = fmt("{} + {}.double()", y, ctx.t(y_zero))
    low, high = _INTEGERS[elem]
    ctx.emit(fmt("{}.to({})", fn("torch.clamp", fn("torch.round", y), lit(low), lit(high)), ctx.dtype(elem)))


def _scale(ctx: TorchContext, *scales: int, per_channel: tuple[int, int] | None = None) -> Code:
    """The product of scale inputs over the last one, in float64 (``a * b / y``)."""
    parts = [fmt("{}.double()", ctx.t(i)) for i in scales]
    if per_channel is not None:
        index, rank = per_channel
        shape = ctx.shape(index)
        if len(shape) == 1 and shape[0] != 1:
            parts[scales.index(index)] = fmt("{}.reshape({})", parts[scales.index(index)],
                                             lit((1, -1) + (1,) * (rank - 2)))
    return fmt("({} * {} / {})", *parts)


@REG("QLinearMatMul", since=10)
def qlinear_matmul(ctx: TorchContext) -> None:
    """ONNX ``QLinearMatMul`` (see the module docstring)."""
    acc = fn("torch.matmul", _centred(ctx, 0, 2), _centred(ctx, 3, 5))
    _requantize(ctx, acc, _scale(ctx, 1, 4, 6), 7)


@REG("MatMulInteger", since=10)
def matmul_integer(ctx: TorchContext) -> None:
    """ONNX ``MatMulInteger`` (see the module docstring)."""
    acc = fn("torch.matmul", _centred(ctx, 0, 2), _centred(ctx, 1, 3, per_row_rank=None))
    ctx.emit(fmt("{}.to(torch.int32)", acc))


def _conv(ctx: TorchContext, x: Code, w: Code, w_index: int, bias: Code | None = None) -> Code:
    """``F.conv{n}d`` of float64 operands with the node's attributes (uneven pads through ``F.pad``)."""
    shape = ctx.shape(w_index)
    kernel = [int(k) for k in ctx.attr("kernel_shape", [])] or list(shape[2:])
    nd = len(kernel)
    if nd not in (1, 2, 3) or not all(isinstance(k, int) for k in kernel):
        ctx.fail(f"{nd}-D convolution with a kernel of known size (torch has 1-D to 3-D)")
    strides = [int(s) for s in ctx.attr("strides", [1] * nd)]
    dilations = [int(d) for d in ctx.attr("dilations", [1] * nd)]
    pads = ctx.spatial_pads(kernel, strides, dilations)
    kwargs: dict[str, Code] = {}
    if pads[:nd] != pads[nd:]:
        x = fn("F.pad", x, torch_pad(pads))
    elif any(pads):
        kwargs["padding"] = compact(pads[:nd])
    if any(s != 1 for s in strides):
        kwargs["stride"] = compact(strides)
    if any(d != 1 for d in dilations):
        kwargs["dilation"] = compact(dilations)
    if int(ctx.attr("group", 1)) != 1:
        kwargs["groups"] = lit(int(ctx.attr("group")))
    return fn(f"F.conv{nd}d", x, w, bias if bias is not None else Code("None"), **kwargs)


@REG("ConvInteger", since=10)
def conv_integer(ctx: TorchContext) -> None:
    """ONNX ``ConvInteger`` (see the module docstring)."""
    rank = ctx.rank(1)
    acc = _conv(ctx, _centred(ctx, 0, 2), _centred(ctx, 1, 3, per_row_rank=rank), 1)
    ctx.emit(fmt("{}.to(torch.int32)", acc))


@REG("QLinearConv", since=10)
def qlinear_conv(ctx: TorchContext) -> None:
    """ONNX ``QLinearConv`` (see the module docstring)."""
    rank = ctx.rank(3)
    bias = fmt("{}.double()", ctx.t(8)) if ctx.has(8) else None
    acc = _conv(ctx, _centred(ctx, 0, 2), _centred(ctx, 3, 5, per_row_rank=rank), 3, bias)
    _requantize(ctx, acc, _scale(ctx, 1, 4, 6, per_channel=(4, rank)), 7)

