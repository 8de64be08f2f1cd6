"""Run two ONNX models on the same random inputs through onnxruntime and compare every output.

Used by ``repair`` (original vs repaired, and before/after each fix) and by ``diff``. Inputs are made
from the first model; the second gets those of its inputs it declares (a repair may drop an unused
input), matched by name, or by position when the names all differ.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import onnx

from onnxbridge.testing import DEFAULT_ATOL, DEFAULT_RTOL, ParityReport, compare_outputs, graph_inputs


class RunFailed(Exception):
    """onnxruntime could not load or run a model; the message is one line."""


def make_inputs(model: onnx.ModelProto, *, seed: int = 0) -> dict[str, np.ndarray]:
    from onnxbridge.testing import random_inputs

    try:
        return random_inputs(model, seed=seed)
    except (ValueError, TypeError) as exc:
        raise RunFailed(f"cannot make random inputs: {exc}") from None


def run(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Outputs of ``model`` in onnxruntime (CPU), or :class:`RunFailed` with onnxruntime's reason."""
    names = [i.name for i in graph_inputs(model)]
    missing = [n for n in names if n not in feeds]
    if missing and len(names) == len(feeds):
        feeds = dict(zip(names, feeds.values()))
    elif missing:
        raise RunFailed(f"no data for input(s) {', '.join(missing)}")
    try:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 4  # failures are expected here and reported by the caller
        # no graph rewrites: onnxruntime's own fusions (e.g. Conv+BatchNorm) would otherwise make the
        # original and the repaired model compute the same fused graph, hiding what a fix changed
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        run_options = ort.RunOptions()
        run_options.log_severity_level = 4
        return session.run(None, {n: feeds[n] for n in names}, run_options)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        text = str(exc).strip().splitlines()
        raise RunFailed(text[0][:300] if text else type(exc).__name__) from None


def compare_models(reference: onnx.ModelProto, candidate: onnx.ModelProto, *, seed: int = 0,
                   feeds: Mapping[str, np.ndarray] | None = None, expected: list[np.ndarray] | None = None,
                   atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL) -> tuple[ParityReport | None, str]:
    """``(report, note)``: the per-output comparison, or None and why the models could not be compared."""
    try:
        feeds = dict(feeds) if feeds is not None else make_inputs(reference, seed=seed)
    except RunFailed as exc:
        return None, f"outputs not compared: {exc}"
    via = ""
    if expected is None:
        try:
            expected = run(reference, feeds)
        except RunFailed as exc:
            # onnxruntime refuses some repairable models (e.g. duplicate node names) that ONNX's own
            # reference evaluator still runs: compare against that instead
            try:
                expected = run_reference(reference, feeds)
            except RunFailed:
                return None, (f"the original model does not run in onnxruntime ({exc}) nor in ONNX's reference "
                              "evaluator, so outputs could not be compared")
            via = f" (original run in ONNX's reference evaluator: onnxruntime refuses it: {exc})"
    try:
        actual = run(candidate, feeds)
    except RunFailed as exc:
        return None, f"the repaired model does not run in onnxruntime: {exc}"
    names = [o.name for o in reference.graph.output]
    report = compare_outputs(expected, actual, names, atol=atol, rtol=rtol)
    return report, report.summary() + via


def run_reference(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Outputs of ``model`` in ``onnx.reference.ReferenceEvaluator`` (slow, but independent of onnxruntime)."""
    from onnx.reference import ReferenceEvaluator

    names = [i.name for i in graph_inputs(model)]
    try:
        return list(ReferenceEvaluator(model).run(None, {n: feeds[n] for n in names}))
    except Exception as exc:  # noqa: BLE001 - the evaluator raises many kinds of errors
        raise RunFailed(str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__) from None
