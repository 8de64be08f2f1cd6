"""``onnxbridge convert`` and ``onnxbridge.convert`` with PyTorch: sources, outputs, parity, bad input."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from tests.conftest import MODELS, run_cli

torch = pytest.importorskip("torch")

import onnxbridge  # noqa: E402
from onnxbridge.errors import OnnxBridgeError, UnsupportedOpsError  # noqa: E402
from onnxbridge.testing import check_parity  # noqa: E402

pytestmark = pytest.mark.torch

NET_PY = textwrap.dedent('''
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.fc = nn.Linear(4, 2)

        def forward(self, image):
            return self.fc(self.conv(image).mean(dim=(2, 3)))


    class NeedsArgs(nn.Module):
        def __init__(self, width):
            super().__init__()


    def broken():
        raise RuntimeError("no weights here")


    def not_a_model():
        return 42
''')


@pytest.fixture(scope="module")
def net_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("src") / "net.py"
    path.write_text(NET_PY)
    return path


def _error_line(result) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.slow
def test_spec_to_torch_keeps_block_names(tmp_path):
    out = tmp_path / "resnet"
    r = run_cli("convert", MODELS / "resnet_mini.yaml", "--to", "torch", "-o", out)
    assert r.returncode == 0, r.stderr
    assert "ONNX -> torch (live module)" in r.stdout and "ONNX -> torch (model.py from disk)" in r.stdout
    assert "FAILED" not in r.stdout
    source = (out / "model.py").read_text()
    assert "class BasicBlock(nn.Module):" in source and "class ConvBNAct(nn.Module):" in source
    assert "class ResnetMini(nn.Module):" in source
    # one class serves both widths of BasicBlock: its sizes are constructor parameters
    assert "def __init__(self, channels):" in source and "nn.Conv2d(channels, channels, 3" in source
    assert "self.block1 = BasicBlock(channels=16)" in source and "self.block3 = BasicBlock(channels=32)" in source
    assert "BasicBlock2" not in source
    assert "onnxbridge" not in source.split("import os", 1)[1]
    # the package works on its own: a fresh interpreter with only torch imports it and runs it
    code = (f"import sys; sys.path.insert(0, {str(out)!r}); import torch, model; m = model.load(); "
            "print(tuple(m(torch.randn(3, 3, 32, 32)).shape))")
    import subprocess
    import sys
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "(3, 10)"


@pytest.mark.slow
def test_python_file_to_torch_and_json(net_file, tmp_path):
    out = tmp_path / "net"
    r = run_cli("convert", f"{net_file}:Net", "--to", "torch", "-o", out, "--input", "image:1x3x16x16",
                "--format", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["ok"] and [c["hop"] for c in data["checks"]] == [
        "PyTorch -> ONNX", "ONNX -> torch (live module)", "ONNX -> torch (model.py from disk)"]
    assert all(c["ok"] and c["max_abs"] < 1e-4 for c in data["checks"])
    assert any("dynamo" in n for n in data["notes"])
    assert sorted(p.name for p in out.iterdir()) == ["model.py", "model.safetensors"]


def test_python_file_errors(net_file, tmp_path):
    for name, expected in [("Missing", "has no 'Missing'"), ("NeedsArgs", "needs arguments (width)"),
                           ("broken", "raised RuntimeError: no weights here"),
                           ("not_a_model", "returned a int, not a torch.nn.Module")]:
        with pytest.raises(OnnxBridgeError, match=expected.replace("(", r"\(").replace(")", r"\)")):
            onnxbridge.convert(f"{net_file}:{name}", "onnx", input_shapes={"image": (1, 3, 8, 8)})


def test_pt2_and_torchscript_files(net_file, tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("net_for_test", net_file)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    net = mod.Net().eval()
    example = (torch.randn(2, 3, 8, 8),)
    pt2 = tmp_path / "net.pt2"
    torch.export.save(torch.export.export(net, example), str(pt2))
    model = onnxbridge.convert(str(pt2), "onnx")
    assert isinstance(model, onnx.ModelProto)
    assert check_parity(model, net).ok
    ts = tmp_path / "net.pt"
    torch.jit.save(torch.jit.script(net), str(ts))
    module = onnxbridge.convert(str(ts), "torch", input_shapes={"image": (2, 3, 8, 8)})
    x = torch.randn(3, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(module(x), net(x), atol=1e-5)
    pickled = tmp_path / "state.pt"
    torch.save(net.state_dict(), str(pickled))
    with pytest.raises(OnnxBridgeError, match="does not unpickle"):
        onnxbridge.convert(str(pickled), "onnx", input_shapes={"image": (1, 3, 8, 8)})


def _unsupported_model() -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    boxes = helper.make_tensor("boxes", TensorProto.FLOAT, [1, 4], [0, 0, 2, 1])
    batch = helper.make_tensor("batch", TensorProto.INT64, [1], [0])
    nodes = [
        helper.make_node("Foo", ["x"], ["a"], name="custom_1", domain="com.example"),
        helper.make_node("Foo", ["a"], ["b"], name="custom_2", domain="com.example"),
        helper.make_node("RoiAlign", ["b", "boxes", "batch"], ["y"], name="align"),
    ]
    graph = helper.make_graph(nodes, "g", [x], [y], initializer=[boxes, batch])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("com.example", 1)])


def test_unsupported_ops_listed_at_once(tmp_path):
    with pytest.raises(UnsupportedOpsError) as info:
        onnxbridge.convert(_unsupported_model(), "torch")
    message = str(info.value)
    assert "com.example::Foo (custom_1, custom_2)" in message and "RoiAlign (align)" in message


def test_bad_inputs_exit_2_and_write_nothing(tmp_path, net_file):
    good = onnxbridge.build(MODELS / "mlp.yaml")
    data = good.SerializeToString()
    (tmp_path / "truncated.onnx").write_bytes(data[: len(data) // 3])
    (tmp_path / "garbage.onnx").write_bytes(b"\x00\x01 this is not a model" * 10)
    (tmp_path / "model.xyz").write_bytes(b"whatever")
    (tmp_path / "bad.pt2").write_bytes(b"PK\x03\x04 not really a zip")
    onnx.save(_unsupported_model(), str(tmp_path / "unsupported.onnx"))
    cases = [
        ("truncated.onnx", ["--to", "torch"], "truncated.onnx"),
        ("garbage.onnx", ["--to", "torch"], "garbage.onnx"),
        ("model.xyz", ["--to", "torch"], "unknown model format"),
        ("bad.pt2", ["--to", "onnx"], "not a loadable ExportedProgram"),
        (f"{net_file}:broken", ["--to", "torch", "--input", "image:1x3x8x8"], "raised RuntimeError"),
        ("unsupported.onnx", ["--to", "torch"], "RoiAlign (align)"),
    ]
    for i, (src, args, expected) in enumerate(cases):
        out = tmp_path / f"out{i}"
        source = src if ":" in src else tmp_path / src
        r = run_cli("convert", source, *args, "-o", out)
        assert r.returncode == 2, (src, r.stdout, r.stderr)
        assert expected in _error_line(r), (src, r.stderr)
        assert not out.exists(), src


def test_parity_failure_exits_1_and_keeps_files(tmp_path):
    out = tmp_path / "strict"
    # no tolerance at all: the convolutions sum in a different order in onnxruntime and torch (~1e-8 apart)
    r = run_cli("convert", MODELS / "resnet_mini.yaml", "--to", "torch", "-o", out, "--atol", "0", "--rtol", "0")
    assert r.returncode == 1, r.stderr
    line = _error_line(r)
    assert "parity FAILED" in line and "output" in line
    assert "kept" in r.stderr
    assert (out / "model.py").exists()


def test_refuses_to_overwrite_the_source(tmp_path):
    src = tmp_path / "m.onnx"
    onnx.save(onnxbridge.build(MODELS / "mlp.yaml"), str(src))
    before = src.read_bytes()
    r = run_cli("convert", src, "--to", "onnx", "-o", src)
    assert r.returncode == 2 and "refusing to overwrite" in _error_line(r)
    assert src.read_bytes() == before


def test_convert_api_returns_eval_module_with_positional_inputs():
    model = onnxbridge.build(MODELS / "mlp.yaml")
    module = onnxbridge.convert(model, "torch")
    assert isinstance(module, torch.nn.Module) and not module.training
    report = check_parity(model, module)
    assert report.ok, report.summary()
    x = np.random.default_rng(0).standard_normal((4, *[d.dim_value for d in
                                                       model.graph.input[0].type.tensor_type.shape.dim[1:]]))
    with torch.no_grad():
        assert module(torch.from_numpy(x.astype(np.float32))).shape[0] == 4
