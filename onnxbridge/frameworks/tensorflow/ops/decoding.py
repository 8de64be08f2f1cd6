"""Incremental-decoding ops, the state a decoder carries from one step to the next: TensorScatter (a KV
cache written at each sequence's position), CausalConvWithState (a depthwise causal convolution that keeps
its last inputs) and LinearAttention (a recurrent state updated token by token).

TensorScatter with no write positions writes at the start (``ops.concatenate``); with them it reads the
update back at each cache position (``ops.take_along_axis``) and keeps the cache elsewhere.
CausalConvWithState is a channels-last ``DepthwiseConv1D`` (``ops.depthwise_conv`` for run-time weights)
over the carried inputs followed by the new ones. LinearAttention is a helper layer whose ``call`` runs
``tf.while_loop`` over the tokens updating the state, in float32 as ONNX's reference computes it (cast
back at the end).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx

from onnxbridge.codegen.writer import Code, call, dotted, lit
from onnxbridge.frameworks.decoding import read_causal_conv, read_linear_attention, read_tensor_scatter
from onnxbridge.frameworks.tensorflow import layout as L
from onnxbridge.frameworks.tensorflow.context import TensorFlowContext, listing, slice_code, subscript
from onnxbridge.frameworks.tensorflow.helpers import define
from onnxbridge.frameworks.tensorflow.registry import TF_OPS

REG = TF_OPS.register


def _ops(name: str) -> Code:
    return dotted("ops", name)


@REG("TensorScatter", since=24)
def tensor_scatter(ctx: TensorFlowContext) -> None:
    """ONNX ``TensorScatter``: the update written into the cache along the sequence axis, at each batch
    entry's write position (wrapping around in ``circular`` mode)."""
    s = read_tensor_scatter(ctx)
    cache, update = ctx.x(0), ctx.x(1)
    if s.seq_len is None or s.max_len is None:
        ctx.fail("the sequence lengths of past_cache and update must be static")
    if not s.positions:  # every sequence writes from position 0
        if s.seq_len == s.max_len:
            ctx.alias(1)
            return
        rest = subscript(cache, [slice_code(None, None)] * s.axis + [slice_code(s.seq_len, None)])
        ctx.emit(call(_ops("concatenate"), listing([update, rest]), axis=lit(s.axis)))
        return
    # where each cache position reads from the update: its distance past the batch entry's write position
    source = call(_ops("subtract"), call(dotted("np", "arange"), lit(s.max_len)),
                  call(_ops("expand_dims"), ctx.x(2), lit(1)))
    if s.circular:
        source = call(_ops("mod"), source, lit(s.max_len))
    source = ctx.let("source", source)
    written = call(_ops("less"), source, lit(s.seq_len))
    if not s.circular:
        written = call(_ops("logical_and"), call(_ops("greater_equal"), source, lit(0)), written)
    # (batch, max_len) -> broadcastable to the cache: (batch, 1, ..., max_len, 1, ...)
    view = lit((-1, *[1] * (s.axis - 1), s.max_len, *[1] * (s.rank - s.axis - 1)))
    mask = ctx.let("written", call(_ops("reshape"), written, view))
    index = call(_ops("reshape"), call(_ops("clip"), source, lit(0), lit(s.seq_len - 1)), view)
    ctx.emit(call(_ops("where"), mask, call(_ops("take_along_axis"), update, index, axis=lit(s.axis)), cache))


@REG("CausalConvWithState", since=27)
def causal_conv_with_state(ctx: TensorFlowContext) -> None:
    """ONNX ``CausalConvWithState``: a depthwise ``DepthwiseConv1D`` over the carried inputs (zeros when none
    are given) followed by the new ones, channels-last, an optional SiLU, and the last ``kernel - 1``
    inputs as the new state."""
    c = read_causal_conv(ctx)
    cl = L.channels_last(3)
    ctx.dtype(ctx.elem(0))  # fails cleanly for types Keras lacks
    x = ctx.x(0, cl)  # (batch, length, channels)
    if ctx.has(3):
        padded = call(_ops("concatenate"), listing([ctx.x(3, cl), x]), axis=lit(1))
    else:
        padded = call(_ops("pad"), x, lit(((0, 0), (c.kernel - 1, 0), (0, 0))))
    padded = ctx.let("padded", padded)
    w, bias = ctx.const(1), ctx.const(2) if ctx.has(2) else None
    if w is not None and (bias is not None or not ctx.has(2)):
        weights = [np.transpose(w, (2, 0, 1))] + ([bias] if bias is not None else [])
        layer = ctx.layer("DepthwiseConv1D", weights=weights, kernel_size=c.kernel,
                          use_bias=False if bias is None else None)
        y = call(layer, padded)
    else:
        kernel = call(_ops("transpose"), ctx.x(1), lit((2, 0, 1)))  # (kernel, channels, 1)
        y = call(_ops("depthwise_conv"), padded, kernel, padding=lit("valid"))
        if ctx.has(2):
            y = call(_ops("add"), y, ctx.x(2))
    if c.silu:
        y = call(_ops("silu"), y)
    if ctx.used(0):
        ctx.emit(y, perm=cl)
    if ctx.used(1):
        length = ctx.shape(0)[2]
        if not isinstance(length, int):
            ctx.fail("the input's length must be static")
        ctx.emit(subscript(padded, [slice_code(None, None), slice_code(length, None)]), 1, perm=cl)


