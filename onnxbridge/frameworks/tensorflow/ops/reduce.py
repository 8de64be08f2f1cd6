"""Reductions (ReduceMean, ReduceSum, ...) and ArgMax/ArgMin, with axes remapped into the stored layout."""

from __future__ import annotations

from onnxbridge.codegen.writer import Code, call, dotted, lit
from onnxbridge.frameworks.tensorflow import layout as L
from onnxbridge.frameworks.tensorflow.context import TensorFlowContext
from onnxbridge.frameworks.tensorflow.registry import TF_OPS


def _ops(name: str) -> Code:
    return dotted("ops", name)


_RUNTIME = object()  # the axes are only known at run time


def _reduce_axes(ctx: TensorFlowContext, axes_as_input: bool) -> list[int] | object | None:
    """The reduced axes (sorted, non-negative); None for none (noop_with_empty_axes), or ``_RUNTIME``."""
    rank = ctx.rank(0)
    if axes_as_input:
        axes = ctx.ints(1) if ctx.has(1) else None
        if ctx.has(1) and axes is None:
            return _RUNTIME
    else:
        axes = ctx.attr("axes")
    if not axes:
        if ctx.attr("noop_with_empty_axes", 0):
            return None
        return list(range(rank))
    return sorted(ctx.axis(a, rank) for a in axes)


_REDUCE = {"ReduceMean": "mean", "ReduceSum": "sum", "ReduceMax": "max", "ReduceMin": "min", "ReduceProd": "prod",
           "ReduceL1": "l1", "ReduceL2": "l2", "ReduceLogSumExp": "logsumexp", "ReduceSumSquare": "sumsquare",
           "ReduceLogSum": "logsum"}
# the Reduce helper's names of the kinds
_HELPER_KIND = {"logsumexp": "log_sum_exp", "sumsquare": "sum_square", "logsum": "log_sum"}


def _reduce(kind: str, axes_as_input: bool):
    def convert(ctx: TensorFlowContext) -> None:
        axes = _reduce_axes(ctx, axes_as_input)
        if axes is None:
            ctx.alias(0, keep_perm=True)
            return
        keep = bool(ctx.attr("keepdims", 1))
        if axes is _RUNTIME:
            shape = _runtime_out_shape(ctx, keep)
            layer = call(ctx.helper("Reduce"), lit(_HELPER_KIND.get(kind, kind)), keepdims=lit(keep),
                         noop_with_empty_axes=lit(bool(ctx.attr("noop_with_empty_axes", 0))), shape=lit(shape))
            ctx.emit(call(layer, ctx.x(0), ctx.x(1)), perm=L.identity(len(shape)))
            return
        assert isinstance(axes, list)  # the axes themselves, once the other outcomes are handled
        x, perm = ctx.x_any(0)
        stored = sorted(L.stored_axis(perm, a) for a in axes)
        kw = dict(axis=lit(tuple(stored) if len(stored) > 1 else stored[0] if stored else ()), keepdims=lit(keep))
        if kind in ("mean", "sum", "max", "min", "prod", "logsumexp"):
            y = call(_ops(kind), x, **kw)
        elif kind == "l1":
            y = call(_ops("sum"), call(_ops("abs"), x), **kw)
        elif kind == "l2":
            y = call(_ops("sqrt"), call(_ops("sum"), call(_ops("square"), x), **kw))
        elif kind == "sumsquare":
            y = call(_ops("sum"), call(_ops("square"), x), **kw)
        else:  # logsum
            y = call(_ops("log"), call(_ops("sum"), x, **kw))
        out_perm = perm if keep else L.after_removing(perm, axes)[1]
        ctx.emit(y, perm=out_perm)

    return convert


def _runtime_out_shape(ctx: TensorFlowContext, keep: bool) -> list[int | None]:
    """The output shape of a reduction over run-time axes: ONNX inference's, or (keepdims) the input's rank,
    or (no keepdims) as many axes fewer as the axes input has elements."""
    known = ctx.out_type().shape
    if known is not None:
        return [d if isinstance(d, int) else None for d in known]
    rank = ctx.rank(0)
    if keep:
        return [None] * rank
    n = ctx.type(1).static_shape
    if n is None or len(n) != 1:
        ctx.fail("the number of reduced axes is unknown, so the output rank is too")
    return [None] * (rank - n[0])


for _op, _kind in _REDUCE.items():
    # the axes moved from an attribute to an input in opset 18 (ReduceSum: 13)
    since = 13 if _op == "ReduceSum" else 18
    TF_OPS.register(_op)(_reduce(_kind, axes_as_input=False))
    TF_OPS.register(_op, since=since)(_reduce(_kind, axes_as_input=True))


def _arg(fn: str):
    def convert(ctx: TensorFlowContext) -> None:
        rank = ctx.rank(0)
        axis = ctx.axis(ctx.attr("axis", 0), rank)
        keep = bool(ctx.attr("keepdims", 1))
        x, perm = ctx.x_any(0)
        a = L.stored_axis(perm, axis)
        if ctx.attr("select_last_index", 0):
            # the last occurrence: search the flipped tensor, then count from the end
            dim = ctx.shape(0)[axis]
            if not isinstance(dim, int):
                ctx.fail("select_last_index=1 needs a static dim")
            y = call(_ops(fn), call(_ops("flip"), x, axis=lit(a)), axis=lit(a), keepdims=lit(keep))
            y = call(_ops("subtract"), lit(dim - 1), y)
        else:
            y = call(_ops(fn), x, axis=lit(a), keepdims=lit(keep))
        out_perm = perm if keep else L.after_removing(perm, [axis])[1]
        ctx.emit(call(_ops("cast"), y, lit("int64")), perm=out_perm)

    return convert


TF_OPS.register("ArgMax")(_arg("argmax"))
TF_OPS.register("ArgMin")(_arg("argmin"))
