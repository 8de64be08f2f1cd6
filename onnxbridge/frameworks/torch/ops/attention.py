"""Attention ops: Attention -> ``F.scaled_dot_product_attention`` (written out where it means something else:
a soft cap, the scores as an output, the softmax in another precision); RotaryEmbedding written out
(torch has no rotary module): pairs of features rotated by the cached angles.

What an Attention node computes is read once, for every bridge, by :mod:`onnxbridge.frameworks.attention`;
this module only writes it in torch.
"""

from __future__ import annotations

import numpy as np
import onnx

from onnxbridge.codegen.writer import Code, fmt, lit
from onnxbridge.frameworks.attention import AttentionPlan, read_attention, read_rotary
from onnxbridge.frameworks.torch.context import TorchContext, fn, scalar
from onnxbridge.frameworks.torch.registry import TORCH_OPS

REG = TORCH_OPS.register
_NEG_INF = lit(float("-inf"))
_HALF_TYPES = (onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16)


def _float(value: float) -> Code:
    return scalar(np.float32(value))


def _split_heads(ctx: TorchContext, i: int, heads: int, size: int, hint: str) -> Code:
    """Input ``i`` as (batch, heads, seq, size): 3-D inputs are split into heads."""
    x = ctx.t(i)
    var = ctx.temp(hint)
    ctx.line("{} = {}.unflatten(-1, {}).transpose(1, 2)", var, x, lit((heads, size)))
    return var


def _size(known: int | None, tensor: Code, axis: int) -> Code:
    return lit(known) if known is not None else fmt("{}.shape[{}]", tensor, lit(axis))


def _plus(base: Code, delta: int) -> Code:
    if delta == 0:
        return base
    return fmt("{} + {}", base, lit(delta)) if delta > 0 else fmt("{} - {}", base, lit(-delta))


def _position_keep(ctx: TorchContext, p: AttentionPlan, query: Code, key: Code) -> Code | None:
    """The bool mask (broadcastable to (batch, heads, q_len, keys)) of the keys each query sees by position:
    causal, window and padding (``nonpad_kv_seqlen``); None when positions do not matter."""
    if not p.limits_positions:
        return None
    q_len, keys = _size(p.q_len, query, -2), _size(p.total_len, key, -2)
    lo, hi = p.diagonals
    keep = ctx.temp("causal_mask" if p.causal and not p.windowed and not p.nonpad else "visible")
    if not p.nonpad:
        offset = lit(p.static_offset) if p.static_offset is not None else fmt("{}.shape[-2]", ctx.t(4))
        expr = fn("torch.ones", q_len, keys, dtype=Code("torch.bool"), device=fmt("{}.device", query))
        if hi is not None:
            expr = fmt("{}.tril({})", expr, _plus(offset, hi) if p.static_offset is None else lit(p.static_offset + hi))
        if lo is not None:
            expr = fmt("{}.triu({})", expr, _plus(offset, lo) if p.static_offset is None else lit(p.static_offset + lo))
        ctx.line("{} = {}", keep, expr)
        return keep
    # per batch: the queries are the last q_len of the nonpad_kv_seqlen valid keys
    lengths = ctx.t(6)
    key_pos = ctx.temp("key_pos")
    ctx.line("{} = {}", key_pos, fn("torch.arange", keys, device=fmt("{}.device", query)))
    conditions = [fmt("({} < {}[:, None, None])", key_pos, lengths)]
    if lo is not None or hi is not None:
        rel = ctx.temp("distance")  # key position - query position, per batch
        ctx.line("{} = {} - {}[:, None] - ({} - {})[:, None, None]", rel, key_pos,
                 fn("torch.arange", q_len, device=fmt("{}.device", query)), lengths, q_len)
        if hi is not None:
            conditions.append(fmt("({} <= {})", rel, lit(hi)))
        if lo is not None:
            conditions.append(fmt("({} >= {})", rel, lit(lo)))
    expr = conditions[0]
    for c in conditions[1:]:
        expr = fmt("{} & {}", expr, c)
    ctx.line("{} = ({})[:, None]", keep, expr)
    return keep


