"""A Keras Conv1D converted to PyTorch source is an ``nn.Conv1d``, not a (1, k) ``nn.Conv2d`` between
unsqueeze, permute and squeeze."""

from __future__ import annotations

import re

import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
pytest.importorskip("torch")

from onnxbridge.frameworks.tensorflow.importer import import_to_onnx  # noqa: E402
from onnxbridge.frameworks.torch.exporter import export_from_onnx  # noqa: E402
from onnxbridge.testing import check_parity  # noqa: E402

pytestmark = pytest.mark.tensorflow
layers = keras.layers


def conv1d_model():
    x = keras.Input((24, 12), name="sequence")
    h = layers.Conv1D(16, 3, padding="same", activation="relu", name="conv")(x)
    h = layers.Conv1D(8, 5, strides=2, name="conv2")(h)
    h = layers.GlobalMaxPooling1D(name="pool")(h)
    return keras.Model(x, layers.Dense(4, name="logits")(h), name="text_cnn")


def test_conv1d_becomes_nn_conv1d(tmp_path):
    source = tmp_path / "text_cnn.keras"
    conv1d_model().save(source)
    hub = import_to_onnx(source)
    assert all(report.ok for _, report in hub.checks)
    assert [n.op_type for n in hub.onnx_model.graph.node].count("Unsqueeze") == 0
    result = export_from_onnx(hub.onnx_model, output_dir=tmp_path / "out")
    assert result.ok, [(hop, r.summary()) for hop, r in result.checks]
    assert check_parity(hub.onnx_model, result.value).ok
    text = (tmp_path / "out" / "model.py").read_text()
    assert re.search(r"self\.conv = nn\.Conv1d\(12, 16, 3, padding=1\)", text), text
    assert re.search(r"self\.conv2 = nn\.Conv1d\(16, 8, 5, stride=2\)", text), text
    forward = text[text.index("def forward"):text.index("def load")]
    assert "Conv2d" not in text and "squeeze" not in forward, forward
    # channels-last in, channels-first for the convolutions, channels-last for Keras's pooling: no more
    assert forward.count(".transpose(1, 2)") == 2 and "permute" not in forward, forward
