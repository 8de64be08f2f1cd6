"""Ops whose output size depends on the data: Compress (``index_select`` of the kept positions), Unique
(``torch.unique`` plus ONNX's first-occurrence indices and unsorted order), NonMaxSuppression (greedy
suppression written in torch: torchvision is not a dependency of the generated code)."""

from __future__ import annotations

from onnxbridge.codegen.writer import Code, fmt, lit
from onnxbridge.frameworks.torch.context import TorchContext, fn
from onnxbridge.frameworks.torch.registry import TORCH_OPS

REG = TORCH_OPS.register


@REG("Compress", since=9)
def compress(ctx: TorchContext) -> None:
    """ONNX ``Compress`` (see the module docstring)."""
    # positions where the condition holds; a shorter condition drops the rest of the axis
    kept = fmt("torch.nonzero({}).reshape(-1)", ctx.t(1))
    axis = ctx.attr("axis")
    if axis is None:
        ctx.emit(fmt("{}.reshape(-1).index_select(0, {})", ctx.t(0), kept))
        return
    ctx.emit(fmt("{}.index_select({}, {})", ctx.t(0), lit(ctx.axis(axis, ctx.rank(0))), kept))


@REG("Unique", since=11)
def unique(ctx: TorchContext) -> None:
    """ONNX ``Unique`` (see the module docstring)."""
    kwargs: dict[str, Code] = {}
    if ctx.attr("axis") is not None:
        kwargs["dim"] = lit(ctx.axis(ctx.attr("axis"), ctx.rank(0)))
    if not int(ctx.attr("sorted", 1)):
        kwargs["sort"] = lit(False)
    ctx.line("{} = {}", ctx.targets(4), fn(ctx.helper("onnx_unique"), ctx.t(0), **kwargs))


@REG("NonMaxSuppression", since=11)
def non_max_suppression(ctx: TorchContext) -> None:
    """ONNX ``NonMaxSuppression`` (see the module docstring)."""
    args = [ctx.t(i) if ctx.has(i) else Code("None") for i in range(2, 5)]
    while args and args[-1] == "None":
        args.pop()
    kwargs = {"center_point_box": lit(1)} if int(ctx.attr("center_point_box", 0)) else {}
    ctx.emit(fn(ctx.helper("onnx_non_max_suppression"), ctx.t(0), ctx.t(1), *args, **kwargs))
