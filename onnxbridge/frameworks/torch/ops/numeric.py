"""Numerical algorithms that are not element-wise: CumProd (``torch.cumprod``), Det (``torch.linalg.det``)."""

from __future__ import annotations

from onnxbridge.codegen.writer import Code, fmt, lit
from onnxbridge.frameworks.torch.context import TorchContext, fn
from onnxbridge.frameworks.torch.registry import TORCH_OPS
from onnxbridge.ir.dtypes import INT_TYPES

REG = TORCH_OPS.register


def axis_code(ctx: TorchContext, i: int) -> Code:
    """Input ``i`` (a one-element axis) as an int: a literal when known now, else read at run time."""
    axis = ctx.ints(i)
    if axis is not None:
        if len(axis) != 1:
            ctx.fail(f"the axis must have one element, got {len(axis)}")
        return lit(axis[0])
    dim = ctx.temp("dim")
    ctx.line("{} = int({})", dim, ctx.t(i))
    return dim


@REG("CumProd", since=26)
def cumprod(ctx: TorchContext) -> None:
    """ONNX ``CumProd`` (see the module docstring)."""
    a = axis_code(ctx, 1)
    x = ctx.t(0)
    reverse, exclusive = int(ctx.attr("reverse", 0)), int(ctx.attr("exclusive", 0))
    if reverse:
        x = fmt("{}.flip({})", x, a)
    if exclusive:
        # shift by one along the axis, so each position multiplies only what comes before it
        shifted = ctx.temp("shifted")
        ctx.line("{} = {}", shifted, x)
        x = fmt("torch.cat([torch.ones_like({}.narrow({}, 0, 1)), {}.narrow({}, 0, {}.shape[{}] - 1)], {})",
                shifted, a, shifted, a, shifted, a, a)
    # torch widens integer products to int64; ONNX keeps the input type
    y = fn("torch.cumprod", x, a, dtype=ctx.dtype(ctx.elem(0))) if ctx.elem(0) in INT_TYPES \
        else fn("torch.cumprod", x, a)
    if reverse:
        y = fmt("{}.flip({})", y, a)
    ctx.emit(y)


@REG("Det", since=11)
def det(ctx: TorchContext) -> None:
    """ONNX ``Det`` (see the module docstring)."""
    ctx.emit(fn("torch.linalg.det", ctx.t(0)))
