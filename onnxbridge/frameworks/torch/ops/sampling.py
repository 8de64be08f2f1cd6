"""Ops that read an image at computed positions: GridSample (``F.grid_sample``), AffineGrid
(``F.affine_grid``), Col2Im (``F.fold``, or a scatter for other ranks and uneven pads), DeformConv (bilinear
taps at offset positions, then a grouped matrix product; torchvision is not a dependency of the generated
code)."""

from __future__ import annotations

from onnxbridge.codegen.writer import Code, fmt, lit
from onnxbridge.frameworks.torch.context import TorchContext, compact, fn
from onnxbridge.frameworks.torch.helpers import define
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
    ctx.emit(fn("F.affine_grid", ctx.t(0), ints_code(ctx, 1), align_corners=lit(bool(ctx.attr("align_corners", 0)))))


COL2IM = define("_col2im", '''
def _col2im(x, image_shape, block_shape, dilations, pads, strides):
    """ONNX Col2Im for any number of spatial axes: each column entry is added into the image at its block
    position (entries falling into the padding are dropped)."""
    image, block = [int(v) for v in image_shape], [int(v) for v in block_shape]
    nd = len(image)
    counts = [(image[d] + pads[d] + pads[nd + d] - dilations[d] * (block[d] - 1) - 1) // strides[d] + 1
              for d in range(nd)]
    grid = lambda sizes: torch.stack(torch.meshgrid(*[torch.arange(s) for s in sizes], indexing="ij"), -1).reshape(-1, nd)
    pos = grid(counts)[None] * torch.tensor(strides) + grid(block)[:, None] * torch.tensor(dilations) \\
        - torch.tensor(pads[:nd])
    inside = ((pos >= 0) & (pos < torch.tensor(image))).all(-1).reshape(-1)
    steps = torch.tensor([int(torch.tensor(image[d + 1:]).prod()) for d in range(nd)])
    flat = (pos * steps).sum(-1).reshape(-1).to(x.device)
    n, width = x.shape[0], x.shape[1] // len(grid(block))
    cols = x.reshape(n, width, -1)
    inside = inside.to(x.device)
    out = x.new_zeros(n, width, int(torch.tensor(image).prod()))
    out.index_add_(2, flat[inside], cols[..., inside])
    return out.reshape(n, width, *image)
''')


@REG("Col2Im", since=18)
def col2im(ctx: TorchContext) -> None:
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
    ctx.emit(fn(ctx.helper(COL2IM), ctx.t(0), image, block, lit(dilations), lit(pads), lit(strides)))


DEFORM = define("_deform_conv2d", '''
def _deform_conv2d(x, weight, offset, bias=None, mask=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1),
                   groups=1, offset_groups=1):
    """ONNX DeformConv (2-D): each kernel tap reads the input bilinearly at its position moved by the offset
    (zero outside the image), scaled by the mask, then a grouped convolution of those taps."""
    n, c, h, w = x.shape
    out_c, _, kh, kw = weight.shape
    oh, ow = offset.shape[-2:]
    offset = offset.reshape(n, offset_groups, kh, kw, 2, oh, ow)
    mask = torch.ones_like(offset[:, :, :, :, 0]) if mask is None else mask.reshape(n, offset_groups, kh, kw, oh, ow)
    rows = (torch.arange(kh, device=x.device) * dilation[0])[:, None, None, None] \\
        + (torch.arange(oh, device=x.device) * stride[0] - padding[0])[:, None]
    cols = (torch.arange(kw, device=x.device) * dilation[1])[:, None, None] \\
        + torch.arange(ow, device=x.device) * stride[1] - padding[1]
    y, x_pos = rows + offset[:, :, :, :, 0], cols + offset[:, :, :, :, 1]
    planes = x.reshape(n, offset_groups, c // offset_groups, h * w)
    taps = 0
    for dy in (0, 1):
        for dx in (0, 1):
            ty, tx = torch.floor(y) + dy, torch.floor(x_pos) + dx
            weight_yx = (1 - (y - ty).abs()) * (1 - (x_pos - tx).abs()) * mask
            weight_yx = weight_yx * ((ty >= 0) & (ty < h) & (tx >= 0) & (tx < w))
            index = (ty.clamp(0, h - 1) * w + tx.clamp(0, w - 1)).long().reshape(n, offset_groups, 1, -1)
            values = torch.gather(planes, 3, index.expand(-1, -1, c // offset_groups, -1))
            taps = taps + values * weight_yx.reshape(n, offset_groups, 1, -1)
    taps = taps.reshape(n, groups, c // groups * kh * kw, oh * ow)
    kernel = weight.reshape(groups, out_c // groups, -1)
    out = torch.einsum("gok,ngkl->ngol", kernel, taps).reshape(n, out_c, oh, ow)
    return out if bias is None else out + bias.reshape(1, -1, 1, 1)
''')


@REG("DeformConv", since=19)
def deform_conv(ctx: TorchContext) -> None:
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
    ctx.emit(fn(ctx.helper(DEFORM), ctx.t(0), ctx.t(1), ctx.t(2), **kwargs))
