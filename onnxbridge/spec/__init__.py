"""The network spec: layers and blocks described in YAML/JSON or Python, checked, and lowered to ONNX.

Example::

    from onnxbridge.spec import load_spec, infer_shapes, build

    spec = load_spec("models/digits_cnn.yaml")
    report = infer_shapes(spec)        # per-layer shapes and parameter counts; report.errors
    model = build(spec, seed=0)        # onnx.ModelProto, ready for onnxruntime
"""

from __future__ import annotations

from typing import Any

from onnxbridge.spec.io import load_spec, save_spec, spec_from_dict, spec_to_yaml
from onnxbridge.spec.network import Network
from onnxbridge.spec.pipeline import BuiltModel, as_spec, build, build_with_report, infer_shapes
from onnxbridge.spec.plan import LayerRow, ShapeReport
from onnxbridge.spec.schema import BlockSpec, InputSpec, LayerSpec, OutputSpec, Spec
from onnxbridge.spec.weights import WeightsReport, WeightStore, load_weights, resolve_weights_path

__all__ = [
    "BlockSpec", "BuiltModel", "InputSpec", "LayerRow", "LayerSpec", "Network", "OutputSpec", "ShapeReport", "Spec",
    "WeightStore", "WeightsReport", "as_spec", "build", "build_with_report", "infer_shapes", "lift", "load_spec",
    "load_weights", "resolve_weights_path", "save_spec", "spec_from_dict", "spec_to_yaml",
]


def __getattr__(name: str) -> Any:
    if name == "lift":  # onnx -> spec lives in its own package, imported when used
        from onnxbridge.spec.lift import lift

        return lift
    raise AttributeError(f"module 'onnxbridge.spec' has no attribute {name!r}")
