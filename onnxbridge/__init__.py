"""onnxbridge: build networks from a spec, keep them in ONNX, move them between PyTorch and TensorFlow.

The public API (heavy frameworks are imported only when a function needs them)::

    import onnxbridge

    model = onnxbridge.build("models/digits_cnn.yaml")          # spec -> onnx.ModelProto
    report = onnxbridge.infer_shapes("models/digits_cnn.yaml")  # per-layer shapes, all errors
    module = onnxbridge.convert(model, "torch")                 # ONNX -> torch.nn.Module (verified)
    spec = onnxbridge.lift("model.onnx")                        # ONNX -> spec, with the model's weights
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "build": ("onnxbridge.spec", "build"),
    "lift": ("onnxbridge.spec.lift", "lift"),
    "infer_shapes": ("onnxbridge.spec", "infer_shapes"),
    "load_spec": ("onnxbridge.spec", "load_spec"),
    "Network": ("onnxbridge.spec", "Network"),
    "Spec": ("onnxbridge.spec", "Spec"),
    "summarize": ("onnxbridge.summary", "summarize"),
    "convert": ("onnxbridge.conversion", "convert"),
    "load_model": ("onnxbridge.ir", "load_model"),
    "save_model": ("onnxbridge.ir", "save_model"),
    "OnnxBridgeError": ("onnxbridge.errors", "OnnxBridgeError"),
    "check": ("onnxbridge.checks", "check"),
    "repair": ("onnxbridge.checks", "repair"),
    "diff": ("onnxbridge.checks", "diff"),
    "bench": ("onnxbridge.runtime.bench", "bench"),
    "devices": ("onnxbridge.runtime.devices", "list_devices"),
    "train": ("onnxbridge.training.api", "train"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    # keeps `import onnxbridge` fast: nothing heavy is imported until it is used
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'onnxbridge' has no attribute {name!r}")
