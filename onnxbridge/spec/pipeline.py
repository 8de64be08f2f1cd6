"""From a spec to ONNX: accept a spec in any form, plan it (shapes, every problem at once), lower it.

These are re-exported by :mod:`onnxbridge.spec` (``onnxbridge.build``, ``onnxbridge.infer_shapes``); modules
inside ``spec/`` import them from here, so no module imports the package that imports it.
"""

from __future__ import annotations

import os

import onnx

from onnxbridge.errors import ShapeError
from onnxbridge.spec.io import load_spec, spec_from_dict
from onnxbridge.spec.lower import DEFAULT_OPSET, lower_plan
from onnxbridge.spec.plan import ShapeReport, plan_spec
from onnxbridge.spec.schema import Spec


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
