"""A Keras layer whose bias is all zeros (as after initialisation) keeps its bias in generated code: tf2onnx's
graph optimiser drops ``x + 0``, and the import puts the zero bias back."""

from __future__ import annotations

import re

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")

from onnxbridge.frameworks.tensorflow.importer import import_to_onnx  # noqa: E402
from onnxbridge.frameworks.torch.exporter import export_from_onnx  # noqa: E402
from onnxbridge.testing import check_parity  # noqa: E402

pytestmark = pytest.mark.tensorflow
layers = keras.layers


def zero_bias_model():
    image = keras.Input((8, 8, 3), name="image")
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="stem")(image)
    x = layers.Conv2D(8, 1, use_bias=False, name="plain")(x)
    x = layers.Conv2DTranspose(4, 2, strides=2, name="up")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(6, activation="relu", name="hidden")(x)
    model = keras.Model(image, layers.Dense(3, name="head")(x), name="zero_biases")
    model.get_layer("hidden").bias.assign(np.linspace(-1, 1, 6).astype("float32"))  # a real bias stays as it is
    return model


def test_zero_valued_biases_stay_biases(tmp_path):
    source = tmp_path / "zero_biases.keras"
    zero_bias_model().save(source)
    hub = import_to_onnx(source)
    assert all(report.ok for _, report in hub.checks)
    result = export_from_onnx(hub.onnx_model, output_dir=tmp_path / "out")
    assert result.ok, [(hop, r.summary()) for hop, r in result.checks]
    assert check_parity(hub.onnx_model, result.value).ok
    text = (tmp_path / "out" / "model.py").read_text()
    for layer, module in (("stem", "Conv2d"), ("up", "ConvTranspose2d"), ("hidden", "Linear"), ("head", "Linear")):
        line = re.search(rf"self\.{layer} = nn\.{module}\(.*\)", text)
        assert line and "bias=False" not in line.group(0), (layer, text)
    assert re.search(r"self\.plain = nn\.Conv2d\(.*bias=False\)", text), text  # use_bias=False stays bias-less
    module = result.value
    for layer in ("stem", "up", "head"):
        bias = getattr(module, layer).bias
        assert isinstance(bias, torch.nn.Parameter) and bias.requires_grad and not bias.detach().any()
    assert module.hidden.bias.detach().numpy() == pytest.approx(np.linspace(-1, 1, 6), abs=1e-6)
