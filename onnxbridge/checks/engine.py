"""The rule engine: load a model or a spec, run every rule of its scope, collect the diagnostics into a Report.

One loop serves both scopes: :func:`run_rules` runs every rule registered for a context's scope
(``ModelContext``: "onnx", ``SpecContext``: "spec"); a rule that crashes becomes a note and never hides
the others. :func:`diagnose` adds what a scope needs besides its own rules: a valid spec checked against
targets is lowered, and the target rules run on the model it becomes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import onnx

from onnxbridge.checks.context import ModelContext
from onnxbridge.checks.diagnostic import Diagnostic, Report
from onnxbridge.checks.registry import all_rules, expand_codes
from onnxbridge.checks.spec import SpecContext, spec_context
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
    """Whether ``path`` names a spec document (by its suffix) rather than an ONNX model."""
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
    dict, or a ``.yaml``/``.json`` path). ``targets`` adds target-compatibility rules (a framework bridge:
    ``torch``, ``tensorflow``; an execution provider: ``cpu``, ``cuda``). ``select``/``ignore`` keep or drop
    codes (``"OB101,OB2"``: a prefix selects a group). Bad input (unreadable, empty, not ONNX) raises an
    ``OnnxBridgeError``.

    Example::

        report = onnxbridge.check("model.onnx", targets=["torch"])
        for d in report.errors:
            print(d.code, d.message, d.suggestion)
    """
    target_list = normalize_targets(targets)
    selected, ignored = expand_codes(select), expand_codes(ignore)
    ctx, source = load_context(model_or_spec, target_list, dict(options or {}))
    diagnostics, notes = diagnose(ctx)
    report = Report(diagnostics, source=source, kind=ctx.scope, targets=target_list, notes=notes)
    return _filtered(report, selected, ignored)


def load_context(model_or_spec: Any, targets: list[str], options: dict[str, Any]
                 ) -> tuple[ModelContext | SpecContext, str | None]:
    """The context rules look at (an indexed model, or a planned spec) and the file it came from, if any."""
    if isinstance(model_or_spec, onnx.ModelProto):
        return ModelContext.from_model(model_or_spec, targets=tuple(targets), options=options), None
    if isinstance(model_or_spec, (str, os.PathLike)) and not is_spec_path(model_or_spec):
        model, facts = load_onnx_for_check(model_or_spec)
        ctx = ModelContext.from_model(model, targets=tuple(targets), options={**facts, **options})
        return ctx, str(model_or_spec)
    planned = spec_context(model_or_spec, targets=tuple(targets), options=options)
    return planned, str(model_or_spec) if isinstance(model_or_spec, (str, os.PathLike)) else None


def run_rules(ctx: ModelContext | SpecContext, scope: str, *, families: set[str] | None = None
              ) -> tuple[list[Diagnostic], list[str]]:
    """Run every rule registered for ``scope`` ("onnx" or "spec") on ``ctx`` (only those of ``families``,
    when given). A rule that crashes is noted (or re-raised with ``options["strict_rules"]``), never hides
    the others."""
    diagnostics: list[Diagnostic] = []
    notes: list[str] = []
    for code, r in all_rules().items():
        if r.scope != scope or (families is not None and r.family not in families):
            continue
        try:
            diagnostics.extend(r.diagnostic(f) for f in r.func(ctx))
        except Exception as exc:  # noqa: BLE001 - one broken rule must not hide the rest
            if ctx.options.get("strict_rules"):
                raise
            notes.append(f"rule {code} ({r.name}) could not run on this {ctx.subject}: {type(exc).__name__}: {exc}")
    return diagnostics, notes


def diagnose(ctx: ModelContext | SpecContext) -> tuple[list[Diagnostic], list[str]]:
    """Every diagnostic for ``ctx``: the rules of its scope, and for a valid spec with targets, the target
    rules on the model the spec lowers to (compatibility is a property of the ONNX graph)."""
    diagnostics, notes = run_rules(ctx, ctx.scope)
    if isinstance(ctx, SpecContext) and ctx.targets and ctx.is_valid:
        from onnxbridge.spec.lower import lower_plan

        model = lower_plan(ctx.spec, ctx.plan, ctx.shapes)
        lowered = ModelContext.from_model(model, targets=ctx.targets, options=dict(ctx.options))
        found, more = run_rules(lowered, lowered.scope)
        diagnostics += [d for d in found if d.family == "targets"]
        notes += more
    return diagnostics, notes


def filter_report(report: Report, select: Any = None, ignore: Any = None) -> Report:
    """The report keeping only the ``select``-ed codes and dropping the ``ignore``-d ones."""
    return _filtered(report, expand_codes(select), expand_codes(ignore))


def _filtered(report: Report, selected: set[str] | None, ignored: set[str] | None) -> Report:
    report.diagnostics = [d for d in report.diagnostics if (selected is None or d.code in selected)
                          and (ignored is None or d.code not in ignored)]
    report.sort()
    return report
