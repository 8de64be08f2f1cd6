"""Convolution and pooling on channels-last tensors: Conv -> ConvND / DepthwiseConv2D, ConvTranspose, pools."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import onnx

from onnxbridge.codegen.writer import call, dotted, lit
from onnxbridge.frameworks.tensorflow import layout as L
from onnxbridge.frameworks.tensorflow.context import TensorFlowContext, slice_code, subscript
from onnxbridge.frameworks.tensorflow.helpers import define
from onnxbridge.frameworks.tensorflow.registry import TF_OPS
from onnxbridge.ir.conventions import is_onnx_domain
from onnxbridge.ir.semantics import pool_out_size, same_total, split_total

DILATED_POOL = define("DilatedPool", '''
class DilatedPool(keras.layers.Layer):
    """Max or sum pooling of a channels-last tensor over dilated windows at any stride (TensorFlow pools
    dilated windows at stride 1 only): every window at stride 1, then every stride-th one."""

    def __init__(self, pool_size, strides, dilation_rate, kind="max", **kwargs):
        super().__init__(**kwargs)
        self.pool_size, self.strides, self.dilation_rate = list(pool_size), list(strides), list(dilation_rate)
        self.kind = kind

    def call(self, x):
        y = tf.nn.pool(x, self.pool_size, "MAX" if self.kind == "max" else "AVG", padding="VALID",
                       dilations=self.dilation_rate)
        if self.kind == "sum":  # the mean of a window that lies wholly inside, times its size
            for k in self.pool_size:
                y = y * k
        return y[(slice(None), *[slice(None, None, s) for s in self.strides], slice(None))]
''')


def spatial_padding(ctx: TensorFlowContext, kernel: list[int], strides: list[int], dilations: list[int],
                    in_spatial: tuple) -> tuple[str, list[tuple[int, int]]]:
    """Resolve ONNX padding to ("same" | "valid", explicit (begin, end) pads per spatial dim to add first).

    Keras ``"same"`` is ONNX ``SAME_UPPER``; other pads (explicit, or ``SAME_LOWER`` resolved per the ONNX
    spec by :meth:`~onnxbridge.frameworks.context.ConverterContext.spatial_pads`) are ``"same"`` when they
    happen to be what it pads, else explicit padding before a ``"valid"`` layer.
    """
    n = len(kernel)
    auto_pad = ctx.attr("auto_pad", "NOTSET")
    if auto_pad == "VALID":
        return "valid", [(0, 0)] * n
    if auto_pad == "SAME_UPPER":
        return "same", [(0, 0)] * n
    pads = ctx.spatial_pads(kernel, strides, dilations)
    begin, end = pads[:n], pads[n:]
    if not any(pads):
        return "valid", [(0, 0)] * n
    if all(_same_pads(k, s, d, size) == (b, e) for k, s, d, size, b, e
           in zip(kernel, strides, dilations, in_spatial, begin, end)):
        return "same", [(0, 0)] * n
    return "valid", list(zip(begin, end))


def _same_pads(k: int, s: int, d: int, size) -> tuple[int, int] | None:
    """The (begin, end) padding TensorFlow's "same" uses, or None when it depends on an unknown size."""
    total = same_total(size, k, s, d)
    return None if total is None else split_total(total, "SAME_UPPER")


def _label(ctx: TensorFlowContext) -> str:
    """A hint for the extra layers of this node (its padding, its cropping)."""
    return ctx.node.name or f"{ctx.op}_{ctx.output_name(0)}"


def _tuple(values: list[int]) -> int | tuple[int, ...]:
    return values[0] if len(set(values)) == 1 else tuple(values)


def pad_layer(ctx: TensorFlowContext, x, pads: list[tuple[int, int]], hint: str):
    """``layers.ZeroPaddingND`` for explicit pads (on a channels-last tensor)."""
    n = len(pads)
    value = pads[0] if n == 1 else tuple(pads)
    return call(ctx.layer(f"ZeroPadding{n}D", hint=hint, padding=value), x)


