"""Attention ops: Attention -> ``ops.dot_product_attention`` where Keras means the same, else written out
with Keras ops (a soft cap, the scores as an output, another softmax precision, a mask that may hide every
key of a query: Keras gives such a row the mean of the values, ONNX a zero row).

What an Attention node computes is read once, for every bridge, by :mod:`onnxbridge.frameworks.attention`;
this module only writes it in Keras. Heads are kept as Keras keeps them, ``(batch, seq, heads, size)``:
3-D inputs only need a reshape, 4-D ones are stored transposed (the layout bookkeeping writes the
transpose once, and outputs say they are stored that way). RotaryEmbedding is written out with Keras ops
in the same layout: pairs of features rotated by the cached angles.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx

from onnxbridge.codegen.writer import Code, call, dotted, lit
from onnxbridge.frameworks.attention import AttentionPlan, read_attention, read_rotary
from onnxbridge.frameworks.tensorflow.context import TensorFlowContext, add_code, listing
from onnxbridge.frameworks.tensorflow.registry import TF_OPS
from onnxbridge.ir.semantics import broadcast_shapes

SEQ_FIRST = (0, 2, 1, 3)  # (batch, heads, seq, size) stored as (batch, seq, heads, size)
_NEG_INF = lit(float("-inf"))
_HALF_TYPES = (onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16)


def _ops(name: str) -> Code:
    return dotted("ops", name)


def _np(name: str) -> Code:
    return dotted("np", name)


def _dims(ctx: TensorFlowContext, sizes: Sequence[object]) -> Code:
    """A reshape target: static sizes, -1 for the one that is not (fails when two are not)."""
    dims = [d if isinstance(d, int) else -1 for d in sizes]
    if dims.count(-1) > 1:
        ctx.fail("more than one of the batch and sequence sizes is unknown")
    return lit(tuple(dims))


def _heads(ctx: TensorFlowContext, i: int, heads: int, size: int, hint: str, packed: bool, seq_first: bool) -> Code:
    """Input ``i`` split into heads: (batch, seq, heads, size) when ``seq_first``, else as ONNX has it."""
    if not packed:
        return ctx.x(i, SEQ_FIRST if seq_first else None)
    batch, seq, _ = ctx.shape(i)
    return ctx.let(hint, call(_ops("reshape"), ctx.x(i), _dims(ctx, (batch, seq, heads, size))))


def _f32(value: float) -> Code:
    """A float attribute in its shortest float32 spelling (ONNX float attributes are float32)."""
    return lit(float(str(np.float32(value))))


def _position_keep(ctx: TensorFlowContext, p: AttentionPlan) -> tuple[Code, tuple] | None:
    """The bool mask of the keys each query sees by position (causal, window, padding keys) and its shape
    (broadcastable to (batch, heads, q_len, keys)); None when positions do not matter."""
    if not p.limits_positions:
        return None
    if p.q_len is None or p.total_len is None:
        ctx.fail("causal or windowed attention needs static sequence lengths")
    lo, hi = p.diagonals
    if not p.nonpad:
        if p.static_offset is None:
            ctx.fail("causal or windowed attention needs a static past length")
        expr = call(_np("ones"), lit((p.q_len, p.total_len)), dtype=lit("bool"))
        if hi is not None:
            expr = call(_np("tril"), expr, lit(p.static_offset + hi))
        if lo is not None:
            expr = call(_np("triu"), expr, lit(p.static_offset + lo))
        name = "causal_mask" if p.causal and not p.windowed else "visible"
        return ctx.let(name, expr), (p.q_len, p.total_len)
    # per batch: the queries are the last q_len of the nonpad_kv_seqlen valid keys
    lengths = ctx.let("lengths", call(_ops("reshape"), ctx.x(6), lit((-1, 1, 1, 1))))
    keep = call(_ops("less"), call(_np("arange"), lit(p.total_len)), lengths)
    if lo is not None or hi is not None:
        # key position - query position, per batch
        steps = call(_np("subtract"), call(_np("arange"), lit(p.total_len)),
                     Code(f"{call(_np('arange'), lit(p.q_len))}[:, None]"))
        distance = ctx.let("distance", call(_ops("subtract"), steps,
                                             call(_ops("subtract"), lengths, lit(p.q_len))))
        if hi is not None:
            keep = call(_ops("logical_and"), keep, call(_ops("less_equal"), distance, lit(hi)))
        if lo is not None:
            keep = call(_ops("logical_and"), keep, call(_ops("greater_equal"), distance, lit(lo)))
    batch = ctx.shape(6)[0]
    return ctx.let("visible", keep), (batch if isinstance(batch, int) else None, 1, p.q_len, p.total_len)


def _attn_mask(ctx: TensorFlowContext, p: AttentionPlan) -> tuple[Code, tuple] | None:
    """One mask for the scores, bool (True = attend) or float (added), with its shape."""
    given: tuple[Code, tuple] | None = None
    if p.mask is not None:
        shape = tuple(d if isinstance(d, int) else None for d in ctx.shape(3))
        mask = ctx.x(3)
        if p.mask_pad is None:
            ctx.fail("an attn_mask shorter than the keys needs static sizes")
        if p.mask_pad:
            fill = lit(False) if p.mask == "bool" else _NEG_INF
            widths = [[0, 0]] * (len(shape) - 1) + [[0, p.mask_pad]]
            mask = ctx.let("mask", call(_ops("pad"), mask, lit(widths), constant_values=fill))
            shape = (*shape[:-1], p.total_len)
        given = (mask, shape)
    keep = _position_keep(ctx, p)
    if keep is None or given is None:
        return keep or given
    both = broadcast_shapes(given[1], keep[1])
    if p.mask == "bool":
        return ctx.let("mask", call(_ops("logical_and"), given[0], keep[0])), both
    return ctx.let("mask", call(_ops("where"), keep[0], given[0], _NEG_INF)), both


def _hidden_rows(p: AttentionPlan, mask: Code) -> Code:
    """Queries that see no key (their row is zero, not NaN)."""
    if p.mask == "float":
        return call(_ops("all"), call(_ops("equal"), mask, _NEG_INF), axis=lit(-1), keepdims=lit(True))
    return call(_ops("logical_not"), call(_ops("any"), mask, axis=lit(-1), keepdims=lit(True)))


@TF_OPS.register("Attention", since=23)
def attention(ctx: TensorFlowContext) -> None:
    """ONNX ``Attention`` as ``ops.dot_product_attention`` where that means the same, written out otherwise
    (soft caps, masks, score outputs)."""
    p = read_attention(ctx)
    ctx.dtype(p.elem)  # fails cleanly for types Keras lacks
    # Keras's symbolic dot_product_attention takes the output's head size from the query's
    fused = p.fused and p.v_head_size == p.head_size and p.mask is None and not p.nonpad and not p.may_hide_rows
    # Keras attention takes (batch, seq, heads, size); written out, 4-D inputs stay as they are
    seq_first = fused or p.packed
    query = _heads(ctx, 0, p.q_heads, p.head_size, "query", p.packed, seq_first)
    key = _heads(ctx, 1, p.kv_heads, p.head_size, "key", p.packed, seq_first)
    value = _heads(ctx, 2, p.kv_heads, p.v_head_size, "value", p.packed, seq_first)
    layout = SEQ_FIRST if seq_first else None
    if p.past:
        seq_axis = lit(1 if seq_first else 2)
        key = call(_ops("concatenate"), listing([ctx.x(4, layout), key]), axis=seq_axis)
        value = call(_ops("concatenate"), listing([ctx.x(5, layout), value]), axis=seq_axis)
        key = ctx.emit(key, 1, perm=layout) if ctx.used(1) else ctx.let("key", key)
        value = ctx.emit(value, 2, perm=layout) if ctx.used(2) else ctx.let("value", value)
    else:
        for j, tensor in ((1, key), (2, value)):
            if ctx.used(j):
                ctx.emit(tensor, j, perm=layout)
    if fused:
        y = _fused(ctx, p, query, key, value)
    else:
        y = _written_out(ctx, p, query, key, value, _attn_mask(ctx, p), seq_first)
    if p.packed:
        batch, seq, _ = ctx.shape(0)
        ctx.emit(call(_ops("reshape"), y, _dims(ctx, (batch, seq, p.q_heads * p.v_head_size))))
    else:
        ctx.emit(y, perm=layout)


def _fused(ctx: TensorFlowContext, p: AttentionPlan, query: Code, key: Code, value: Code) -> Code:
    kwargs: dict[str, Code] = {}
    if p.causal and not p.windowed and p.static_offset == 0:
        kwargs["is_causal"] = lit(True)
    else:
        keep = _position_keep(ctx, p)
        if keep is not None:
            kwargs["mask"] = keep[0]
    if not p.default_scale:
        kwargs["scale"] = _f32(p.scale)
    if p.kv_heads == 1 and p.groups > 1:  # Keras repeats key/value heads itself only when there are several
        key = ctx.let("key", call(_ops("repeat"), key, lit(p.groups), axis=lit(2)))
        value = ctx.let("value", call(_ops("repeat"), value, lit(p.groups), axis=lit(2)))
    if p.elem in _HALF_TYPES:  # summed in float32, as onnxruntime does; Keras's half kernel rounds each step
        query, key, value = (call(_ops("cast"), t, lit("float32")) for t in (query, key, value))
        y = call(_ops("dot_product_attention"), query, key, value, **kwargs)
        return call(_ops("cast"), y, lit(ctx.dtype(p.elem)))
    return call(_ops("dot_product_attention"), query, key, value, **kwargs)


def _written_out(ctx: TensorFlowContext, p: AttentionPlan, query: Code, key: Code, value: Code,
                 mask: tuple[Code, tuple] | None, seq_first: bool) -> Code:
    """softmax(mask(softcap(Q K^T * scale))) V step by step, each stage the scores output may ask for."""
    if p.groups > 1:
        head_axis = lit(2 if seq_first else 1)
        key = ctx.let("key_heads", call(_ops("repeat"), key, lit(p.groups), axis=head_axis))
        value = ctx.let("value_heads", call(_ops("repeat"), value, lit(p.groups), axis=head_axis))
    qd, kd = ("bqhd", "bkhd") if seq_first else ("bhqd", "bhkd")

    target = p.qk_stage

    def stage(mode: int, hint: str, expr: Code) -> Code:
        return ctx.emit(expr, 3) if target == mode else ctx.let(hint, expr)

    scores = stage(0, "scores", call(_ops("multiply"), call(_ops("einsum"), lit(f"{qd},{kd}->bhqk"), query, key),
                                     _f32(p.scale)))
    if p.softcap:
        scores = stage(1, "scores", call(_ops("multiply"), call(_ops("tanh"), call(_ops("divide"), scores,
                                                                                  _f32(p.softcap))), _f32(p.softcap)))
    if mask is not None:
        code, shape = mask
        if p.mask == "float":
            masked = add_code(scores, code, (None, p.q_heads, p.q_len, p.total_len), shape)
        else:
            masked = call(_ops("where"), code, scores, _NEG_INF)
        scores = stage(2, "scores", masked)
    if p.softmax_elem is not None:
        probs = call(_ops("cast"), call(_ops("softmax"), call(_ops("cast"), scores, lit(ctx.dtype(p.softmax_elem))),
                                        axis=lit(-1)), lit(ctx.dtype(p.elem)))
    else:
        probs = call(_ops("softmax"), scores, axis=lit(-1))
    if mask is not None and p.may_hide_rows:
        probs = call(_ops("where"), _hidden_rows(p, mask[0]), lit(0.0), ctx.let("probs", probs))
    probs = stage(3, "probs", probs)
    return call(_ops("einsum"), lit(f"bhqk,{kd}->{qd}"), probs, value)



def _unpack(ctx: TensorFlowContext, hints: Sequence[str], expr: Code) -> list[Code]:
    """``a, b = expr`` in fresh variables that this converter's later statements read."""
    targets = [ctx.scope.new_var(h) for h in hints]
    ctx.define_raw(targets, expr)
    ctx.uses.update(targets)
    return targets


