"""Ops that read an image at computed positions: GridSample (``F.grid_sample``), AffineGrid
(``F.affine_grid``), Col2Im (``F.fold``, or a scatter for other ranks and uneven pads), DeformConv (bilinear
taps at offset positions, then a grouped matrix product; torchvision is not a dependency of the generated
code)."""

from __future__ import annotations

from onnxbridge.codegen.writer import Code, fmt, lit
from onnxbridge.frameworks.torch.context import TorchContext, compact, fn
from onnxbridge.frameworks.torch.registry import TORCH_OPS

REG = TORCH_OPS.register

# opset 20 renamed the modes after the number of axes they interpolate along
_MODES = {"bilinear": "bilinear", "linear": "bilinear", "nearest": "nearest", "bicubic": "bicubic",
          "cubic": "bicubic"}
_PADDING = ("zeros", "border", "reflection")


def ints_code(ctx: TorchContext, i: int) -> Code:
    """A 1-D int input as a Python list: a literal when known now, else ``x.tolist()`` at run time."""
    values = ctx.ints(i)
    return lit(values) if values is not None else fmt("{}.tolist()", ctx.t(i))


@REG("GridSample", since=16)
def grid_sample(ctx: TorchContext) -> None:
    """ONNX ``GridSample`` (see the module docstring)."""
    rank = ctx.rank(0)
    mode = _MODES.get(ctx.attr("mode", "bilinear" if ctx.opset < 20 else "linear"))
    padding = ctx.attr("padding_mode", "zeros")
    if mode is None or padding not in _PADDING:
        ctx.fail(f"mode {ctx.attr('mode')!r} with padding {padding!r} is not an ONNX GridSample mode")
    if rank not in (4, 5):
        ctx.fail(f"F.grid_sample samples 2-D and 3-D images; this input has rank {rank}")
    if rank == 5 and mode == "bicubic":
        ctx.fail("F.grid_sample has no bicubic mode for 3-D images")
    kwargs = {"mode": lit(mode), "padding_mode": lit(padding), "align_corners": lit(bool(ctx.attr("align_corners", 0)))}
    ctx.emit(fn("F.grid_sample", ctx.t(0), ctx.t(1), **kwargs))


@REG("AffineGrid", since=20)
def affine_grid(ctx: TorchContext) -> None:
    """ONNX ``AffineGrid`` (see the module docstring)."""
    ctx.emit(fn("F.affine_grid", ctx.t(0), ints_code(ctx, 1), align_corners=lit(bool(ctx.attr("align_corners", 0)))))


@REG("Col2Im", since=18)
def col2im(ctx: TorchContext) -> None:
    """ONNX ``Col2Im`` (see the module docstring)."""
    nd = ctx.shape(1)[0] if ctx.type(1).shape else None
    if not isinstance(nd, int):
        ctx.fail("the number of image axes (the length of image_shape) must be known")
    dilations = [int(v) for v in ctx.attr("dilations", [1] * nd)]
    pads = [int(v) for v in ctx.attr("pads", [0] * 2 * nd)]
    strides = [int(v) for v in ctx.attr("strides", [1] * nd)]
    image, block = ints_code(ctx, 1), ints_code(ctx, 2)
    if nd == 2 and pads[:2] == pads[2:]:
        ctx.emit(fn("F.fold", ctx.t(0), image, block, dilation=compact(dilations), padding=compact(pads[:2]),
                    stride=compact(strides)))
        return
    ctx.emit(fn(ctx.helper("onnx_col2im"), ctx.t(0), image, block, lit(dilations), lit(pads), lit(strides)))


@REG("DeformConv", since=19)
def deform_conv(ctx: TorchContext) -> None:
    """ONNX ``DeformConv`` (see the module docstring)."""
    if ctx.rank(0) != 4:
        ctx.fail(f"only 2-D deformable convolution is supported; the input has rank {ctx.rank(0)}")
    pads = [int(v) for v in ctx.attr("pads", [0, 0, 0, 0])]
    if pads[:2] != pads[2:]:
        ctx.fail(f"uneven pads {pads} are not supported")
    kwargs: dict[str, Code] = {}
    if ctx.has(3):
        kwargs["bias"] = ctx.t(3)
    if ctx.has(4):
        kwargs["mask"] = ctx.t(4)
    for key, name, default in (("stride", "strides", [1, 1]), ("padding", "pads", [0, 0, 0, 0]),
                               ("dilation", "dilations", [1, 1])):
        value = [int(v) for v in ctx.attr(name, default)][:2]
        if value != default[:2]:
            kwargs[key] = lit(tuple(value))
    for key, name in (("groups", "group"), ("offset_groups", "offset_group")):
        if int(ctx.attr(name, 1)) != 1:
            kwargs[key] = lit(int(ctx.attr(name)))
    ctx.emit(fn(ctx.helper("onnx_deform_conv2d"), ctx.t(0), ctx.t(1), ctx.t(2), **kwargs))
