"""The network spec: layers and blocks described in YAML/JSON or Python, checked, and lowered to ONNX.

Example::

    from onnxbridge.spec import load_spec, infer_shapes, build

    spec = load_spec("models/digits_cnn.yaml")
    report = infer_shapes(spec)        # per-layer shapes and parameter counts; report.errors
    model = build(spec, seed=0)        # onnx.ModelProto, ready for onnxruntime
"""

from __future__ import annotations

import os

import onnx

from onnxbridge.errors import ShapeError
from onnxbridge.spec.io import load_spec, spec_from_dict
from onnxbridge.spec.lower import DEFAULT_OPSET, lower_plan
from onnxbridge.spec.network import Network
from onnxbridge.spec.plan import LayerRow, ShapeReport, plan_spec
from onnxbridge.spec.schema import BlockSpec, InputSpec, LayerSpec, OutputSpec, Spec

__all__ = [
    "BlockSpec", "InputSpec", "LayerRow", "LayerSpec", "Network", "OutputSpec", "ShapeReport", "Spec",
    "build", "infer_shapes", "load_spec", "spec_from_dict", "as_spec",
]


def as_spec(spec: Spec | str | os.PathLike | dict) -> tuple[Spec, str | None]:
    """Accept a Spec, a path to a spec file, or plain data; return the Spec and its source name."""
    if isinstance(spec, Spec):
        return spec, None
    if isinstance(spec, dict):
        return spec_from_dict(spec), None
    return load_spec(spec), str(spec)


def infer_shapes(spec: Spec | str | os.PathLike | dict) -> ShapeReport:
    """Every layer's output shape and parameter count; ``report.errors`` lists every shape problem.

    Raises :class:`onnxbridge.errors.SpecError` for structural problems (unknown types, bad parameters,
    dangling references, cycles), all listed at once.
    """
    spec, source = as_spec(spec)
    try:
        _, report = plan_spec(spec)
    except Exception as exc:
        _prefix(exc, source)
        raise
    return report


def build(spec: Spec | str | os.PathLike | dict, *, seed: int = 0, opset: int = DEFAULT_OPSET) -> onnx.ModelProto:
    """Validate ``spec``, infer its shapes and lower it to an ONNX model with seeded weights.

    Raises :class:`onnxbridge.errors.ShapeError` listing every shape problem.
    """
    spec, source = as_spec(spec)
    try:
        plan, report = plan_spec(spec)
    except Exception as exc:
        _prefix(exc, source)
        raise
    if report.errors:
        raise ShapeError(report.errors, source=source)
    return lower_plan(spec, plan, report, seed=seed, opset=opset)


def _prefix(exc: Exception, source: str | None) -> None:
    from onnxbridge.errors import OnnxBridgeError

    if source and isinstance(exc, OnnxBridgeError):
        exc.with_source(source)
