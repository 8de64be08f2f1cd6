"""Rendering reports: plain or coloured text for people, JSON (``Report.to_dict``) for tools."""

from __future__ import annotations

import json
from typing import Any

from onnxbridge.checks.diagnostic import Level, Report
from onnxbridge.checks.registry import all_rules

_COLOURS = {Level.error: "bold red", Level.warning: "yellow", Level.suggestion: "cyan"}


def _esc(text: str, color: bool) -> str:
    if not color:
        return text
    from rich.markup import escape

    return escape(text)


def format_text(report: Report, *, color: bool = False) -> str:
    """The report as text: one block per diagnostic (code, level, where, message, suggestion, fix), a
    summary line, and what a repair did. With ``color`` the text carries rich markup."""
    lines: list[str] = []
    if report.source:
        lines.append(_esc(report.source, color))
    for d in report:
        level = d.level.value
        tag = f"[{_COLOURS[d.level]}]{level:<10}[/]" if color else f"{level:<10}"
        lines.append(f"  {d.code} {tag} {_esc(d.message, color)}")  # messages name their nodes/layers
        if d.suggestion:
            lines.append(f"                   suggestion: {_esc(d.suggestion, color)}")
        if d.fix is not None:
            lines.append(f"                   fix (--fix): {_esc(d.fix.description, color)}")
    for note in report.notes:
        lines.append(f"  note: {_esc(note, color)}")
    lines.append(("after repair: " if report.repair is not None else "") + summary_line(report))
    if report.repair is not None:
        lines.extend(_repair_lines(report, color))
    return "\n".join(lines)


def summary_line(report: Report) -> str:
    """One line counting a report's errors, warnings and suggestions (and how many are fixable with --fix)."""
    c = report.counts()
    if not len(report):
        checked = f" (targets: {', '.join(report.targets)})" if report.targets else ""
        return f"no problems found{checked}"
    parts = [f"{c['error']} error(s)", f"{c['warning']} warning(s)", f"{c['suggestion']} suggestion(s)"]
    fixable = len(report.fixable)
    tail = f"; {fixable} fixable with --fix" if fixable and report.repair is None else ""
    return ", ".join(parts) + tail


def _repair_lines(report: Report, color: bool) -> list[str]:
    r = report.repair
    assert r is not None
    lines = [f"repair: {len(r.applied)} fix(es) applied, {len(r.fixes) - len(r.applied)} refused"
             + (f"; fixed {', '.join(r.fixed)}" if r.fixed else "")]
    for f in r.fixes:
        state = "applied" if f.applied else "refused"
        text = f.description if f.applied else f"{f.description.rstrip('.')}: {f.reason}"
        purpose = " (changes outputs on purpose)" if f.applied and f.changes_outputs else ""
        lines.append(f"  {state:<8} {f.id:<22} ({', '.join(f.codes)}) {_esc(text, color)}{purpose}")
    if r.parity_note:
        lines.append(f"verification: {_esc(r.parity_note, color)}")
    if r.output:
        lines.append(f"wrote {_esc(r.output, color)}")
    if r.not_written:
        lines.append(_esc(r.not_written, color))
    return lines


def format_json(report: Report) -> str:
    """The JSON document described in docs/checks.md."""
    return json.dumps(report.to_dict(), indent=2, default=_default)


def _default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def rules_table() -> list[dict[str, Any]]:
    """Every rule as data: code, family, level, summary, fix (what ``--list-rules`` prints)."""
    return [{"code": r.code, "family": r.family, "level": r.level.value, "scope": r.scope,
             "summary": r.summary, "fix": r.fix} for r in all_rules().values()]
