"""Reductions (ReduceMean/Sum/Max/Min/Prod/L1/L2/LogSumExp/SumSquare/LogSum) and ArgMax/ArgMin."""

from __future__ import annotations

from onnxbridge.codegen.writer import fmt, lit
from onnxbridge.frameworks.torch.context import TorchContext, fn
from onnxbridge.frameworks.torch.registry import TORCH_OPS

REG = TORCH_OPS.register

# op -> (template over (x, dims, keepdim), opset where ``axes`` became an input)
_REDUCE = {
    "ReduceMean": ("torch.mean({}, dim={}, keepdim={})", 18),
    "ReduceSum": ("torch.sum({}, dim={}, keepdim={})", 13),
    "ReduceMax": ("torch.amax({}, dim={}, keepdim={})", 18),
    "ReduceMin": ("torch.amin({}, dim={}, keepdim={})", 18),
    "ReduceL1": ("torch.sum({}.abs(), dim={}, keepdim={})", 18),
    "ReduceL2": ("torch.linalg.vector_norm({}, 2.0, dim={}, keepdim={})", 18),
    "ReduceLogSumExp": ("torch.logsumexp({}, dim={}, keepdim={})", 18),
    "ReduceSumSquare": ("torch.sum({0} * {0}, dim={1}, keepdim={2})", 18),
    "ReduceLogSum": ("torch.log(torch.sum({}, dim={}, keepdim={}))", 18),
}


def _axes(ctx: TorchContext, input_since: int) -> list[int] | None:
    """The reduced axes ([] = all), raising when they are only known at run time."""
    if ctx.opset >= input_since:
        if not ctx.has(1):
            return []
        axes = ctx.ints(1)
        if axes is None:
            ctx.fail("the axes must be constants")
        return axes
    return [int(a) for a in ctx.attr("axes", [])]


def _reduce(op: str):
    template, input_since = _REDUCE[op]

    def convert(ctx: TorchContext) -> None:
        axes = _axes(ctx, input_since)
        keep = bool(ctx.attr("keepdims", 1))
        x = ctx.t(0)
        if not axes:
            if int(ctx.attr("noop_with_empty_axes", 0)):
                ctx.alias(x)
                return
            rank = ctx.type(0).rank
            dims = lit(tuple(range(rank))) if rank is not None else fmt("tuple(range({}.dim()))", x)
        else:
            dims = lit(tuple(axes)) if len(axes) > 1 else lit(axes[0])
        if op == "ReduceMax" and not axes and not keep:
            ctx.emit(fmt("{}.max()", x))
            return
        ctx.emit(fmt(template, x, dims, lit(keep)))

    REG(op)(convert)


for _op in _REDUCE:
    _reduce(_op)


@REG("ReduceProd")
def reduce_prod(ctx: TorchContext) -> None:
    axes = _axes(ctx, 18)
    keep = bool(ctx.attr("keepdims", 1))
    x = ctx.t(0)
    if not axes:
        if int(ctx.attr("noop_with_empty_axes", 0)):
            ctx.alias(x)
            return
        rank = ctx.type(0).rank
        if rank is None:
            ctx.fail("the input rank must be known")
        axes = list(range(rank))
    rank = ctx.type(0).rank
    norm = sorted({ctx.axis(a, rank) if rank is not None else a for a in axes}, reverse=True)
    # torch.prod reduces one dim at a time: go from the last axis so the others keep their index
    for a in norm:
        x = fn("torch.prod", x, lit(a), keepdim=lit(keep))
    ctx.emit(x)


def _arg(op: str, api_name: str):
    def convert(ctx: TorchContext) -> None:
        axis = int(ctx.attr("axis", 0))
        keep = bool(ctx.attr("keepdims", 1))
        x = ctx.t(0)
        if int(ctx.attr("select_last_index", 0)):
            # torch returns the first extreme; flip the axis to find the last one
            ctx.emit(fmt("{}.shape[{}] - 1 - {}", x, lit(axis),
                         fn(api_name, fmt("{}.flip({})", x, lit(axis)), dim=lit(axis), keepdim=lit(keep))))
        else:
            ctx.emit(fn(api_name, x, dim=lit(axis), keepdim=lit(keep)))

    REG(op)(convert)


_arg("ArgMax", "torch.argmax")
_arg("ArgMin", "torch.argmin")
