"""How ONNX's attention-family nodes read, the same for every bridge: what an Attention node (opset 23-25)
computes, worked out once from its attributes and input types, so each bridge only writes code for it.

ONNX Attention, per its spec: ``Y = softmax(mask(softcap(Q K^T * scale))) V`` over heads, where

- 3-D inputs ``(batch, seq, heads * size)`` are split into heads first (``q_num_heads``/``kv_num_heads``) and
  ``Y`` is packed back; 4-D inputs are ``(batch, heads, seq, size)``;
- ``past_key``/``past_value`` are put in front of K and V (``present_* = concat(past, new)``);
- fewer K/V heads than Q heads (grouped-query attention) repeat each K/V head ``groups`` times in place;
- the keys a query sees: a boolean ``attn_mask`` (True = attend) or a float one (added to the scores), a
  mask shorter than the keys padded with False / -inf; ``is_causal`` (key ``j`` is seen by query ``i`` iff
  ``j <= i + offset``, ``offset`` = the past length, or per batch ``nonpad_kv_seqlen - q_len``), the
  sliding window (opset 25: ``offset + i - left <= j <= offset + i + right``), and keys at or after
  ``nonpad_kv_seqlen`` (opset 24) hidden;
- a query that sees no key at all gives a zero row (not NaN), in ``Y`` and in the mode-3 scores output;
- the optional fourth output is the scores after the matmul (mode 0), the soft cap (1), the mask (2) or
  the softmax (3); ``softmax_precision`` runs the softmax in another float type.

And a RotaryEmbedding node (opset 23): the first ``rotary_embedding_dim`` features of every head (all by
default) are rotated as pairs ``(x1, x2)`` (the two halves, or neighbours when ``interleaved``) by the angle
whose cosine and sine are ``cos_cache``/``sin_cache`` (indexed by ``position_ids`` when given, else already
``(batch, seq, dim / 2)``): ``(cos x1 - sin x2, sin x1 + cos x2)``; the other features pass unchanged.

Example::

    plan = read_attention(ctx)       # ctx: either bridge's converter context
    if plan.fused:                   # scaled_dot_product_attention means the same
        ...
    rotary = read_rotary(ctx)        # a RotaryEmbedding node
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from onnx import TensorProto

from onnxbridge.frameworks.context import ConverterContext

_FLOATS = (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.DOUBLE)


@dataclass(frozen=True)
class AttentionPlan:
    """What one Attention node computes (sizes are None where they are only known at run time)."""

    packed: bool                # 3-D inputs (batch, seq, heads * size)
    q_heads: int
    kv_heads: int
    head_size: int              # of Q and K
    v_head_size: int
    scale: float                # applied to Q K^T
    default_scale: bool         # scale is 1 / sqrt(head_size)
    causal: bool
    left_window: int            # -1: unbounded
    right_window: int           # -1: unbounded
    softcap: float              # 0: none
    qk_mode: int | None         # what the fourth output holds (None: not asked for)
    softmax_elem: int | None    # the float type the softmax runs in, when not the inputs' own
    mask: str | None            # "bool" or "float" (None: no attn_mask)
    mask_rank: int
    mask_pad: int | None        # keys the mask lacks (padded with False / -inf); None: known at run time
    past: bool
    nonpad: bool                # nonpad_kv_seqlen given (keys past it are padding)
    q_len: int | None
    kv_len: int | None          # new keys (without the past)
    past_len: int | None
    elem: int                   # the element type of Q, K, V and Y

    @property
    def groups(self) -> int:
        """How many query heads share one key/value head (1: ordinary multi-head attention)."""
        return self.q_heads // self.kv_heads

    @property
    def total_len(self) -> int | None:
        """Keys attended over: the past and the new ones."""
        if self.kv_len is None or (self.past and self.past_len is None):
            return None
        return self.kv_len + (self.past_len or 0)

    @property
    def windowed(self) -> bool:
        """Whether a sliding window limits the keys (opset 25)."""
        return self.left_window >= 0 or self.right_window >= 0

    @property
    def limits_positions(self) -> bool:
        """Whether the keys a query sees depend on positions: causal, a window, or padding keys."""
        return self.causal or self.windowed or self.nonpad

    @property
    def diagonals(self) -> tuple[int | None, int | None]:
        """``(lo, hi)``: query ``i`` sees key ``j`` iff ``offset + lo <= j - i <= offset + hi`` (None: no bound)
        from the causal rule and the window."""
        highs = ([0] if self.causal else []) + ([self.right_window] if self.right_window >= 0 else [])
        return (-self.left_window if self.left_window >= 0 else None), (min(highs) if highs else None)

    @property
    def static_offset(self) -> int | None:
        """The position of the first query among the keys when it is the same for every batch and known
        now: the past length, or 0; None with per-batch padding (``nonpad_kv_seqlen``) or an unknown past."""
        if self.nonpad:
            return None
        return self.past_len if self.past else 0

    def position_keep(self) -> np.ndarray | None:
        """The ``(q_len, total_len)`` keys each query sees by position (causal, window), when that is known
        now; None otherwise (or when positions do not matter)."""
        if not (self.causal or self.windowed) or self.static_offset is None or self.q_len is None \
                or self.total_len is None:
            return None
        lo, hi = self.diagonals
        rel = np.arange(self.total_len)[None, :] - np.arange(self.q_len)[:, None] - self.static_offset
        keep = np.ones((self.q_len, self.total_len), dtype=bool)
        if hi is not None:
            keep &= rel <= hi
        if lo is not None:
            keep &= rel >= lo
        return keep

    @property
    def may_hide_rows(self) -> bool:
        """Whether some query may see no key at all (its row is then zero, not NaN)."""
        if self.mask is not None or self.nonpad:
            return True
        keep = self.position_keep()
        if keep is not None:
            return bool((~keep.any(axis=-1)).any())
        return self.windowed or self.causal and self.static_offset is None

    @property
    def qk_stage(self) -> int | None:
        """The stage of the scores the fourth output holds: 0 after the matmul, 1 after the soft cap, 2 after
        the mask, 3 after the softmax; a stage the node does not have is the one before it."""
        if self.qk_mode is None:
            return None
        stages = [0] + ([1] if self.softcap else []) + ([2] if self.mask is not None or self.limits_positions
                                                          else []) + [3]
        return max(s for s in stages if s <= self.qk_mode)

    @property
    def fused(self) -> bool:
        """Whether a fused scaled-dot-product-attention call means the same: no soft cap, no scores output,
        the softmax in the inputs' own type."""
        return self.softcap == 0.0 and self.qk_mode is None and self.softmax_elem is None