@TF_OPS.register("RotaryEmbedding", since=23)
def rotary_embedding(ctx: TensorFlowContext) -> None:
    """ONNX ``RotaryEmbedding`` written out with Keras ops, heads stored as (batch, seq, heads, size)."""
    r = read_rotary(ctx)
    ctx.dtype(ctx.elem(0))  # fails cleanly for types Keras lacks
    if r.packed:  # (batch, seq, heads * size) -> (batch, seq, heads, size)
        batch, seq, _ = ctx.shape(0)
        x = ctx.let("heads", call(_ops("reshape"), ctx.x(0), _dims(ctx, (batch, seq, r.heads, r.head_size))))
    else:
        batch, _, seq, _ = ctx.shape(0)
        x = ctx.x(0, SEQ_FIRST)
    # the caches are (batch, seq, dim / 2): one angle for every head
    cos, sin = (ctx.let(hint, call(_ops("expand_dims"), call(_ops("take"), ctx.x(i), ctx.x(3), axis=lit(0))
                                   if r.positions else ctx.x(i), axis=lit(2)))
                for hint, i in (("cos", 1), ("sin", 2)))
    if r.rotary_dim < r.head_size:
        rotated, kept = _unpack(ctx, ("rotated", "kept"), call(_ops("split"), x, lit([r.rotary_dim]), axis=lit(-1)))
    else:
        rotated, kept = x, None
    pairs_shape = (batch, seq, r.heads, r.half, 2)
    if r.interleaved:
        pairs = call(_ops("reshape"), rotated, _dims(ctx, pairs_shape))
        x1, x2 = _unpack(ctx, ("x1", "x2"), call(_ops("unstack"), pairs, lit(2), axis=lit(-1)))
    else:
        x1, x2 = _unpack(ctx, ("x1", "x2"), call(_ops("split"), rotated, lit(2), axis=lit(-1)))
    real = call(_ops("subtract"), call(_ops("multiply"), cos, x1), call(_ops("multiply"), sin, x2))
    imag = call(_ops("add"), call(_ops("multiply"), sin, x1), call(_ops("multiply"), cos, x2))
    if r.interleaved:
        y = call(_ops("reshape"), call(_ops("stack"), listing([real, imag]), axis=lit(-1)),
                 _dims(ctx, (batch, seq, r.heads, r.rotary_dim)))
    else:
        y = call(_ops("concatenate"), listing([real, imag]), axis=lit(-1))
    if kept is not None:
        y = call(_ops("concatenate"), listing([y, kept]), axis=lit(-1))
    if r.packed:
        ctx.emit(call(_ops("reshape"), y, _dims(ctx, ctx.shape(0))))
    else:
        ctx.emit(y, perm=SEQ_FIRST)
