"""The network spec: layers and blocks described in YAML/JSON or Python, checked, and lowered to ONNX.

Example::

    from onnxbridge.spec import load_spec, infer_shapes, build

    spec = load_spec("models/digits_cnn.yaml")
    report = infer_shapes(spec)        # per-layer shapes and parameter counts; report.errors
    model = build(spec, seed=0)        # onnx.ModelProto, ready for onnxruntime
"""

from __future__ import annotations

from onnxbridge.spec.io import load_spec, spec_from_dict
from onnxbridge.spec.network import Network
from onnxbridge.spec.pipeline import as_spec, build, infer_shapes
from onnxbridge.spec.plan import LayerRow, ShapeReport
from onnxbridge.spec.schema import BlockSpec, InputSpec, LayerSpec, OutputSpec, Spec

__all__ = [
    "BlockSpec", "InputSpec", "LayerRow", "LayerSpec", "Network", "OutputSpec", "ShapeReport", "Spec",
    "build", "infer_shapes", "load_spec", "spec_from_dict", "as_spec",
]
