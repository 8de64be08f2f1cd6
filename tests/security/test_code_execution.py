"""Nothing a model file carries runs on the user's machine, and the viewer exposes only the model.

Each hostile file is built here, in a temp dir, with a payload that would create a marker file if it ran.
"""

from __future__ import annotations

import http.client
import io
import json
import zipfile
from pathlib import Path

import pytest

from tests.conftest import MODELS, run_cli


def _assert_refused(result, marker: Path, *words: str) -> None:
    assert not marker.exists(), "the payload ran"
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr
    assert result.stderr.count("error:") == 1, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


# -- PyTorch .pt2 ------------------------------------------------------------------------------------
def _pt2(tmp_path: Path) -> Path:
    torch = pytest.importorskip("torch")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(x)

    path = tmp_path / "net.pt2"
    torch.export.save(torch.export.export(Net(), (torch.randn(2, 4),)), str(path))
    return path


class _Payload:
    """Unpickling this creates the marker file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _rewrite(archive: Path, out: Path, replace) -> Path:
    """Copy a zip archive, passing each member's (name, bytes) through ``replace``."""
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, replace(name, src.read(name)))
    return out


def _pickled(obj) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


@pytest.mark.torch
def test_pt2_with_pickled_sample_inputs_does_not_run(tmp_path):
    marker = tmp_path / "PWNED"
    payload = _pickled(_Payload(marker))
    evil = _rewrite(_pt2(tmp_path), tmp_path / "evil.pt2",
                    lambda name, data: payload if name.endswith("sample_inputs/model.pt") else data)
    r = run_cli("convert", evil, "--to", "onnx", "-o", tmp_path / "out.onnx")
    _assert_refused(r, marker, "pickled Python objects", str(evil))
    assert not (tmp_path / "out.onnx").exists()


@pytest.mark.torch
def test_pt2_with_pickled_weights_does_not_run(tmp_path):
    marker = tmp_path / "PWNED"
    payload = _pickled(_Payload(marker))

    def replace(name: str, data: bytes) -> bytes:
        if name.endswith("model_weights_config.json"):
            config = json.loads(data)
            for entry in config["config"].values():
                entry["use_pickle"] = True  # torch.export.load would torch.load(weights_only=False) these
            return json.dumps(config).encode()
        if "/data/weights/weight_" in name:
            return payload
        return data

    evil = _rewrite(_pt2(tmp_path), tmp_path / "evil.pt2", replace)
    r = run_cli("convert", evil, "--to", "torch", "-o", tmp_path / "out")
    _assert_refused(r, marker, "pickled Python objects")
    assert not (tmp_path / "out").exists()


@pytest.mark.torch
def test_weights_only_guard_is_lifted_after_loading():
    import torch

    from onnxbridge.frameworks.torch.safe_load import no_unpickling

    before = torch.load
    with no_unpickling():
        assert torch.load is not before
    assert torch.load is before


@pytest.mark.torch
def test_clean_pt2_still_converts(tmp_path):
    r = run_cli("convert", _pt2(tmp_path), "--to", "onnx", "-o", tmp_path / "net.onnx")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "net.onnx").exists()


# -- TensorFlow SavedModel ---------------------------------------------------------------------------
def _saved_model(tmp_path: Path, name: str, marker: Path | None) -> Path:
    tf = pytest.importorskip("tensorflow")

    class Module(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(tf.ones([4, 2]))

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
        def __call__(self, x):
            if marker is not None:
                tf.io.write_file(str(marker), "pwned")
            return tf.matmul(x, self.w)

    module = Module()
    path = tmp_path / name
    tf.saved_model.save(module, str(path), signatures=module.__call__.get_concrete_function())
    return path


@pytest.mark.tensorflow
def test_saved_model_that_writes_a_file_is_refused(tmp_path):
    marker = tmp_path / "PWNED"
    evil = _saved_model(tmp_path, "evil", marker)
    assert not marker.exists()  # tracing to save does not run the write
    r = run_cli("convert", evil, "--to", "onnx", "-o", tmp_path / "out.onnx")
    _assert_refused(r, marker, "WriteFile", "--trust")
    assert not (tmp_path / "out.onnx").exists()


@pytest.mark.tensorflow
def test_saved_model_runs_only_when_trusted(tmp_path):
    marker = tmp_path / "PWNED"
    evil = _saved_model(tmp_path, "evil", marker)
    r = run_cli("convert", evil, "--to", "onnx", "-o", tmp_path / "out.onnx", "--trust")
    assert r.returncode == 0, r.stderr
    assert marker.exists()  # the user asked for it: the serving function ran as written


@pytest.mark.tensorflow
def test_plain_saved_model_is_not_refused(tmp_path):
    r = run_cli("convert", _saved_model(tmp_path, "plain", None), "--to", "onnx", "-o", tmp_path / "out.onnx")
    assert r.returncode == 0, r.stderr


@pytest.mark.tensorflow
def test_keras_layer_that_loads_a_saved_model_is_refused(tmp_path):
    pytest.importorskip("tensorflow")
    import keras

    marker = tmp_path / "PWNED"
    evil = _saved_model(tmp_path, "evil", marker)
    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.TFSMLayer(str(evil), call_endpoint="serving_default")(inp))
    path = tmp_path / "wrapper.keras"
    model.save(path)
    r = run_cli("convert", path, "--to", "onnx", "-o", tmp_path / "out.onnx")
    _assert_refused(r, marker, "TFSMLayer", "--trust")


