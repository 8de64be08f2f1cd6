"""Hardware: devices, onnxruntime execution providers, benchmarks and placement reports.

Example::

    from onnxbridge.runtime import list_devices, resolve_provider
    from onnxbridge import bench

    list_devices().to_dict()                          # CPU, GPUs, onnxruntime providers, frameworks
    resolve_provider("cuda")                          # 'CUDAExecutionProvider' (or a clear error)
    bench("model.onnx", batches=[1, 8], compare=["torch"]).to_dict()
"""

from __future__ import annotations

# the function ``bench`` is exported as ``onnxbridge.bench``; here the name stays the module's
from onnxbridge.runtime.devices import DeviceReport, list_devices
from onnxbridge.runtime.providers import available_providers, resolve_provider, resolve_providers
from onnxbridge.runtime.results import BenchReport, BenchResult, Latency

__all__ = ["BenchReport", "BenchResult", "DeviceReport", "Latency", "available_providers",
           "list_devices", "resolve_provider", "resolve_providers"]
