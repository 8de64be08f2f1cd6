"""Pad (-> F.pad) and Resize/Upsample (-> F.interpolate where the coordinate rules match torch's)."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

from onnxbridge.codegen.writer import Code, fmt, join, lit
from onnxbridge.frameworks.torch.context import TorchContext, fn, scalar
from onnxbridge.frameworks.torch.registry import TORCH_OPS

REG = TORCH_OPS.register

_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}
# F.pad's border modes (replicate, reflect, circular) have kernels for these
_BORDER_PAD_TYPES = frozenset({TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16})


@REG("Pad", since=2)
def pad(ctx: TorchContext) -> None:
    """ONNX ``Pad`` (pads as attributes before opset 11, as inputs from 11) as ``F.pad``."""
    mode = ctx.attr("mode", "constant")
    if mode not in _PAD_MODES:
        ctx.fail(f"pad mode {mode!r} is unknown")
    x = ctx.t(0)
    rank = ctx.type(0).rank
    axes: list[int] | None = None
    pads: list[int] | None
    if ctx.opset < 11:
        pads = [int(p) for p in ctx.attr("pads", ctx.attr("paddings", []))]
        value = lit(float(ctx.attr("value", 0.0)))
        value_is_zero = float(ctx.attr("value", 0.0)) == 0.0
    else:
        pads = ctx.ints(1)
        c = ctx.const(2) if ctx.has(2) else np.zeros(())
        value = scalar(c) if c is not None else fmt("{}.item()", ctx.t(2))
        value_is_zero = c is not None and float(np.asarray(c).reshape(-1)[0]) == 0.0
        if ctx.has(3):
            axes = ctx.ints(3)
            if axes is None or pads is None or rank is None:  # known at run time: the helper places them
                fill = {} if value_is_zero else {"value": value}
                ctx.emit(fn(str(ctx.helper("onnx_pad")), x, ctx.t(1), lit(mode), **fill,
                            axes=ctx.t(3) if axes is None else lit(axes)))
                return
            full = [0] * (2 * rank)
            for k, a in enumerate(axes):
                a = ctx.axis(a, rank)
                full[a], full[a + rank] = pads[k], pads[k + len(axes)]
            pads = full
    if pads is None:  # known at run time only
        fill = {} if value_is_zero else {"value": value}
        ctx.emit(fn(str(ctx.helper("onnx_pad")), x, ctx.t(1), lit(mode), **fill))
        return
    r = len(pads) // 2
    padded = [a for a in range(r) if pads[a] or pads[a + r]]
    if not padded:
        ctx.alias(x)
        return
    kwargs: dict[str, Code] = {}
    if mode == "constant":
        if not value_is_zero:
            kwargs["value"] = value
        _torch_pad(ctx, x, pads, padded[0], kwargs)
        return
    first = _torch_pad_start(ctx, pads, padded[0], mode)
    if first is None:  # beyond what F.pad's border modes take: index the input
        ctx.emit(fn(str(ctx.helper("onnx_pad")), x, lit(pads), lit(mode)))
        return
    _torch_pad(ctx, x, pads, first, {"mode": lit(_PAD_MODES[mode])})


def _torch_pad(ctx: TorchContext, x: Code, pads: list[int], first: int, kwargs: dict[str, Code]) -> None:
    """``F.pad`` over the axes from ``first`` on (torch lists them last axis first)."""
    r = len(pads) // 2
    order: list[int] = []
    for a in reversed(range(first, r)):
        order += [pads[a], pads[a + r]]
    ctx.emit(fn("F.pad", x, lit(tuple(order)), **kwargs))


def _torch_pad_start(ctx: TorchContext, pads: list[int], first: int, mode: str) -> int | None:
    """The first axis F.pad's border modes pad for these amounts, or None when F.pad cannot: it pads the
    last 1, 2 or 3 axes of a float tensor with one or two axes before them, by amounts below the size
    (reflect)."""
    r = len(pads) // 2
    if ctx.elem(0) not in _BORDER_PAD_TYPES or any(p < 0 for p in pads):
        return None
    k = max(r - first, r - 2)  # how many trailing axes go to F.pad
    if k < 1 or k > min(3, r - 1):
        return None
    if mode == "reflect":
        shape = ctx.type(0).shape
        if shape is None or any(not isinstance(size := shape[a], int) or max(pads[a], pads[a + r]) >= size
                                for a in range(r - k, r)):
            return None
    return r - k


_INTERP = {1: "linear", 2: "bilinear", 3: "trilinear"}


_RESIZE_DEFAULTS = {"mode": "nearest", "coordinate_transformation_mode": "half_pixel",
                    "nearest_mode": "round_prefer_floor", "cubic_coeff_a": -0.75, "exclude_outside": 0,
                    "extrapolation_value": 0.0, "antialias": 0, "keep_aspect_ratio_policy": "stretch"}
_COORDS = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
           "tf_crop_and_resize", "tf_half_pixel_for_nn")


@REG("Resize", since=11)
def resize(ctx: TorchContext) -> None:
    """ONNX ``Resize``: ``F.interpolate`` for the spatial axes of a 3-D to 5-D input where torch's coordinate
    rules match (constant scales or sizes); every other form (scales or sizes known at run time, other axes,
    modes or coordinate rules, antialiasing, an aspect policy) through the ``onnx_resize`` helper."""
    mode = ctx.attr("mode", "nearest")
    coord = ctx.attr("coordinate_transformation_mode", "half_pixel")
    if mode not in ("nearest", "linear", "cubic") or coord not in _COORDS:
        ctx.fail(f"mode {mode!r} with coordinate_transformation_mode {coord!r} is not an ONNX Resize mode")
    if mode == "nearest" and int(ctx.attr("antialias", 0)):
        ctx.fail("antialiasing applies to linear and cubic resizing only")
    if not _interpolate(ctx, mode, coord):
        _resize_general(ctx)


def _resize_general(ctx: TorchContext) -> None:
    """``onnx_resize(x, scales=... | sizes=..., ...)``: constant values as literals, others as tensors."""
    kwargs: dict[str, Code] = {}
    scales = ctx.const(2) if ctx.has(2) else None
    if ctx.has(2) and (scales is None or scales.size):
        kwargs["scales"] = ctx.t(2) if scales is None else lit([float(s) for s in scales.reshape(-1)])
    else:
        if not ctx.has(3):
            ctx.fail("Resize needs scales or sizes")
        sizes = ctx.ints(3)
        kwargs["sizes"] = ctx.t(3) if sizes is None else lit(sizes)
    if ctx.attr("coordinate_transformation_mode") == "tf_crop_and_resize":
        if not ctx.has(1):
            ctx.fail("tf_crop_and_resize needs the roi input")
        roi = ctx.const(1)
        kwargs["roi"] = ctx.t(1) if roi is None else lit([float(r) for r in roi.reshape(-1)])
    for name, default in _RESIZE_DEFAULTS.items():
        value = ctx.attr(name, default)
        if value != default:
            kwargs[name] = lit(bool(value) if name in ("exclude_outside", "antialias") else value)
    if ctx.attr("axes") is not None:
        kwargs["axes"] = lit([int(a) for a in ctx.attr("axes")])
    ctx.emit(fn(str(ctx.helper("onnx_resize")), ctx.t(0), **kwargs))


def _interpolate(ctx: TorchContext, mode: str, coord: str) -> bool:
    """``F.interpolate`` for this node where it gives ONNX's answer; False where it cannot."""
    if int(ctx.attr("antialias", 0)) or ctx.attr("keep_aspect_ratio_policy", "stretch") != "stretch":
        return False
    rank = ctx.type(0).rank
    if rank not in (3, 4, 5):
        return False
    nd = rank - 2
    scales = ctx.const(2) if ctx.has(2) else None
    scales = scales if scales is not None and scales.size else None
    sizes = ctx.elems(3) if ctx.has(3) else None
    axes = [ctx.axis(int(a), rank) for a in ctx.attr("axes", range(rank))]
    dims = ctx.type(0).shape
    kwargs: dict[str, Code] = {}
    factors: list[float] | None = None
    if scales is not None:
        full = dict(zip(axes, [float(s) for s in scales.reshape(-1)]))
        if any(full.get(a, 1.0) != 1.0 for a in (0, 1)):
            return False
        factors = [full.get(a, 1.0) for a in range(2, rank)]
        kwargs["scale_factor"] = lit(tuple(factors)) if len(set(factors)) > 1 else lit(factors[0])
    elif sizes is not None:
        full_sizes = dict(zip(axes, sizes))
        if dims is not None and any(a in full_sizes and full_sizes[a] != dims[a] and isinstance(dims[a], int)
                                    for a in (0, 1)):
            return False
        spatial = [full_sizes.get(a, dims[a] if dims is not None else None) for a in range(2, rank)]
        if any(s is None or isinstance(s, str) for s in spatial):
            return False
        codes = [ctx.elem_code(s) for s in spatial]  # type: ignore[arg-type]
        kwargs["size"] = fmt("({},)", codes[0]) if len(codes) == 1 else fmt("({})", join(codes))
        if dims is not None and all(isinstance(d := dims[2 + i], int) and isinstance(s, int) and s % d == 0
               for i, s in enumerate(spatial)):
            factors = [s // dims[2 + i] for i, s in enumerate(spatial)]  # type: ignore[operator]
    else:
        return False
    integer_upscale = factors is not None and all(float(f).is_integer() and f >= 1 for f in factors)
    if mode == "nearest":
        nearest = ctx.attr("nearest_mode", "round_prefer_floor")
        if coord == "asymmetric" and nearest == "floor":
            torch_mode = "nearest"
        elif coord == "tf_half_pixel_for_nn" and nearest == "floor":
            torch_mode = "nearest-exact"
        elif coord in ("half_pixel", "pytorch_half_pixel") and (nearest == "round_prefer_ceil" or integer_upscale):
            torch_mode = "nearest-exact"
        elif integer_upscale and coord == "asymmetric" and nearest in ("round_prefer_floor", "floor") \
                and all(f <= 2 for f in factors):  # type: ignore[union-attr]
            torch_mode = "nearest"
        else:
            return False
        ctx.emit(fn("F.interpolate", ctx.t(0), **kwargs, mode=lit(torch_mode)))
        return True
    if coord in ("half_pixel", "pytorch_half_pixel"):
        align = False
    elif coord == "align_corners":
        align = True
    else:
        return False
    if mode == "linear":
        torch_mode = _INTERP[nd]
    elif mode == "cubic" and nd == 2:
        if abs(float(ctx.attr("cubic_coeff_a", -0.75)) + 0.75) > 1e-6 or int(ctx.attr("exclude_outside", 0)):
            return False
        torch_mode = "bicubic"
    else:
        return False
    ctx.emit(fn("F.interpolate", ctx.t(0), **kwargs, mode=lit(torch_mode), align_corners=lit(align)))
    return True


@REG("Upsample", since=7)
def upsample(ctx: TorchContext) -> None:
    """ONNX ``Upsample`` (asymmetric coordinates, nearest rounding down): ``F.interpolate`` for constant
    nearest scales, the ``onnx_resize`` helper for linear ones or scales known at run time."""
    mode = ctx.attr("mode", "nearest")
    if mode not in ("nearest", "linear", "bilinear"):
        ctx.fail(f"Upsample mode {mode!r} is unknown")
    scales = ctx.attr("scales") if ctx.opset < 9 else ctx.const(1)
    kwargs: dict[str, Code] = {"coordinate_transformation_mode": lit("asymmetric")}
    kwargs.update({"nearest_mode": lit("floor")} if mode == "nearest" else {"mode": lit("linear")})
    if scales is None:
        ctx.emit(fn(str(ctx.helper("onnx_resize")), ctx.t(0), scales=ctx.t(1), **kwargs))
        return
    scales = [float(s) for s in np.asarray(scales).reshape(-1)]
    if mode != "nearest" or scales[:2] != [1.0, 1.0] or len(scales) not in (3, 4, 5):
        ctx.emit(fn(str(ctx.helper("onnx_resize")), ctx.t(0), scales=lit(scales), **kwargs))
        return
    factors = scales[2:]
    factor = lit(tuple(factors)) if len(set(factors)) > 1 else lit(factors[0])
    ctx.emit(fn("F.interpolate", ctx.t(0), scale_factor=factor, mode=lit("nearest")))
