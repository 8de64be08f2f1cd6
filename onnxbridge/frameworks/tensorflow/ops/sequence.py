"""Sequences of tensors: SequenceEmpty, SequenceConstruct, SequenceInsert, SequenceErase, SequenceAt,
SequenceLength, SplitToSequence, ConcatFromSequence.

An ONNX sequence is a Python list of tensors while the Keras model is built, its tensors stored as ONNX
sees them. Every op writes a new list (``seq + [x]``, ``seq[:1] + seq[2:]``) rather than changing one in
place. Keras builds the graph once, so positions must be known at conversion time; the length of a
sequence is then known too, and ``SequenceLength`` is a constant.
"""

from __future__ import annotations

import numpy as np

from onnxbridge.codegen.writer import Code, call, dotted, fmt, lit
from onnxbridge.frameworks.tensorflow.context import TensorFlowContext, listing
from onnxbridge.frameworks.tensorflow.registry import TF_OPS

REG = TF_OPS.register


def _position(ctx: TensorFlowContext, i: int) -> int | None:
    """Input ``i`` (a position in a sequence), None when absent; fails when it is known only at run time."""
    if not ctx.has(i):
        return None
    known = ctx.ints(i)
    if known is None:
        ctx.fail("the position is known only at run time; a Keras model picks the tensors of a sequence "
                 "when it is built, so the position must be a constant")
    return known[0]


def _length(ctx: TensorFlowContext, name: str) -> int | None:
    """How many tensors the sequence ``name`` holds, followed from the ops that made it (None when that
    depends on the data)."""
    node = ctx.view.producer.get(name)
    if node is None:
        return None
    op = node.op_type
    if op == "SequenceEmpty":
        return 0
    if op == "SequenceConstruct":
        return sum(1 for n in node.input if n)
    if op in ("SequenceInsert", "SequenceErase"):
        before = _length(ctx, node.input[0])
        return None if before is None else before + (1 if op == "SequenceInsert" else -1)
    if op == "SplitToSequence":
        shape = ctx.view.type(node.input[0]).shape
        axis = int(next((a.i for a in node.attribute if a.name == "axis"), 0))
        dim = shape[axis] if shape is not None and -len(shape) <= axis < len(shape) else None
        split = node.input[1] if len(node.input) > 1 and node.input[1] else None
        if split is None:
            return dim if isinstance(dim, int) else None
        split_shape = ctx.view.type(split).shape
        if split_shape is not None and len(split_shape) == 1:
            return split_shape[0] if isinstance(split_shape[0], int) else None
        size = ctx.const_of(split)
        if size is not None and isinstance(dim, int):
            return -(-dim // int(size.reshape(-1)[0]))
    return None


@REG("SequenceEmpty", since=11)
def sequence_empty(ctx: TensorFlowContext) -> None:
    """ONNX ``SequenceEmpty``: ``[]``."""
    ctx.emit(Code("[]"))


@REG("SequenceConstruct", since=11)
def sequence_construct(ctx: TensorFlowContext) -> None:
    """ONNX ``SequenceConstruct``: ``[a, b, c]``."""
    ctx.emit(listing([ctx.x(i) for i in range(ctx.n_inputs) if ctx.has(i)]))


@REG("SequenceInsert", since=11)
def sequence_insert(ctx: TensorFlowContext) -> None:
    """ONNX ``SequenceInsert``: ``seq + [x]`` at the back, ``seq[:p] + [x] + seq[p:]`` at position ``p``."""
    seq, x = ctx.x(0), ctx.x(1)
    p = _position(ctx, 2)
    if p is None:
        ctx.emit(fmt("{} + [{}]", seq, x))
    else:
        ctx.emit(fmt("{}[:{}] + [{}] + {}[{}:]", seq, lit(p), x, seq, lit(p)))


@REG("SequenceErase", since=11)
def sequence_erase(ctx: TensorFlowContext) -> None:
    """ONNX ``SequenceErase``: the last tensor by default, else the one at position ``p``."""
    seq = ctx.x(0)
    p = _position(ctx, 1)
    if p is None or p == -1:
        ctx.emit(fmt("{}[:-1]", seq))
    else:
        ctx.emit(fmt("{}[:{}] + {}[{}:]", seq, lit(p), seq, lit(p + 1)))


@REG("SequenceAt", since=11)
def sequence_at(ctx: TensorFlowContext) -> None:
    """ONNX ``SequenceAt``: ``seq[p]`` (negative positions count from the back, as in Python)."""
    ctx.emit(fmt("{}[{}]", ctx.x(0), lit(_position(ctx, 1))))


@REG("SequenceLength", since=11)
def sequence_length(ctx: TensorFlowContext) -> None:
    """ONNX ``SequenceLength``: known when the model is built (see the module docstring)."""
    n = _length(ctx, ctx.input_name(0))
    if n is None:
        ctx.fail("the length of the sequence depends on the data; a Keras model needs it when it is built")
    ctx.set_const(0, np.asarray(n, dtype=np.int64))


@REG("SplitToSequence", since=11)
def split_to_sequence(ctx: TensorFlowContext) -> None:
    """ONNX ``SplitToSequence``: ``ops.split`` into given sizes or chunks of one size, ``ops.unstack`` into
    single slices (``keepdims=0``), the ``SplitSizes`` helper for sizes known at run time."""
    rank = ctx.rank(0)
    axis = ctx.axis(ctx.attr("axis", 0), rank)
    x = ctx.x(0)
    dim = ctx.shape(0)[axis]
    if not ctx.has(1):
        if not isinstance(dim, int):
            ctx.fail("the number of pieces is the size of the split axis, known only at run time")
        if int(ctx.attr("keepdims", 1)):
            ctx.emit(call(dotted("ops", "split"), x, lit(dim), axis=lit(axis)))
        else:
            ctx.emit(call(dotted("ops", "unstack"), x, axis=lit(axis)))
        return
    sizes = ctx.ints(1)
    n = _length(ctx, ctx.output_name(0))
    if sizes is None:  # known at run time
        if ctx.rank(1) != 1 or n is None:
            ctx.fail("the number of pieces depends on the data; a Keras model needs it when it is built")
        piece = [None if k == axis or not isinstance(d, int) else d for k, d in enumerate(ctx.shape(0))]
        layer = ctx.layer(str(ctx.helper("SplitSizes")), module="", axis=axis, shapes=[piece] * n)
        ctx.emit(call(layer, x, ctx.x(1)))
        return
    if ctx.rank(1) == 0:  # pieces of one size, the last one smaller
        if not isinstance(dim, int):
            ctx.fail("the number of pieces depends on the size of the split axis, known only at run time")
        sizes = [min(sizes[0], dim - start) for start in range(0, dim, sizes[0])]
    sections = lit(len(sizes)) if len(set(sizes)) == 1 else lit(np.cumsum(sizes)[:-1].tolist())
    ctx.emit(call(dotted("ops", "split"), x, sections, axis=lit(axis)))


@REG("ConcatFromSequence", since=11)
def concat_from_sequence(ctx: TensorFlowContext) -> None:
    """ONNX ``ConcatFromSequence``: ``ops.concatenate`` along an axis, or ``ops.stack`` along a new one
    (``new_axis=1``)."""
    fn = "stack" if int(ctx.attr("new_axis", 0)) else "concatenate"
    ctx.emit(call(dotted("ops", fn), ctx.x(0), axis=lit(int(ctx.attr("axis")))))