LINEAR_ATTENTION = define("LinearAttention", '''
class LinearAttention(keras.layers.Layer):
    """ONNX LinearAttention: a recurrent state (batch, kv_heads, head_size, v_head_size) updated token by
    token and read by each query, in float32; ``gated`` decays it, ``delta`` takes out what it already
    holds for the key first."""

    def __init__(self, q_heads, kv_heads, scale, gated=False, delta=False, state_dtype="float32", **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.q_heads, self.kv_heads, self.scale = q_heads, kv_heads, scale
        self.gated, self.delta, self.state_dtype = gated, delta, state_dtype

    def call(self, query, key, value, state=None, decay=None, rate=None):
        def heads(x, count, size):  # (batch, seq, heads * size) -> (seq, batch, heads, size), float32
            x = tf.reshape(tf.cast(x, tf.float32), [tf.shape(x)[0], tf.shape(x)[1], count, size])
            return tf.transpose(x, [1, 0, 2, 3])

        size, v_size = query.shape[-1] // self.q_heads, value.shape[-1] // self.kv_heads
        q, k = heads(query, self.q_heads, size), heads(key, self.kv_heads, size)
        v = heads(value, self.kv_heads, v_size)
        g = heads(decay, self.kv_heads, -1) if self.gated else None
        b = heads(rate, -1, 1) if self.delta else None
        if state is None:
            state = tf.zeros([tf.shape(query)[0], self.kv_heads, size, v_size])
        state = tf.cast(state, tf.float32)
        steps = tf.shape(q)[0]

        def step(t, state, outputs):
            k_t, v_t = k[t], v[t]
            if self.gated:
                state = state * tf.exp(g[t])[..., None]
            if self.delta:
                v_t = b[t] * (v_t - tf.einsum("bhkv,bhk->bhv", state, k_t))
            state = state + k_t[..., :, None] * v_t[..., None, :]
            read = tf.repeat(state, self.q_heads // self.kv_heads, axis=1)
            return t + 1, state, outputs.write(t, self.scale * tf.einsum("bhk,bhkv->bhv", q[t], read))

        outputs = tf.TensorArray(tf.float32, size=steps)
        _, state, outputs = tf.while_loop(lambda t, *_: t < steps, step, (0, state, outputs))
        y = tf.transpose(outputs.stack(), [1, 0, 2, 3])  # (batch, seq, q_heads, v_size)
        y = tf.reshape(y, [tf.shape(query)[0], tf.shape(query)[1], self.q_heads * v_size])
        return tf.cast(y, query.dtype), tf.cast(state, self.state_dtype)
''')


@REG("LinearAttention", since=27)
def linear_attention(ctx: TensorFlowContext) -> None:
    """ONNX ``LinearAttention`` as the ``LinearAttention`` helper layer (a ``tf.while_loop`` over the tokens)."""
    a = read_linear_attention(ctx)
    ctx.dtype(a.elem)  # fails cleanly for types Keras lacks
    options: dict[str, Any] = {"gated": a.gated or None, "delta": a.delta or None,
               "state_dtype": ctx.dtype(a.state_elem) if a.state_elem != onnx.TensorProto.FLOAT else None}
    layer = ctx.layer(str(ctx.helper(LINEAR_ATTENTION)), module="", q_heads=a.q_heads, kv_heads=a.kv_heads,
                      scale=float(a.scale), **options)
    extra = {name: ctx.x(i) for i, name in ((3, "state"), (4, "decay"), (5, "rate")) if ctx.has(i)}
    ctx.outs(call(layer, ctx.x(0), ctx.x(1), ctx.x(2), **extra), [None, None])
