"""ONNX -> spec ("lift"): any ONNX model as an editable spec, with its weights.

Nodes become natural layers where the graph allows (Conv -> Conv2d, Gemm or MatMul+Add -> Linear,
BatchNormalization -> BatchNorm2d, LSTM -> LSTM, attention subgraphs -> MultiHeadAttention, ...), block
functions (domain ``onnxbridge.blocks``) become blocks, and every other node an ``Op`` layer that lowers
back to the same node, so every model lifts. The spec holds the model's weights in memory until it is
saved (:func:`onnxbridge.spec.save_spec` writes the YAML and a ``.safetensors`` file beside it).

Example::

    import onnxbridge
    from onnxbridge.spec.io import save_spec
    from onnxbridge.spec.pipeline import build_with_report

    spec = onnxbridge.lift("resnet.onnx")
    spec.layers[-1].out_features = 5               # a new 5-class head
    built = build_with_report(spec)                # the backbone keeps its weights, the head starts fresh
    print(built.weights.summary())
    save_spec(spec, "net.yaml")                    # net.yaml + net.safetensors
"""

from __future__ import annotations

import os

import onnx

from onnxbridge.spec.lift.driver import Lifted, LiftError, lift_model
from onnxbridge.spec.schema import Spec

__all__ = ["LiftError", "Lifted", "lift", "lift_model"]


def lift(model: onnx.ModelProto | str | os.PathLike, *, name: str | None = None) -> Spec:
    """The spec of ``model`` (an ``onnx.ModelProto`` or a path to an ``.onnx`` file), holding its weights.

    ``name`` names the spec (default: the graph's name). See :func:`lift_model` for the notes on how the
    layers were found (which nodes stayed generic ``Op`` layers).
    """
    return lift_model(model, name=name).spec
