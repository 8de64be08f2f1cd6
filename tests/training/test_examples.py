"""The sequence and tabular examples train to a sensible accuracy; per-layer placement and mixed
precision train too."""

from __future__ import annotations

import pytest

import onnxbridge
from tests.conftest import MODELS

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("framework", [pytest.param("torch", marks=pytest.mark.torch),
                                       pytest.param("tensorflow", marks=pytest.mark.tensorflow)])
@pytest.mark.parametrize("spec,least", [("digits_lstm.yaml", 0.93), ("wine_mlp.yaml", 0.93)])
def test_examples_learn(tmp_path, framework, spec, least):
    result = onnxbridge.train(MODELS / spec, framework=framework, output=tmp_path / "run", progress=False)
    assert result.final["val_accuracy"] >= least, result.final
    assert result.metrics["onnx"]["prediction_agreement"] == 1.0


@pytest.mark.torch
def test_layers_placed_on_devices_train_where_they_are(tmp_path):
    import yaml

    spec = yaml.safe_load((MODELS / "wine_mlp.yaml").read_text())
    spec["layers"] = [{"id": "fc1", "type": "Linear", "out_features": 16, "device": "cpu"},
                      {"id": "act", "type": "ReLU", "device": "cpu"},
                      {"id": "head", "type": "Linear", "out_features": 3, "device": "cpu"}]
    path = tmp_path / "placed.yaml"
    path.write_text(yaml.safe_dump(spec))
    result = onnxbridge.train(path, epochs=5, output=tmp_path / "run", progress=False)
    assert result.metrics["device"] == "per-layer placement"
    assert result.history[-1]["loss"] < result.history[0]["loss"]


@pytest.mark.parametrize("framework", [pytest.param("torch", marks=pytest.mark.torch),
                                       pytest.param("tensorflow", marks=pytest.mark.tensorflow)])
def test_mixed_precision_trains(tmp_path, framework):
    result = onnxbridge.train(MODELS / "wine_mlp.yaml", framework=framework, amp=True, epochs=6,
                              output=tmp_path / "run", progress=False)
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert result.metrics["onnx"]["checks"] and all(c["ok"] for c in result.metrics["onnx"]["checks"].values())
