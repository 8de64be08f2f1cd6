"""Checking and repairing network specs, in layer terms.

The spec's own planner (``onnxbridge.spec.plan.plan_spec``) resolves references and infers every
layer's shape, reporting every problem; this module turns its findings into diagnostics with stable
codes (layer shape rules raise ``LayerShapeError(..., code=...)``), runs the spec rules, and applies
spec fixes — edits of the spec document — re-checking after each.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onnxbridge.checks.diagnostic import AppliedFix, Diagnostic, RepairSummary, Report
from onnxbridge.checks.registry import all_rules, expand_codes
from onnxbridge.errors import SpecError

# "layer conv1 (Conv2d): ..." / "layer block1/conv1 (Conv2d) got ..."
_LAYER_PREFIX = re.compile(r"^layer \[?([A-Za-z_][\w/]*)\]?(?: \(([\w]+)\))?")


@dataclass
class LayerProblem:
    """A shape/type problem at one layer: its path, type, code, what it needs and what to do."""

    path: str
    type_name: str
    code: str
    message: str
    suggestion: str | None
    top_level: bool
    in_ranks: tuple[int, ...] = ()


@dataclass
class SpecContext:
    """What spec rules look at: the document, its plan and shape report, and every problem found."""

    data: dict[str, Any] | None
    spec: Any = None
    plan: Any = None
    shapes: Any = None
    structure: list[str] = field(default_factory=list)
    layer_problems: list[LayerProblem] = field(default_factory=list)
    targets: tuple[str, ...] = ()
    options: dict = field(default_factory=dict)


def read_spec_document(source: Any) -> tuple[dict[str, Any], str | None]:
    """The spec as plain data. Unreadable, empty or malformed files raise (they are bad input, not findings)."""
    from onnxbridge.spec.io import parse_spec_text
    from onnxbridge.spec.schema import Spec

    if isinstance(source, Spec):
        return source.to_dict(), None
    if isinstance(source, dict):
        return copy.deepcopy(source), None
    if hasattr(source, "spec") and not isinstance(source, (str, os.PathLike)):  # a Network under construction
        return source.spec.to_dict(), None
    if not isinstance(source, (str, os.PathLike)):
        raise SpecError(f"cannot check a {type(source).__name__}",
                        hint="pass an onnx.ModelProto, a spec (Spec, dict) or a path to .onnx/.yaml/.json")
    p = Path(source)
    if not p.exists():
        raise SpecError(f"{p}: no such file", hint="check the path")
    if p.is_dir():
        raise SpecError(f"{p}: is a directory, expected a spec file")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{p}: cannot read the file ({exc})") from None
    data = parse_spec_text(text, str(p), json_format=p.suffix.lower() == ".json")
    if not isinstance(data, dict):
        raise SpecError(f"{p}: expected a mapping with 'inputs' and 'layers' at the top, got {type(data).__name__}",
                        hint="see docs/spec.md for the format")
    return data, str(p)


def analyse(data: dict[str, Any], *, targets: tuple[str, ...] = (), options: dict | None = None) -> SpecContext:
    """Validate and plan ``data``, collecting every structural and per-layer problem."""
    from onnxbridge.spec.io import spec_from_dict
    from onnxbridge.spec.plan import plan_spec

    ctx = SpecContext(data, targets=tuple(targets), options=dict(options or {}))
    try:
        ctx.spec = spec_from_dict(data)
    except SpecError as exc:
        ctx.structure = split_problems(exc)
        return ctx
    try:
        ctx.plan, ctx.shapes = plan_spec(ctx.spec)
    except SpecError as exc:
        ctx.structure = split_problems(exc)
        return ctx
    if ctx.shapes.errors:
        ctx.layer_problems = _layer_problems(ctx)
    return ctx


def split_problems(exc: SpecError) -> list[str]:
    """One string per problem of a SpecError, without the '<spec>: ' source prefix."""
    return [p.removeprefix("<spec>: ") for p in (exc.problems or [exc.message])]


def _plan_nodes(plan: Any) -> dict[str, Any]:
    nodes = {}
    for node in plan.nodes:
        nodes[node.path] = node
        if node.block is not None:
            nodes.update(_plan_nodes(node.block))
    return nodes


def _layer_problems(ctx: SpecContext) -> list[LayerProblem]:
    from onnxbridge.spec.registry import LayerShapeError
    from onnxbridge.spec.types import format_shape

    nodes = _plan_nodes(ctx.plan)
    problems = []
    for row in ctx.shapes.rows:
        if row.status != "error" or not row.error:
            continue
        node = nodes.get(row.path)
        code, needs, suggestion, ranks = "OB509", None, None, ()
        if node is not None and node.layer is not None and node.in_infos:
            ranks = tuple(i.rank for i in node.in_infos)
            try:
                node.layer.infer(node.params, list(node.in_infos))
            except LayerShapeError as exc:
                code, needs, suggestion = exc.code or "OB509", exc.needs, exc.suggestion
            except Exception:  # noqa: BLE001 - the planner already reported this layer; keep its words
                pass
        if needs is not None and node is not None:
            shapes = " and ".join(format_shape(i.shape) for i in node.in_infos)
            message = f"layer {row.path} ({row.type}) got {shapes} but {needs}"
        else:
            message = row.error
        problems.append(LayerProblem(row.path, row.type, code, message, suggestion, "/" not in row.path, ranks))
    return problems


def layer_of(problem: str) -> tuple[str, ...]:
    m = _LAYER_PREFIX.match(problem)
    return (m.group(1),) if m else ()


def run_spec_rules(source: Any, targets: list[str], options: dict[str, Any]) -> tuple[list[Diagnostic], list[str]]:
    """Every spec-scope rule on ``source`` (and, for a valid spec with targets, the target rules)."""
    data, _ = read_spec_document(source)
    ctx = analyse(data, targets=tuple(targets), options=options)
    return diagnose(ctx)


def diagnose(ctx: SpecContext) -> tuple[list[Diagnostic], list[str]]:
    diagnostics: list[Diagnostic] = []
    notes: list[str] = []
    for code, r in all_rules().items():
        if r.scope != "spec":
            continue
        try:
            diagnostics.extend(r.diagnostic(f) for f in r.func(ctx))
        except Exception as exc:  # noqa: BLE001 - one broken rule must not hide the rest
            if ctx.options.get("strict_rules"):
                raise
            notes.append(f"rule {code} ({r.name}) could not run on this spec: {type(exc).__name__}: {exc}")
    if ctx.targets and ctx.spec is not None and not ctx.structure and not ctx.layer_problems:
        from onnxbridge.checks.engine import run_onnx_rules
        from onnxbridge.spec.lower import lower_plan

        model = lower_plan(ctx.spec, ctx.plan, ctx.shapes)
        found, more = run_onnx_rules(model, list(ctx.targets), dict(ctx.options))
        diagnostics += [d for d in found if d.family == "targets"]
        notes += more
    return diagnostics, notes


def repair_spec(source: Any, *, select: Any = None, ignore: Any = None, targets: Any = None
                ) -> tuple[dict[str, Any], Report]:
    """Apply spec fixes (document edits), re-checking after each; returns the new spec data and its report."""
    from onnxbridge.checks.engine import filter_report, normalize_targets
    from onnxbridge.checks.fixes import FixRefused, all_fixes

    target_list = normalize_targets(targets)
    data, path = read_spec_document(source)
    wanted = (expand_codes(select) or set(all_rules())) - (expand_codes(ignore) or set())
    ctx = analyse(data, targets=tuple(target_list))
    before, _ = diagnose(ctx)
    summary = RepairSummary(before=sorted(before, key=lambda d: (d.level.rank, d.code)))
    current, diags = data, before
    refused: set[str] = set()
    passes = {k: v for k, v in all_fixes().items() if v.scope == "spec"}
    for _ in range(3):
        ids = {d.fix.id for d in diags if d.fix is not None and d.code in wanted} - refused
        if not ids:
            break
        for fp in passes.values():
            if fp.id not in ids:
                continue
            codes = sorted({d.code for d in diags if d.fix is not None and d.fix.id == fp.id})
            try:
                current, description = fp.func(current)
                summary.fixes.append(AppliedFix(fp.id, codes, description))
            except FixRefused as exc:
                refused.add(fp.id)
                summary.fixes.append(AppliedFix(fp.id, codes, fp.summary, applied=False, reason=str(exc)))
        diags, _ = diagnose(analyse(current, targets=tuple(target_list)))
    after, notes = diagnose(analyse(current, targets=tuple(target_list)))
    summary.fixed = sorted({d.code for d in before} - {d.code for d in after})
    summary.parity_note = "spec fixes edit layers; the repaired spec was re-checked (it has no weights to compare)"
    report = filter_report(Report(after, source=path, kind="spec", targets=target_list, notes=notes), select, ignore)
    report.repair = summary
    return current, report
