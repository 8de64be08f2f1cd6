"""``onnxbridge convert --to tensorflow`` and TensorFlow sources: files, layouts, bad input, and the
cross-framework paths (PyTorch -> TensorFlow, Keras -> PyTorch) with their round trips."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from tests.conftest import MODELS, run_cli

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

import onnxbridge  # noqa: E402
from onnxbridge.errors import OnnxBridgeError, UnsupportedOpsError  # noqa: E402
from onnxbridge.frameworks.tensorflow.exporter import HOP_LIVE, HOP_SAVED  # noqa: E402
from onnxbridge.spec import build  # noqa: E402
from onnxbridge.testing import check_onnx_parity, check_parity, random_inputs, run_onnxruntime  # noqa: E402

pytestmark = pytest.mark.tensorflow


def _error_line(result) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def _keras_file(path, seed: int = 0):
    keras.utils.set_random_seed(seed)
    image = keras.Input((16, 16, 3), name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv")(image)
    x = keras.layers.DepthwiseConv2D(3, padding="same", name="depthwise")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    model = keras.Model(image, keras.layers.Dense(4, name="logits")(x), name="small")
    model.save(path)
    return model


@pytest.mark.slow
def test_spec_to_tensorflow_files(tmp_path):
    out = tmp_path / "digits"
    r = run_cli("convert", MODELS / "digits_cnn.yaml", "--to", "tensorflow", "-o", out)
    assert r.returncode == 0, r.stderr
    assert HOP_LIVE in r.stdout and HOP_SAVED in r.stdout and "FAILED" not in r.stdout
    assert sorted(p.name for p in out.iterdir()) == ["model.py", "model.weights.npz", "saved_model"]
    source = (out / "model.py").read_text()
    assert "onnxbridge" not in source.split("from pathlib import Path", 1)[1]
    # model.py works on its own, in a fresh interpreter with only TensorFlow
    model = build(MODELS / "digits_cnn.yaml")
    x = random_inputs(model, batch=3)["image"]
    np.save(tmp_path / "x.npy", x)
    code = (f"import sys, numpy as np; sys.path.insert(0, {str(out)!r}); import model; m = model.load(); "
            f"np.save({str(tmp_path / 'y.npy')!r}, m(np.load({str(tmp_path / 'x.npy')!r})).numpy())")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    expected, = run_onnxruntime(model, {"image": x})
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, atol=1e-4, rtol=1e-3)


@pytest.mark.slow
def test_channels_last_interface(tmp_path):
    out = tmp_path / "resnet"
    r = run_cli("convert", MODELS / "resnet_mini.yaml", "--to", "tensorflow", "-o", out, "--channels-last",
                "--format", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["ok"] and len(data["checks"]) == 2
    model = build(MODELS / "resnet_mini.yaml")
    x = random_inputs(model)["image"]
    expected, = run_onnxruntime(model, {"image": x})
    loaded = tf.saved_model.load(str(out / "saved_model"))
    signature = loaded.signatures["serving_default"].structured_input_signature[1]["image"]
    assert tuple(signature.shape) == (None, 32, 32, 3)
    np.testing.assert_allclose(loaded(np.transpose(x, (0, 2, 3, 1))).numpy(), expected, atol=1e-4, rtol=1e-3)
    # one Keras layer class serves both widths of BasicBlock: its sizes are constructor parameters
    source = (out / "model.py").read_text()
    assert "def __init__(self, filters, **kwargs):" in source and "BasicBlock_2" not in source
    assert "BasicBlock(filters=16, name='block1')" in source and "BasicBlock(filters=32, name='block3')" in source


def test_channels_last_only_for_tensorflow():
    r = run_cli("convert", MODELS / "mlp.yaml", "--to", "onnx", "--channels-last")
    assert r.returncode == 2
    assert "--channels-last applies to --to tensorflow" in _error_line(r)


def test_keras_file_to_onnx(tmp_path):
    _keras_file(tmp_path / "small.keras")
    r = run_cli("convert", tmp_path / "small.keras", "--to", "onnx", "-o", tmp_path / "small.onnx")
    assert r.returncode == 0, r.stderr
    assert "TensorFlow -> ONNX" in r.stdout
    model = onnx.load(tmp_path / "small.onnx")
    assert [i.name for i in model.graph.input] == ["image"]


@pytest.mark.parametrize("make, expected", [
    (lambda p: p.write_bytes(b"garbage"), "not a Keras archive"),
    (lambda p: p.write_bytes(b""), "the file is empty"),
])
def test_corrupt_keras_file_exits_2_and_writes_nothing(tmp_path, make, expected):
    src = tmp_path / "broken.keras"
    make(src)
    out = tmp_path / "out"
    r = run_cli("convert", src, "--to", "tensorflow", "-o", out)
    assert r.returncode == 2
    line = _error_line(r)
    assert "broken.keras" in line and expected in line
    assert not out.exists()


def test_saved_model_without_signatures_exits_2(tmp_path):
    tf.saved_model.save(tf.Module(), str(tmp_path / "bare"))
    r = run_cli("convert", tmp_path / "bare", "--to", "onnx")
    assert r.returncode == 2
    assert "has no signatures" in _error_line(r)
    assert "hint:" in r.stderr


def _unsupported() -> onnx.ModelProto:
    """Relu -> Reshape -> MaxRoiPool, and RoiAlign: two ops without a TensorFlow converter."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 9])
    shape = helper.make_tensor("shape", TensorProto.INT64, [4], [1, 1, 3, 3])
    rois = helper.make_tensor("rois", TensorProto.FLOAT, [1, 5], [0, 0, 0, 2, 2])
    boxes = helper.make_tensor("boxes", TensorProto.FLOAT, [1, 4], [0, 0, 2, 2])
    batch = helper.make_tensor("batch", TensorProto.INT64, [1], [0])
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("Reshape", ["r", "shape"], ["square"], name="square"),
             helper.make_node("MaxRoiPool", ["square", "rois"], ["d"], name="pool_a", pooled_shape=[2, 2]),
             helper.make_node("RoiAlign", ["square", "boxes", "batch"], ["u"], name="align_b")]
    outputs = [helper.make_tensor_value_info("u", TensorProto.FLOAT, None),
               helper.make_tensor_value_info("d", TensorProto.FLOAT, None)]
    graph = helper.make_graph(nodes, "g", [x], outputs, initializer=[shape, rois, boxes, batch])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def test_unsupported_ops_listed_at_once(tmp_path):
    path = tmp_path / "odd.onnx"
    onnx.save(_unsupported(), path)
    with pytest.raises(UnsupportedOpsError) as info:
        onnxbridge.convert(str(path), "tensorflow")
    assert set(info.value.ops) == {"MaxRoiPool", "RoiAlign"}
    assert info.value.ops["MaxRoiPool"] == ["pool_a"] and info.value.ops["RoiAlign"] == ["align_b"]
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    r = run_cli("convert", path, "--to", "tensorflow", "-o", out)
    assert r.returncode == 2
    line = _error_line(r)
    assert "MaxRoiPool (pool_a)" in line and "RoiAlign (align_b)" in line
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]  # nothing half-written, nothing lost


