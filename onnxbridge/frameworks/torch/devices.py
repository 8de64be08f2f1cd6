"""The CUDA devices PyTorch can use here, and the check that makes a placement on a missing one a clear error.

Example::

    check_available({"conv1": "cuda:0", "fc": "cuda:1"})   # OnnxBridgeError on a machine without cuda:1
"""

from __future__ import annotations

from collections.abc import Mapping

from onnxbridge.errors import OnnxBridgeError
from onnxbridge.frameworks.base import GpuFound
from onnxbridge.runtime.layer_devices import check_device_name


def cuda_device_count() -> int:
    """How many CUDA devices PyTorch sees (0 on a CPU-only build)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def gpus() -> tuple[list[GpuFound], list[str]]:
    """The CUDA devices PyTorch sees, and a note when there are none."""
    import torch

    found = []
    for i in range(cuda_device_count()):
        props = torch.cuda.get_device_properties(i)
        found.append(GpuFound(index=i, name=props.name, memory_bytes=int(props.total_memory),
                              capability=f"{props.major}.{props.minor}"))
    notes = [] if found else ["PyTorch sees no CUDA device" + (
        " (it is a CPU-only build)" if "+cpu" in torch.__version__ else "")]
    return found, notes


def check_available(placements: Mapping[str, str] | str) -> None:
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
    if not cuda:
        return
    import torch

    count = cuda_device_count()
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
