"""Padding and resizing: Pad -> ``ops.pad``; Resize / Upsample -> ``layers.UpSampling2D`` / ``layers.Resizing``."""

from __future__ import annotations

from typing import Any

import numpy as np

from onnxbridge.codegen.writer import Code, call, dotted, lit
from onnxbridge.frameworks.tensorflow import layout as L
from onnxbridge.frameworks.tensorflow.context import (
    TensorFlowContext,
    listing,
    np_literal,
    slice_code,
    subscript,
)
from onnxbridge.frameworks.tensorflow.helpers import define
from onnxbridge.frameworks.tensorflow.registry import TF_OPS

RESIZE = define("ResizeAxes", '''
class ResizeAxes(keras.layers.Layer):
    """ONNX Resize (and Upsample) with every mode and coordinate rule, the scales or sizes (``by``) known at
    run time: one axis at a time, each output position a weighted sum of its input neighbours (nearest: the
    one it rounds to), the weights as ONNX defines them; ``shape``: the output's static shape."""

    def __init__(self, by="scales", axes=None, mode="nearest", coordinate_transformation_mode="half_pixel",
                 nearest_mode="round_prefer_floor", cubic_coeff_a=-0.75, exclude_outside=False,
                 extrapolation_value=0.0, antialias=False, keep_aspect_ratio_policy="stretch", shape=None,
                 **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.by, self.axes, self.mode, self.coord = by, axes, mode, coordinate_transformation_mode
        self.nearest_mode, self.a, self.exclude_outside = nearest_mode, cubic_coeff_a, exclude_outside
        self.extrapolation_value, self.antialias = extrapolation_value, antialias
        self.policy, self.out_shape = keep_aspect_ratio_policy, shape

    def call(self, x, values, roi=None):
        rank = len(x.shape)
        axes = list(range(rank)) if self.axes is None else [a % rank for a in self.axes]
        sizes = tf.cast(tf.gather(tf.shape(x), axes), tf.float64)
        values = tf.cast(tf.reshape(values, [-1]), tf.float64)
        if self.by == "sizes":
            factors, out = values / sizes, values
            if self.policy != "stretch":
                scale = tf.reduce_min(factors) if self.policy == "not_larger" else tf.reduce_max(factors)
                factors, out = scale * tf.ones_like(factors), tf.floor(scale * sizes + 0.5)
        else:
            factors, out = values, tf.floor(values * sizes)
        out = tf.cast(out, tf.int64)
        roi = None if roi is None else tf.cast(tf.reshape(roi, [-1]), tf.float64)
        floating = x.dtype.is_floating
        work = tf.float64 if x.dtype == tf.float64 or not floating else tf.float32
        y = x if self.mode == "nearest" else tf.cast(x, work)
        for k, axis in enumerate(axes):
            box = None if roi is None else (roi[k], roi[k + len(axes)])
            y = self._axis(y, axis, factors[k], out[k], sizes[k], box)
        if y.dtype != x.dtype:
            if not floating:
                y = tf.clip_by_value(tf.round(y), float(x.dtype.min), float(x.dtype.max))
            y = tf.cast(y, x.dtype)
        return y if self.out_shape is None else tf.ensure_shape(y, self.out_shape)

    def _axis(self, y, axis, factor, out, size, box):
        rank = len(y.shape)
        pos = tf.range(tf.cast(out, tf.float64))
        width = factor * size
        one = tf.equal(width, 1.0)
        if self.coord == "align_corners":
            src = tf.where(one, tf.zeros_like(pos), pos * (size - 1) / (width - 1))
        elif self.coord == "asymmetric":
            src = pos / factor
        elif self.coord == "tf_crop_and_resize":
            start, end = box
            src = tf.where(one, tf.zeros_like(pos) + (end - start) * (size - 1) / 2,
                           pos * (end - start) * (size - 1) / (width - 1)) + start * (size - 1)
        elif self.coord == "pytorch_half_pixel":
            src = tf.where(one, tf.zeros_like(pos) - 0.5, (pos + 0.5) / factor - 0.5)
        elif self.coord == "tf_half_pixel_for_nn":
            src = (pos + 0.5) / factor
        elif self.coord == "half_pixel_symmetric":
            src = size / 2 * (1 - tf.cast(out, tf.float64) / width) + (pos + 0.5) / factor - 0.5
        else:
            src = (pos + 0.5) / factor - 0.5
        whole = tf.equal(src, tf.floor(src))
        ratio = tf.where(whole, tf.ones_like(src), src - tf.floor(src))  # in (0, 1]: the left neighbour first
        last = tf.cast(size, tf.int64) - 1
        if self.mode == "nearest":
            up = {"round_prefer_floor": ratio > 0.5, "round_prefer_ceil": ratio >= 0.5, "floor": ratio < 0,
                  "ceil": ratio > 0}[self.nearest_mode] | whole
            index = tf.cast(tf.math.ceil(src), tf.int64) - 1 + tf.cast(up, tf.int64)
            y = tf.gather(y, tf.clip_by_value(index, 0, last), axis=axis)
        else:
            support = 1.0 if self.mode == "linear" else 2.0
            scale = tf.minimum(factor, 1.0) if self.antialias else tf.ones_like(factor)
            first = tf.floor(-support / scale) + 1
            n = tf.cast(2 - 2 * first, tf.int64)
            d = tf.abs(scale * (first + tf.range(tf.cast(n, tf.float64))[None, :] - ratio[:, None]))
            if self.mode == "linear":
                weights = tf.clip_by_value(1 - d, 0.0, 1.0)
            else:
                a = self.a
                weights = tf.where(d <= 1, (a + 2) * d ** 3 - (a + 3) * d ** 2 + 1,
                                   tf.where(d < 2, a * d ** 3 - 5 * a * d ** 2 + 8 * a * d - 4 * a, tf.zeros_like(d)))
            if self.antialias:
                weights = weights / tf.reduce_sum(weights, -1, keepdims=True)
            taps = tf.cast(tf.math.ceil(src), tf.int64)[:, None] - n // 2 + tf.range(n)[None, :]
            if self.exclude_outside:
                weights = tf.where((taps < 0) | (taps > last), tf.zeros_like(weights), weights)
                total = tf.reduce_sum(weights, -1, keepdims=True)
                weights = weights / tf.where(total == 0, tf.ones_like(total), total)
            rows = tf.broadcast_to(tf.range(out)[:, None], tf.shape(taps, out_type=tf.int64))
            matrix = tf.tensor_scatter_nd_add(tf.zeros(tf.stack([out, last + 1]), tf.float64),
                                              tf.stack([rows, tf.clip_by_value(taps, 0, last)], -1), weights)
            letters = "abcdefgh"[:rank]
            spec = f"{letters},z{letters[axis]}->{letters[:axis]}z{letters[axis + 1:]}"
            y = tf.einsum(spec, y, tf.cast(matrix, y.dtype))
        if self.coord == "tf_crop_and_resize":
            outside = tf.reshape((src < 0) | (src > size - 1), [-1 if a == axis else 1 for a in range(rank)])
            y = tf.where(outside, tf.cast(self.extrapolation_value, y.dtype), y)
        return y
''')


