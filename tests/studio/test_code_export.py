"""Generated code and exports over HTTP: the model.py the code tab shows runs and matches onnxruntime;
exports land under exports/ with every hop's parity."""

from __future__ import annotations

import importlib.util
import itertools
import shutil
import sys

import pytest

from onnxbridge.ir import load_model
from onnxbridge.testing import check_parity, random_inputs
from tests.studio.conftest import conv_then_linear, digits_spec

_ids = itertools.count()


def _import(path):
    name = f"studio_model_under_test_{next(_ids)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # keras looks classes up by module
    spec.loader.exec_module(module)
    return module


def _export(studio, target, name="digits"):
    r = studio.post("/api/export", json={"spec": digits_spec(), "target": target, "name": name})
    assert r.status_code == 200, r.text
    return r.json()


def test_export_onnx(studio):
    body = _export(studio, "onnx")
    assert body["files"] == ["exports/digits.onnx"] and body["download"] == "exports/digits.onnx"
    model = load_model(studio.workspace / "exports" / "digits.onnx")
    assert [o.name for o in model.graph.output] == ["logits"]
    assert body["ok"] is True and "built from the spec" in body["notes"]
    r = studio.get("/api/download", params={"path": body["download"]})
    assert r.content == (studio.workspace / "exports" / "digits.onnx").read_bytes()


@pytest.mark.torch
def test_code_and_export_torch(studio, tmp_path):
    pytest.importorskip("torch")
    code = studio.post("/api/code", json={"spec": digits_spec(), "target": "torch"}).json()
    assert code["class_name"] == "DigitsCnn" and "class DigitsCnn(nn.Module)" in code["source"]
    body = _export(studio, "torch")
    assert body["files"] == ["exports/digits_torch/model.py", "exports/digits_torch/model.safetensors"]
    assert body["ok"] and len(body["checks"]) == 2
    assert all(c["ok"] and c["max_abs"] < 1e-4 and c["summary"].startswith("parity ok") for c in body["checks"])
    exported = studio.workspace / "exports" / "digits_torch"
    assert (exported / "model.py").read_text() == code["source"]
    # the code tab's source, run as a user would, beside the exported weights
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "model.py").write_text(code["source"])
    shutil.copy(exported / "model.safetensors", package)
    module = _import(package / "model.py").load()
    _export(studio, "onnx")
    reference = load_model(studio.workspace / "exports" / "digits.onnx")
    report = check_parity(reference, module, inputs=random_inputs(reference, seed=5, batch=3))
    assert report.ok, report.summary()
    zipped = studio.get("/api/download", params={"path": body["download"]})
    assert zipped.headers["content-type"] == "application/zip"


@pytest.mark.tensorflow
@pytest.mark.slow
def test_code_and_export_keras(studio, tmp_path):
    pytest.importorskip("tensorflow")
    code = studio.post("/api/code", json={"spec": digits_spec(), "target": "tensorflow"}).json()
    assert "keras" in code["source"] and code["class_name"] == "DigitsCnn"
    body = _export(studio, "tensorflow")
    assert set(body["files"]) == {"exports/digits_tensorflow/model.py", "exports/digits_tensorflow/model.weights.npz",
                                  "exports/digits_tensorflow/saved_model"}
    assert body["ok"] and all(c["ok"] for c in body["checks"]) and len(body["checks"]) == 2
    exported = studio.workspace / "exports" / "digits_tensorflow"
    assert (exported / "model.py").read_text() == code["source"]
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "model.py").write_text(code["source"])
    shutil.copy(exported / "model.weights.npz", package)
    module = _import(package / "model.py").load(str(package / "model.weights.npz"))
    _export(studio, "onnx")
    reference = load_model(studio.workspace / "exports" / "digits.onnx")
    report = check_parity(reference, module, inputs=random_inputs(reference, seed=5, batch=3))
    assert report.ok, report.summary()


def test_code_of_a_broken_spec_is_a_400(studio):
    r = studio.post("/api/code", json={"spec": conv_then_linear(), "target": "torch"})
    assert r.status_code == 400
    assert "fc1" in r.json()["error"] and "Flatten" in r.json()["error"]
    r = studio.post("/api/export", json={"spec": conv_then_linear(), "target": "onnx", "name": "broken"})
    assert r.status_code == 400
    assert not (studio.workspace / "exports" / "broken.onnx").exists()
    r = studio.post("/api/code", json={"spec": digits_spec(), "target": "jax"})
    assert r.status_code == 400


def test_netron_viewer_of_a_spec(studio):
    httpx = pytest.importorskip("httpx")
    r = studio.post("/api/netron", json={"spec": digits_spec()})
    assert r.status_code == 200, r.text
    url = r.json()["url"]
    assert url.startswith("http://127.0.0.1:")
    page = httpx.get(url, timeout=30)
    assert page.status_code == 200 and "digits_cnn.onnx" in page.text
    model = httpx.get(url + "data/digits_cnn.onnx", timeout=30)
    assert model.status_code == 200 and len(model.content) > 1000
    assert httpx.get(url, headers={"Host": "attacker.example"}, timeout=30).status_code == 421
    assert studio.post("/api/netron", json={}).status_code == 400