def _static(d: object) -> int | None:
    return d if isinstance(d, int) else None


def read_attention(ctx: ConverterContext) -> AttentionPlan:
    """The :class:`AttentionPlan` of the Attention node ``ctx`` converts; fails (naming the node) on what the
    spec does not allow or what must be known at conversion time (head counts and sizes)."""
    q_shape, k_shape, v_shape = ctx.shape(0), ctx.shape(1), ctx.shape(2)
    rank = len(q_shape)
    if rank not in (3, 4) or len(k_shape) != rank or len(v_shape) != rank:
        ctx.fail(f"Q, K and V must all be 3-D or all 4-D (got ranks {len(q_shape)}, {len(k_shape)}, {len(v_shape)})")
    elem = ctx.elem(0)
    if elem not in _FLOATS:
        ctx.fail("Q, K and V must be float tensors")
    if ctx.elem(2) not in (None, elem) or ctx.elem(1) not in (None, elem):
        ctx.fail("Q, K and V of different element types are not supported")
    packed = rank == 3
    if packed:
        q_heads, kv_heads = ctx.attr("q_num_heads"), ctx.attr("kv_num_heads")
        if not q_heads or not kv_heads:
            ctx.fail("3-D inputs need the q_num_heads and kv_num_heads attributes")
        q_heads, kv_heads = int(q_heads), int(kv_heads)
        found = [_static(s[2]) for s in (q_shape, k_shape, v_shape)]
        hidden = [h for h in found if h is not None]
        if len(hidden) != len(found):
            ctx.fail("the hidden sizes of 3-D Q, K and V must be static")
        if hidden[0] % q_heads or hidden[1] % kv_heads or hidden[2] % kv_heads:
            ctx.fail(f"hidden sizes {hidden} do not split into {q_heads} query / {kv_heads} key-value heads")
        head_size, k_size, v_head_size = hidden[0] // q_heads, hidden[1] // kv_heads, hidden[2] // kv_heads
        q_len, kv_len = _static(q_shape[1]), _static(k_shape[1])
    else:
        found = [_static(d) for d in (q_shape[1], k_shape[1], q_shape[3], k_shape[3], v_shape[3])]
        sizes = [d for d in found if d is not None]
        if len(sizes) != len(found):
            ctx.fail("the head counts and head sizes of 4-D Q, K and V must be static")
        q_heads, kv_heads, head_size, k_size, v_head_size = sizes
        q_len, kv_len = _static(q_shape[2]), _static(k_shape[2])
    if k_size != head_size:
        ctx.fail(f"Q and K head sizes differ ({head_size} and {k_size})")
    if q_heads % kv_heads:
        ctx.fail(f"{q_heads} query heads cannot share {kv_heads} key-value heads")
    past = ctx.has(4) or ctx.has(5)
    if past and not (ctx.has(4) and ctx.has(5)):
        ctx.fail("past_key and past_value must be given together")
    past_len = _static(ctx.shape(4)[2]) if past else 0
    nonpad = ctx.has(6)
    if nonpad and past:
        ctx.fail("nonpad_kv_seqlen cannot be combined with past_key/past_value")
    scale = ctx.attr("scale")
    default_scale = scale is None
    scale = 1.0 / math.sqrt(head_size) if scale is None else float(scale)
    mask, mask_rank = None, 0
    mask_pad: int | None = 0
    if ctx.has(3):
        mask = "bool" if ctx.elem(3) == TensorProto.BOOL else "float"
        if mask == "float" and ctx.elem(3) not in (None, elem):
            ctx.fail("a float attn_mask must have the element type of Q")
        mask_shape = ctx.shape(3)
        mask_rank = len(mask_shape)
        if mask_rank > 4:
            ctx.fail(f"attn_mask has rank {mask_rank}; at most 4 broadcasts to (batch, heads, q_len, keys)")
        total = kv_len + (past_len or 0) if kv_len is not None and past_len is not None else None
        keys = _static(mask_shape[-1]) if mask_rank else 1
        mask_pad = total - keys if total is not None and keys is not None else None
        if mask_pad is not None and mask_pad < 0:
            ctx.fail(f"attn_mask covers {keys} keys, more than the {total} there are")
    precision = ctx.attr("softmax_precision")
    softmax_elem = int(precision) if precision and int(precision) != elem else None
    if softmax_elem is not None and softmax_elem not in _FLOATS:
        ctx.fail(f"softmax_precision {precision} is not a float type")
    qk_mode = int(ctx.attr("qk_matmul_output_mode", 0)) if ctx.used(3) else None
    if qk_mode is not None and qk_mode not in (0, 1, 2, 3):
        ctx.fail(f"qk_matmul_output_mode {qk_mode} is not 0, 1, 2 or 3")
    left, right = int(ctx.attr("left_window_size", -1)), int(ctx.attr("right_window_size", -1))
    if left < -1 or right < -1:
        ctx.fail("window sizes must be -1 (unbounded) or non-negative")
    return AttentionPlan(
        packed=packed, q_heads=q_heads, kv_heads=kv_heads, head_size=head_size, v_head_size=v_head_size,
        scale=scale, default_scale=default_scale, causal=bool(ctx.attr("is_causal", 0)), left_window=left,
        right_window=right, softcap=float(ctx.attr("softcap", 0.0) or 0.0), qk_mode=qk_mode,
        softmax_elem=softmax_elem, mask=mask, mask_rank=mask_rank, mask_pad=mask_pad, past=past, nonpad=nonpad,
        q_len=q_len, kv_len=kv_len, past_len=past_len, elem=elem)


