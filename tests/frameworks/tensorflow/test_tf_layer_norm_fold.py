"""A Keras LayerNormalization converted to source is one ``nn.LayerNorm`` / Keras ``LayerNormalization``,
not the ten ops tf2onnx writes it as, and keeps its bias (also when it is zero)."""

from __future__ import annotations

import re

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
pytest.importorskip("torch")

from onnxbridge.frameworks.tensorflow.importer import import_to_onnx  # noqa: E402
from onnxbridge.frameworks.torch.exporter import export_from_onnx  # noqa: E402
from onnxbridge.testing import check_parity  # noqa: E402

pytestmark = pytest.mark.tensorflow
layers = keras.layers
NORM_OPS = {"ReduceMean", "Sqrt", "Reciprocal", "Neg"}


def norm_model(trained: bool) -> keras.Model:
    x = keras.Input((6, 8), name="tokens")
    h = layers.Dense(8, name="proj")(x)
    h = layers.LayerNormalization(epsilon=1e-5, name="norm")(h)
    model = keras.Model(x, layers.Dense(3, name="head")(h), name="encoder")
    if trained:  # gamma and beta away from their initial 1 and 0
        rng = np.random.default_rng(0)
        model.get_layer("norm").set_weights([rng.uniform(0.5, 1.5, 8).astype("float32"),
                                             rng.normal(0, 0.5, 8).astype("float32")])
    return model


@pytest.mark.parametrize("trained", [False, True], ids=["fresh", "trained"])
def test_layer_norm_becomes_one_op_and_nn_layernorm(tmp_path, trained):
    model = norm_model(trained)
    source = tmp_path / "encoder.keras"
    model.save(source)
    hub = import_to_onnx(source)
    assert all(report.ok for _, report in hub.checks)
    ops = [n.op_type for n in hub.onnx_model.graph.node]
    assert ops.count("LayerNormalization") == 1 and not NORM_OPS & set(ops), ops
    result = export_from_onnx(hub.onnx_model, output_dir=tmp_path / "out")
    assert result.ok, [(hop, r.summary()) for hop, r in result.checks]
    assert check_parity(hub.onnx_model, result.value).ok
    text = (tmp_path / "out" / "model.py").read_text()
    assert re.search(r"self\.norm = nn\.LayerNorm\(8\)\n", text), text  # eps 1e-5 is torch's default
    beta = result.value.state_dict()["norm.bias"].numpy()
    expected = model.get_layer("norm").get_weights()[1]
    np.testing.assert_allclose(beta, expected)  # the bias is there, zero or not


def test_keras_source_writes_layer_normalization(tmp_path):
    from onnxbridge.frameworks.tensorflow.exporter import export_from_onnx as to_keras

    source = tmp_path / "encoder.keras"
    norm_model(trained=True).save(source)
    hub = import_to_onnx(source)
    result = to_keras(hub.onnx_model, output_dir=tmp_path / "keras_out")
    assert result.ok, [(hop, r.summary()) for hop, r in result.checks]
    text = (tmp_path / "keras_out" / "model.py").read_text()
    assert "LayerNormalization(" in text and "rsqrt" not in text and "reciprocal" not in text, text
