"""Multi-head attention over [batch, seq, embed] tensors."""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from onnxbridge.spec.init import fan_in_uniform
from onnxbridge.spec.params import LayerParams
from onnxbridge.spec.registry import Example, LayerDef, LayerShapeError, Weight, register_layer
from onnxbridge.spec.types import TensorInfo, is_static


class MultiHeadAttentionParams(LayerParams):
    """Parameters of ``MultiHeadAttention``."""
    num_heads: int = Field(gt=0, description="Number of attention heads; must divide the embedding size.")
    bias: bool = Field(True, description="Learnable biases on the projections.")
    causal: bool = Field(False, description="Mask future positions (each step attends only to itself and the past).")


@register_layer
class MultiHeadAttention(LayerDef):
    """Scaled dot-product attention with learned projections; inputs: query (and key, value).

    One input is self-attention; two are (query, key=value); three are (query, key, value).
    Inputs are [batch, seq, embed]; the output has the query's shape.
    """

    family = "attention"
    Params = MultiHeadAttentionParams
    max_inputs = 3

    @classmethod
    def infer(cls, p: MultiHeadAttentionParams, inputs: list[TensorInfo]) -> list[TensorInfo]:
        """The output ``[batch, seq_q, embed]``; the inputs must be ``[batch, seq, embed]`` with keys and
        values agreeing."""
        q = inputs[0]
        for t in inputs:
            if t.rank != 3:
                raise LayerShapeError("needs [batch, seq, embed] inputs",
                                      "flatten spatial dims into a sequence first" if t.rank > 3 else None)
        e = q.shape[2]
        if not is_static(e) or any(t.shape[2] != e for t in inputs):
            raise LayerShapeError("needs the same fixed embedding size (last dim) on every input")
        if e % p.num_heads:
            raise LayerShapeError(f"needs the embedding size ({e}) divisible by num_heads ({p.num_heads})",
                                  "change num_heads or the embedding size")
        kv = inputs[1] if len(inputs) > 1 else q
        if len(inputs) == 3 and inputs[1].shape[1] != inputs[2].shape[1]:
            raise LayerShapeError("needs key and value of the same length")
        if p.causal and kv.shape[1] != q.shape[1]:
            raise LayerShapeError("needs query and key of the same length for a causal mask")
        return [q]

    @classmethod
    def weights(cls, p: MultiHeadAttentionParams, inputs: list[TensorInfo]) -> dict:
        """The q, k, v and output projections (``[in, out]``, xavier-uniform) and their zero biases."""
        e = int(inputs[0].shape[2])
        # stored [in, out] for MatMul, xavier-uniform like PyTorch's in_proj; zero biases
        out: dict[str, Weight] = {}
        for name in ("q_proj", "k_proj", "v_proj"):
            out[f"{name}.weight"] = Weight((e, e), "xavier_uniform")
            if p.bias:
                out[f"{name}.bias"] = Weight((e,), "zeros")
        out["out_proj.weight"] = fan_in_uniform((e, e), e)
        if p.bias:
            out["out_proj.bias"] = Weight((e,), "zeros")
        return out

    @classmethod
    def lower(cls, p: MultiHeadAttentionParams, b, inputs, infos, outputs):
        """Emit the projections, per-head scaled dot-product attention (causally masked when asked) and the
        output projection."""
        ws = cls.weights(p, infos)
        e = int(infos[0].shape[2])
        h = p.num_heads
        dh = e // h
        q_in = inputs[0]
        k_in = inputs[1] if len(inputs) > 1 else q_in
        v_in = inputs[2] if len(inputs) > 2 else k_in

        def project(x: str, name: str) -> str:
            y = b.op("MatMul", x, b.weight(f"{name}.weight", ws[f"{name}.weight"]))
            return b.op("Add", y, b.weight(f"{name}.bias", ws[f"{name}.bias"])) if p.bias else y

        def heads(x: str, perm: list[int]) -> str:
            # [batch, seq, E] -> [batch, seq, H, Dh] -> heads-first
            return b.op("Transpose", b.op("Reshape", x, b.ints([0, 0, h, dh], "heads_shape")), perm=perm)

        q = heads(project(q_in, "q_proj"), [0, 2, 1, 3])      # [B, H, Sq, Dh]
        k = heads(project(k_in, "k_proj"), [0, 2, 3, 1])      # [B, H, Dh, Sk]
        v = heads(project(v_in, "v_proj"), [0, 2, 1, 3])      # [B, H, Sk, Dh]
        scores = b.op("Mul", b.op("MatMul", q, k), b.const(1.0 / math.sqrt(dh), "scale"))
        if p.causal:
            # -inf-like penalty above the diagonal, built from the runtime sequence length
            ones = b.op("ConstantOfShape", b.op("Shape", scores), value=_float_tensor(1.0))
            upper = b.op("Trilu", ones, b.const(np.asarray(1, np.int64), "k"), upper=1)
            scores = b.op("Add", scores, b.op("Mul", upper, b.const(-1e9, "neg")))
        attn = b.op("Softmax", scores, axis=-1)
        ctx = b.op("Reshape", b.op("Transpose", b.op("MatMul", attn, v), perm=[0, 2, 1, 3]),
                   b.ints([0, 0, e], "merge_shape"))
        out = b.op("MatMul", ctx, b.weight("out_proj.weight", ws["out_proj.weight"]))
        if p.bias:
            b.node("Add", [out, b.weight("out_proj.bias", ws["out_proj.bias"])], outputs)
        else:
            b.node("Identity", [out], outputs)

    @classmethod
    def examples(cls):
        """Self-attention, cross-attention without biases, causal attention, and separate keys and values."""
        return [Example({"num_heads": 2}, (TensorInfo(("batch", "seq", 8)),)),
                Example({"num_heads": 4, "bias": False}, (TensorInfo((2, 5, 8)), TensorInfo((2, 3, 8)))),
                Example({"num_heads": 1, "causal": True}, (TensorInfo(("batch", 6, 4)),)),
                Example({"num_heads": 2}, (TensorInfo((2, 4, 6)), TensorInfo((2, 5, 6)), TensorInfo((2, 5, 6))))]


def _float_tensor(value: float):
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray([value], np.float32), "value")
