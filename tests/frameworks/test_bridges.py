"""The bridge protocol: every framework folder's ``bridge.py`` behind one interface, listed by one registry,
and what the rest of the package derives from the list (targets, rule codes, engines, packages)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from onnxbridge.checks.engine import targets as check_targets
from onnxbridge.checks.registry import all_rules
from onnxbridge.conversion import source_kind, targets
from onnxbridge.errors import OnnxBridgeError
from onnxbridge.frameworks.base import Bridge
from onnxbridge.frameworks.bridges import (
    BRIDGE_MODULES,
    bridge_of,
    bridges,
    engine_named,
    engines,
    get_bridge,
)
from tests.conftest import ROOT

FRAMEWORKS = ROOT / "onnxbridge" / "frameworks"


def test_every_framework_folder_has_a_registered_bridge():
    folders = sorted(p.parent.name for p in FRAMEWORKS.glob("*/bridge.py"))
    assert sorted(m.split(".")[-2] for m in BRIDGE_MODULES) == folders
    assert [b.name for b in bridges()] == ["torch", "tensorflow"]
    for bridge in bridges():
        assert isinstance(bridge, Bridge)
        assert (FRAMEWORKS / bridge.name / "bridge.py").is_file()
        # the same files in every framework folder: a third framework is a copy of the shape
        assert {p.name for p in (FRAMEWORKS / bridge.name).glob("*.py")} >= {
            "__init__.py", "bridge.py", "importer.py", "exporter.py", "codegen.py", "registry.py",
            "training.py", "launch.py"}
        for method in ("recognises", "import_to_onnx", "export_from_onnx", "op_registry", "generate_source",
                       "native_runner", "distributed_env", "launch", "launch_files", "train", "exportable",
                       "predict"):
            assert getattr(type(bridge), method) is not getattr(Bridge, method), (bridge.name, method)


def test_what_the_package_derives_from_the_bridges():
    assert targets() == ("onnx", "torch", "tensorflow", "spec")  # spec: lifted from the hub, not a bridge
    assert check_targets() == ("torch", "tensorflow", "cpu", "cuda")
    rules = all_rules()
    assert {b.check_code: rules[b.check_code].name for b in bridges()} == {
        "OB301": "torch_converter", "OB302": "tensorflow_converter"}
    assert rules["OB301"].summary == "Ops the ONNX -> PyTorch converter has no rule for (checked with --target torch)."
    assert list(engines()) == ["torch", "torch.compile", "tensorflow"]
    assert engine_named("PyTorch") == "torch" and engine_named("tf") == "tensorflow"
    assert engine_named("compile") == "torch.compile" and engine_named("jax") is None
    assert get_bridge("keras") is get_bridge("tensorflow")
    with pytest.raises(OnnxBridgeError, match="unknown framework 'jax'"):
        get_bridge("jax")


@pytest.mark.parametrize(("path", "kind"), [("net.pt2", "torch"), ("net.pt", "torch"), ("net.py:Net", "torch"),
                                            ("model.keras", "tensorflow"), ("model.h5", "tensorflow"),
                                            ("model.onnx", "onnx"), ("spec.yaml", "spec")])
def test_sources_are_recognised_by_their_bridge(path, kind):
    assert source_kind(path) == kind


def test_a_saved_model_directory_is_tensorflow(tmp_path):
    (tmp_path / "saved_model.pb").write_bytes(b"")
    assert source_kind(tmp_path) == "tensorflow"
    assert not get_bridge("tensorflow").recognises(Path(tmp_path / "missing"))


def test_live_objects_belong_to_their_framework():
    torch = pytest.importorskip("torch")
    assert bridge_of(torch.nn.Linear(2, 3)) is get_bridge("torch")
    assert bridge_of(torch.zeros(1)) is get_bridge("torch")
    assert bridge_of(lambda x: x) is None and bridge_of(3) is None
    with pytest.raises(OnnxBridgeError, match="cannot convert a int") as err:
        source_kind(3)
    assert err.value.hint == "pass a file path, an onnx.ModelProto, a Spec, a torch.nn.Module or a Keras model"


def test_torch_bridge_checks_its_devices():
    pytest.importorskip("torch")
    import torch

    bridge = get_bridge("torch")
    bridge.check_devices({"fc": "cpu"})
    if torch.cuda.device_count() < 4:
        with pytest.raises(OnnxBridgeError, match="'fc' is placed on cuda:3"):
            bridge.check_devices({"fc": "cuda:3"})
    get_bridge("tensorflow").check_devices({"fc": "cuda:3"})  # Keras code places nothing per layer


def test_listing_the_bridges_imports_no_framework():
    code = ("import sys\nfor m in ('torch', 'tensorflow', 'keras', 'tf2onnx'):\n    sys.modules[m] = None\n"
            "from onnxbridge.frameworks.bridges import bridges\n"
            "print([(b.name, b.installed()) for b in bridges()])\n"
            "from onnxbridge.errors import MissingDependencyError\n"
            "try:\n    bridges()[0].require()\nexcept MissingDependencyError as e:\n    print(e.hint)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["[('torch', False), ('tensorflow', False)]",
                                     "install it with: pip install 'onnxbridge[torch]'"]
