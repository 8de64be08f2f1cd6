"""Recurrent layers: SimpleRNN, LSTM, GRU (stacked, optionally bidirectional).

Each stacked layer lowers to one ONNX RNN/LSTM/GRU node in ONNX's sequence-first layout, with weights in
ONNX's gate order (LSTM: i, o, f, c; GRU: z, r, h with ``linear_before_reset=1``, as PyTorch and Keras
compute it). Batch-first inputs are transposed in and out.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

from pydantic import Field

from onnxbridge.spec.params import LayerParams
from onnxbridge.spec.registry import Example, LayerDef, LayerShapeError, Weight, register_layer
from onnxbridge.spec.types import TensorInfo, is_static


class RNNParams(LayerParams):
    """Parameters of the recurrent layers (``LSTM``, ``GRU``, ``SimpleRNN``)."""
    hidden_size: int = Field(gt=0, description="Features in the hidden state.")
    num_layers: int = Field(1, ge=1, description="Number of stacked recurrent layers.")
    bidirectional: bool = Field(False, description="Run forwards and backwards and concatenate.")
    batch_first: bool = Field(True, description="Input is [batch, seq, features] (else [seq, batch, features]).")
    return_sequences: bool = Field(
        True, description="Output every step ([batch, seq, D*hidden]); false gives the last state [batch, D*hidden].")


class SimpleRNNParams(RNNParams):
    """Parameters of ``SimpleRNN``."""
    nonlinearity: Literal["tanh", "relu"] = Field("tanh", description="Activation of the recurrence.")


class _Recurrent(LayerDef):
    family = "recurrent"
    Params: ClassVar[type[RNNParams]] = RNNParams
    onnx_op = "LSTM"
    gates = 4

    @classmethod
    def output(cls, p: RNNParams, x: TensorInfo) -> TensorInfo:
        layout = "[batch, seq, features]" if p.batch_first else "[seq, batch, features]"
        if x.rank != 3:
            suggestion = ("flatten the spatial dims into a sequence first (e.g. Reshape to [seq, features])"
                          if x.rank > 3 else "add a sequence dimension (e.g. Reshape to [1, features])")
            raise LayerShapeError(f"needs {layout}", suggestion, code="OB505")
        if not x.dtype.startswith("float"):
            raise LayerShapeError(f"needs floating-point features, not {x.dtype}", "insert an Embedding before it",
                                  code="OB507")
        if not is_static(x.shape[2]):
            raise LayerShapeError("needs a fixed number of features (last dim)")
        width = p.hidden_size * (2 if p.bidirectional else 1)
        if p.return_sequences:
            return x.with_shape((x.shape[0], x.shape[1], width))
        return x.with_shape((x.shape[1 if not p.batch_first else 0], width))

    @classmethod
    def weights(cls, p: RNNParams, inputs: list[TensorInfo]) -> dict:
        d = 2 if p.bidirectional else 1
        h, g = p.hidden_size, cls.gates
        bound = 1.0 / math.sqrt(h)  # PyTorch's and the usual default for recurrent weights
        features = int(inputs[0].shape[2])
        out: dict[str, Weight] = {}
        for layer in range(p.num_layers):
            size = features if layer == 0 else d * h
            out[f"W_l{layer}"] = Weight((d, g * h, size), "uniform", bound=bound)
            out[f"R_l{layer}"] = Weight((d, g * h, h), "uniform", bound=bound)
            out[f"B_l{layer}"] = Weight((d, 2 * g * h), "uniform", bound=bound)
        return out

    @classmethod
    def _attrs(cls, p: RNNParams) -> dict:
        return {}

    @classmethod
    def lower(cls, p: RNNParams, b, inputs, infos, outputs):
        ws = cls.weights(p, infos)
        direction = "bidirectional" if p.bidirectional else "forward"
        seq = b.op("Transpose", inputs[0], perm=[1, 0, 2]) if p.batch_first else inputs[0]
        last_state = None
        for layer in range(p.num_layers):
            args = [seq] + [b.weight(f"{k}_l{layer}", ws[f"{k}_l{layer}"]) for k in ("W", "R", "B")]
            n_out = 3 if cls.onnx_op == "LSTM" else 2
            results = b.node(cls.onnx_op, args, n_out, hidden_size=p.hidden_size, direction=direction,
                             **cls._attrs(p))
            y, last_state = results[0], results[1]
            if layer < p.num_layers - 1 or p.return_sequences:
                # Y is [seq, D, batch, hidden]: make it [seq, batch, D*hidden] for the next layer / the output
                seq = b.op("Reshape", b.op("Transpose", y, perm=[0, 2, 1, 3]), b.ints([0, 0, -1], "seq_shape"))
        if p.return_sequences:
            if p.batch_first:
                b.node("Transpose", [seq], outputs, perm=[1, 0, 2])
            else:
                b.node("Identity", [seq], outputs)
        else:
            # Y_h is [D, batch, hidden] -> [batch, D*hidden]
            b.node("Reshape", [b.op("Transpose", last_state, perm=[1, 0, 2]), b.ints([0, -1], "state_shape")],
                   outputs)

    @classmethod
    def examples(cls):
        return [Example({"hidden_size": 6}, (TensorInfo(("batch", "seq", 4)),)),
                Example({"hidden_size": 5, "num_layers": 2, "bidirectional": True, "return_sequences": False},
                        (TensorInfo((2, 7, 3)),)),
                Example({"hidden_size": 4, "batch_first": False}, (TensorInfo((6, "batch", 3)),)),
                Example({"hidden_size": 3, "bidirectional": True}, (TensorInfo(("batch", 5, 2)),))]


@register_layer
class LSTM(_Recurrent):
    """Long short-term memory over a sequence."""

    onnx_op = "LSTM"
    gates = 4


@register_layer
class GRU(_Recurrent):
    """Gated recurrent unit over a sequence (reset gate applied after the matmul, as PyTorch/Keras)."""

    onnx_op = "GRU"
    gates = 3

    @classmethod
    def _attrs(cls, p):
        return {"linear_before_reset": 1}


@register_layer
class SimpleRNN(_Recurrent):
    """Elman RNN: h = act(W x + R h + b) over a sequence."""

    onnx_op = "RNN"
    gates = 1
    Params = SimpleRNNParams

    @classmethod
    def _attrs(cls, p: RNNParams):
        assert isinstance(p, SimpleRNNParams)  # this layer's Params
        act = "Tanh" if p.nonlinearity == "tanh" else "Relu"
        return {"activations": [act] * (2 if p.bidirectional else 1)}

    @classmethod
    def examples(cls):
        """The shared recurrent examples plus a ReLU recurrence."""
        return super().examples() + [Example({"hidden_size": 4, "nonlinearity": "relu"}, (TensorInfo((2, 3, 5)),))]
