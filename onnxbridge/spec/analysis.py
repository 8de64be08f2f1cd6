"""A spec's live analysis as data: per-layer shapes and parameter counts plus every check's diagnostics.

This is what an editor shows while a network is drawn: the planner's shape report (``onnxbridge
summary``) and the spec rules' diagnostics (``onnxbridge check``), in one call, with the partial shapes
kept when some layers are broken (those downstream of a fault are "not inferred", as in the CLI).
:func:`apply_fix` applies one linter fix to a spec and analyses the result.

Example::

    analysis = analyse_spec(yaml.safe_load(open("models/digits_cnn.yaml")))
    analysis.ok, analysis.summary.total_params, [d.code for d in analysis.diagnostics]
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from onnxbridge.checks.diagnostic import AppliedFix, Diagnostic, Level
from onnxbridge.errors import SpecError
from onnxbridge.spec.plan import ShapeReport
from onnxbridge.spec.plan_memo import PlanMemo


@dataclass
class StructureProblem:
    """A problem that keeps the spec from resolving (unknown type, bad parameter, dangling reference)."""

    message: str
    layers: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The problem as JSON data: its message and the layers it names."""
        return {"message": self.message, "layers": list(self.layers)}


@dataclass
class SpecAnalysis:
    """Shapes, parameter counts and diagnostics of one spec document.

    ``summary`` is None only when the document itself does not validate (e.g. a layer without ``type``);
    otherwise it has a row per layer, also when some of them are broken.
    """

    summary: ShapeReport | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    structure: list[StructureProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    elapsed_ms: float = 0.0

    @property
    def ok(self) -> bool:
        """No errors (warnings and suggestions do not count)."""
        return not any(d.level is Level.error for d in self.diagnostics)

    def to_dict(self) -> dict[str, Any]:
        """The analysis as JSON data: verdict, shape summary, diagnostics, structure problems, notes and time
        taken."""
        return {"ok": self.ok, "summary": None if self.summary is None else self.summary.to_dict(),
                "diagnostics": [d.to_dict() for d in self.diagnostics],
                "structure": [p.to_dict() for p in self.structure], "notes": list(self.notes),
                "elapsed_ms": round(self.elapsed_ms, 3)}


def analyse_spec(data: dict[str, Any], *, targets: tuple[str, ...] = (), memo: PlanMemo | None = None
                 ) -> SpecAnalysis:
    """Plan ``data`` (a spec as plain data) and run the spec checks on it; never raises for bad specs.

    Every problem of the document is a diagnostic (code, level, message, layers, suggestion, fix). An
    editor that analyses one document after each edit passes the same ``memo`` every time: the layers the
    edit left alone (same definition, same input types) are looked up instead of planned again, with the
    same result.
    """
    from onnxbridge.checks.engine import diagnose
    from onnxbridge.checks.spec import analyse, layer_of
    from onnxbridge.spec.plan import plan_spec_partial

    start = time.perf_counter()
    if not isinstance(data, dict):
        raise SpecError(f"expected a spec mapping with 'inputs' and 'layers', got {type(data).__name__}")
    ctx = analyse(data, targets=tuple(targets), memo=memo)
    diagnostics, notes = diagnose(ctx)
    summary = ctx.shapes
    if summary is None and ctx.spec is not None:
        # the planner stopped at structural problems: plan again, keeping what can be shaped
        _, summary, _ = plan_spec_partial(ctx.spec, memo=memo)
    diagnostics.sort(key=lambda d: (d.level.rank, d.code, d.where))
    structure = [StructureProblem(p, layer_of(p)) for p in ctx.structure]
    return SpecAnalysis(summary, diagnostics, structure, notes, (time.perf_counter() - start) * 1000)


@dataclass
class Connectivity:
    """Which top-level layers are on no path from a graph input to a graph output, and one line saying so."""

    unconnected: list[str]

    @property
    def warning(self) -> str | None:
        """``2 layers are not connected from an input to an output: 'a', 'b'`` (None when all are)."""
        from onnxbridge.checks.rules._util import agree, listing, plural

        n = len(self.unconnected)
        if not n:
            return None
        return (f"{plural(n, 'layer')} {agree(n, 'is', 'are')} not connected from an input to an output: "
                f"{listing(self.unconnected)}")

    def to_dict(self) -> dict[str, Any]:
        """The layers on no input-to-output path, and the warning line, as JSON data."""
        return {"unconnected": list(self.unconnected), "warning": self.warning}


def check_connectivity(data: dict[str, Any]) -> Connectivity:
    """Find the layers of ``data`` (a spec as plain data) that no path from an input to an output runs
    through: not wired in, fed only by such layers, or feeding nothing that reaches an output. A document
    that does not validate has none to report (its problems are the analysis's).

    Example::

        check_connectivity(spec).warning   # "1 layer is not connected from an input to an output: 'relu'"
    """
    from onnxbridge.checks.analysis import unconnected_layers
    from onnxbridge.checks.spec import analyse

    if not isinstance(data, dict):
        raise SpecError(f"expected a spec mapping with 'inputs' and 'layers', got {type(data).__name__}")
    return Connectivity(unconnected_layers(analyse(data)))


@dataclass
class FixOutcome:
    """The spec after one fix, what the fix passes did, and the new analysis."""

    spec: dict[str, Any]
    applied: list[AppliedFix]
    analysis: SpecAnalysis

    def to_dict(self) -> dict[str, Any]:
        """The outcome as JSON data: the fixed spec, the fixes applied and the analysis of the result."""
        return {"spec": self.spec, "applied": [f.to_dict() for f in self.applied],
                "analysis": self.analysis.to_dict()}


def apply_fix(data: dict[str, Any], code: str, layers: list[str] | tuple[str, ...] = (), *,
              memo: PlanMemo | None = None) -> FixOutcome:
    """Apply the linter's fix for diagnostic ``code`` to ``data`` and re-check the result.

    ``layers`` names the layer(s) the diagnostic was shown on; the fix must be offered there (else a
    :class:`SpecError` says so). A fix pass repairs every occurrence of its problem in the spec, as
    ``onnxbridge check --fix --select CODE`` does. ``memo`` is passed to both analyses (see
    :func:`analyse_spec`).

    Example::

        outcome = apply_fix(spec, "OB501", ["fc"])   # inserts a Flatten before fc
        outcome.analysis.ok
    """
    from onnxbridge.checks.repair import repair_spec

    before = analyse_spec(data, memo=memo)
    offered = [d for d in before.diagnostics if d.code == code and d.fix is not None
               and (not layers or set(layers) & set(d.layers))]
    if not offered:
        where = f" at layer(s) {', '.join(layers)}" if layers else ""
        found = sorted({d.code for d in before.diagnostics if d.fix is not None})
        raise SpecError(f"no fixable {code} diagnostic{where} in this spec",
                        hint=f"fixable here: {', '.join(found)}" if found else "nothing in this spec has an automatic fix")
    fixed, report = repair_spec(data, select=[code])
    applied = report.repair.fixes if report.repair is not None else []
    return FixOutcome(fixed, applied, analyse_spec(fixed, memo=memo))
