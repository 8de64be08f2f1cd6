"""``repair``: apply the fixes a check found, one pass at a time, each one checked, then check again.

One loop (:func:`run_fixes`) serves ONNX models and specs alike: the fix ids the diagnostics name select the
passes (of the document's scope, in their registered order); each pass is applied, and the document is
checked again after each round, up to :data:`MAX_ROUNDS`. How a pass is applied is the scope's business:

- ONNX models: after every fix pass the model must still pass the ONNX checker (if it did before) and, when
  it runs in onnxruntime, give the same outputs on the same random inputs — unless the fix says it changes
  outputs on purpose. A fix that breaks either is rolled back and reported as refused. At the end the
  original and repaired models are compared end to end.
- specs: fix passes edit the document (there are no weights to compare); the result is checked again.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from onnxbridge.checks.diagnostic import AppliedFix, RepairSummary, Report
from onnxbridge.checks.engine import (
    check,
    filter_report,
    is_spec_path,
    load_onnx_for_check,
    normalize_targets,
)
from onnxbridge.checks.fixes import FixPass, FixRefused, all_fixes
from onnxbridge.checks.registry import all_rules, expand_codes
from onnxbridge.checks.verify import RunFailed, compare_models, compare_named, evaluate, make_inputs, run

MAX_ROUNDS = 3


@dataclass
class Step:
    """What applying one fix pass gave: the record for the summary, and the new document (None: refused)."""

    record: AppliedFix
    document: Any = None


#: ``apply(fix pass, document, codes it answers) -> Step``
ApplyFix = Callable[[FixPass, Any, list[str]], Step]


def run_fixes(document: Any, report: Report, *, wanted: set[str], passes: list[FixPass], apply: ApplyFix,
              recheck: Callable[[Any], Report]) -> tuple[Any, Report, list[AppliedFix]]:
    """The repair loop: apply the passes the ``wanted`` diagnostics of ``report`` name, check again, repeat.

    A refused pass is not tried again; the loop stops when no wanted diagnostic has a fix left, when a round
    changes nothing, or after :data:`MAX_ROUNDS`. Returns the repaired document, the check of it, and one
    record per fix id (see :func:`_merge`; refusals only where their codes remain).
    """
    refused: set[str] = set()
    records: list[AppliedFix] = []
    for _ in range(MAX_ROUNDS):
        ids = {d.fix.id for d in report if d.fix is not None and d.code in wanted} - refused
        if not ids:
            break
        progressed = False
        for fp in passes:
            if fp.id not in ids:
                continue
            codes = sorted({d.code for d in report if d.fix is not None and d.fix.id == fp.id})
            step = apply(fp, document, codes)
            records.append(step.record)
            if step.document is None:
                refused.add(fp.id)
                continue
            document, progressed = step.document, True
        if not progressed:
            break
        report = recheck(document)
    # ``report`` is now the check of ``document``, whichever way the loop ended; a refusal whose problem
    # another fix solved is not worth reporting
    remaining = set(report.codes())
    return document, report, [r for r in _merge(records) if r.applied or set(r.codes) & remaining]


def repair(model_or_spec: Any, *, select: Any = None, ignore: Any = None, targets: Any = None,
           verify: bool = True, seed: int = 0, options: dict[str, Any] | None = None) -> tuple[Any, Report]:
    """Apply every available fix (or those of the ``select``-ed codes) and check again.

    Returns the repaired model (or spec) and the report of the repaired one; ``report.repair`` says
    which fixes ran, which were refused and why, and how the outputs compare with the original's.

    Example::

        fixed, report = onnxbridge.repair("model.onnx")
        print(report.repair.parity.summary())
    """
    if isinstance(model_or_spec, (str, os.PathLike)) and is_spec_path(model_or_spec) or \
            not isinstance(model_or_spec, (str, os.PathLike, onnx.ModelProto)):
        return repair_spec(model_or_spec, select=select, ignore=ignore, targets=targets)
    opts = dict(options or {})
    source = None
    if isinstance(model_or_spec, onnx.ModelProto):
        original = model_or_spec
    else:
        source = str(model_or_spec)
        original, facts = load_onnx_for_check(model_or_spec)
        opts = {**facts, **opts}
    before = check(original, targets=targets, options=opts)
    summary = RepairSummary(before=list(before.diagnostics))
    verifier = _ModelVerifier(original, seed, strict=bool(opts.get("strict_rules")))
    current, report, summary.fixes = run_fixes(
        original, before, wanted=_wanted(select, ignore), passes=_passes("onnx"), apply=verifier.apply,
        recheck=lambda model: check(model, targets=targets, options=opts))
    summary.fixed = sorted(set(before.codes()) - set(report.codes()))
    final = filter_report(report, select, ignore)
    final.source = source
    if verify and summary.applied:
        summary.parity, summary.parity_note = compare_models(original, current, seed=seed)
    elif verify:
        summary.parity_note = "nothing was changed"
    final.repair = summary
    return current, final


def repair_spec(source: Any, *, select: Any = None, ignore: Any = None, targets: Any = None
                ) -> tuple[dict[str, Any], Report]:
    """Apply spec fixes (document edits), re-checking after each round; returns the new spec data and its report."""
    from onnxbridge.checks.spec import read_spec_document

    target_list = normalize_targets(targets)
    data, path = read_spec_document(source)
    before = check(data, targets=target_list)
    summary = RepairSummary(before=list(before.diagnostics))
    current, report, summary.fixes = run_fixes(
        data, before, wanted=_wanted(select, ignore), passes=_passes("spec"), apply=_apply_spec_fix,
        recheck=lambda spec: check(spec, targets=target_list))
    summary.fixed = sorted(set(before.codes()) - set(report.codes()))
    summary.parity_note = "spec fixes edit layers; the repaired spec was re-checked (it has no weights to compare)"
    final = filter_report(report, select, ignore)
    final.source = path
    final.repair = summary
    return current, final


def _wanted(select: Any, ignore: Any) -> set[str]:
    codes = (expand_codes(select) or set()) if select is not None else set(all_rules())
    return codes - (expand_codes(ignore) or set())


def _passes(scope: str) -> list[FixPass]:
    return [fp for fp in all_fixes().values() if fp.scope == scope]


def _apply_spec_fix(fp: FixPass, data: dict[str, Any], codes: list[str]) -> Step:
    try:
        fixed, description = fp.func(data)
    except FixRefused as exc:
        return Step(AppliedFix(fp.id, codes, fp.summary, applied=False, reason=str(exc)))
    return Step(AppliedFix(fp.id, codes, description), fixed)


class _ModelVerifier:
    """Applies fix passes to an ONNX model, each one checked and verified against the model before it.

    The outputs it compares with come from onnxruntime, or from ONNX's reference evaluator when onnxruntime
    refuses the model (``verify.evaluate``); once a model runs in onnxruntime, every later fix must keep it so.
    """

    def __init__(self, model: onnx.ModelProto, seed: int, *, strict: bool):
        self.feeds: dict[str, np.ndarray] = {}
        self.expected, self.in_ort = None, False
        try:
            self.feeds = make_inputs(model, seed=seed)
            self.expected, via = evaluate(model, self.feeds)
            self.in_ort = not via
        except RunFailed:
            self.expected = None
        self.changes_outputs = {r.fix: r.changes_outputs for r in all_rules().values() if r.fix}
        self.strict, self.seed = strict, seed

    def apply(self, fp: FixPass, model: onnx.ModelProto, codes: list[str]) -> Step:
        changes_outputs = self.changes_outputs.get(fp.id, False)

        def refuse(reason: str) -> Step:
            return Step(AppliedFix(fp.id, codes, fp.summary, changes_outputs, applied=False, reason=reason))

        try:
            fixed, description = fp.func(model)
        except FixRefused as exc:
            return refuse(str(exc))
        except Exception as exc:  # noqa: BLE001 - a fix that crashes is refused, never half-applied
            if self.strict:
                raise
            return refuse(f"the fix failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}")
        if _passes_checker(model) and not _passes_checker(fixed):
            return refuse(f"the result would not pass the ONNX checker ({_checker_error(fixed)})")
        if self.expected is not None:
            try:
                if self.in_ort:
                    outputs, via = dict(zip([o.name for o in fixed.graph.output], run(fixed, self.feeds))), ""
                else:
                    outputs, via = evaluate(fixed, self.feeds)
            except RunFailed as exc:
                return refuse(f"the result does not run in onnxruntime any more ({exc})" if self.in_ort else
                              f"the result {exc}")
            if not changes_outputs:
                report, _ = compare_named(self.expected, outputs, [o.name for o in model.graph.output],
                                          [o.name for o in fixed.graph.output])
                if report is not None and not report.ok:
                    return refuse(f"the result changes the outputs ({report.summary()})")
            self.expected, self.in_ort = outputs, not via
        else:  # the model did not run before: see whether it does now, to verify later fixes
            try:
                self.feeds = make_inputs(fixed, seed=self.seed)
                self.expected, via = evaluate(fixed, self.feeds)
                self.in_ort = not via
            except RunFailed:
                self.feeds, self.expected = {}, None
        return Step(AppliedFix(fp.id, codes, description, changes_outputs), fixed)


def _merge(records: list[AppliedFix]) -> list[AppliedFix]:
    """One line per fix id: applied ones keep every description; a refusal after success is dropped."""
    merged: dict[str, AppliedFix] = {}
    for r in records:
        prev = merged.get(r.id)
        if prev is None:
            merged[r.id] = r
        elif r.applied and prev.applied:
            prev.description += f"; {r.description}"
            prev.codes = sorted(set(prev.codes) | set(r.codes))
        elif r.applied:
            merged[r.id] = r
    return list(merged.values())


def _passes_checker(model: onnx.ModelProto) -> bool:
    return _checker_error(model) is None


def _checker_error(model: onnx.ModelProto) -> str | None:
    try:
        onnx.checker.check_model(model, full_check=True)
        return None
    except Exception as exc:  # noqa: BLE001
        lines = str(exc).strip().splitlines()
        return lines[0][:200] if lines else type(exc).__name__


def write_model(model: onnx.ModelProto, path: str | os.PathLike) -> list[Path]:
    """Write a (repaired) model atomically; returns the files written.

    A model marked by the ``external-data`` fix is written with its weights in ``<name>.data`` beside
    it (the marker itself is not written); models over 2 GB always are (``onnxbridge.ir.save_model``).
    """
    from onnxbridge.checks.analysis import EXTERNAL_MARKER
    from onnxbridge.ir.io import save_model

    p = Path(path)
    if not any(m.key == EXTERNAL_MARKER for m in model.metadata_props):
        return [save_model(model, p)]
    out = onnx.ModelProto()
    out.CopyFrom(model)
    keep = [m for m in out.metadata_props if m.key != EXTERNAL_MARKER]
    del out.metadata_props[:]
    out.metadata_props.extend(keep)
    p.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent))
    try:
        onnx.save_model(out, str(staging / p.name), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=p.name + ".data", size_threshold=1024)
        written = []
        # the .data file first, so the .onnx never points at weights that are not there yet
        for item in sorted(staging.iterdir(), key=lambda f: f.suffix != ".data"):
            os.replace(item, p.parent / item.name)
            written.append(p.parent / item.name)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def repair_file(source: str | os.PathLike, output: str | os.PathLike | None = None, *, in_place: bool = False,
                select: Any = None, ignore: Any = None, targets: Any = None, seed: int = 0) -> Report:
    """Repair the model or spec in ``source`` and write the result to ``output`` (atomically).

    The input is never overwritten unless ``in_place`` is set, and nothing is written unless the repair made
    the model better (see :func:`not_better`). Returns the report of the repaired model, with
    ``report.repair.output`` naming the file written, or ``report.repair.not_written`` saying why none was.
    """
    from onnxbridge.errors import OnnxBridgeError

    src = Path(source)
    if output is None and not in_place:
        raise OnnxBridgeError("--fix needs somewhere to write the result",
                              hint="pass -o OUTPUT, or --in-place to overwrite the input")
    if output is not None and in_place:
        raise OnnxBridgeError("give either -o OUTPUT or --in-place, not both")
    dest = src if in_place else Path(output)  # type: ignore[arg-type]
    if not in_place and dest.exists() and src.exists() and dest.resolve() == src.resolve():
        raise OnnxBridgeError(f"{dest}: is the input file", hint="pass --in-place to overwrite the input")
    if dest.is_dir():
        raise OnnxBridgeError(f"{dest}: is a directory, expected a file path")
    if is_spec_path(src) != is_spec_path(dest):
        want = "a spec (.yaml/.yml/.json)" if is_spec_path(src) else "an ONNX model (.onnx)"
        raise OnnxBridgeError(f"{dest}: the repaired {'spec' if is_spec_path(src) else 'model'} is {want}",
                              hint=f"choose an output name ending in {'.yaml' if is_spec_path(src) else '.onnx'}")
    fixed, report = repair(src, select=select, ignore=ignore, targets=targets, seed=seed)
    assert report.repair is not None
    reason = not_better(fixed, report, is_spec=is_spec_path(src))
    if reason is not None:
        report.repair.not_written = f"nothing written to {dest}: {reason}"
        return report
    if is_spec_path(src):
        _write_spec(fixed, dest)
    else:
        write_model(fixed, dest)
    report.repair.output = str(dest)
    return report


def not_better(fixed: Any, report: Report, *, is_spec: bool = False) -> str | None:
    """Why the repaired model (or spec) is not worth writing, or None when it is: something was fixed, no new
    error appeared, a model passes the full ONNX checker, and its outputs match the original's."""
    summary = report.repair
    assert summary is not None
    if not summary.applied:
        if not len(report):
            return "there is nothing to fix"
        codes = ", ".join(report.codes())
        if not report.fixable:
            return f"no automatic fix exists for what remains ({codes})"
        return f"every fix was refused ({codes} remain)"
    new_errors = sorted({d.code for d in report.errors} - {d.code for d in summary.before if d.level.value == "error"})
    if new_errors:
        return f"the repair would introduce errors ({', '.join(new_errors)})"
    if not is_spec:
        problem = _checker_error(fixed)
        if problem is not None:
            return f"the repaired model still fails the ONNX checker ({problem})"
    if summary.verified is False and not summary.outputs_changed_on_purpose:
        return f"the repaired model's outputs differ from the original's ({summary.parity_note})"
    return None


def _write_spec(data: dict[str, Any], path: Path) -> None:
    import json

    import yaml

    from onnxbridge.ir.io import atomic_write

    text = json.dumps(data, indent=2) + "\n" if path.suffix.lower() == ".json" else \
        yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=110)
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