def _channel_vector(ctx: TensorFlowContext, node: onnx.NodeProto, value: str, channels: int, rank: int,
                    dtype: np.dtype) -> np.ndarray | None:
    """The other operand of ``node`` (a Mul or Add reading ``value``) when it is a constant with one
    number per channel (shape ``(1, C, 1, ...)`` or fewer leading ones), as a vector."""
    if len(node.input) != 2 or not is_onnx_domain(node.domain) or list(node.input).count(value) != 1:
        return None
    other = node.input[1] if node.input[0] == value else node.input[0]
    v = ctx.scope.values.get(other)
    c = v.const if v is not None and not v.instance else None
    if c is None or c.dtype != dtype or c.ndim > rank or c.size != channels:
        return None
    if c.reshape((1,) * (rank - c.ndim) + c.shape).shape != (1, channels) + (1,) * (rank - 2):
        return None
    return c.reshape(channels)


def _folded_affine(ctx: TensorFlowContext, w: np.ndarray, bias: np.ndarray | None,
                   rank: int) -> tuple[np.ndarray, np.ndarray | None, str]:
    """A per-channel ``Mul`` and then ``Add`` right after the convolution (an inference BatchNormalization
    that tf2onnx leaves unfolded, e.g. after a convolution with a bias) folded into its kernel and bias;
    returns them and the tensor the folded convolution computes."""
    channels, name = int(w.shape[0]), ctx.node.output[0]
    for op in ("Mul", "Add"):
        readers = ctx.readers(name)
        if len(readers) != 1 or readers[0].op_type != op or ctx.is_output(name):
            continue
        vector = _channel_vector(ctx, readers[0], name, channels, rank, w.dtype)
        if vector is None:
            continue
        if op == "Mul":
            w = w * vector.reshape(channels, *([1] * (w.ndim - 1)))
            bias = None if bias is None else bias * vector
        else:
            bias = vector if bias is None else bias + vector
        ctx.absorb(readers[0])
        name = readers[0].output[0]
    return w, bias, name


@TF_OPS.register("Conv")
def conv(ctx: TensorFlowContext) -> None:
    """ONNX ``Conv`` (1-D to 3-D), channels-last: a Keras convolution layer holding constant weights, the
    functional form for weights computed in the graph."""
    rank = ctx.rank(0)
    n = rank - 2
    if n not in (1, 2, 3):
        ctx.fail(f"{n}-D convolution is not supported")
    w = ctx.const(1)
    bias = ctx.const(2) if ctx.has(2) else None
    if w is None or (ctx.has(2) and bias is None):
        _conv_runtime(ctx, rank)
        return
    w, bias, result = _folded_affine(ctx, w, bias, rank)
    kernel = list(ctx.attr("kernel_shape", w.shape[2:]))
    strides = list(ctx.attr("strides", [1] * n))
    dilations = list(ctx.attr("dilations", [1] * n))
    group = int(ctx.attr("group", 1))
    in_shape = ctx.shape(0)
    padding, explicit = spatial_padding(ctx, kernel, strides, dilations, tuple(in_shape[2:]))
    # Keras convolutions take strides or dilations above 1, not both: every position at stride 1, then
    # every stride-th one
    subsample = strides if any(s > 1 for s in strides) and any(d > 1 for d in dilations) else None
    if subsample is not None:
        if padding == "same":
            same = [_same_pads(k, s, d, size) for k, s, d, size in zip(kernel, strides, dilations, in_shape[2:])]
            if any(p is None for p in same):
                ctx.fail("same padding of a strided dilated convolution needs static spatial sizes")
            padding, explicit = "valid", [p for p in same if p is not None]
        strides = [1] * n
    x = ctx.x_cl(0)
    if any(b or e for b, e in explicit):
        x = pad_layer(ctx, x, explicit, f"{_label(ctx)}_pad")
    out_channels, in_per_group = w.shape[0], w.shape[1]
    common: dict[str, Any] = dict(strides=_tuple(strides) if any(s != 1 for s in strides) else None,
                  padding=padding if padding != "valid" else None,
                  dilation_rate=_tuple(dilations) if any(d != 1 for d in dilations) else None,
                  use_bias=False if bias is None else None)
    spatial_axes = tuple(range(2, rank))
    if group > 1 and in_per_group == 1 and n in (1, 2) and out_channels % group == 0:
        multiplier = out_channels // group
        kern = w.reshape(group, multiplier, *w.shape[2:]).transpose(*[a for a in range(2, 2 + n)], 0, 1)
        weights = [kern] + ([bias] if bias is not None else [])
        layer = ctx.layer(f"DepthwiseConv{n}D", weights=weights, kernel_size=_tuple(kernel),
                          depth_multiplier=multiplier if multiplier != 1 else None, **common)
    else:
        kern = np.transpose(w, (*spatial_axes, 1, 0))
        weights = [kern] + ([bias] if bias is not None else [])
        layer = ctx.layer(f"Conv{n}D", weights=weights, filters=int(out_channels), kernel_size=_tuple(kernel),
                          groups=group if group != 1 else None, **common)
    y = call(layer, x)
    if subsample is not None:
        y = subscript(y, [slice_code(None, None)] + [slice_code(None, None, s) for s in subsample] +
                      [slice_code(None, None)])
    ctx.define(result, y, perm=L.channels_last(rank))


