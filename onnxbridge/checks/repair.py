"""``repair``: apply the fixes a check found, one pass at a time, each one checked and verified.

After every fix pass the model must still pass the ONNX checker (if it did before) and, when the model
runs in onnxruntime, give the same outputs on the same random inputs — unless the fix says it changes
outputs on purpose. A fix that breaks either is rolled back and reported as refused. Then the model is
checked again, and the original and repaired models are compared end to end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import onnx

from onnxbridge.checks.diagnostic import AppliedFix, RepairSummary, Report
from onnxbridge.checks.engine import check, filter_report, is_spec_path, load_onnx_for_check
from onnxbridge.checks.fixes import FixRefused, all_fixes
from onnxbridge.checks.registry import all_rules, expand_codes
from onnxbridge.checks.verify import RunFailed, compare_models, make_inputs, run

MAX_ROUNDS = 3


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
        from onnxbridge.checks.spec import repair_spec

        return repair_spec(model_or_spec, select=select, ignore=ignore, targets=targets)
    opts = dict(options or {})
    source = None
    if isinstance(model_or_spec, onnx.ModelProto):
        original = model_or_spec
    else:
        source = str(model_or_spec)
        original, facts = load_onnx_for_check(model_or_spec)
        opts = {**facts, **opts}
    wanted_codes = _wanted(select, ignore)
    before = check(original, targets=targets, options=opts)
    summary = RepairSummary(before=list(before.diagnostics))
    feeds, expected = _reference_run(original, seed)
    passes = all_fixes()
    changes_outputs = {r.fix: r.changes_outputs for r in all_rules().values() if r.fix}
    current, report = original, before
    refused: set[str] = set()
    for _ in range(MAX_ROUNDS):
        ids = {d.fix.id for d in report if d.fix is not None and d.code in wanted_codes} - refused
        if not ids:
            break
        progressed = False
        for fp in passes.values():
            if fp.id not in ids:
                continue
            codes = sorted({d.code for d in report if d.fix is not None and d.fix.id == fp.id})
            outcome = _apply(fp, current, codes, changes_outputs.get(fp.id, False), feeds, expected,
                             strict=bool(opts.get("strict_rules")))
            summary.fixes.append(outcome.record)
            if outcome.model is None:
                refused.add(fp.id)
                continue
            current, feeds, expected, progressed = outcome.model, outcome.feeds, outcome.expected, True
        if not progressed:
            break
        report = check(current, targets=targets, options=opts)
    # ``report`` is now the check of ``current``, whichever way the loop ended
    summary.fixed = sorted(set(before.codes()) - set(report.codes()))
    final = filter_report(report, select, ignore)
    final.source = source
    summary.fixes = _merge(summary.fixes)
    if verify and summary.applied:
        summary.parity, summary.parity_note = compare_models(original, current, seed=seed)
    elif verify:
        summary.parity_note = "nothing was changed"
    final.repair = summary
    return current, final


def _wanted(select: Any, ignore: Any) -> set[str]:
    codes = expand_codes(select) if select is not None else set(all_rules())
    return codes - (expand_codes(ignore) or set())


def _reference_run(model: onnx.ModelProto, seed: int):
    try:
        feeds = make_inputs(model, seed=seed)
        return feeds, run(model, feeds)
    except RunFailed:
        return None, None


class _Outcome:
    def __init__(self, record: AppliedFix, model: onnx.ModelProto | None = None, feeds: Any = None,
                 expected: Any = None):
        self.record, self.model, self.feeds, self.expected = record, model, feeds, expected


def _apply(fp, model: onnx.ModelProto, codes: list[str], changes_outputs: bool, feeds, expected, *,
           strict: bool = False) -> _Outcome:
    def refuse(reason: str) -> _Outcome:
        return _Outcome(AppliedFix(fp.id, codes, fp.summary, changes_outputs, applied=False, reason=reason))

    try:
        fixed, description = fp.func(model)
    except FixRefused as exc:
        return refuse(str(exc))
    except Exception as exc:  # noqa: BLE001 - a fix that crashes is refused, never half-applied
        if strict:
            raise
        return refuse(f"the fix failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}")
    if _passes_checker(model) and not _passes_checker(fixed):
        return refuse(f"the result would not pass the ONNX checker ({_checker_error(fixed)})")
    new_expected = None
    if feeds is not None and expected is not None:
        try:
            new_expected = run(fixed, feeds)
        except RunFailed as exc:
            return refuse(f"the result does not run in onnxruntime ({exc})")
        if not changes_outputs:
            report, _ = compare_models(model, fixed, feeds=feeds, expected=expected)
            if report is not None and not report.ok:
                return refuse(f"the result changes the outputs ({report.summary()})")
    elif feeds is None:
        try:  # the model did not run before: see whether it does now, to verify later fixes
            fresh = make_inputs(fixed)
            feeds, new_expected = fresh, run(fixed, fresh)
        except RunFailed:
            pass
    return _Outcome(AppliedFix(fp.id, codes, description, changes_outputs), fixed, feeds, new_expected)


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
    from onnxbridge.checks.rules.hygiene import EXTERNAL_MARKER
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

    The input is never overwritten unless ``in_place`` is set. Returns the report of the repaired
    model, with ``report.repair.output`` naming the file written.
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
    if is_spec_path(src):
        _write_spec(fixed, dest)
    else:
        write_model(fixed, dest)
    assert report.repair is not None
    report.repair.output = str(dest)
    return report


def _write_spec(data: dict[str, Any], path: Path) -> None:
    import json

    import yaml

    from onnxbridge.ir.io import atomic_write

    text = json.dumps(data, indent=2) + "\n" if path.suffix.lower() == ".json" else \
        yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=110)
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
