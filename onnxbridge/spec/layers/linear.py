"""Fully connected layers."""

from __future__ import annotations

from pydantic import Field

from onnxbridge.spec.init import fan_in_uniform
from onnxbridge.spec.params import LayerParams
from onnxbridge.spec.registry import Example, LayerDef, LayerShapeError, register_layer
from onnxbridge.spec.types import TensorInfo, is_static


class LinearParams(LayerParams):
    """Parameters of ``Linear``."""
    out_features: int = Field(gt=0, description="Number of output features.")
    bias: bool = Field(True, description="Add a learnable bias.")


@register_layer
class Linear(LayerDef):
    """y = x W^T + b over the last dimension ([batch, features] or [batch, seq, features])."""

    family = "linear"
    Params = LinearParams

    @classmethod
    def output(cls, p: LinearParams, x: TensorInfo) -> TensorInfo:
        """The input with its last dimension replaced by ``out_features``; rank 2 or 3 with a fixed feature
        count."""
        if x.rank not in (2, 3):
            raise LayerShapeError("needs [batch, features] (or [batch, seq, features])",
                                  "insert a Flatten before it" if x.rank > 3 else
                                  "give the input a batch dimension, e.g. [batch, features]", code="OB501")
        if not is_static(x.shape[-1]):
            raise LayerShapeError("needs a fixed number of input features (last dimension)",
                                  f"make the last dimension a number instead of {x.shape[-1]!r}")
        if not x.dtype.startswith("float"):
            raise LayerShapeError("needs floating-point input", "insert an Embedding for token ids", code="OB507")
        return x.with_shape((*x.shape[:-1], p.out_features))

    @classmethod
    def weights(cls, p: LinearParams, inputs: list[TensorInfo]) -> dict:
        """The weight (``[out, in]`` for Gemm on rank 2, ``[in, out]`` for MatMul on rank 3) and bias, fan-in
        uniform."""
        x = inputs[0]
        fan_in = int(x.shape[-1])
        # rank-2 inputs lower to Gemm(transB=1) with the usual [out, in] layout; rank-3 inputs lower to
        # MatMul, which wants [in, out] (what exporters write too)
        shape = (p.out_features, fan_in) if x.rank == 2 else (fan_in, p.out_features)
        w = {"weight": fan_in_uniform(shape, fan_in)}
        if p.bias:
            w["bias"] = fan_in_uniform((p.out_features,), fan_in)
        return w

    @classmethod
    def lower(cls, p, b, inputs, infos, outputs):
        """Emit ``Gemm(transB=1)`` for rank-2 inputs, ``MatMul`` (plus ``Add`` for the bias) for rank 3."""
        ws = cls.weights(p, infos)
        weight = b.weight("weight", ws["weight"])
        if infos[0].rank == 2:
            args = [inputs[0], weight] + ([b.weight("bias", ws["bias"])] if p.bias else [])
            b.node("Gemm", args, outputs, transB=1)
        elif p.bias:
            y = b.op("MatMul", inputs[0], weight)
            b.node("Add", [y, b.weight("bias", ws["bias"])], outputs)
        else:
            b.node("MatMul", [inputs[0], weight], outputs)

    @classmethod
    def examples(cls):
        """Rank-2 and rank-3 inputs, with and without bias."""
        return [Example({"out_features": 7}, (TensorInfo(("batch", 12)),)),
                Example({"out_features": 3, "bias": False}, (TensorInfo(("batch", 5)),)),
                Example({"out_features": 6}, (TensorInfo(("batch", "seq", 4)),)),
                Example({"out_features": 2, "bias": False}, (TensorInfo((3, 4, 8)),))]
