"""Generated code from a Keras or SavedModel source says which file it came from, not tf2onnx's function name."""

from __future__ import annotations

import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
pytest.importorskip("torch")

from onnxbridge.frameworks.tensorflow.importer import import_to_onnx  # noqa: E402
from onnxbridge.frameworks.torch.exporter import export_from_onnx  # noqa: E402
from onnxbridge.testing import check_parity  # noqa: E402

pytestmark = pytest.mark.tensorflow
layers = keras.layers


def tiny_model():
    x = keras.Input((6,), name="features")
    return keras.Model(x, layers.Dense(2, name="head")(layers.Dense(4, name="hidden")(x)), name="tiny")


@pytest.mark.parametrize(("kind", "expected"), [("keras", '"""Converted from tiny.keras (Keras)."""'),
                                                 ("saved_model", '"""Converted from tiny_export (SavedModel)."""'),
                                                 ("live", '"""Converted from the Keras model \'tiny\'."""')])
def test_the_class_docstring_names_the_source(tmp_path, kind, expected):
    model = tiny_model()
    source = {"keras": tmp_path / "tiny.keras", "saved_model": tmp_path / "tiny_export", "live": model}[kind]
    if kind == "keras":
        model.save(source)
    elif kind == "saved_model":
        model.export(str(source), verbose=False)
    hub = import_to_onnx(source)
    assert all(report.ok for _, report in hub.checks)
    result = export_from_onnx(hub.onnx_model, output_dir=tmp_path / "out")
    assert result.ok, [(hop, r.summary()) for hop, r in result.checks]
    assert check_parity(hub.onnx_model, result.value).ok
    text = (tmp_path / "out" / "model.py").read_text()
    assert expected in text
    assert "__inference" not in text and "b'" not in text
