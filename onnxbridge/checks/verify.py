"""Run two ONNX models on the same random inputs and compare their outputs, output by output.

Used by ``repair`` (original vs repaired, and before/after each fix), by the fixes that check themselves
and by ``diff``. Inputs are made from the first model; the second gets those of its inputs it declares (a
repair may drop an unused input), matched by name, or by position when the names all differ. Outputs are
matched by name when the models share output names, by position otherwise.

A broken original often does not load in onnxruntime at all (a name defined twice, an op its opset lacks, a
dead cycle, an output nothing produces). :func:`evaluate` then runs it in ONNX's reference evaluator, node by
node, so a repair can still be compared with what the original computes — see :func:`run_reference`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import onnx

from onnxbridge.testing import (
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    OutputParity,
    ParityReport,
    compare_outputs,
    graph_inputs,
)

Outputs = dict[str, np.ndarray]


class RunFailed(Exception):
    """onnxruntime could not load or run a model; the message is one line."""


def make_inputs(model: onnx.ModelProto, *, seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs for every graph input of ``model``; RunFailed when their shapes or types cannot be made."""
    from onnxbridge.testing import random_inputs

    try:
        return random_inputs(model, seed=seed)
    except (ValueError, TypeError) as exc:
        raise RunFailed(f"cannot make random inputs: {exc}") from None


def run(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Outputs of ``model`` in onnxruntime (CPU), or :class:`RunFailed` with onnxruntime's reason."""
    names = [i.name for i in graph_inputs(model)]
    feeds = _feeds_for(model, feeds)
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
        raise RunFailed(_first_line(exc)) from None


def _feeds_for(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
    names = [i.name for i in graph_inputs(model)]
    missing = [n for n in names if n not in feeds]
    if missing and len(names) == len(feeds):
        return dict(zip(names, feeds.values()))
    if missing:
        raise RunFailed(f"no data for input(s) {', '.join(missing)}")
    return feeds


def evaluate(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray], names: Sequence[str] | None = None
             ) -> tuple[Outputs, str]:
    """``(outputs by name, via)``: the graph outputs (or the tensors ``names``) of ``model`` on ``feeds``.

    onnxruntime runs the model when it can (``via`` is ``""``); when it refuses, ONNX's reference evaluator
    runs it (``via`` says so and why) — see :func:`run_reference` for what that evaluator is given. Tensors
    other than graph outputs are always computed by the reference evaluator. Raises :class:`RunFailed`
    when neither can run it.
    """
    outputs = [o.name for o in model.graph.output]
    wanted = list(names) if names is not None else outputs
    ort_error = "not tried: intermediate tensors are asked for"
    if set(wanted) <= set(outputs):
        try:
            return {n: v for n, v in zip(outputs, run(model, feeds)) if n in wanted}, ""
        except RunFailed as exc:
            ort_error = str(exc)
    try:
        return run_reference(model, feeds, names), f"ONNX's reference evaluator (onnxruntime refuses it: {ort_error})"
    except RunFailed as exc:
        raise RunFailed(f"does not run in onnxruntime ({ort_error}) nor in ONNX's reference evaluator ({exc})") from None


def run_reference(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray], names: Sequence[str] | None = None
                  ) -> Outputs:
    """The tensors ``names`` (default: every graph output some node, input or initializer defines) computed by
    ``onnx.reference.ReferenceEvaluator`` — slow, but independent of onnxruntime, and it runs what a repair
    starts from.

    How it runs the model:

    - only the nodes those tensors depend on run, so a dead cycle or an output nothing produces elsewhere in
      the graph does not stop it;
    - nodes run in file order, each reading the latest value of a name (a name defined twice is read as the
      graph is written);
    - an op the model's opset import lacks runs as defined in the first opset that has it (what the model
      was written for).
    """
    from onnx.reference import ReferenceEvaluator

    from onnxbridge.checks.analysis import ops_missing_from_opset, reaching
    from onnxbridge.checks.context import ModelContext

    ctx = ModelContext.from_model(model)
    if names is None:
        names = [o.name for o in model.graph.output if o.name in ctx.producers or ctx.is_defined_outside_nodes(o.name)]
        if not names:
            raise RunFailed("no graph output is produced by any node")
    unknown = [n for n in names if n not in ctx.producers and not ctx.is_defined_outside_nodes(n)]
    if unknown:
        raise RunFailed(f"nothing defines {', '.join(map(repr, unknown))}")
    cone = reaching(ctx, names)
    pruned = onnx.ModelProto()
    pruned.CopyFrom(model)
    del pruned.graph.node[:]
    pruned.graph.node.extend(n for i, n in enumerate(model.graph.node) if i in cone)
    del pruned.graph.output[:]
    pruned.graph.output.extend(onnx.helper.make_empty_tensor_value_info(n) for n in names)
    new_ops = [_op_class(domain, op, since) for (domain, op), since in ops_missing_from_opset(ctx).items()
               if since is not None]
    inputs = [i.name for i in graph_inputs(model)]
    try:
        feeds = _feeds_for(model, feeds)
        values = ReferenceEvaluator(pruned, new_ops=new_ops).run(
            None, {n: feeds[n] for n in inputs})
    except RunFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - the evaluator raises many kinds of errors
        raise RunFailed(_first_line(exc)) from None
    return {n: np.asarray(v) for n, v in zip(names, values)}


