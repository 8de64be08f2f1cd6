"""Per-layer devices: the placement a spec gives its layers (``device: cuda:1``), as the framework code
generators read it from the ONNX model, and the checks that make a bad placement a clear error.

The spec's lowering stores the placement in the model's metadata, ``metadata_props["onnxbridge.devices"]``:
JSON ``{"onnx node name": "cuda:1", ...}``. Generated PyTorch code places each part on its device and
moves activations between devices (pipeline-style model parallelism).

Example::

    placements = read_placements(model)        # {"conv1": "cuda:0", "fc": "cuda:1"}
    check_available(placements)                 # OnnxBridgeError on a machine without those devices
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

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


def check_available(placements: Mapping[str, str] | str, *, framework: str = "torch") -> None:
    """Raise a clear :class:`OnnxBridgeError` when a placement names a device PyTorch cannot use here.

    ``placements`` is {node: device} or one whole-model device.
    """
    by_device: dict[str, list[str]] = {}
    if isinstance(placements, str):
        by_device[check_device_name(placements)] = []
    else:
        for node, device in placements.items():
            by_device.setdefault(device, []).append(node)
    cuda = {d: nodes for d, nodes in by_device.items() if d.startswith("cuda")}
    if not cuda or framework != "torch":
        return
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    missing = {d: nodes for d, nodes in sorted(cuda.items())
               if (int(d.split(":")[1]) if ":" in d else 0) >= count}
    if not missing:
        return
    have = (f"this machine has {count} CUDA device(s)" if count
            else f"PyTorch sees no CUDA device here (torch {torch.__version__})")
    if isinstance(placements, str):
        what = f"the model is to run on {placements}"
    else:
        what = "; ".join(f"{_listed(nodes)} {'is' if len(nodes) == 1 else 'are'} placed on {device}"
                         for device, nodes in missing.items())
    raise OnnxBridgeError(f"{what}, but {have}",
                          hint="run it on a machine with that GPU, or put the whole model on the CPU "
                               "with device='cpu' (--device cpu)")


def _listed(nodes: list[str]) -> str:
    shown = ", ".join(repr(n) for n in nodes[:4]) + (", ..." if len(nodes) > 4 else "")
    return f"layer node{'s' if len(nodes) > 1 else ''} {shown}"
