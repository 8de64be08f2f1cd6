"""Incremental-decoding ops, the state a decoder carries from one step to the next: TensorScatter (a KV
cache written at each sequence's position), CausalConvWithState (a depthwise causal convolution that keeps
its last inputs) and LinearAttention (a recurrent state updated token by token).

TensorScatter with no write positions writes at the start (``torch.cat``); with them it reads the update
back at each cache position (``torch.take_along_dim``) and keeps the cache elsewhere. CausalConvWithState is
a depthwise ``nn.Conv1d`` (``F.conv1d`` for run-time weights) over the carried inputs followed by the new
ones. LinearAttention is written as ONNX defines it, a ``for`` loop over the tokens updating the state, in
float32 as ONNX's reference computes it (cast back at the end).
"""

from __future__ import annotations

import onnx

from onnxbridge.codegen.writer import Code, fmt, lit
from onnxbridge.frameworks.decoding import read_causal_conv, read_linear_attention, read_tensor_scatter
from onnxbridge.frameworks.torch.context import TorchContext, fn, scalar
from onnxbridge.frameworks.torch.registry import TORCH_OPS

REG = TORCH_OPS.register


def _size(ctx: TorchContext, i: int, axis: int) -> Code:
    """Input ``i``'s size along ``axis``: a literal when it is static, else read at run time."""
    d = ctx.shape(i)[axis]
    return lit(d) if isinstance(d, int) else fmt("{}.shape[{}]", ctx.t(i), lit(axis))


@REG("TensorScatter", since=24)
def tensor_scatter(ctx: TorchContext) -> None:
    """ONNX ``TensorScatter``: the update written into the cache along the sequence axis, at each batch
    entry's write position (wrapping around in ``circular`` mode)."""
    s = read_tensor_scatter(ctx)
    cache, update = ctx.t(0), ctx.t(1)
    keep = [":"] * s.axis
    if not s.positions:  # every sequence writes from position 0
        if s.seq_len is not None and s.seq_len == s.max_len:
            ctx.alias(update)
            return
        rest = fmt("{}[{}{}:]", cache, Code(", ".join(keep) + ", " if keep else ""), _size(ctx, 1, s.axis))
        ctx.emit(fn("torch.cat", fmt("({}, {})", update, rest), dim=lit(s.axis)))
        return
    seq_len, max_len = _size(ctx, 1, s.axis), _size(ctx, 0, s.axis)
    # where each cache position reads from the update: its distance past the batch entry's write position
    source = ctx.temp("source")
    ctx.line("{} = {} - {}[:, None]", source, fn("torch.arange", max_len, device=fmt("{}.device", cache)), ctx.t(2))
    if s.circular:
        ctx.line("{} = {} % {}", source, source, max_len)
        written = fmt("{} < {}", source, seq_len)
    else:
        written = fmt("({} >= 0) & ({} < {})", source, source, seq_len)
    # (batch, max_len) -> broadcastable to the cache: (batch, 1, ..., max_len, 1, ...)
    view = Code(", ".join(["-1", *["1"] * (s.axis - 1), str(max_len), *["1"] * (s.rank - s.axis - 1)]))
    mask = ctx.temp("written")
    ctx.line("{} = ({}).reshape({})", mask, written, view)
    last = lit(s.seq_len - 1) if s.seq_len is not None else fmt("{} - 1", seq_len)
    index = fmt("{}.clamp(0, {}).reshape({})", source, last, view)
    ctx.emit(fn("torch.where", mask, fn("torch.take_along_dim", update, index, dim=lit(s.axis)), cache))