def test_trust_does_not_apply_to_onnx(tmp_path):
    r = run_cli("convert", MODELS / "digits_cnn.yaml", "--to", "onnx", "-o", tmp_path / "m.onnx", "--trust")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "TensorFlow sources" in r.stderr
    assert not (tmp_path / "m.onnx").exists()


# -- the netron viewer -------------------------------------------------------------------------------
def _get(port: int, path: str, host: str | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Host": host or f"127.0.0.1:{port}"})
    response = conn.getresponse()
    return response.status, response.read()


@pytest.fixture
def model_folder(tmp_path):
    from onnxbridge.ir import save_model
    from onnxbridge.spec import build

    folder = tmp_path / "models"
    (folder / "sub").mkdir(parents=True)
    save_model(build(MODELS / "digits_cnn.yaml"), folder / "net.onnx")
    (folder / ".env").write_text("API_KEY=secret")
    (folder / "notes.txt").write_text("private")
    (folder / "sub" / "other.onnx").write_bytes((folder / "net.onnx").read_bytes())
    return folder


def test_viewer_serves_only_the_model(model_folder):
    from onnxbridge.view import ModelServer

    with ModelServer(model_folder / "net.onnx") as server:
        status, body = _get(server.port, "/data/net.onnx")
        assert status == 200 and body == (model_folder / "net.onnx").read_bytes()
        for path in ("/data/.env", "/data/notes.txt", "/data/sub/other.onnx", "/data/../models/.env",
                     "/data/%2e%2e/models/.env", "/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/server.py"):
            status, body = _get(server.port, path)
            assert status == 404 and b"secret" not in body and b"private" not in body, path
        status, page = _get(server.port, "/")
        assert status == 200 and b'content="/data/net.onnx"' in page


def test_viewer_refuses_a_foreign_host(model_folder):
    from onnxbridge.view import ModelServer

    with ModelServer(model_folder / "net.onnx") as server:
        for host in (f"evil.example:{server.port}", "attacker.test", f"127.0.0.1.nip.io:{server.port}"):
            status, body = _get(server.port, "/data/net.onnx", host=host)
            assert status == 421 and b"ONNX" not in body, host
        assert _get(server.port, "/", host=f"localhost:{server.port}")[0] == 200


def test_viewer_serves_external_data_beside_the_model(tmp_path):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from onnxbridge.view import ModelServer

    weight = numpy_helper.from_array(np.ones((64, 64), np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save_model(model, str(tmp_path / "ext.onnx"), save_as_external_data=True, location="ext.bin",
                    size_threshold=0)
    with ModelServer(tmp_path / "ext.onnx") as server:
        assert _get(server.port, "/data/ext.bin")[0] == 200


def test_viewer_removes_its_temporary_folder(tmp_path):
    from onnxbridge.view import ModelServer

    server = ModelServer(MODELS / "digits_cnn.yaml")
    server.start()
    temp = server.file("digits_cnn.onnx").parent
    assert temp.exists() and temp != MODELS
    server.stop()
    assert not temp.exists()


def test_view_warns_when_not_on_loopback():
    from onnxbridge.view import allowed_hosts, is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    assert allowed_hosts("127.0.0.1", 8080) == {"127.0.0.1:8080", "localhost:8080", "[::1]:8080"}