def _conv_runtime(ctx: TensorFlowContext, rank: int) -> None:
    """A convolution whose weights are tensors computed in the graph: ``ops.conv`` on the fly."""
    n = rank - 2
    group = int(ctx.attr("group", 1))
    w_shape = ctx.shape(1)
    # one group per input channel (depthwise): ops.depthwise_conv; other groupings have no Keras op
    depthwise = group > 1 and n in (1, 2) and w_shape[1] == 1 and ctx.shape(0)[1] == group \
        and isinstance(w_shape[0], int) and w_shape[0] % group == 0
    if group != 1 and not depthwise:
        ctx.fail("grouped convolution with run-time weights is not supported (only depthwise)")
    kernel = list(ctx.attr("kernel_shape", w_shape[2:]))
    if not all(isinstance(k, int) for k in kernel):
        ctx.fail("the kernel size must be static")
    strides = list(ctx.attr("strides", [1] * n))
    dilations = list(ctx.attr("dilations", [1] * n))
    padding, explicit = spatial_padding(ctx, kernel, strides, dilations, tuple(ctx.shape(0)[2:]))
    x = ctx.x_cl(0)
    if any(b or e for b, e in explicit):
        x = call(dotted("ops", "pad"), x, lit(((0, 0),) + tuple(explicit) + ((0, 0),)))
    if depthwise:  # (group * multiplier, 1, *kernel) -> (*kernel, group, multiplier)
        multiplier = w_shape[0] // group
        w = ctx.x(1) if multiplier == 1 else call(dotted("ops", "reshape"), ctx.x(1), lit((group, multiplier, *kernel)))
        kern = call(dotted("ops", "transpose"), w, lit((*range(2, rank), 0, 1)))
        y = call(dotted("ops", "depthwise_conv"), x, kern, strides=lit(_tuple(strides)), padding=lit(padding),
                 data_format=lit("channels_last"), dilation_rate=lit(_tuple(dilations)))
    else:
        kern = call(dotted("ops", "transpose"), ctx.x(1), lit((*range(2, rank), 1, 0)))
        y = call(dotted("ops", "conv"), x, kern, strides=lit(_tuple(strides)), padding=lit(padding),
                 data_format=lit("channels_last"), dilation_rate=lit(_tuple(dilations)))
    if ctx.has(2):
        y = call(dotted("ops", "add"), y, ctx.x(2))
    ctx.emit(y, perm=L.channels_last(rank))


