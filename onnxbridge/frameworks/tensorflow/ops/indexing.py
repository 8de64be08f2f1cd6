"""Indexing: Gather (constant tables become ``layers.Embedding``), Slice, TopK, OneHot, GatherND, Scatter*,
NonZero, ReverseSequence, MaxUnpool (a scatter of the pooled values back to their positions)."""

from __future__ import annotations

import numpy as np

from onnxbridge.codegen.writer import Code, call, dotted, lit
from onnxbridge.frameworks.tensorflow import layout as L
from onnxbridge.frameworks.tensorflow.context import (
    TensorFlowContext,
    item,
    np_literal,
    slice_code,
    subscript,
)
from onnxbridge.frameworks.tensorflow.registry import TF_OPS
from onnxbridge.ir.symbolic import Dim

INT64_MAX = 2**63 - 1


def _ops(name: str) -> Code:
    return dotted("ops", name)


def _slice_bounds(start: int, end: int, step: int, dim) -> tuple[int | None, int | None]:
    if isinstance(dim, int):
        if step > 0:
            s = min(max(start + dim if start < 0 else start, 0), dim)
            e = min(max(end + dim if end < 0 else end, 0), dim)
            return (s or None), (None if e >= dim else e)
        s = min(max(start + dim if start < 0 else start, -1), dim - 1)
        e = min(max(end + dim if end < 0 else end, -1), dim - 1)
        return (None if s >= dim - 1 else s), (None if e < 0 else e)
    big = 2**31 - 1
    lo = None if (step > 0 and start == 0) or (step < 0 and start >= big) else start
    if step > 0:
        hi = None if end >= big else end
    else:
        hi = None if end <= -big else end
    return lo, hi


def _emit_slice(ctx: TensorFlowContext, starts, ends, axes, steps) -> None:
    rank = ctx.rank(0)
    shape = ctx.shape(0)
    x, perm = ctx.x_any(0)
    full = slice_code(None, None)
    items = [full] * rank
    for s, e, a, st in zip(starts, ends, axes, steps):
        a = ctx.axis(a, rank)
        if st == 0:
            ctx.fail("slice step 0")
        b, f = _slice_bounds(int(s), int(e), int(st), shape[a])
        items[L.stored_axis(perm, a)] = slice_code(b, f, int(st))
    while items and items[-1] == full:
        items.pop()
    if not items:
        ctx.alias(0, keep_perm=True)
        return
    ctx.emit(subscript(x, items), perm=perm)


@TF_OPS.register("Slice", since=10)
def slice_10(ctx: TensorFlowContext) -> None:
    """ONNX ``Slice`` from opset 10: constant starts, ends, axes and steps as indexing, the ``SliceAxes`` helper
    layer for ones known at run time."""
    node = ctx.node
    starts, ends = ctx.elems(1), ctx.elems(2)
    axes = ctx.ints(3) if ctx.has(3) else None
    steps = ctx.ints(4) if ctx.has(4) else None
    if starts is None or ends is None or (ctx.has(3) and axes is None) or (ctx.has(4) and steps is None):
        _runtime_slice(ctx)
        return
    shape = ctx.shape(0)
    axes = axes if axes is not None else list(range(len(starts)))
    # an end equal to a run-time dim of the input itself means "to the end"
    ends = [INT64_MAX if isinstance(e, Dim) and e.value == node.input[0] and
            ctx.axis(a, len(shape)) == e.axis else e for e, a in zip(ends, axes)]
    if any(not isinstance(v, int) for v in list(starts) + list(ends)):
        _runtime_slice(ctx)
        return
    _emit_slice(ctx, starts, ends, axes, steps if steps is not None else [1] * len(starts))


def _runtime_slice(ctx: TensorFlowContext) -> None:
    """Slice with bounds, axes or steps known at run time: a helper layer on the ONNX layout."""
    args = [ctx.x(0)] + [ctx.tensor_arg(i) for i in (1, 2)]
    if ctx.has(3) or ctx.has(4):
        n = ctx.shape(1)[0]
        if ctx.has(3):
            args.append(ctx.tensor_arg(3))
        elif isinstance(n, int):
            args.append(np_literal(np.arange(n, dtype=np.int64), scalar=False))
        else:
            ctx.fail("steps without axes need a known number of bounds")
    if ctx.has(4):
        args.append(ctx.tensor_arg(4))
    layer = ctx.layer(str(ctx.helper("SliceAxes")), module="", shape=ctx.static_out_shape())
    ctx.emit(call(layer, *args))


@TF_OPS.register("Slice")
def slice_1(ctx: TensorFlowContext) -> None:
    """ONNX ``Slice`` before opset 10, its starts, ends and axes as attributes."""
    starts, ends = ctx.attr("starts"), ctx.attr("ends")
    axes = ctx.attr("axes", list(range(len(starts))))
    _emit_slice(ctx, starts, ends, axes, [1] * len(starts))


