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


# the helper's name for each op (onnx_reduce in helpers.py)
_KIND = {"ReduceMean": "mean", "ReduceSum": "sum", "ReduceMax": "max", "ReduceMin": "min", "ReduceProd": "prod",
         "ReduceL1": "l1", "ReduceL2": "l2", "ReduceLogSumExp": "log_sum_exp", "ReduceSumSquare": "sum_square",
         "ReduceLogSum": "log_sum"}


def _axes(ctx: TorchContext, input_since: int) -> list[int] | None:
    """The reduced axes ([] = all, or none with noop_with_empty_axes); None when they are only known at
    run time."""
    if ctx.opset >= input_since:
        return ctx.ints(1) if ctx.has(1) else []
    return [int(a) for a in ctx.attr("axes", [])]


def _reduce(op: str, input_since: int):
    template = _REDUCE.get(op, ("", 0))[0]

    def convert(ctx: TorchContext) -> None:
        axes = _axes(ctx, input_since)
        keep = bool(ctx.attr("keepdims", 1))
        noop = bool(int(ctx.attr("noop_with_empty_axes", 0)))
        x = ctx.t(0)
        rank = ctx.type(0).rank
        if axes is not None and not axes and noop:
            ctx.alias(x)
            return
        if axes is None or rank is None or (op in ("ReduceMax", "ReduceMin") and _empty_set(ctx, axes, rank)):
            # axes known at run time (or a max of nothing): the helper reads them
            kwargs = {} if keep else {"keepdims": lit(False)}
            if noop:
                kwargs["noop_with_empty_axes"] = lit(True)
            axes_code = ctx.t(1) if axes is None else lit(axes)
            ctx.emit(fn(str(ctx.helper("onnx_reduce")), x, axes_code, lit(_KIND[op]), **kwargs))
            return
        norm = sorted({ctx.axis(a, rank) for a in axes}) if axes else list(range(rank))
        if op == "ReduceProd":
            # torch.prod reduces one dim at a time: go from the last axis so the others keep their index
            for a in reversed(norm):
                x = fn("torch.prod", x, lit(a), keepdim=lit(keep))
            ctx.emit(x)
            return
        if op == "ReduceMax" and len(norm) == rank and not keep:
            ctx.emit(fmt("{}.max()", x))
            return
        dims = lit(tuple(norm)) if len(norm) > 1 else lit(norm[0]) if norm else lit(())
        ctx.emit(fmt(template, x, dims, lit(keep)))

    REG(op)(convert)


def _empty_set(ctx: TorchContext, axes: list[int], rank: int) -> bool:
    """Whether a reduced axis may have no elements (torch's amax/amin refuse it; ONNX gives -inf/+inf)."""
    shape = ctx.type(0).shape
    reduced = [ctx.axis(a, rank) for a in axes] if axes else range(rank)
    return shape is not None and any(shape[a] == 0 for a in reduced)


for _op, (_, _since) in _REDUCE.items():
    _reduce(_op, _since)
_reduce("ReduceProd", 18)


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