def _ops(name: str) -> Code:
    return dotted("ops", name)


@TF_OPS.register("Pad", since=11)
def pad_11(ctx: TensorFlowContext) -> None:
    """ONNX ``Pad`` from opset 11: constant pads, value and axes as literals, the ``PadAxes`` helper layer for
    ones known at run time (and for cropping)."""
    pads = ctx.ints(1)
    value = ctx.const(2) if ctx.has(2) else None
    axes = ctx.ints(3) if ctx.has(3) else None
    mode = ctx.attr("mode", "constant")
    if pads is None or (ctx.has(2) and value is None) or (ctx.has(3) and axes is None) or \
            any(p < 0 for p in pads) or mode not in ("constant", "reflect", "edge", "wrap"):
        # amounts, value or axes known at run time (or cropping): a helper layer indexes the input
        if mode not in ("constant", "reflect", "edge", "wrap"):
            ctx.fail(f"pad mode {mode!r} is not supported")
        args = [ctx.x(0), ctx.tensor_arg(1)]
        if ctx.has(2) or ctx.has(3):
            args.append(ctx.tensor_arg(2) if ctx.has(2) else np_literal(np.zeros((), np.int64), scalar=False))
        if ctx.has(3):
            args.append(ctx.tensor_arg(3))
        layer = ctx.layer(str(ctx.helper("PadAxes")), module="", mode=mode if mode != "constant" else None,
                          shape=ctx.static_out_shape())
        ctx.emit(call(layer, *args))
        return
    _pad(ctx, pads, 0.0 if value is None or value.size == 0 else value.reshape(-1)[0], ctx.attr("mode", "constant"),
         axes)


@TF_OPS.register("Pad", since=2)
def pad_2(ctx: TensorFlowContext) -> None:
    """ONNX ``Pad`` before opset 11, its pads and value as attributes."""
    _pad(ctx, ctx.attr("pads"), ctx.attr("value", 0.0), ctx.attr("mode", "constant"), None)


