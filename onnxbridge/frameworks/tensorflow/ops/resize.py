"""Padding and resizing: Pad -> ``ops.pad``; Resize / Upsample -> ``layers.UpSampling1D/2D/3D`` /
``layers.Resizing``."""

from __future__ import annotations

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
from onnxbridge.frameworks.tensorflow.registry import TF_OPS


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


def _emit(ctx: TensorFlowContext, mode: str, coord: str, nearest_mode: str, scales: list[float] | None) -> None:
    rank = ctx.rank(0)
    if rank not in (3, 4, 5):
        ctx.fail(f"resizing a rank-{rank} tensor is not supported (only NCL signals, NCHW images, NCDHW volumes)")
    in_shape = ctx.shape(0)
    out_shape = ctx.out_type().shape
    if scales is None:
        if out_shape is None or not all(isinstance(d, int) for d in out_shape[1:]) or \
                not all(isinstance(d, int) for d in in_shape[1:]):
            ctx.fail("the output size must be static")
        scales = [1.0] + [o / i for o, i in zip(out_shape[1:], in_shape[1:])]
    if len(scales) != rank:
        ctx.fail(f"{len(scales)} scales for a rank-{rank} input")
    if scales[0] != 1 or scales[1] != 1:
        ctx.fail("resizing the batch or channel axis is not supported")
    integer = all(float(s).is_integer() and s >= 1 for s in scales[2:])
    x = ctx.x_cl(0)
    perm = L.channels_last(rank)
    if mode == "nearest":
        exact = coord in ("half_pixel", "pytorch_half_pixel") or (coord == "asymmetric" and nearest_mode == "floor")
        if not (integer and exact):
            ctx.fail(f"nearest resizing with scales {scales[2:]} and {coord}/{nearest_mode} is not supported "
                     "(integer upscaling only)")
        size = tuple(int(s) for s in scales[2:])
        if rank == 4:
            layer = ctx.layer("UpSampling2D", size=size, interpolation="nearest")
        else:  # Keras repeats each element: nearest
            layer = ctx.layer(f"UpSampling{rank - 2}D", size=size[0] if rank == 3 else size)
        ctx.emit(call(layer, x), perm=perm)
        return
    if mode == "linear" and rank == 3 and integer and coord in ("half_pixel", "pytorch_half_pixel") \
            and not ctx.attr("antialias", 0):
        # a signal as an image one pixel wide: bilinear along the length is linear, the width stays
        image = call(_ops("expand_dims"), x, lit(2))
        wide = call(ctx.layer("UpSampling2D", size=(int(scales[2]), 1), interpolation="bilinear"), image)
        ctx.emit(call(_ops("squeeze"), wide, axis=lit(2)), perm=perm)
        return
    if mode == "linear" and rank != 4:
        ctx.fail(f"linear resizing of a rank-{rank} tensor with scales {scales[2:]} and {coord} is not supported "
                 "(integer half-pixel upscaling of signals, any scale of images)")
    if mode == "linear":
        if ctx.attr("antialias", 0) and any(s < 1 for s in scales[2:]):
            ctx.fail("antialiased downscaling is not supported")
        if coord in ("half_pixel", "pytorch_half_pixel"):
            if integer:
                size = tuple(int(s) for s in scales[2:])
                ctx.emit(call(ctx.layer("UpSampling2D", size=size, interpolation="bilinear"), x), perm=perm)
                return
            if out_shape is None or not all(isinstance(d, int) for d in out_shape[2:]):
                ctx.fail("the output size must be static")
            height, width = (d for d in out_shape[2:4] if isinstance(d, int))
            layer = ctx.layer("Resizing", height=height, width=width, interpolation="bilinear")
            ctx.emit(call(layer, x), perm=perm)
            return
        if coord in ("align_corners", "asymmetric"):
            if out_shape is None or not all(isinstance(d, int) for d in out_shape[2:]):
                ctx.fail("the output size must be static")
            height, width = (d for d in out_shape[2:4] if isinstance(d, int))
            layer = ctx.layer(str(ctx.helper("ResizeBilinear")), module="", size=(height, width),
                              align_corners=coord == "align_corners")
            ctx.emit(call(layer, x), perm=perm)
            return
    ctx.fail(f"mode {mode!r} with coordinate_transformation_mode {coord!r} is not supported")


@TF_OPS.register("Resize", since=11)
def resize(ctx: TensorFlowContext) -> None:
    """ONNX ``Resize`` with constant scales or sizes (no ``axes``, aspect policy ``stretch``)."""
    if ctx.attr("axes") is not None or ctx.attr("keep_aspect_ratio_policy", "stretch") != "stretch":
        ctx.fail("axes / keep_aspect_ratio_policy are not supported")
    scales = ctx.const(2) if ctx.has(2) else None
    if scales is not None and scales.size == 0:
        scales = None
    if scales is None and ctx.has(3) and ctx.const(3) is None and ctx.elems(3) is None:
        ctx.fail("sizes computed at run time are not supported")
    if ctx.has(2) and scales is None and ctx.const(2) is None:
        ctx.fail("scales computed at run time are not supported")
    _emit(ctx, ctx.attr("mode", "nearest"), ctx.attr("coordinate_transformation_mode", "half_pixel"),
          ctx.attr("nearest_mode", "round_prefer_floor"),
          None if scales is None else [float(s) for s in np.asarray(scales).reshape(-1)])


@TF_OPS.register("Upsample", since=9)
def upsample(ctx: TensorFlowContext) -> None:
    """ONNX ``Upsample`` with constant scales (asymmetric coordinates, floor rounding)."""
    scales = ctx.const(1)
    if scales is None:
        ctx.fail("scales computed at run time are not supported")
    _emit(ctx, ctx.attr("mode", "nearest"), "asymmetric", "floor", [float(s) for s in scales.reshape(-1)])