MAX_POOL_INDICES = define("MaxPoolWithIndices", '''
class MaxPoolWithIndices(keras.layers.Layer):
    """2-D max pooling of a channels-last tensor that ``pads`` (top, left, bottom, right) already padded,
    with where each maximum is as ONNX numbers it: over the whole unpadded NCHW input, row-major, or
    column-major over height and width (``column_major``)."""

    def __init__(self, pool_size, strides, pads, column_major=False, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.pool_size, self.strides, self.pads = list(pool_size), list(strides), list(pads)
        self.column_major = column_major

    def call(self, x):
        values, where = tf.nn.max_pool_with_argmax(x, self.pool_size, self.strides, "VALID", output_dtype=tf.int64,
                                                   include_batch_in_index=True)
        shape = tf.shape(x, out_type=tf.int64)
        height, width, channels = shape[1], shape[2], shape[3]
        top, left, bottom, right = self.pads
        channel, rest = where % channels, where // channels
        col, rest = rest % width - left, rest // width
        row, batch = rest % height - top, rest // height
        h, w = height - top - bottom, width - left - right
        within = col * h + row if self.column_major else row * w + col
        return values, (batch * channels + channel) * h * w + within
''')


TRANSPOSED_CONV = define("TransposedConv", '''
class TransposedConv(keras.layers.Layer):
    """ONNX ConvTranspose of a channels-last tensor with any strides, dilations, groups and output padding (no
    cropping): the input spread ``strides`` apart with zeros, padded by the dilated kernel's reach, then
    convolved with the flipped kernel (ONNX layout [in, out / group, *kernel]), one group at a time."""

    def __init__(self, strides, dilations, group=1, output_padding=None, **kwargs):
        super().__init__(**kwargs)
        self.strides, self.dilations, self.group = list(strides), list(dilations), group
        self.output_padding = list(output_padding or [0] * len(self.strides))

    def call(self, x, kernel):
        nd = len(self.strides)
        kernel = tf.cast(kernel, x.dtype)
        for a, s in enumerate(self.strides, start=1):
            if s > 1:
                shape = tf.shape(x)
                spread = tf.pad(tf.expand_dims(x, a + 1), [[0, 0]] * (a + 1) + [[0, s - 1]] + [[0, 0]] * (nd + 1 - a))
                x = tf.reshape(spread, tf.concat([shape[:a], shape[a:a + 1] * s, shape[a + 1:]], 0))
                x = x[(slice(None),) * a + (slice(None, (x.shape[a] or tf.shape(x)[a]) - s + 1),)]
        reach = [d * (k - 1) for d, k in zip(self.dilations, kernel.shape[2:])]
        x = tf.pad(x, [[0, 0]] + [[r, r + p] for r, p in zip(reach, self.output_padding)] + [[0, 0]])
        flipped = tf.reverse(kernel, list(range(2, nd + 2)))
        per_group = kernel.shape[0] // self.group
        outs = []
        for g in range(self.group):
            w = tf.transpose(flipped[g * per_group:(g + 1) * per_group], [*range(2, nd + 2), 0, 1])
            part = x[..., g * per_group:(g + 1) * per_group]
            outs.append(tf.nn.convolution(part, w, padding="VALID", dilations=self.dilations))
        return outs[0] if self.group == 1 else tf.concat(outs, -1)
''')


