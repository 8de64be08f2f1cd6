"""Sequences of tensors: SequenceEmpty, SequenceConstruct, SequenceInsert, SequenceErase, SequenceAt,
SequenceLength, SplitToSequence, ConcatFromSequence.

An ONNX sequence is a Python list of tensors in ``forward``. Every op writes a new list (``seq + [x]``,
``seq[:1] + seq[2:]``) rather than changing one in place, so a list read by several nodes stays as each of
them expects; a position known now is a literal, one known at run time is read with ``int()``.
"""

from __future__ import annotations

from onnxbridge.codegen.writer import Code, fmt, join, lit
from onnxbridge.frameworks.torch.context import TorchContext, fn
from onnxbridge.frameworks.torch.registry import TORCH_OPS

REG = TORCH_OPS.register


def _emit(ctx: TorchContext, expr: Code) -> None:
    """``out = expr`` in a variable of its own, named after the value: a list never takes over the variable
    of a dead tensor, nor a tensor that of a dead list."""
    var = ctx.b.var(ctx.output_name(0), ctx.node, reuse=False)
    ctx.line("{} = {}", var, expr)


def _position(ctx: TorchContext, i: int) -> Code | None:
    """Input ``i`` (a position in a sequence) as a literal when known now, else ``int(pos)``; None when
    absent."""
    if not ctx.has(i):
        return None
    known = ctx.ints(i)
    return lit(known[0]) if known is not None else fmt("int({})", ctx.t(i))


def _required_position(ctx: TorchContext, i: int) -> Code:
    """Input ``i``, a position that is there (absent only where the op makes it optional)."""
    p = _position(ctx, i)
    assert p is not None, "callers check ctx.has(i) first"
    return p


@REG("SequenceEmpty", since=11)
def sequence_empty(ctx: TorchContext) -> None:
    """ONNX ``SequenceEmpty``: ``[]``."""
    _emit(ctx, Code("[]"))


@REG("SequenceConstruct", since=11)
def sequence_construct(ctx: TorchContext) -> None:
    """ONNX ``SequenceConstruct``: ``[a, b, c]``."""
    _emit(ctx, fmt("[{}]", join([ctx.t(i) for i in range(ctx.n_inputs) if ctx.has(i)])))


@REG("SequenceInsert", since=11)
def sequence_insert(ctx: TorchContext) -> None:
    """ONNX ``SequenceInsert``: ``seq + [x]`` at the back, ``seq[:p] + [x] + seq[p:]`` at position ``p``."""
    seq, x = ctx.t(0), ctx.t(1)
    p = _position(ctx, 2)
    if p is None:
        _emit(ctx, fmt("{} + [{}]", seq, x))
        return
    _emit(ctx, fmt("{}[:{}] + [{}] + {}[{}:]", seq, p, x, seq, p))


@REG("SequenceErase", since=11)
def sequence_erase(ctx: TorchContext) -> None:
    """ONNX ``SequenceErase``: the last tensor by default, else the one at position ``p``."""
    seq = ctx.t(0)
    known = ctx.ints(1) if ctx.has(1) else [-1]
    if known == [-1]:
        _emit(ctx, fmt("{}[:-1]", seq))
        return
    p = _required_position(ctx, 1)
    if known is not None:
        _emit(ctx, fmt("{}[:{}] + {}[{}:]", seq, p, seq, lit(known[0] + 1)))
    else:  # known at run time, perhaps negative: drop the first tensor from that position on
        _emit(ctx, fmt("{}[:{}] + {}[{}:][1:]", seq, p, seq, p))


@REG("SequenceAt", since=11)
def sequence_at(ctx: TorchContext) -> None:
    """ONNX ``SequenceAt``: ``seq[p]`` (negative positions count from the back, as in Python)."""
    _emit(ctx, fmt("{}[{}]", ctx.t(0), _required_position(ctx, 1)))


@REG("SequenceLength", since=11)
def sequence_length(ctx: TorchContext) -> None:
    """ONNX ``SequenceLength``: ``len(seq)`` as an int64 scalar tensor."""
    _emit(ctx, fn("torch.tensor", fmt("len({})", ctx.t(0))))


@REG("SplitToSequence", since=11)
def split_to_sequence(ctx: TorchContext) -> None:
    """ONNX ``SplitToSequence``: ``torch.split`` into given sizes or chunks of one size, or
    ``torch.unbind`` into single slices (``keepdims=0``)."""
    axis = int(ctx.attr("axis", 0))
    x = ctx.t(0)
    if not ctx.has(1):
        if int(ctx.attr("keepdims", 1)):
            _emit(ctx, fmt("list({})", fn("torch.split", x, lit(1), lit(axis))))
        else:
            _emit(ctx, fmt("list({})", fn("torch.unbind", x, lit(axis))))
        return
    sizes = ctx.ints(1)
    const = ctx.const(1)
    scalar = ctx.type(1).rank == 0 or (const is not None and const.ndim == 0)
    if sizes is not None:
        split = lit(sizes[0]) if scalar else lit(sizes)
    else:  # known at run time
        split = fmt("int({})", ctx.t(1)) if scalar else fmt("{}.tolist()", ctx.t(1))
    _emit(ctx, fmt("list({})", fn("torch.split", x, split, lit(axis))))


@REG("ConcatFromSequence", since=11)
def concat_from_sequence(ctx: TorchContext) -> None:
    """ONNX ``ConcatFromSequence``: ``torch.cat`` along an axis, or ``torch.stack`` along a new one
    (``new_axis=1``)."""
    axis = lit(int(ctx.attr("axis")))
    _emit(ctx, fn("torch.stack" if int(ctx.attr("new_axis", 0)) else "torch.cat", ctx.t(0), axis))