def _pad(ctx: TensorFlowContext, pads: list[int], value, mode: str, axes: list[int] | None) -> None:
    rank = ctx.rank(0)
    axes = [ctx.axis(a, rank) for a in axes] if axes is not None else list(range(rank))
    n = len(axes)
    widths = [(0, 0)] * rank
    for k, a in enumerate(axes):
        widths[a] = (int(pads[k]), int(pads[k + n]))
    if any(b < 0 or e < 0 for b, e in widths):
        ctx.fail("negative pads are not supported")
    if mode not in ("constant", "reflect", "edge", "wrap"):
        ctx.fail(f"pad mode {mode!r} is not supported")
    x, perm = ctx.x_any(0)
    stored = tuple(widths[p] for p in perm)
    if not any(b or e for b, e in stored):
        ctx.alias(0, keep_perm=True)
        return
    if mode in ("edge", "wrap"):
        # TensorFlow pads only with constants or reflections: concatenate edge copies or wrapped slices
        full = slice_code(None, None)
        for a, (b, e) in enumerate(stored):
            if not (b or e):
                continue
            head = [full] * a
            parts = []
            if mode == "edge":
                if b:
                    parts.append(call(_ops("repeat"), subscript(x, head + [slice_code(0, 1)]), lit(b), axis=lit(a)))
                parts.append(x)
                if e:
                    parts.append(call(_ops("repeat"), subscript(x, head + [slice_code(-1, None)]), lit(e), axis=lit(a)))
            else:
                if b:
                    parts.append(subscript(x, head + [slice_code(-b, None)]))
                parts.append(x)
                if e:
                    parts.append(subscript(x, head + [slice_code(None, e)]))
            x = call(_ops("concatenate"), listing(parts), axis=lit(a))
        ctx.emit(x, perm=perm)
        return
    kwargs = {}
    if mode == "reflect":
        kwargs["mode"] = lit("reflect")
    elif float(value) != 0.0:
        kwargs["constant_values"] = lit(float(value) if np.dtype(ctx.dtype(ctx.elem(0))).kind == "f" else int(value))
    ctx.emit(call(_ops("pad"), x, lit(stored), **kwargs), perm=perm)


def _emit(ctx: TensorFlowContext, mode: str, coord: str, nearest_mode: str, scales: list[float] | None) -> bool:
    """A Keras resizing layer for an NCHW image resized by constant amounts where its coordinate rules give
    ONNX's answer; False where none does."""
    rank = ctx.rank(0)
    if rank != 4:
        return False
    in_shape = ctx.shape(0)
    out_shape = ctx.out_type().shape
    if scales is None:
        if out_shape is None or not all(isinstance(d, int) for d in out_shape[1:]) or \
                not all(isinstance(d, int) for d in in_shape[1:]):
            return False
        scales = [1.0, out_shape[1] / in_shape[1], out_shape[2] / in_shape[2], out_shape[3] / in_shape[3]]
    if scales[0] != 1 or scales[1] != 1:
        return False
    integer = all(float(s).is_integer() and s >= 1 for s in scales[2:])
    if not integer and not all(isinstance(d, int) and float(s * d).is_integer()
                               for s, d in zip(scales[2:], in_shape[2:])):
        return False  # Keras scales by output / input size, ONNX by the scale itself
    perm = L.channels_last(4)
    if mode == "nearest":
        exact = coord in ("half_pixel", "pytorch_half_pixel") or (coord == "asymmetric" and nearest_mode == "floor")
        if not (integer and exact):
            return False
        size = tuple(int(s) for s in scales[2:])
        ctx.emit(call(ctx.layer("UpSampling2D", size=size, interpolation="nearest"), ctx.x_cl(0)), perm=perm)
        return True
    if mode == "linear":
        if ctx.attr("antialias", 0) and any(s < 1 for s in scales[2:]):
            return False
        if coord in ("half_pixel", "pytorch_half_pixel"):
            if integer:
                size = tuple(int(s) for s in scales[2:])
                ctx.emit(call(ctx.layer("UpSampling2D", size=size, interpolation="bilinear"), ctx.x_cl(0)), perm=perm)
                return True
            if out_shape is None or not all(isinstance(d, int) for d in out_shape[2:]):
                return False
            height, width = (d for d in out_shape[2:4] if isinstance(d, int))
            layer = ctx.layer("Resizing", height=height, width=width, interpolation="bilinear")
            ctx.emit(call(layer, ctx.x_cl(0)), perm=perm)
            return True
        if coord in ("align_corners", "asymmetric"):
            if out_shape is None or not all(isinstance(d, int) for d in out_shape[2:]):
                return False
            height, width = (d for d in out_shape[2:4] if isinstance(d, int))
            layer = ctx.layer(str(ctx.helper("ResizeBilinear")), module="", size=(height, width),
                              align_corners=coord == "align_corners")
            ctx.emit(call(layer, ctx.x_cl(0)), perm=perm)
            return True
    return False