@TF_OPS.register("ConvTranspose")
def conv_transpose(ctx: TensorFlowContext) -> None:
    """ONNX ``ConvTranspose`` (1-D to 3-D) as a Keras transposed convolution, channels-last; groups, dilations
    and output padding Keras does not take through the ``TransposedConv`` helper layer."""
    rank = ctx.rank(0)
    n = rank - 2
    if n not in (1, 2, 3):
        ctx.fail(f"{n}-D transposed convolution is not supported")
    w = ctx.const(1)
    bias = ctx.const(2) if ctx.has(2) else None
    group = int(ctx.attr("group", 1))
    w_shape = w.shape if w is not None else ctx.shape(1)
    kernel = list(ctx.attr("kernel_shape", w_shape[2:]))
    strides = list(ctx.attr("strides", [1] * n))
    dilations = list(ctx.attr("dilations", [1] * n))
    out_pad = list(ctx.attr("output_padding", [0] * n))
    pads = ctx.transposed_pads(kernel, strides, dilations, out_pad)
    for i in range(n):  # an output_shape beyond the convolution's: more output padding
        if pads[i + n] < 0:
            out_pad[i], pads[i + n] = out_pad[i] - pads[i + n], 0
    x = ctx.x_cl(0)
    if group != 1 or any(d != 1 for d in dilations) or any(op >= s for op, s in zip(out_pad, strides)):
        kern = ctx.x(1) if w is None else ctx.constant(w, f"{_label(ctx)}_kernel")
        layer = ctx.layer(str(ctx.helper(TRANSPOSED_CONV)), module="", strides=tuple(strides),
                          dilations=tuple(dilations), group=group if group != 1 else None,
                          output_padding=tuple(out_pad) if any(out_pad) else None)
        y = call(layer, x, kern)
        if ctx.has(2):
            y = call(dotted("ops", "add"), y, ctx.x(2))
    elif w is None or (ctx.has(2) and bias is None):
        # weights computed in the graph: the functional form
        kern = call(dotted("ops", "transpose"), ctx.x(1), lit((*range(2, rank), 1, 0)))
        layer = ctx.layer(str(ctx.helper("ConvTransposeOp")), module="", strides=_tuple(strides),
                          output_padding=_tuple(out_pad) if any(out_pad) else None)
        y = call(layer, x, kern)
        if ctx.has(2):
            y = call(dotted("ops", "add"), y, ctx.x(2))
    else:
        kernel_array = np.transpose(w, (*range(2, rank), 1, 0))
        weights = [kernel_array] + ([bias] if bias is not None else [])
        layer = ctx.layer(f"Conv{n}DTranspose", weights=weights, filters=int(w.shape[1]), kernel_size=_tuple(kernel),
                          strides=_tuple(strides) if any(s != 1 for s in strides) else None,
                          output_padding=_tuple(out_pad) if any(out_pad) else None,
                          use_bias=False if bias is None else None)
        y = call(layer, x)
    crops = list(zip(pads[:n], pads[n:]))
    if any(b or e for b, e in crops):
        y = call(ctx.layer(f"Cropping{n}D", hint=f"{_label(ctx)}_crop",
                            cropping=crops[0] if n == 1 else tuple(crops)), y)
    ctx.emit(y, perm=L.channels_last(rank))


# -- pooling ---------------------------------------------------------------------------------------------
def _pool_geometry(ctx: TensorFlowContext, *, explicit_pads: bool = False):
    rank = ctx.rank(0)
    n = rank - 2
    if n not in (1, 2, 3):
        ctx.fail(f"{n}-D pooling is not supported")
    kernel = list(ctx.attr("kernel_shape"))
    strides = list(ctx.attr("strides", [1] * n))
    dilations = list(ctx.attr("dilations", [1] * n))
    in_shape = ctx.shape(0)
    spatial = tuple(in_shape[2:])
    padding, explicit = spatial_padding(ctx, kernel, strides, dilations, spatial)
    if padding == "same" and explicit_pads:
        pads = [_same_pads(k, s, d, size) for k, s, d, size in zip(kernel, strides, dilations, spatial)]
        if any(p is None for p in pads):
            ctx.fail("same padding needs static spatial sizes here")
        padding, explicit = "valid", [p for p in pads if p is not None]
    if ctx.attr("ceil_mode", 0):
        # ceil mode adds windows at the end: pad to reach them
        if padding != "same":
            if not all(isinstance(d, int) for d in spatial):
                ctx.fail("ceil_mode needs static spatial sizes")
            out = tuple(pool_out_size(size, k, s, d, b, e, True) for size, k, s, d, (b, e)
                        in zip(spatial, kernel, strides, dilations, explicit))
            explicit = [(b, max(e, (o - 1) * s + (k - 1) * d + 1 - size - b)) for (b, e), o, s, k, d, size
                        in zip(explicit, out, strides, kernel, dilations, spatial)]
    return rank, n, kernel, strides, dilations, padding, explicit


def _pad_value(x, pads: list[tuple[int, int]], value: float):
    widths = ((0, 0),) + tuple(pads) + ((0, 0),)
    return call(dotted("ops", "pad"), x, lit(widths), constant_values=lit(value))


