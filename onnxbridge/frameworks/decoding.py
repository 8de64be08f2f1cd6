"""How ONNX's incremental-decoding ops read, the same for every bridge: what a TensorScatter (opset 24),
CausalConvWithState or LinearAttention (opset 27) node computes, worked out once from its attributes and
input types, so each bridge only writes code for it.

Per the ONNX spec:

- TensorScatter writes ``update`` into ``past_cache`` along ``axis`` (the sequence axis, default -2):
  batch entry ``b`` from position ``write_indices[b]`` on (0 when not given), modulo the cache length in
  ``circular`` mode; the rest of the cache is kept.
- CausalConvWithState is a depthwise 1-D convolution of ``(batch, channels, length)`` over ``past_state``
  (the last ``kernel - 1`` inputs of the previous call, zeros when not given) followed by ``input``, with an
  optional bias and SiLU (``activation`` ``silu`` or its alias ``swish``); ``present_state`` is the last
  ``kernel - 1`` positions of that concatenation.
- LinearAttention splits 3-D ``(batch, seq, heads * size)`` inputs into heads and runs, token by token,
  ``S = exp(g) S`` (gated rules), ``v = beta (v - S^T k)`` (delta rules), ``S = S + k v^T``,
  ``o = scale q^T S``; a key-value head is shared by ``q_heads / kv_heads`` query heads; the decay is per
  head or per key feature, ``beta`` per head or one for all; everything is computed in float32 and cast
  back (the state to ``past_state``'s type, else the query's).

Example::

    a = read_linear_attention(ctx)    # ctx: either bridge's converter context
    a.gated, a.delta, a.groups, a.scale
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from onnx import TensorProto

from onnxbridge.frameworks.context import ConverterContext

_FLOATS = (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.DOUBLE)


def _static(d: object) -> int | None:
    return d if isinstance(d, int) else None


@dataclass(frozen=True)
class TensorScatterPlan:
    """What one TensorScatter node writes."""

    rank: int
    axis: int                   # the sequence axis, normalised
    positions: bool             # write_indices given (else every entry writes from 0)
    circular: bool
    seq_len: int | None         # the update's length along the axis (None: known at run time)
    max_len: int | None         # the cache's


def read_tensor_scatter(ctx: ConverterContext) -> TensorScatterPlan:
    """The :class:`TensorScatterPlan` of the node ``ctx`` converts."""
    mode = ctx.attr("mode", "linear")
    if mode not in ("linear", "circular"):
        ctx.fail(f"mode {mode!r} is not one of 'linear', 'circular'")
    cache, update = ctx.shape(0), ctx.shape(1)
    if len(cache) != len(update):
        ctx.fail(f"past_cache and update ranks differ ({len(cache)} and {len(update)})")
    axis = ctx.axis(int(ctx.attr("axis", -2)), len(cache))
    if axis == 0:
        ctx.fail("the sequence axis cannot be the batch axis 0")
    return TensorScatterPlan(len(cache), axis, ctx.has(2), mode == "circular", _static(update[axis]),
                             _static(cache[axis]))


@dataclass(frozen=True)
class CausalConvPlan:
    """What one CausalConvWithState node computes."""

    channels: int
    kernel: int
    silu: bool


def read_causal_conv(ctx: ConverterContext) -> CausalConvPlan:
    """The :class:`CausalConvPlan` of the node ``ctx`` converts; channels and kernel size must be static."""
    activation = ctx.attr("activation", "none")
    if activation not in ("none", "silu", "swish"):
        ctx.fail(f"activation {activation!r} is not one of 'none', 'silu', 'swish'")
    if ctx.rank(0) != 3 or ctx.rank(1) != 3:
        ctx.fail("input and weight must be 3-D: (batch, channels, length) and (channels, 1, kernel)")
    channels, one, kernel = (_static(d) for d in ctx.shape(1))
    if channels is None or kernel is None:
        ctx.fail("the weight's shape (channels, 1, kernel) must be static")
    if one != 1:
        ctx.fail(f"the weight must be depthwise, (channels, 1, kernel) (got {ctx.shape(1)})")
    return CausalConvPlan(channels, kernel, activation != "none")


@dataclass(frozen=True)
class LinearAttentionPlan:
    """What one LinearAttention node computes."""

    q_heads: int
    kv_heads: int
    head_size: int              # of Q and K
    v_head_size: int
    beta_heads: int             # kv_heads, or 1: one update rate for all heads
    gated: bool                 # the state decays by exp(decay) each token
    delta: bool                 # the delta rule: the state's own answer for the key is taken out first
    scale: float
    elem: int                   # of Q, K, V and the output
    state_elem: int             # of present_state

    @property
    def groups(self) -> int:
        """How many query heads share one key-value head (and its state)."""
        return self.q_heads // self.kv_heads


def read_linear_attention(ctx: ConverterContext) -> LinearAttentionPlan:
    """The :class:`LinearAttentionPlan` of the node ``ctx`` converts; fails (naming the node) on what the spec
    does not allow or what must be known at conversion time (head counts and sizes)."""
    rule = ctx.attr("update_rule", "gated_delta")
    if rule not in ("linear", "gated", "delta", "gated_delta"):
        ctx.fail(f"update_rule {rule!r} is not one of 'linear', 'gated', 'delta', 'gated_delta'")
    gated, delta = rule in ("gated", "gated_delta"), rule in ("delta", "gated_delta")
    if gated != ctx.has(4):
        ctx.fail(f"update_rule {rule!r} {'needs' if gated else 'takes no'} decay input")
    if delta != ctx.has(5):
        ctx.fail(f"update_rule {rule!r} {'needs' if delta else 'takes no'} beta input")
    q_heads, kv_heads = int(ctx.attr("q_num_heads", 0)), int(ctx.attr("kv_num_heads", 0))
    if q_heads <= 0 or kv_heads <= 0 or q_heads % kv_heads:
        ctx.fail(f"q_num_heads ({q_heads}) must be a positive multiple of kv_num_heads ({kv_heads})")
    shapes = [ctx.shape(i) for i in range(3)]
    if any(len(s) != 3 for s in shapes):
        ctx.fail("query, key and value must be 3-D (batch, seq, heads * size)")
    elem = ctx.elem(0)
    if elem not in _FLOATS:
        ctx.fail("query, key and value must be float tensors")
    hidden = [h for h in (_static(s[2]) for s in shapes) if h is not None]
    if len(hidden) != 3:
        ctx.fail("the hidden sizes of query, key and value must be static")
    q_hidden, k_hidden, v_hidden = hidden
    if q_hidden % q_heads or k_hidden % kv_heads or v_hidden % kv_heads:
        ctx.fail(f"hidden sizes {hidden} do not split into {q_heads} query / {kv_heads} key-value heads")
    head_size, v_head_size = q_hidden // q_heads, v_hidden // kv_heads
    if k_hidden // kv_heads != head_size:
        ctx.fail(f"query and key head sizes differ ({head_size} and {k_hidden // kv_heads})")
    if gated and _static(ctx.shape(4)[-1]) not in (kv_heads, kv_heads * head_size):
        ctx.fail(f"decay's last size must be kv_num_heads ({kv_heads}) or kv_num_heads * head size")
    beta_heads = _static(ctx.shape(5)[-1]) if delta else kv_heads
    if beta_heads not in (kv_heads, 1):
        ctx.fail(f"beta's last size must be kv_num_heads ({kv_heads}) or 1")
    scale = float(ctx.attr("scale", 0.0) or 0.0) or 1.0 / math.sqrt(head_size)
    state_elem = ctx.elem(3) if ctx.has(3) else elem
    return LinearAttentionPlan(q_heads, kv_heads, head_size, v_head_size, beta_heads, gated, delta, scale, elem,
                               state_elem or elem)
