"""From a spec to ONNX: accept a spec in any form, plan it (shapes, every problem at once), lower it.

These are re-exported by :mod:`onnxbridge.spec` (``onnxbridge.build``, ``onnxbridge.infer_shapes``); modules
inside ``spec/`` import them from here, so no module imports the package that imports it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from onnxbridge.errors import ShapeError
from onnxbridge.spec.io import load_spec, spec_from_dict
from onnxbridge.spec.lower import DEFAULT_OPSET, lower_plan
from onnxbridge.spec.plan import ShapeReport, plan_spec
from onnxbridge.spec.schema import Spec
from onnxbridge.spec.weights import WeightsReport, WeightStore, load_weights, resolve_weights_path


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


@dataclass
class BuiltModel:
    """What :func:`build_with_report` made: the ONNX model and where each weight came from."""

    model: onnx.ModelProto
    weights: WeightsReport

    @property
    def notes(self) -> list[str]:
        """One-line notes for a user (empty when no stored weights were involved)."""
        return [self.weights.summary()] if self.weights.used_stored else []


def build(spec: Spec | str | os.PathLike | dict, *, seed: int = 0, opset: int | None = None,
          weights: Mapping[str, np.ndarray] | str | os.PathLike | None = None,
          base_dir: str | os.PathLike | None = None) -> onnx.ModelProto:
    """Validate ``spec``, infer its shapes and lower it to an ONNX model.

    Weights come from the spec's ``weights:`` file (or ``weights``, a mapping or a .safetensors path)
    where their shapes fit; the rest are seeded. ``opset`` defaults to the spec's, else 18.
    Raises :class:`onnxbridge.errors.ShapeError` listing every shape problem.
    """
    return build_with_report(spec, seed=seed, opset=opset, weights=weights, base_dir=base_dir).model


def build_with_report(spec: Spec | str | os.PathLike | dict, *, seed: int = 0, opset: int | None = None,
                      weights: Mapping[str, np.ndarray] | str | os.PathLike | None = None,
                      base_dir: str | os.PathLike | None = None) -> BuiltModel:
    """Like :func:`build`, and says which weights were stored values and which were initialised.

    ``base_dir`` is the folder a spec given as plain data is relative to (for its ``weights:`` file);
    a spec read from a file is relative to that file.

    Example::

        built = build_with_report("net.yaml")
        print(built.weights.summary())   # weights: 10 from net.safetensors, 2 initialised (fc.weight: ...)
    """
    spec, source = as_spec(spec)
    opset = opset or spec.opset or DEFAULT_OPSET
    try:
        plan, report = plan_spec(spec, opset=opset)
        if report.errors:
            raise ShapeError(report.errors)
        store = _weight_store(spec, weights, base_dir)
    except Exception as exc:
        _prefix(exc, source)
        raise
    model = lower_plan(spec, plan, report, seed=seed, opset=opset, store=store)
    return BuiltModel(model, store.finish())


def _weight_store(spec: Spec, weights: Mapping[str, np.ndarray] | str | os.PathLike | None,
                  base_dir: str | os.PathLike | None) -> WeightStore:
    if isinstance(weights, Mapping):
        return WeightStore(weights, "the given weights")
    if weights is not None:
        return WeightStore(load_weights(weights), str(weights))
    if spec._weights is not None:
        return WeightStore(spec._weights, "the lifted model")
    if spec.weights:
        folder = base_dir if base_dir is not None else spec._base_dir or Path.cwd()
        path = resolve_weights_path(folder, spec.weights)
        return WeightStore(load_weights(path), spec.weights)
    return WeightStore(None)


def _prefix(exc: Exception, source: str | None) -> None:
    from onnxbridge.errors import OnnxBridgeError

    if source and isinstance(exc, OnnxBridgeError):
        exc.with_source(source)