@TF_OPS.register("MaxPool")
def max_pool(ctx: TensorFlowContext) -> None:
    """ONNX ``MaxPool`` as Keras max pooling (explicit pads as a separate pad); the Indices output is refused."""
    if ctx.has_output(1):
        _max_pool_with_indices(ctx)
        return
    rank, n, kernel, strides, dilations, padding, explicit = _pool_geometry(ctx)
    x = ctx.x_cl(0)
    if any(d != 1 for d in dilations):
        rank, n, kernel, strides, dilations, padding, explicit = _pool_geometry(ctx, explicit_pads=True)
        if any(b or e for b, e in explicit):
            x = _pad_value(x, explicit, -math.inf)
        layer = ctx.layer(str(ctx.helper(DILATED_POOL)), module="", pool_size=tuple(kernel),
                          strides=tuple(strides), dilation_rate=tuple(dilations))
        ctx.emit(call(layer, x), perm=L.channels_last(rank))
        return
    if any(b or e for b, e in explicit):
        x = _pad_value(x, explicit, -math.inf)
    layer = ctx.layer(f"MaxPooling{n}D", pool_size=_tuple(kernel), strides=_tuple(strides),
                      padding=padding if padding != "valid" else None)
    ctx.emit(call(layer, x), perm=L.channels_last(rank))


def _max_pool_with_indices(ctx: TensorFlowContext) -> None:
    """MaxPool with its Indices output: ``tf.nn.max_pool_with_argmax`` renumbered as ONNX numbers them."""
    rank, n, kernel, strides, dilations, padding, explicit = _pool_geometry(ctx, explicit_pads=True)
    if n != 2 or any(d != 1 for d in dilations):
        ctx.fail("the Indices output of MaxPool is supported for 2-D pooling without dilation")
    x = ctx.x_cl(0)
    if any(b or e for b, e in explicit):
        x = _pad_value(x, explicit, -math.inf)
    (top, bottom), (left, right) = explicit
    column_major = int(ctx.attr("storage_order", 0)) == 1
    layer = ctx.layer(str(ctx.helper(MAX_POOL_INDICES)), module="", pool_size=tuple(kernel), strides=tuple(strides),
                      pads=(top, left, bottom, right), column_major=True if column_major else None)
    ctx.outs(call(layer, x), [L.channels_last(rank)] * 2)


@TF_OPS.register("AveragePool")
def average_pool(ctx: TensorFlowContext) -> None:
    """ONNX ``AveragePool`` as Keras average pooling, padding counted or not as ``count_include_pad`` says;
    dilated windows (and ceil_mode windows past counted pads) as window sums divided by their counts."""
    include_pad = bool(ctx.attr("count_include_pad", 0))
    dilated = any(d != 1 for d in ctx.attr("dilations", []))
    rank, n, kernel, strides, dilations, padding, explicit = _pool_geometry(ctx, explicit_pads=include_pad or dilated)
    x = ctx.x_cl(0)
    padded = any(b or e for b, e in explicit)
    if dilated or (padded and include_pad and ctx.attr("ceil_mode", 0)):
        # window sums over the zero-padded input, divided by the number of elements each window counts
        window: dict[str, Any] = dict(pool_size=tuple(kernel), strides=tuple(strides), dilation_rate=tuple(dilations),
                                      kind="sum")
        layer = ctx.layer(str(ctx.helper(DILATED_POOL)), module="", **window)
        count_layer = ctx.layer(str(ctx.helper(DILATED_POOL)), module="", hint=f"{_label(ctx)}_count", **window)
        counted = call(dotted("ops", "ones_like"), x)
        if include_pad:  # the pads count, the windows ceil_mode adds past them do not
            declared = ctx.spatial_pads(kernel, strides, dilations) if ctx.attr("ceil_mode", 0) else \
                [b for b, _ in explicit] + [e for _, e in explicit]
            counted = _pad_value(counted, list(zip(declared[:n], declared[n:])), 1.0)
            beyond = [(0, e - declared[n + k]) for k, (_, e) in enumerate(explicit)]
            if any(e for _, e in beyond):
                counted = _pad_value(counted, beyond, 0.0)
        else:
            counted = _pad_value(counted, explicit, 0.0)
        total = call(layer, _pad_value(x, explicit, 0.0))
        ctx.emit(call(dotted("ops", "divide"), total, call(count_layer, counted)), perm=L.channels_last(rank))
        return
    if padded and include_pad:
        x = _pad_value(x, explicit, 0.0)
    elif padded:
        # average over the real elements only: pool the zero-padded input and a zero-padded mask of ones
        pool = dict(pool_size=lit(_tuple(kernel)), strides=lit(_tuple(strides)), padding=lit("valid"))
        total = call(dotted("ops", "average_pool"), _pad_value(x, explicit, 0.0), **pool)
        count = call(dotted("ops", "average_pool"),
                     _pad_value(call(dotted("ops", "ones_like"), x), explicit, 0.0), **pool)
        ctx.emit(call(dotted("ops", "divide"), total, count), perm=L.channels_last(rank))
        return
    layer = ctx.layer(f"AveragePooling{n}D", pool_size=_tuple(kernel), strides=_tuple(strides),
                      padding=padding if padding != "valid" else None)
    ctx.emit(call(layer, x), perm=L.channels_last(rank))