@REG("CausalConvWithState", since=27)
def causal_conv_with_state(ctx: TorchContext) -> None:
    """ONNX ``CausalConvWithState``: a depthwise ``nn.Conv1d`` over the carried inputs (zeros when none are
    given) followed by the new ones, an optional SiLU, and the last ``kernel - 1`` inputs as the new state."""
    c = read_causal_conv(ctx)
    x = ctx.t(0)
    padded = ctx.temp("padded")
    if ctx.has(3):
        ctx.line("{} = {}", padded, fn("torch.cat", fmt("({}, {})", ctx.t(3), x), dim=lit(2)))
    else:
        ctx.line("{} = {}", padded, fn("F.pad", x, lit((c.kernel - 1, 0))))
    weight, bias = ctx.param(1), ctx.param(2)
    if weight is not None and (bias is not None or not ctx.has(2)):
        kwargs = {"groups": lit(c.channels)}
        if not ctx.has(2):
            kwargs["bias"] = lit(False)
        params = {"weight": weight, **({"bias": bias} if bias is not None else {})}
        module = ctx.add_module(fn("nn.Conv1d", lit(c.channels), lit(c.channels), lit(c.kernel), **kwargs), params)
        y = fmt("{}({})", module, padded)
    else:
        y = fn("F.conv1d", padded, ctx.t(1), ctx.t(2) if ctx.has(2) else Code("None"), groups=lit(c.channels))
    if c.silu:
        y = fn("F.silu", y)
    if ctx.used(0):
        ctx.emit(y)
    if ctx.used(1):
        ctx.emit(fmt("{}[:, :, {}:]", padded, _size(ctx, 0, 2)), 1)


@REG("LinearAttention", since=27)
def linear_attention(ctx: TorchContext) -> None:
    """ONNX ``LinearAttention`` as a ``for`` loop over the tokens: the state decays (gated rules), takes the
    key-value outer product (corrected by what it already holds for the delta rules), and is read by the
    query."""
    a = read_linear_attention(ctx)
    wide = a.elem != onnx.TensorProto.FLOAT  # ONNX's reference sums in float32 whatever the inputs are

    def heads(i: int, count: int, size: int | None, hint: str) -> Code:
        """(batch, seq, heads * size) -> (batch, heads, seq, size), in float32."""
        var = ctx.temp(hint)
        expr = fmt("{}.unflatten(-1, {}).transpose(1, 2)", ctx.t(i), lit((count, -1 if size is None else size)))
        ctx.line("{} = {}", var, fmt("{}.float()", expr) if wide else expr)
        return var

    query = heads(0, a.q_heads, a.head_size, "q")
    key = heads(1, a.kv_heads, a.head_size, "k")
    value = heads(2, a.kv_heads, a.v_head_size, "v")
    decay = heads(4, a.kv_heads, None, "log_decay") if a.gated else None
    beta = heads(5, a.beta_heads, 1, "rate") if a.delta else None
    state = ctx.temp("state")
    if ctx.has(3):
        ctx.line("{} = {}", state, fmt("{}.float()", ctx.t(3)) if ctx.elem(3) != onnx.TensorProto.FLOAT else ctx.t(3))
    else:
        ctx.line("{} = {}.new_zeros(({}.shape[0], {}, {}, {}))", state, key, key, lit(a.kv_heads), lit(a.head_size),
                 lit(a.v_head_size))
    outputs, step = ctx.temp("outputs"), ctx.temp("t")
    ctx.line("{} = []", outputs)
    with ctx.block("for {} in range({}.shape[2])", step, query):
        k_t, v_t = ctx.temp("k_t"), ctx.temp("v_t")
        ctx.line("{}, {} = {}[:, :, {}], {}[:, :, {}]", k_t, v_t, key, step, value, step)
        if decay is not None:
            ctx.line("{} = {} * {}[:, :, {}, :, None].exp()", state, state, decay, step)
        if beta is not None:  # what the state already holds for this key is taken out first
            ctx.line("{} = {}[:, :, {}] * ({} - {})", v_t, beta, step, v_t,
                     fn("torch.einsum", lit("bhkv,bhk->bhv"), state, k_t))
        ctx.line("{} = {} + {}[..., :, None] * {}[..., None, :]", state, state, k_t, v_t)
        read = fmt("{}.repeat_interleave({}, dim=1)", state, lit(a.groups)) if a.groups > 1 else state
        ctx.line("{}.append({})", outputs,
                 fmt("{} * {}", fn("torch.einsum", lit("bhk,bhkv->bhv"), fmt("{}[:, :, {}]", query, step), read),
                     scalar(a.scale)))
    y = fmt("{}.flatten(2)", fn("torch.stack", outputs, dim=lit(1)))  # (batch, seq, heads * v_head_size)
    if ctx.used(0):
        ctx.emit(fmt("{}.to({})", y, ctx.dtype(a.elem)) if wide else y)
    if ctx.used(1):
        ctx.emit(fmt("{}.to({})", state, ctx.dtype(a.state_elem)) if a.state_elem != onnx.TensorProto.FLOAT else state,
                 1)

