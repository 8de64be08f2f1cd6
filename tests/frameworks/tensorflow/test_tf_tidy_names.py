"""Keras and SavedModel sources converted to PyTorch source: the generated code names layers like Keras does,
not like tf2onnx's scopes, and every conversion keeps parity."""

from __future__ import annotations

import importlib.util
import re

import onnx
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
pytest.importorskip("torch")

from onnxbridge.conversion import convert_with_report  # noqa: E402
from onnxbridge.testing import check_parity  # noqa: E402

pytestmark = pytest.mark.tensorflow
layers = keras.layers


def small_cnn():
    image = keras.Input((12, 12, 3), name="image")
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="stem")(image)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(8, activation="relu", name="dense")(x)
    # "dense_1" is the name TensorFlow gives the scope of "dense": both must still come out right
    return keras.Model(image, layers.Dense(3, name="dense_1")(x), name="classifier")


def convert_to_torch(source, out):
    """Convert, check every hop's parity, then check the model.py on disk once more against the hub."""
    result = convert_with_report(source, "torch", output=out)
    assert result.ok, [(hop, r.summary()) for hop, r in result.checks]
    spec = importlib.util.spec_from_file_location("generated_model", out / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    report = check_parity(result.onnx_model, module.load())
    assert report.ok, report.summary()
    return result, (out / "model.py").read_text()


@pytest.mark.parametrize("kind", ["keras", "saved_model"])
def test_generated_names_are_the_keras_layer_names(tmp_path, kind):
    model = small_cnn()
    if kind == "keras":
        source = tmp_path / "classifier.keras"
        model.save(source)
    else:
        source = tmp_path / "classifier_saved"
        model.export(str(source), verbose=False)
    result, text = convert_to_torch(source, tmp_path / "out")
    for attr in ("stem", "dense", "dense_1"):
        assert re.search(rf"self\.{attr} = nn\.(Conv2d|Linear)\(", text), (attr, text)
    assert not re.search(r"stateful|partitioned|classifier_1|stem_1|dense_1_2|read_variable", text, re.I), text
    names = [n.name for n in result.onnx_model.graph.node]
    assert len(names) == len(set(names))
    assert {i.name for i in result.onnx_model.graph.initializer} >= {"stem.kernel", "dense.kernel", "dense_1.kernel"}
    onnx.checker.check_model(result.onnx_model, full_check=True)