@dataclass(frozen=True)
class RotaryPlan:
    """What one RotaryEmbedding node computes."""

    packed: bool        # a 3-D input (batch, seq, heads * size); 4-D inputs are (batch, heads, seq, size)
    heads: int | None   # None: a 4-D input's head count known only at run time
    head_size: int
    rotary_dim: int     # the features rotated, from the first (even)
    interleaved: bool   # pairs are neighbours (x[0], x[1]), else the two halves (x[i], x[i + dim / 2])
    positions: bool     # the caches are indexed by position_ids

    @property
    def half(self) -> int:
        """Half the rotated features: the size of each rotated pair's partner set."""
        return self.rotary_dim // 2


def read_rotary(ctx: ConverterContext) -> RotaryPlan:
    """The :class:`RotaryPlan` of ``ctx``'s RotaryEmbedding node; fails for what the spec does not allow."""
    rank = ctx.rank(0)
    if rank not in (3, 4):
        ctx.fail(f"the input has rank {rank}; RotaryEmbedding takes (batch, seq, hidden) or "
                 "(batch, heads, seq, size)")
    if ctx.elem(0) not in (None, *_FLOATS):
        ctx.fail("the input must be a float tensor")
    if any(ctx.elem(i) not in (None, ctx.elem(0)) for i in (1, 2)):
        ctx.fail("cos_cache and sin_cache must have the input's element type")
    shape = ctx.shape(0)
    heads: int | None = int(ctx.attr("num_heads", 0) or 0)
    if rank == 3:
        hidden = _static(shape[2])
        if not heads:
            ctx.fail("num_heads is required for a 3-D input")
        if hidden is None or hidden % heads:
            ctx.fail(f"the hidden size {shape[2]} must be static and a multiple of num_heads={heads}")
        head_size = hidden // heads
    else:
        heads, size = _static(shape[1]), _static(shape[3])
        if size is None:
            ctx.fail("the head size (last dim) must be static")
        head_size = size
    rotary_dim = int(ctx.attr("rotary_embedding_dim", 0) or 0) or head_size
    if rotary_dim % 2 or rotary_dim > head_size:
        ctx.fail(f"rotary_embedding_dim={rotary_dim} must be even and at most the head size {head_size}")
    positions = ctx.has(3)
    for i in (1, 2):
        cache = ctx.shape(i)
        if len(cache) != (2 if positions else 3):
            ctx.fail(f"{'cos' if i == 1 else 'sin'}_cache must be "
                     + ("(max_position, dim / 2) with position_ids" if positions else "(batch, seq, dim / 2) without position_ids"))
        if _static(cache[-1]) not in (None, rotary_dim // 2):
            ctx.fail(f"the caches' last dim {cache[-1]} is not rotary_embedding_dim / 2 = {rotary_dim // 2}")
    return RotaryPlan(packed=rank == 3, heads=heads, head_size=head_size, rotary_dim=rotary_dim,
                      interleaved=bool(int(ctx.attr("interleaved", 0) or 0)), positions=positions)
