"""Per-layer devices: the placement a spec gives its layers (``device: cuda:1``), as the framework code
generators read it from the ONNX model, and the checks that make a bad placement a clear error.

The spec's lowering stores the placement in the model's metadata, ``metadata_props["onnxbridge.devices"]``:
JSON ``{"onnx node name": "cuda:1", ...}``. Generated PyTorch code places each part on its device and
moves activations between devices (pipeline-style model parallelism).

Whether those devices exist is each framework's question (:meth:`Bridge.check_devices
<onnxbridge.frameworks.base.Bridge.check_devices>`).

Example::

    placements = read_placements(model)        # {"conv1": "cuda:0", "fc": "cuda:1"}
    check_device_name("gpu0")                   # OnnxBridgeError: not one of 'cpu', 'cuda', 'cuda:N'
"""

from __future__ import annotations

import json
import re

import onnx

from onnxbridge.errors import OnnxBridgeError
from onnxbridge.spec.lower import DEVICES_PROP

DEVICE_PATTERN = re.compile(r"^(cpu|cuda(:[0-9]+)?)$")


def read_placements(model: onnx.ModelProto) -> dict[str, str]:
    """{node name: device} from the model's metadata; empty when the model places nothing.

    Raises :class:`OnnxBridgeError` for metadata that is not a JSON object of valid device names.
    """
    raw = next((p.value for p in model.metadata_props if p.key == DEVICES_PROP), None)
    if raw is None:
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise OnnxBridgeError(f"model metadata {DEVICES_PROP!r} is not valid JSON: {exc.msg}",
                              hint="rebuild the model from its spec") from None
    if not isinstance(data, dict):
        raise OnnxBridgeError(f"model metadata {DEVICES_PROP!r} should map node names to devices",
                              hint="rebuild the model from its spec")
    placements = {}
    for node, device in data.items():
        placements[str(node)] = check_device_name(device, where=f"node {node!r}")
    return placements


def check_device_name(device: object, *, where: str = "device") -> str:
    """``device`` if it is 'cpu', 'cuda' or 'cuda:N'; otherwise a clear error."""
    text = str(device).strip().lower()
    if not isinstance(device, str) or not DEVICE_PATTERN.match(text):
        raise OnnxBridgeError(f"{where}: device {device!r} is not one of 'cpu', 'cuda', 'cuda:N'")
    return text