def _attn_mask(ctx: TorchContext, p: AttentionPlan, query: Code, key: Code) -> Code | None:
    """One mask for the scores: bool (True = attend) or float (added), from attn_mask and positions."""
    mask = None
    if p.mask is not None:
        mask = ctx.t(3)
        if p.mask_pad != 0:
            fill = lit(False) if p.mask == "bool" else _NEG_INF
            pad = lit(p.mask_pad) if p.mask_pad is not None else fmt("{}.shape[-2] - {}.shape[-1]", key, mask)
            padded = ctx.temp("mask")
            ctx.line("{} = {}", padded, fn("F.pad", mask, fmt("(0, {})", pad), value=fill))
            mask = padded
    keep = _position_keep(ctx, p, query, key)
    if keep is None:
        return mask
    if mask is None:
        return keep
    combined = ctx.temp("mask")
    if p.mask == "bool":
        ctx.line("{} = {} & {}", combined, mask, keep)
    else:
        ctx.line("{} = {}.masked_fill(~{}, {})", combined, mask, keep, _NEG_INF)
    return combined


def _hidden_rows(p: AttentionPlan, mask: Code) -> Code:
    """Queries that see no key (their row is zero, not NaN)."""
    if p.mask == "float":
        return fmt("torch.isneginf({}).all(-1, keepdim=True)", mask)
    return fmt("~{}.any(-1, keepdim=True)", mask)


def _scores_stage(ctx: TorchContext, p: AttentionPlan, stage: int, hint: str) -> Code:
    """The variable a stage of the scores goes in: the fourth output when it asks for this stage."""
    return ctx.output_var(3) if p.qk_stage == stage else ctx.temp(hint)


@REG("Attention", since=23)
def attention(ctx: TorchContext) -> None:
    """ONNX ``Attention`` as ``F.scaled_dot_product_attention`` where that means the same, written out
    otherwise (soft caps, masks, score outputs)."""
    p = read_attention(ctx)
    if p.packed:
        query = _split_heads(ctx, 0, p.q_heads, p.head_size, "query")
        key = _split_heads(ctx, 1, p.kv_heads, p.head_size, "key")
        value = _split_heads(ctx, 2, p.kv_heads, p.v_head_size, "value")
    else:
        query, key, value = ctx.t(0), ctx.t(1), ctx.t(2)
    if p.past:
        for i, j, name in ((4, 1, "key"), (5, 2, "value")):
            present = ctx.output_var(j) if ctx.used(j) else ctx.temp(name)
            ctx.line("{} = {}", present, fn("torch.cat", fmt("({}, {})", ctx.t(i), key if j == 1 else value),
                                            dim=lit(2)))
            key, value = (present, value) if j == 1 else (key, present)
    else:
        for j, tensor in ((1, key), (2, value)):
            if ctx.used(j):
                ctx.alias(tensor, j)
    causal_only = p.causal and not p.windowed and not p.nonpad and p.static_offset == 0 and p.mask is None
    mask = None if causal_only and p.fused else _attn_mask(ctx, p, query, key)
    if p.fused:
        kwargs: dict[str, Code] = {}
        if mask is not None:
            kwargs["attn_mask"] = mask
        if causal_only:
            kwargs["is_causal"] = lit(True)
        if not p.default_scale:
            kwargs["scale"] = _float(p.scale)
        if p.groups > 1:
            kwargs["enable_gqa"] = lit(True)
        if p.elem in _HALF_TYPES:  # summed in float32, as onnxruntime does; torch's half kernel rounds each step
            query, key, value = (fmt("{}.float()", t) for t in (query, key, value))
            if p.mask == "float" and "attn_mask" in kwargs:
                kwargs["attn_mask"] = fmt("{}.float()", kwargs["attn_mask"])
            y = fmt("{}.to({})", fn("F.scaled_dot_product_attention", query, key, value, **kwargs),
                    ctx.dtype(p.elem))
        else:
            y = fn("F.scaled_dot_product_attention", query, key, value, **kwargs)
    else:
        y = _written_out(ctx, p, query, key, value, mask)
    if p.packed:
        ctx.emit(y)
        y = fmt("{}.transpose(1, 2).flatten(2)", ctx.output_var(0))
    ctx.emit(y)


