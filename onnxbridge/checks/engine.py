"""``check``: load a model or a spec, run every rule, and collect the diagnostics into a Report."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import onnx

from onnxbridge.checks.context import ModelContext
from onnxbridge.checks.diagnostic import Diagnostic, Report
from onnxbridge.checks.registry import all_rules, expand_codes
from onnxbridge.errors import ModelLoadError, OnnxBridgeError

SPEC_SUFFIXES = (".yaml", ".yml", ".json")
#: onnxruntime execution providers a model can be checked against (the frameworks come from their bridges)
PROVIDER_TARGETS = ("cpu", "cuda")


def targets() -> tuple[str, ...]:
    """Every check target: each framework bridge's name, then the execution providers."""
    from onnxbridge.frameworks.bridges import names

    return (*names(), *PROVIDER_TARGETS)


def normalize_targets(targets_: Any) -> list[str]:
    """``"torch,cpu"`` or ``["torch", "cpu"]`` -> ``["torch", "cpu"]``; unknown names are an error."""
    from onnxbridge.frameworks.bridges import find_bridge

    if targets_ is None:
        return []
    items = [targets_] if isinstance(targets_, str) else list(targets_)
    known = targets()
    out: list[str] = []
    for item in items:
        for part in str(item).split(","):
            part = part.strip().lower()
            if not part:
                continue
            bridge = find_bridge(part)
            if bridge is not None:
                part = bridge.name
            if part not in known:
                raise OnnxBridgeError(f"unknown target {part!r}", hint=f"choose from {', '.join(known)}")
            if part not in out:
                out.append(part)
    return out


def is_spec_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in SPEC_SUFFIXES


def load_onnx_for_check(path: str | os.PathLike) -> tuple[onnx.ModelProto, dict[str, Any]]:
    """Load an ONNX file (external data included) and note facts rules need about how it was stored."""
    from onnx.external_data_helper import load_external_data_for_model, uses_external_data

    from onnxbridge.ir.io import load_model

    p = Path(path)
    model = load_model(p, load_external_data=False)
    external = any(uses_external_data(t) for t in model.graph.initializer)
    if external:
        try:
            load_external_data_for_model(model, str(p.parent))
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"{p}: cannot read its external data ({exc})",
                                 hint="keep the .data file next to the .onnx file it belongs to") from None
    return model, {"stored_external": external}


def check(model_or_spec: Any, *, targets: Any = None, select: Any = None, ignore: Any = None,
          options: dict[str, Any] | None = None) -> Report:
    """Check an ONNX model or a network spec and return every diagnostic at once.

    ``model_or_spec`` is an ``onnx.ModelProto``, a path to an ``.onnx`` file, or a spec (a ``Spec``, a
    dict, or a ``.yaml``/``.json`` path). ``targets`` adds target-compatibility rules (``torch``,
    ``tensorflow``, ``cpu``, ``cuda``). ``select``/``ignore`` keep or drop codes (``"OB101,OB2"``:
    a prefix selects a group). Bad input (unreadable, empty, not ONNX) raises an ``OnnxBridgeError``.

    Example::

        report = onnxbridge.check("model.onnx", targets=["torch"])
        for d in report.errors:
            print(d.code, d.message, d.suggestion)
    """
    target_list = normalize_targets(targets)
    selected, ignored = expand_codes(select), expand_codes(ignore)
    opts = dict(options or {})
    source = None
    if isinstance(model_or_spec, onnx.ModelProto):
        diagnostics, notes = run_onnx_rules(model_or_spec, target_list, opts)
        kind = "onnx"
    elif isinstance(model_or_spec, (str, os.PathLike)) and not is_spec_path(model_or_spec):
        source = str(model_or_spec)
        model, facts = load_onnx_for_check(model_or_spec)
        diagnostics, notes = run_onnx_rules(model, target_list, {**facts, **opts})
        kind = "onnx"
    else:
        from onnxbridge.checks.spec import run_spec_rules

        source = str(model_or_spec) if isinstance(model_or_spec, (str, os.PathLike)) else None
        diagnostics, notes = run_spec_rules(model_or_spec, target_list, opts)
        kind = "spec"
    report = Report(diagnostics, source=source, kind=kind, targets=target_list, notes=notes)
    return _filtered(report, selected, ignored)


def filter_report(report: Report, select: Any = None, ignore: Any = None) -> Report:
    """The report keeping only the ``select``-ed codes and dropping the ``ignore``-d ones."""
    return _filtered(report, expand_codes(select), expand_codes(ignore))


def _filtered(report: Report, selected: set[str] | None, ignored: set[str] | None) -> Report:
    report.diagnostics = [d for d in report.diagnostics if (selected is None or d.code in selected)
                          and (ignored is None or d.code not in ignored)]
    report.sort()
    return report


def run_onnx_rules(model: onnx.ModelProto, targets: list[str], options: dict[str, Any]
                   ) -> tuple[list[Diagnostic], list[str]]:
    """Run every ONNX-scope rule on ``model``; a rule that crashes is noted, never hides the others."""
    ctx = ModelContext.from_model(model, targets=tuple(targets), options=options)
    diagnostics: list[Diagnostic] = []
    notes: list[str] = []
    for code, r in all_rules().items():
        if r.scope != "onnx":
            continue
        try:
            diagnostics.extend(r.diagnostic(f) for f in r.func(ctx))
        except Exception as exc:  # noqa: BLE001 - one broken rule must not hide the rest
            if options.get("strict_rules"):
                raise
            notes.append(f"rule {code} ({r.name}) could not run on this model: {type(exc).__name__}: {exc}")
    return diagnostics, notes