def test_refuses_to_overwrite_its_source(tmp_path):
    onnxbridge.convert(str(MODELS / "mlp.yaml"), "tensorflow", output=tmp_path / "out")
    before = (tmp_path / "out" / "saved_model" / "saved_model.pb").read_bytes()
    r = run_cli("convert", tmp_path / "out" / "saved_model", "--to", "tensorflow", "-o", tmp_path / "out")
    assert r.returncode == 2
    assert "refusing to overwrite" in _error_line(r)
    assert (tmp_path / "out" / "saved_model" / "saved_model.pb").read_bytes() == before


@pytest.mark.slow
def test_parity_failure_exits_1_and_keeps_files(tmp_path):
    out = tmp_path / "strict"
    r = run_cli("convert", MODELS / "transformer_tiny.yaml", "--to", "tensorflow", "-o", out, "--atol", "0",
                "--rtol", "0")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "parity FAILED" in _error_line(r)
    assert (out / "model.py").exists()


def test_python_api_contract():
    """convert(..., to="tensorflow") returns the live object; converting a converted model back works."""
    model = build(MODELS / "digits_cnn.yaml")
    live = onnxbridge.convert(model, "tensorflow")
    assert isinstance(live, tf.Module)
    assert check_parity(model, live).ok
    back = onnxbridge.convert(live, "onnx")
    assert check_onnx_parity(model, back).ok


# -- across frameworks ------------------------------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.slow
def test_pt2_to_tensorflow_and_back_to_onnx(tmp_path):
    """PyTorch -> TensorFlow -> ONNX computes what the PyTorch model computes."""
    torch = pytest.importorskip("torch")
    from tests.frameworks.torch.zoo import ZOO

    torch.manual_seed(0)
    entry = ZOO["resnet"]
    net = entry.build().eval()
    example = entry.inputs(2)
    pt2 = tmp_path / "resnet.pt2"
    batch = torch.export.Dim("batch", min=1, max=64)
    torch.export.save(torch.export.export(net, example, dynamic_shapes=({0: batch},)), str(pt2))
    out = tmp_path / "tf"
    r = run_cli("convert", pt2, "--to", "tensorflow", "-o", out)
    assert r.returncode == 0, r.stderr
    assert "PyTorch -> ONNX" in r.stdout and HOP_SAVED in r.stdout and "FAILED" not in r.stdout
    back = onnxbridge.convert(str(out / "saved_model"), "onnx")
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        expected = net(x).numpy()
    got, = run_onnxruntime(back, {back.graph.input[0].name: x.numpy()})
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-3)


@pytest.mark.torch
@pytest.mark.slow
def test_keras_to_torch_and_back_to_onnx(tmp_path):
    """Keras -> PyTorch -> ONNX computes what the Keras model computes."""
    torch = pytest.importorskip("torch")
    src = tmp_path / "small.keras"
    keras_model = _keras_file(src, seed=3)
    out = tmp_path / "torch"
    r = run_cli("convert", src, "--to", "torch", "-o", out)
    assert r.returncode == 0, r.stderr
    assert "TensorFlow -> ONNX" in r.stdout and "FAILED" not in r.stdout
    module = onnxbridge.convert(str(src), "torch")
    back = onnxbridge.convert(module, "onnx", input_shapes={"image": (2, 16, 16, 3)})
    x = np.random.default_rng(0).standard_normal((2, 16, 16, 3)).astype("float32")
    expected = keras_model(x, training=False).numpy()
    got, = run_onnxruntime(back, {back.graph.input[0].name: x})
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-3)
    with torch.no_grad():
        np.testing.assert_allclose(module(torch.from_numpy(x)).numpy(), expected, atol=1e-4, rtol=1e-3)


def test_unknown_export_option():
    with pytest.raises(OnnxBridgeError, match="unknown TensorFlow export option"):
        onnxbridge.convert(MODELS / "mlp.yaml", "tensorflow", class_name="Foo")
