"""``onnxbridge.convert(model, "spec")`` and ``onnxbridge convert MODEL --to spec -o net.yaml``."""

from __future__ import annotations

import json

import onnx

import onnxbridge
from onnxbridge.conversion import convert_with_report
from onnxbridge.spec import Spec, build, load_spec
from onnxbridge.testing import check_onnx_parity
from tests.conftest import MODELS


def _model(tmp_path, seed: int = 9):
    model = build(MODELS / "digits_cnn.yaml", seed=seed)
    del model.metadata_props[:]  # an ONNX file from elsewhere: lifted from its graph
    path = tmp_path / "digits.onnx"
    onnx.save(model, path)
    return model, path


def test_convert_to_spec_returns_the_spec_with_weights(tmp_path):
    model, path = _model(tmp_path)
    spec = onnxbridge.convert(path, "spec")
    assert isinstance(spec, Spec) and spec.layers[0].type == "Conv2d"
    assert check_onnx_parity(model, build(spec), atol=1e-5, rtol=1e-5).ok
    result = convert_with_report(model, "spec", output=tmp_path / "out" / "net.yaml")
    (hop, report), = result.checks
    assert hop == "onnx -> spec" and report.ok and report.max_abs == 0.0
    assert [f.name for f in result.files] == ["net.safetensors", "net.yaml"]
    assert any("Conv2d" in n for n in result.notes)


def test_cli_writes_the_spec_and_its_weights(tmp_path, cli):
    model, path = _model(tmp_path)
    out = tmp_path / "lifted" / "net.yaml"
    r = cli("convert", path, "--to", "spec", "-o", out)
    assert r.returncode == 0, r.stderr
    assert "onnx -> spec" in r.stdout and "ok" in r.stdout
    assert out.exists() and (out.parent / "net.safetensors").exists()
    assert "weights: net.safetensors" in out.read_text()
    assert check_onnx_parity(model, build(load_spec(out)), atol=1e-5, rtol=1e-5).ok
    # and the spec builds from the command line with its weights
    r = cli("build", out, "-o", tmp_path / "again.onnx")
    assert r.returncode == 0, r.stderr
    assert "from net.safetensors" in r.stdout
    assert check_onnx_parity(model, onnx.load(tmp_path / "again.onnx"), atol=1e-5, rtol=1e-5).ok


def test_cli_json_and_refusals(tmp_path, cli):
    _, path = _model(tmp_path)
    out = tmp_path / "net.json"
    r = cli("convert", path, "--to", "spec", "-o", out, "--format", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["ok"] and data["target"] == "spec" and data["files"][-1] == str(out)
    assert json.loads(out.read_text())["weights"] == "net.safetensors"
    r = cli("convert", out, "--to", "spec", "-o", out)
    assert r.returncode == 2 and "refusing to overwrite the input" in r.stderr
    r = cli("convert", path, "--to", "spec", "-o", tmp_path / "net.txt")
    assert r.returncode == 2 and "Traceback" not in r.stderr and ".yaml" in r.stderr
    assert not (tmp_path / "net.txt").exists()