def _written_out(ctx: TorchContext, p: AttentionPlan, query: Code, key: Code, value: Code,
                 mask: Code | None) -> Code:
    """softmax(mask(softcap(Q K^T * scale))) V step by step, each stage the scores output may ask for."""
    if p.groups > 1:
        heads_k, heads_v = ctx.temp("key_heads"), ctx.temp("value_heads")
        ctx.line("{} = {}.repeat_interleave({}, dim=1)", heads_k, key, lit(p.groups))
        ctx.line("{} = {}.repeat_interleave({}, dim=1)", heads_v, value, lit(p.groups))
        key, value = heads_k, heads_v
    scores = _scores_stage(ctx, p, 0, "scores")
    ctx.line("{} = {} @ {}.transpose(-2, -1) * {}", scores, query, key, _float(p.scale))
    if p.softcap:
        capped = _scores_stage(ctx, p, 1, "scores")
        ctx.line("{} = torch.tanh({} / {}) * {}", capped, scores, _float(p.softcap), _float(p.softcap))
        scores = capped
    if mask is not None:
        masked = _scores_stage(ctx, p, 2, "scores")
        if p.mask == "float":
            ctx.line("{} = {} + {}", masked, scores, mask)
        else:
            ctx.line("{} = {}.masked_fill(~{}, {})", masked, scores, mask, _NEG_INF)
        scores = masked
    probs = _scores_stage(ctx, p, 3, "probs")
    if p.softmax_elem is not None:
        ctx.line("{} = torch.softmax({}, dim=-1, dtype={}).to({}.dtype)", probs, scores, ctx.dtype(p.softmax_elem),
                 query)
    else:
        ctx.line("{} = torch.softmax({}, dim=-1)", probs, scores)
    if mask is not None and p.may_hide_rows:
        ctx.line("{} = {}.masked_fill({}, 0.0)", probs, probs, _hidden_rows(p, mask))
    return fmt("{} @ {}", probs, value)


@REG("RotaryEmbedding", since=23)
def rotary_embedding(ctx: TorchContext) -> None:
    """ONNX ``RotaryEmbedding`` written out with torch ops (torch has no rotary module)."""
    r = read_rotary(ctx)
    x = ctx.t(0)
    if r.packed:  # (batch, seq, heads * size) -> (batch, seq, heads, size)
        heads = ctx.temp("heads")
        ctx.line("{} = {}.unflatten(-1, {})", heads, x, lit((r.heads, r.head_size)))
        x = heads
    head_axis = lit(2 if r.packed else 1)  # the caches are (batch, seq, dim / 2): one angle for every head
    cos, sin = ctx.temp("cos"), ctx.temp("sin")
    for var, i in ((cos, 1), (sin, 2)):
        cache = fmt("{}[{}]", ctx.t(i), ctx.t(3)) if r.positions else ctx.t(i)
        ctx.line("{} = {}.unsqueeze({})", var, cache, head_axis)
    rotated = fmt("{}[..., :{}]", x, lit(r.rotary_dim)) if r.rotary_dim < r.head_size else x
    x1, x2 = ctx.temp("x1"), ctx.temp("x2")
    if r.interleaved:
        ctx.line("{}, {} = {}.unflatten(-1, {}).unbind(-1)", x1, x2, rotated, lit((r.half, 2)))
    else:
        ctx.line("{}, {} = {}.chunk(2, dim=-1)", x1, x2, rotated)
    pair = fmt("({} * {} - {} * {}, {} * {} + {} * {})", cos, x1, sin, x2, sin, x1, cos, x2)
    y = fmt("{}.flatten(-2)", fn("torch.stack", pair, dim=lit(-1))) if r.interleaved else fn("torch.cat", pair, dim=lit(-1))
    if r.rotary_dim < r.head_size:
        y = fn("torch.cat", fmt("({}, {}[..., {}:])", y, x, lit(r.rotary_dim)), dim=lit(-1))
    ctx.emit(fmt("{}.flatten(-2)", y) if r.packed else y)
