"""Lift of real exports: the PyTorch zoo (both torch.onnx exporters) and the Keras zoo (tf2onnx) lift to
specs of natural layers where the graph allows, and rebuild with the same outputs."""

from __future__ import annotations

import pytest

from onnxbridge.spec import build
from onnxbridge.spec.lift import lift_model
from onnxbridge.testing import check_onnx_parity, graph_inputs

TIGHT = {"atol": 1e-5, "rtol": 1e-5}

# natural layers each export must lift to (other nodes may stay Op layers: see docs/spec-format.md)
TORCH_EXPECT = {
    "resnet": {"Conv2d", "ReLU", "Add", "GlobalAvgPool", "Flatten", "Linear"},
    "depthwise": {"Conv2d", "GlobalAvgPool", "Linear"},
    "mlp": {"Linear", "LayerNorm", "GELU", "SiLU", "Softmax"},
    "lstm": {"LSTM", "Linear"},
    "bilstm-states": set(),
    "gru-bidirectional": set(),
    "gru-batch-first": {"Linear"},
    "embedding-lstm": {"Embedding", "LSTM", "Linear"},
    "text-cnn": {"Embedding", "Conv1d", "ReLU", "Linear"},
    "autoencoder": {"Conv2d", "ConvTranspose2d", "ReLU", "Sigmoid"},
    "transformer": {"MultiHeadAttention", "LayerNorm", "Linear", "Add", "ReLU"},
    "transformer-prenorm": {"MultiHeadAttention", "LayerNorm", "Linear", "Add", "GELU"},
}
# whole exports with no generic layer left
TORCH_ALL_NATURAL = {"resnet", "mlp", "autoencoder", "embedding-lstm"}


def _torch_cases():
    for name in TORCH_EXPECT:
        yield pytest.param(name, "torchscript", id=f"{name}-torchscript", marks=[pytest.mark.torch])
        yield pytest.param(name, "dynamo", id=f"{name}-dynamo", marks=[pytest.mark.torch, pytest.mark.slow])


@pytest.mark.parametrize("name, exporter", list(_torch_cases()))
def test_torch_export_lifts(name, exporter):
    torch = pytest.importorskip("torch")
    from onnxbridge.frameworks.torch.importer import import_to_onnx
    from tests.frameworks.torch.zoo import ZOO

    torch.manual_seed(0)
    entry = ZOO[name]
    example = entry.inputs(2)
    model = import_to_onnx(entry.build().eval(), example_inputs=example, exporter=exporter,
                           verify=False).onnx_model
    # the example's own sizes (dim 0 of a sequence-first input is the sequence, not the batch)
    feeds = {i.name: t.numpy() for i, t in zip(graph_inputs(model), example)}
    lifted = lift_model(model)
    types = set(lifted.layer_types)
    assert TORCH_EXPECT[name] <= types, lifted.layer_types
    if name in TORCH_ALL_NATURAL:
        assert "Op" not in types, lifted.notes
    report = check_onnx_parity(model, build(lifted.spec), inputs=feeds, **TIGHT)
    assert report.ok, report.summary()
    if name.startswith("transformer"):
        assert lifted.layer_types["MultiHeadAttention"] == 2  # nn.MultiheadAttention, one per encoder layer


@pytest.mark.torch
def test_torch_layer_norm_written_out_before_opset_17():
    """Before opset 17 there is no LayerNormalization: exporters write it out, and lift finds it again."""
    torch = pytest.importorskip("torch")
    from onnxbridge.frameworks.torch.importer import import_to_onnx
    from tests.frameworks.torch.zoo import ZOO

    torch.manual_seed(0)
    entry = ZOO["mlp"]
    model = import_to_onnx(entry.build().eval(), example_inputs=entry.inputs(2), exporter="torchscript", opset=14,
                           verify=False).onnx_model
    assert "LayerNormalization" not in {n.op_type for n in model.graph.node}
    lifted = lift_model(model)
    assert lifted.layer_types == {"Linear": 3, "LayerNorm": 1, "GELU": 1, "SiLU": 1, "Softmax": 1}
    assert lifted.spec.opset == 14
    assert check_onnx_parity(model, build(lifted.spec), **TIGHT).ok


KERAS_EXPECT = {
    "mlp": {"Linear", "ReLU", "LayerNorm", "GELU", "Softmax"},
    "lstm": {"LSTM", "Linear"},
    "branches": {"Conv2d", "ReLU", "Concat", "MaxPool2d", "Linear"},
    "conv1d": {"Embedding", "Conv1d", "Linear"},
    "text": {"Embedding", "Linear"},
    "MobileNetV2": {"Conv2d", "Add", "Linear"},
    "EfficientNetB0": {"Conv2d", "SiLU", "Sigmoid", "Linear"},
}
KERAS_FAST = {"mlp"}


def _keras_cases():
    for name in KERAS_EXPECT:
        marks = [pytest.mark.tensorflow] + ([] if name in KERAS_FAST else [pytest.mark.slow])
        yield pytest.param(name, id=name, marks=marks)


@pytest.mark.parametrize("name", list(_keras_cases()))
def test_keras_export_lifts(name):
    keras = pytest.importorskip("keras")
    from onnxbridge.frameworks.tensorflow.importer import import_to_onnx
    from tests.frameworks.tensorflow.test_tf_import import ZOO, calibrate

    keras.utils.set_random_seed(0)
    model = import_to_onnx(calibrate(ZOO[name]()), verify=False).onnx_model
    lifted = lift_model(model)
    assert KERAS_EXPECT[name] <= set(lifted.layer_types), lifted.layer_types
    # deep networks: onnxruntime's own fused kernels round differently (the original against itself with
    # and without graph optimisations differs by ~2e-5 relative on EfficientNet); the graphs are the same
    tolerance = TIGHT if name not in ("MobileNetV2", "EfficientNetB0") else {"atol": 1e-5, "rtol": 1e-4}
    report = check_onnx_parity(model, build(lifted.spec), **tolerance)
    assert report.ok, report.summary()