@TF_OPS.register("Gather")
def gather(ctx: TensorFlowContext) -> None:
    """ONNX ``Gather``: a Keras ``Embedding`` for a large float table looked up by ids that come from the
    model's inputs, ``ops.take`` otherwise (ids computed from constants alone, such as BERT's token types
    from a zero buffer, are looked up once while the model is built)."""
    rank = ctx.rank(0)
    axis = ctx.axis(ctx.attr("axis", 0), rank)
    table = ctx.const(0)
    idx = ctx.const(1)
    if table is not None and idx is None and axis == 0 and table.ndim == 2 and table.dtype.kind == "f" \
            and table.size > 64 and ctx.from_inputs(1):
        layer = ctx.layer("Embedding", weights=[table], input_dim=int(table.shape[0]), output_dim=int(table.shape[1]))
        ctx.emit(call(layer, ctx.x(1)))
        return
    x, perm = ctx.x_any(0)
    a = L.stored_axis(perm, axis)
    full = slice_code(None, None)
    if idx is not None:
        idx = np.asarray(idx, dtype=np.int64)
        if idx.ndim == 0:
            # x[:, i] (a negative index counts from the end, as in ONNX)
            _, out_perm = L.after_removing(perm, [axis])
            ctx.emit(subscript(x, [full] * a + [lit(int(idx))]), perm=out_perm)
            return
        if idx.ndim == 1 and idx.size > 1 and np.array_equal(idx, np.arange(idx[0], idx[0] + idx.size)) \
                and (idx[0] >= 0 or idx[-1] < 0):
            stop = int(idx[-1]) + 1
            ctx.emit(subscript(x, [full] * a + [slice_code(int(idx[0]), stop if stop != 0 else None)]), perm=perm)
            return
        if (idx < 0).any():
            dim = ctx.shape(0)[axis]
            if not isinstance(dim, int):
                ctx.fail("negative indices into a dim known only at run time")
            idx = np.where(idx < 0, idx + dim, idx)
        if idx.ndim == 1:
            ctx.emit(call(_ops("take"), x, ctx.constant(idx), axis=lit(a)), perm=perm)
            return
    ctx.emit(call(_ops("take"), ctx.x(0), ctx.x(1), axis=lit(axis)))


@TF_OPS.register("GatherElements", since=11)
def gather_elements(ctx: TensorFlowContext) -> None:
    """ONNX ``GatherElements`` as ``ops.take_along_axis``."""
    axis = ctx.axis(ctx.attr("axis", 0), ctx.rank(0))
    ctx.emit(call(_ops("take_along_axis"), ctx.x(0), ctx.x(1), axis=lit(axis)))


@TF_OPS.register("OneHot", since=9)
def one_hot(ctx: TensorFlowContext) -> None:
    """ONNX ``OneHot``: ``ops.one_hot`` for constant depth, values and non-negative indices, the ``OneHot``
    helper layer otherwise."""
    depth = ctx.ints(1)
    values = ctx.const(2)
    rank = ctx.rank(0)
    axis = ctx.axis(ctx.attr("axis", -1), rank + 1)
    # ONNX counts negative indices from the end and gives a row of off values outside [-depth, depth)
    indices = ctx.const(0)
    if depth is None or values is None or indices is None or bool(np.any(indices < 0)):
        layer = ctx.layer(str(ctx.helper("OneHot")), module="", axis=axis, shape=ctx.static_out_shape())
        ctx.emit(call(layer, ctx.x(0), ctx.tensor_arg(1), ctx.tensor_arg(2)))
        return
    off, on = values.reshape(-1)[:2]
    dtype = str(values.dtype)
    expr = call(_ops("one_hot"), ctx.x(0), lit(int(depth[0])), axis=lit(axis if axis != rank else -1),
                dtype=lit(dtype))
    if not (off == 0 and on == 1):
        expr = call(_ops("add"), call(_ops("multiply"), expr, lit((on - off).item())), lit(off.item()))
    ctx.emit(expr)


@TF_OPS.register("TopK", since=10)
def top_k(ctx: TensorFlowContext) -> None:
    """ONNX ``TopK`` along any axis, largest or smallest; K constant or known at run time (the ``TopK`` helper)."""
    node = ctx.node
    k = ctx.ints(1)
    rank = ctx.rank(0)
    axis = ctx.axis(ctx.attr("axis", -1), rank)
    largest = ctx.attr("largest", 1)
    if k is None:  # known at run time
        layer = ctx.layer(str(ctx.helper("TopK")), module="", axis=axis, largest=None if largest else False,
                          sorted=None if ctx.attr("sorted", 1) else False, shape=ctx.static_out_shape())
        ctx.outs(call(layer, ctx.x(0), ctx.x(1)), [L.identity(rank)] * 2)
        return
    x = ctx.x(0)
    swap = None
    if axis != rank - 1:
        swap = list(range(rank))
        swap[axis], swap[-1] = swap[-1], swap[axis]
        x = call(_ops("transpose"), x, lit(tuple(swap)))
    if not largest:
        x = call(_ops("negative"), x)
    pair = ctx.scope.new_var(f"{node.output[0]}_topk")
    ctx.define_raw(pair, call(_ops("top_k"), x, lit(int(k[0])), sorted=lit(bool(ctx.attr("sorted", 1)))))
    values = item(pair, 0)
    indices = call(_ops("cast"), item(pair, 1), lit("int64"))
    if not largest:
        values = call(_ops("negative"), values)
    if swap is not None:
        values = call(_ops("transpose"), values, lit(tuple(swap)))
        indices = call(_ops("transpose"), indices, lit(tuple(swap)))
    ctx.uses.add(pair)
    ctx.emit(values)
    if ctx.has_output(1):
        ctx.emit(indices, 1)


