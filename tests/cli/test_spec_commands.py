"""The spec commands as a user runs them: build, summary, run, layers, schema, view, --version."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import jsonschema
import onnx
import pytest
import yaml

from onnxbridge import __version__
from tests.conftest import MODELS, ROOT, run_cli


def test_version_and_help():
    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"onnxbridge {__version__}"
    r = run_cli("--help")
    assert r.returncode == 0
    for command in ("build", "summary", "layers", "schema", "view", "run"):
        assert command in r.stdout


def test_build_writes_a_checked_model_and_prints_the_table(tmp_path):
    out = tmp_path / "digits.onnx"
    r = run_cli("build", MODELS / "digits_cnn.yaml", "-o", out)
    assert r.returncode == 0, r.stderr
    assert "[batch, 16, 8, 8]" in r.stdout and "38,314" in r.stdout and "fc2" in r.stdout
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)


def test_build_json_and_seed(tmp_path):
    out = tmp_path / "m.onnx"
    r = run_cli("build", MODELS / "mlp.yaml", "-o", out, "--seed", "7", "--format", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["output"] == str(out) and data["seed"] == 7 and data["total_params"] > 0
    assert data["rows"][0]["name"] == "body" and data["rows"][0]["shapes"] == [["batch", 32]]


def test_summary_of_spec_and_onnx(tmp_path):
    r = run_cli("summary", MODELS / "resnet_mini.yaml")
    assert r.returncode == 0 and "BasicBlock" in r.stdout and "33,370" in r.stdout
    out = tmp_path / "r.onnx"
    assert run_cli("build", MODELS / "resnet_mini.yaml", "-o", out).returncode == 0
    r = run_cli("summary", out, "--format", "json")
    data = json.loads(r.stdout)
    assert data["kind"] == "onnx" and "BasicBlock" in data["functions"]
    assert [row["name"] for row in data["rows"]][:2] == ["stem", "block1"]


def test_run_spec_on_onnxruntime():
    r = run_cli("run", MODELS / "lstm_text.yaml", "--batch", "3", "--format", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["outputs"]["logits"]["shape"] == [3, 2]


def test_layers_catalogue():
    r = run_cli("layers", "--json")
    entries = json.loads(r.stdout)
    by_type = {e["type"]: e for e in entries}
    assert {"Conv2d", "LSTM", "MultiHeadAttention", "ResidualBlock"} <= set(by_type)
    conv = {p["name"]: p for p in by_type["Conv2d"]["params"]}
    assert conv["out_channels"]["required"] and conv["stride"]["default"] == 1
    r = run_cli("layers", "--family", "recurrent")
    assert r.returncode == 0 and "GRU" in r.stdout and "Conv2d" not in r.stdout


def _walk_properties(schema, path=""):
    if isinstance(schema, dict):
        for name, prop in schema.get("properties", {}).items():
            yield f"{path}.{name}", prop
        for key, value in schema.items():
            yield from _walk_properties(value, f"{path}/{key}")
    elif isinstance(schema, list):
        for i, value in enumerate(schema):
            yield from _walk_properties(value, f"{path}[{i}]")


def test_schema_is_documented_and_validates_the_examples():
    r = run_cli("schema")
    schema = json.loads(r.stdout)
    undocumented = [path for path, prop in _walk_properties(schema) if not prop.get("description")]
    assert not undocumented, undocumented
    validator = jsonschema.Draft202012Validator(schema)
    for path in MODELS.glob("*.yaml"):
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text())))
        assert not errors, (path, errors[0].message)
    bad = {"inputs": [{"name": "x", "shape": [1, 4]}], "layers": [{"id": "a", "type": "Linear", "out_featurez": 3}]}
    assert not validator.is_valid(bad)


@pytest.mark.parametrize("content,fragment", [
    (None, "no such file"),
    ("inputs: [{name: x, shape: [1, 2]\nlayers: []\n", "malformed YAML"),
    ("", "the file is empty"),
    ("- just\n- a list\n", "expected a mapping"),
    ("inputs: [{name: x, shape: [batch, 4]}]\nlayers:\n  - {id: a, type: Lineer, out_features: 3}\n",
     "layer a (Lineer): unknown layer type 'Lineer'; did you mean 'Linear'?"),
    ("inputs: [{name: x, shape: [batch, 4]}]\nlayers:\n  - {id: a, type: Linear, out_features: 3, bogus: 1}\n",
     "layer a (Linear): unknown parameter 'bogus'"),
    ("inputs: [{name: x, shape: [batch, 4]}]\nlayers:\n  - {id: a, type: Linear, out_features: many}\n",
     "layer a (Linear): parameter 'out_features': got 'many'"),
    ("inputs: [{name: x, shape: [batch, 4]}]\nlayers:\n  - {id: a, type: ReLU, input: y}\n",
     "layer a (ReLU): input 'y' does not name a layer or input"),
    ("inputs: [{name: x, shape: [batch, 4]}]\nlayers:\n  - {id: a, type: ReLU, input: b}\n"
     "  - {id: b, type: ReLU, input: a}\n", "inputs form a cycle (a -> b -> a)"),
    ("inputs: [{name: x, shape: [batch, 3, 8, 8]}]\nlayers:\n  - {id: fc, type: Linear, out_features: 3}\n",
     "layer fc (Linear) got [batch, 3, 8, 8] but needs [batch, features]"),
])
def test_bad_input_gives_one_clear_line_and_no_output(tmp_path, content, fragment):
    spec = tmp_path / "net.yaml"
    if content is not None:
        spec.write_text(content)
    out = tmp_path / "net.onnx"
    r = run_cli("build", spec, "-o", out)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert fragment in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert errors and str(spec) in errors[0]
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == (["net.yaml"] if content is not None else [])


def test_build_refuses_to_overwrite_its_input(tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text((MODELS / "mlp.yaml").read_text())
    r = run_cli("build", spec, "-o", tmp_path / "net.yaml")
    assert r.returncode == 2 and "should end in .onnx" in r.stderr
    assert spec.read_text() == (MODELS / "mlp.yaml").read_text()


def test_summary_of_a_corrupt_onnx_file(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage-not-a-model" * 3)
    r = run_cli("summary", bad)
    assert r.returncode == 2 and "Traceback" not in r.stderr and str(bad) in r.stderr


def test_view_serves_on_localhost(tmp_path):
    env = {**os.environ, "BROWSER": "true"}
    proc = subprocess.Popen([sys.executable, "-m", "onnxbridge", "view", str(MODELS / "digits_cnn.yaml"),
                             "--no-browser", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, cwd=ROOT, env=env)
    try:
        url = None
        deadline = time.time() + 60
        while time.time() < deadline and url is None:
            line = proc.stdout.readline()
            if "serving" in line and "http://" in line:
                url = line[line.index("http://"):].split()[0]
        assert url and url.startswith("http://127.0.0.1:"), url
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
