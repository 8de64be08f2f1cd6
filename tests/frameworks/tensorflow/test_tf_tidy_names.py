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
from onnxbridge.frameworks.tensorflow.tidy_names import strip_exporter_scopes  # noqa: E402
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


def _chain(names: list[str]) -> onnx.ModelProto:
    """x -> Relu -> ... -> y, each node and its output named after one of ``names``."""
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2])
    values = ["x", *[f"{n}:0" for n in names[:-1]], "y"]
    nodes = [onnx.helper.make_node("Relu", [values[k]], [values[k + 1]], name=n) for k, n in enumerate(names)]
    return onnx.helper.make_model(onnx.helper.make_graph(nodes, "g", [x], [y]))


def test_cleaned_names_stay_unique_and_the_interface_keeps_its_names():
    # both first names clean to "a/Relu": the second one must not take the first one's name
    model = _chain(["StatefulPartitionedCall/m_1/a_1/Relu", "m_1/a_1/Relu", "StatefulPartitionedCall/m_1/b_1/Relu"])
    strip_exporter_scopes(model)
    onnx.checker.check_model(model)
    assert [n.name for n in model.graph.node] == ["a/Relu", "a/Relu_2", "b/Relu"]
    values = [o for n in model.graph.node for o in n.output]
    assert values == ["a/Relu:0", "a/Relu:0_2", "y"]
    assert [i.name for i in model.graph.input] == ["x"]


def test_layer_scopes_without_the_unique_suffix_are_kept():
    # "b" has no _N suffix, so this is not TensorFlow's uniquifying: only the call scopes go
    model = _chain(["StatefulPartitionedCall/m_1/a_1/Relu", "StatefulPartitionedCall/m_1/b/Relu"])
    strip_exporter_scopes(model)
    assert [n.name for n in model.graph.node] == ["a_1/Relu", "b/Relu"]