def _global(kind: str):
    def convert(ctx: TensorFlowContext) -> None:
        rank = ctx.rank(0)
        n = rank - 2
        if n not in (1, 2, 3):
            ctx.fail(f"{n}-D global pooling is not supported")
        layer = ctx.layer(f"Global{kind}Pooling{n}D", keepdims=True)
        ctx.emit(call(layer, ctx.x_cl(0)), perm=L.channels_last(rank))

    return convert


TF_OPS.register("GlobalAveragePool")(_global("Average"))
TF_OPS.register("GlobalMaxPool")(_global("Max"))


def _lp_sum(ctx: TensorFlowContext, x, p: int):
    """|x|^p (the sum of it, pooled, gives the p-norm of each window)."""
    a = call(dotted("ops", "abs"), x)
    return a if p == 1 else call(dotted("ops", "power"), a, lit(float(p)))


def _root(y, p: int):
    return y if p == 1 else call(dotted("ops", "power"), y, lit(1.0 / p))


@TF_OPS.register("LpPool", since=11)
def lp_pool(ctx: TensorFlowContext) -> None:
    """ONNX ``LpPool`` as the p-th root of a sum pooling of ``|x|^p``, over dilated windows too."""
    rank, n, kernel, strides, dilations, padding, explicit = _pool_geometry(ctx, explicit_pads=True)
    p = int(ctx.attr("p", 2))
    x = _lp_sum(ctx, ctx.x_cl(0), p)
    if any(b or e for b, e in explicit):
        x = _pad_value(x, explicit, 0.0)
    if any(d != 1 for d in dilations):
        layer = ctx.layer(str(ctx.helper(DILATED_POOL)), module="", pool_size=tuple(kernel), strides=tuple(strides),
                          dilation_rate=tuple(dilations), kind="sum")
        ctx.emit(_root(call(layer, x), p), perm=L.channels_last(rank))
        return
    window = int(np.prod(kernel))
    total = call(dotted("ops", "multiply"), call(dotted("ops", "average_pool"), x, pool_size=lit(_tuple(kernel)),
                                                 strides=lit(_tuple(strides)), padding=lit("valid")),
                 lit(float(window)))
    ctx.emit(_root(total, p), perm=L.channels_last(rank))


@TF_OPS.register("GlobalLpPool", since=2)
def global_lp_pool(ctx: TensorFlowContext) -> None:
    """ONNX ``GlobalLpPool`` as the p-norm over the spatial axes."""
    rank = ctx.rank(0)
    p = int(ctx.attr("p", 2))
    total = call(dotted("ops", "sum"), _lp_sum(ctx, ctx.x_cl(0), p), axis=lit(tuple(range(1, rank - 1))),
                 keepdims=lit(True))
    ctx.emit(_root(total, p), perm=L.channels_last(rank))