def _op_class(domain: str, op: str, version: int):
    """An implementation of ``op`` as defined in opset ``version`` for the reference evaluator, registered under
    the op's own name (the evaluator would otherwise look it up at the model's opset, where it does not exist).

    Each call runs the node alone in a one-node model importing that opset, so ops the evaluator implements
    through their function body (Gelu) work too: that model declares the types the body needs.
    """
    from onnx.reference.op_run import OpRun

    def _run(self, *args, **_attributes):  # the node's own attributes are copied; defaults come from the opset
        return _run_alone(self.onnx_node, args, domain, version)

    return type(op, (OpRun,), {"op_domain": domain, "_run": _run})


def _run_alone(node: onnx.NodeProto, args: Sequence[np.ndarray | None], domain: str, version: int) -> tuple:
    from onnx import helper
    from onnx.reference import ReferenceEvaluator

    ins = [f"in{k}" if name else "" for k, name in enumerate(node.input)]
    outs = [f"out{k}" if name else "" for k, name in enumerate(node.output)]
    alone = helper.make_node(node.op_type, ins, outs, domain=domain)
    alone.attribute.extend(node.attribute)
    feeds = {n: np.asarray(a) for n, a in zip(ins, args) if n and a is not None}
    inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
              for n, a in feeds.items()]
    graph = helper.make_graph([alone], node.op_type, inputs, [helper.make_empty_tensor_value_info(o) for o in outs if o])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(domain, version)])
    values = iter(ReferenceEvaluator(model).run(None, feeds))
    return tuple(next(values) if o else None for o in outs)


def compare_models(reference: onnx.ModelProto, candidate: onnx.ModelProto, *, seed: int = 0,
                   feeds: Mapping[str, np.ndarray] | None = None,
                   expected: Outputs | list[np.ndarray] | None = None,
                   atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL) -> tuple[ParityReport | None, str]:
    """``(report, note)``: the per-output comparison, or None and why the models could not be compared.

    ``expected`` (the reference's outputs on ``feeds``, by name or in output order) saves running it again.
    """
    try:
        feeds = dict(feeds) if feeds is not None else make_inputs(reference, seed=seed)
    except RunFailed as exc:
        return None, f"outputs not compared: {exc}"
    via = ""
    ref_names = [o.name for o in reference.graph.output]
    if expected is None:
        try:
            expected, how = evaluate(reference, feeds)
        except RunFailed as exc:
            return None, f"the original model {exc}, so outputs could not be compared"
        via = f" (original run in {how})" if how else ""
    elif not isinstance(expected, dict):
        expected = dict(zip(ref_names, expected))
    try:
        actual = dict(zip([o.name for o in candidate.graph.output], run(candidate, feeds)))
    except RunFailed as exc:
        return None, f"the repaired model does not run in onnxruntime: {exc}"
    report, note = compare_named(expected, actual, ref_names, [o.name for o in candidate.graph.output],
                                 atol=atol, rtol=rtol)
    if report is None:
        return None, note
    return report, report.summary() + note + via


def compare_named(expected: Outputs, actual: Outputs, ref_names: Sequence[str], cand_names: Sequence[str], *,
                  atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL) -> tuple[ParityReport | None, str]:
    """Compare two models' outputs: by name when they share output names, else by position.

    An output of the reference the candidate lost fails the comparison; outputs only one side has a value
    for (one the original never computed, one the repair added) are named in the note, not compared.
    Returns ``(None, why)`` when no output can be compared.
    """
    if set(ref_names) & set(cand_names):
        pairs = [(n, n) for n in ref_names if n in expected and n in actual]
        lost = [n for n in ref_names if n in expected and n not in cand_names]
    elif len(ref_names) == len(cand_names):
        pairs = [(r, c) for r, c in zip(ref_names, cand_names) if r in expected and c in actual]
        lost = []
    else:
        report = compare_outputs([expected[n] for n in ref_names if n in expected],
                                 [actual[n] for n in cand_names if n in actual], ref_names, atol=atol, rtol=rtol)
        return report, ""
    paired = {c for _, c in pairs}
    uncomputed = [n for n in ref_names if n not in expected and n in cand_names]
    new = [n for n in cand_names if n not in paired and n not in uncomputed and n not in ref_names]
    notes = []
    if uncomputed or new:
        notes.append(f"not compared: {', '.join(map(repr, uncomputed + new))} (the original computes no such output)")
    if not pairs and not lost:
        return None, "no output could be compared" + (f"; {notes[0]}" if notes else "")
    report = compare_outputs([expected[r] for r, _ in pairs], [actual[c] for _, c in pairs], [r for r, _ in pairs],
                             atol=atol, rtol=rtol)
    for n in lost:
        report.outputs.append(OutputParity(n, float("inf"), float("inf"), False, tuple(np.shape(expected[n])), None,
                                           note="the repaired model no longer has this output"))
    return report, "".join(f"; {n}" for n in notes)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