_RESIZE_DEFAULTS = {"mode": "nearest", "coordinate_transformation_mode": "half_pixel",
                    "nearest_mode": "round_prefer_floor", "cubic_coeff_a": -0.75, "exclude_outside": 0,
                    "extrapolation_value": 0.0, "antialias": 0, "keep_aspect_ratio_policy": "stretch"}
_COORDS = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
           "tf_crop_and_resize", "tf_half_pixel_for_nn")


@TF_OPS.register("Resize", since=11)
def resize(ctx: TensorFlowContext) -> None:
    """ONNX ``Resize``: Keras resizing layers for NCHW images with constant scales or sizes where their
    coordinate rules match; every other form (scales or sizes known at run time, other axes, modes or
    coordinate rules, antialiasing, an aspect policy) through the ``ResizeAxes`` helper layer."""
    mode = ctx.attr("mode", "nearest")
    coord = ctx.attr("coordinate_transformation_mode", "half_pixel")
    if mode not in ("nearest", "linear", "cubic") or coord not in _COORDS:
        ctx.fail(f"mode {mode!r} with coordinate_transformation_mode {coord!r} is not an ONNX Resize mode")
    if mode == "nearest" and int(ctx.attr("antialias", 0)):
        ctx.fail("antialiasing applies to linear and cubic resizing only")
    scales = ctx.const(2) if ctx.has(2) else None
    if scales is not None and scales.size == 0:
        scales = None
    constant = scales is not None or (ctx.has(3) and (ctx.const(3) is not None or ctx.elems(3) is not None))
    if constant and ctx.attr("axes") is None and ctx.attr("keep_aspect_ratio_policy", "stretch") == "stretch" \
            and _emit(ctx, mode, coord, ctx.attr("nearest_mode", "round_prefer_floor"),
                      None if scales is None else [float(s) for s in np.asarray(scales).reshape(-1)]):
        return
    given = ctx.const(2)
    by_scales = ctx.has(2) and (given is None or given.size > 0)
    if not by_scales and not ctx.has(3):
        ctx.fail("Resize needs scales or sizes")
    args = [ctx.x(0), ctx.tensor_arg(2 if by_scales else 3)]
    options = {name: ctx.attr(name, default) for name, default in _RESIZE_DEFAULTS.items()
               if ctx.attr(name, default) != default}
    for name in ("exclude_outside", "antialias"):
        if name in options:
            options[name] = bool(options[name])
    if coord == "tf_crop_and_resize":
        if not ctx.has(1):
            ctx.fail("tf_crop_and_resize needs the roi input")
        args.append(ctx.tensor_arg(1))
    axes = ctx.attr("axes")
    layer = ctx.layer(str(ctx.helper(RESIZE)), module="", by=None if by_scales else "sizes",
                      axes=None if axes is None else [int(a) for a in axes], **options,
                      shape=ctx.static_out_shape())
    ctx.emit(call(layer, *args))


@TF_OPS.register("Upsample", since=9)
def upsample(ctx: TensorFlowContext) -> None:
    """ONNX ``Upsample`` (asymmetric coordinates, nearest rounding down): Keras ``UpSampling2D`` for constant
    integer scales of NCHW images, the ``ResizeAxes`` helper layer otherwise."""
    mode = ctx.attr("mode", "nearest")
    if mode not in ("nearest", "linear", "bilinear"):
        ctx.fail(f"Upsample mode {mode!r} is unknown")
    scales = ctx.const(1)
    if scales is not None and _emit(ctx, "nearest" if mode == "nearest" else "linear", "asymmetric", "floor",
                                    [float(s) for s in scales.reshape(-1)]):
        return
    options: dict[str, Any] = {"nearest_mode": "floor"} if mode == "nearest" else {"mode": "linear"}
    layer = ctx.layer(str(ctx.helper(RESIZE)), module="", coordinate_transformation_mode="asymmetric", **options,
                      shape=ctx.static_out_shape())
    ctx.emit(call(layer, ctx.x(0), ctx.tensor_arg(1)))