@TF_OPS.register("GatherND", since=11)
def gather_nd(ctx: TensorFlowContext) -> None:
    """ONNX ``GatherND`` through the generated ``GatherND`` helper layer."""
    layer = ctx.layer(str(ctx.helper("GatherND")), module="", batch_dims=int(ctx.attr("batch_dims", 0)) or None)
    ctx.emit(call(layer, ctx.tensor_arg(0), ctx.tensor_arg(1)))


def _reduction(ctx: TensorFlowContext) -> str:
    reduction = ctx.attr("reduction", "none")
    if reduction not in ("none", "add", "mul", "max", "min"):
        ctx.fail(f"reduction {reduction!r} is not supported")
    return reduction


@TF_OPS.register("ScatterND", since=11)
def scatter_nd(ctx: TensorFlowContext) -> None:
    """ONNX ``ScatterND`` through the generated ``ScatterND`` helper layer (with its reduction)."""
    reduction = _reduction(ctx)
    layer = ctx.layer(str(ctx.helper("ScatterND")), module="", reduction=reduction if reduction != "none" else None)
    ctx.emit(call(layer, ctx.tensor_arg(0), ctx.tensor_arg(1), ctx.tensor_arg(2)))


@TF_OPS.register("ScatterElements", since=11)
def scatter_elements(ctx: TensorFlowContext) -> None:
    """ONNX ``ScatterElements`` through the generated ``ScatterElements`` helper layer (with its reduction)."""
    reduction = _reduction(ctx)
    axis = ctx.axis(ctx.attr("axis", 0), ctx.rank(0))
    layer = ctx.layer(str(ctx.helper("ScatterElements")), module="", axis=axis,
                      reduction=reduction if reduction != "none" else None)
    ctx.emit(call(layer, ctx.tensor_arg(0), ctx.tensor_arg(1), ctx.tensor_arg(2)))


# the deprecated Scatter is ScatterElements without a reduction
TF_OPS.register("Scatter", since=9)(scatter_elements)


@TF_OPS.register("MaxUnpool", since=9)
def max_unpool(ctx: TensorFlowContext) -> None:
    """ONNX ``MaxUnpool`` as ``ops.scatter`` of the values to their indices, which ONNX numbers over the whole
    (NCHW) tensor: Keras has no unpooling layer."""
    shape = ctx.out_shape()
    if not all(isinstance(d, int) for d in shape):
        ctx.fail("the output shape must be known when converting (the indices number its elements)")
    positions = ctx.let("positions", call(_ops("reshape"), ctx.x(1), lit((-1, 1))))
    flat = ctx.let("unpooled", call(_ops("scatter"), positions, call(_ops("reshape"), ctx.x(0), lit((-1,))),
                                    lit((int(np.prod(shape)),))))
    ctx.emit(call(_ops("reshape"), flat, lit(tuple(int(d) for d in shape))))


@TF_OPS.register("NonZero", since=9)
def non_zero(ctx: TensorFlowContext) -> None:
    """ONNX ``NonZero`` through the generated ``NonZero`` helper layer."""
    ctx.emit(call(ctx.layer(str(ctx.helper("NonZero")), module=""), ctx.x(0)))


@TF_OPS.register("ReverseSequence", since=10)
def reverse_sequence(ctx: TensorFlowContext) -> None:
    """ONNX ``ReverseSequence``: a flip when every sequence is full length, the generated ``ReverseSequence``
    helper layer otherwise."""
    batch_axis, time_axis = int(ctx.attr("batch_axis", 1)), int(ctx.attr("time_axis", 0))
    lengths = ctx.const(1)
    steps = ctx.shape(0)[time_axis]
    if lengths is not None and isinstance(steps, int) and np.all(lengths == steps):
        # every sequence is full length (how tf2onnx writes go_backwards): a flip
        x, perm = ctx.x_any(0)
        ctx.emit(call(_ops("flip"), x, axis=lit(L.stored_axis(perm, time_axis))), perm=perm)
        return
    layer = ctx.layer(str(ctx.helper("ReverseSequence")), module="", time_axis=time_axis, batch_axis=batch_axis)
    ctx.emit(call(layer, ctx.tensor_arg(0), ctx.tensor_arg(1)))
