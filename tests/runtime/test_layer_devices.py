"""Per-layer devices: a spec places layers and blocks on devices; the generated PyTorch code puts each
part there and moves activations between them. On this CPU machine ``cpu`` placements exercise the whole
code path (placing, moving, loading back from disk); a ``cuda`` placement gives a clear error."""

from __future__ import annotations

import copy
import json

import pytest

import onnxbridge
from onnxbridge.conversion import convert
from onnxbridge.errors import OnnxBridgeError
from onnxbridge.frameworks.torch.devices import check_available
from onnxbridge.runtime.layer_devices import read_placements
from onnxbridge.spec.lower import DEVICES_PROP
from onnxbridge.testing import check_parity

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

HAS_CUDA = torch.cuda.is_available()

CNN = {
    "name": "placed_cnn",
    "inputs": [{"name": "image", "shape": ["batch", 1, 8, 8]}],
    "layers": [
        {"id": "conv1", "type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": "same", "device": "cpu"},
        {"id": "bn1", "type": "BatchNorm2d", "device": "cpu"},
        {"id": "relu1", "type": "ReLU"},
        {"id": "conv2", "type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": "same"},
        {"id": "flatten", "type": "Flatten"},
        {"id": "fc", "type": "Linear", "out_features": 10, "device": "cpu"},
    ],
    "outputs": [{"name": "logits", "from": "fc"}],
}


def spec_with(devices: dict[str, str]) -> dict:
    spec = copy.deepcopy(CNN)
    for layer in spec["layers"]:
        layer.pop("device", None)
        if layer["id"] in devices:
            layer["device"] = devices[layer["id"]]
    return spec


def build(spec: dict):
    from onnxbridge.spec.io import spec_from_dict

    return onnxbridge.build(spec_from_dict(spec))


def test_cpu_placements_place_modules_and_move_activations(tmp_path):
    model = build(CNN)
    assert read_placements(model) == {"conv1": "cpu", "bn1": "cpu", "fc": "cpu"}
    out = tmp_path / "pkg"
    module = convert(model, "torch", output=out)  # verified live and from disk, or it raises
    source = (out / "model.py").read_text(encoding="utf-8")
    assert "PLACEMENT = {'conv1': 'cpu', 'bn1': 'cpu', 'fc': 'cpu'}" in source
    assert "self.devices = {'cpu': 'cpu', 'default': 'cpu'}" in source
    # activations go to the placed layers' device and back to the default one for unplaced layers
    assert "image_cpu = image.to(self.devices['cpu'])" in source
    assert ".to(self.devices['default'])" in source and "def place(model, device=None)" in source
    assert module.devices == {"cpu": "cpu", "default": "cpu"}
    assert check_parity(model, module, batch=3).ok


def test_placed_package_loads_back_from_disk(tmp_path):
    from onnxbridge.frameworks.torch.exporter import load_package

    model = build(CNN)
    convert(model, "torch", output=tmp_path / "pkg")
    loaded = load_package(tmp_path / "pkg")
    assert all(p.device.type == "cpu" for p in loaded.parameters())
    assert check_parity(model, loaded, batch=2).ok
    again = load_package(tmp_path / "pkg", device="cpu")  # whole-model device on the generated load()
    assert check_parity(model, again, batch=2).ok


def test_block_instances_take_a_device():
    spec = {
        "name": "placed_blocks",
        "inputs": [{"name": "x", "shape": ["batch", 12]}],
        "blocks": {"Mlp": {"inputs": ["h"],
                           "layers": [{"id": "fc", "type": "Linear", "out_features": 12},
                                      {"id": "act", "type": "ReLU"}]}},
        "layers": [{"id": "stage1", "type": "Mlp", "device": "cpu"}, {"id": "stage2", "type": "Mlp"},
                   {"id": "head", "type": "Linear", "out_features": 3, "device": "cpu"}],
        "outputs": [{"name": "y", "from": "head"}],
    }
    model = build(spec)
    assert read_placements(model)["stage1"] == "cpu"
    from onnxbridge.frameworks.torch.codegen import generate

    source = generate(model).source
    assert "'stage1': 'cpu'" in source and "'head': 'cpu'" in source and "'stage2'" not in source.split(
        "PLACEMENT = ", 1)[1].split("\n", 1)[0]
    module = convert(model, "torch")
    assert check_parity(model, module, batch=4).ok


def test_models_without_placements_keep_the_plain_code():
    from onnxbridge.frameworks.torch.codegen import generate

    source = generate(build(spec_with({}))).source
    assert "PLACEMENT" not in source and "def place(" not in source and "self.devices" not in source
    assert "def load(weights=None, device='cpu')" in source


@pytest.mark.skipif(HAS_CUDA, reason="this machine has CUDA")
def test_cuda_placement_without_cuda_is_a_clear_error(tmp_path):
    model = build(spec_with({"conv2": "cuda", "fc": "cuda:1"}))
    with pytest.raises(OnnxBridgeError) as info:
        convert(model, "torch", output=tmp_path / "pkg")
    message = str(info.value)
    assert "'conv2' is placed on cuda" in message and "'fc' is placed on cuda:1" in message
    assert "PyTorch sees no CUDA device here" in message and "device='cpu'" in message
    assert not (tmp_path / "pkg").exists()


def test_whole_model_device_overrides_the_placements():
    model = build(spec_with({"conv2": "cuda:1"}))
    module = convert(model, "torch", device="cpu")
    assert module.devices == {"cuda:1": "cpu", "default": "cpu"}
    assert all(p.device.type == "cpu" for p in module.parameters())
    assert check_parity(model, module, batch=2).ok


def test_whole_model_device_for_converted_code_without_placements():
    model = build(spec_with({}))
    module = convert(model, "torch", device="cpu")
    assert check_parity(model, module).ok
    with pytest.raises(OnnxBridgeError, match="device 'tpu' is not one of 'cpu', 'cuda', 'cuda:N'"):
        convert(model, "torch", device="tpu")
    if not HAS_CUDA:
        with pytest.raises(OnnxBridgeError, match="the model is to run on cuda:3, but PyTorch sees no CUDA"):
            convert(model, "torch", device="cuda:3")


def test_bad_placement_metadata_is_a_clear_error():
    model = build(spec_with({}))
    onnx_helper = __import__("onnx").helper
    onnx_helper.set_model_props(model, {DEVICES_PROP: json.dumps({"fc": "gpu0"})})
    with pytest.raises(OnnxBridgeError, match="node 'fc': device 'gpu0' is not one of"):
        read_placements(model)
    onnx_helper.set_model_props(model, {DEVICES_PROP: "{not json"})
    with pytest.raises(OnnxBridgeError, match="not valid JSON"):
        read_placements(model)
    check_available({"a": "cpu"})  # nothing to check on the CPU


def test_spec_rejects_unknown_devices():
    with pytest.raises(OnnxBridgeError, match="fc"):
        build(spec_with({"fc": "tpu:0"}))
