"""Diagnostics are data: a stable code, a level, a plain-words message, where, what to do, and a fix.

A :class:`Report` is the list of diagnostics one check produced, plus what was checked (the source, the
targets) and, after a repair, what was fixed and how the repaired model compares numerically.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

SCHEMA = "onnxbridge.check/1"


class Level(str, Enum):
    """How serious a diagnostic is. Errors make ``onnxbridge check`` exit with 1."""

    error = "error"
    warning = "warning"
    suggestion = "suggestion"

    @property
    def rank(self) -> int:
        """Sort order of the level: errors first, then warnings, then suggestions."""
        return {"error": 0, "warning": 1, "suggestion": 2}[self.value]


@dataclass(frozen=True)
class Fix:
    """An automatic repair for a diagnostic: the fix pass that does it and what it will do."""

    id: str
    description: str
    changes_outputs: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The fix as JSON data."""
        return {"id": self.id, "description": self.description, "changes_outputs": self.changes_outputs}


@dataclass(frozen=True)
class Diagnostic:
    """One problem found by one rule.

    ``nodes``, ``tensors`` and ``layers`` name where it is (ONNX node names, tensor names, spec layer
    ids); ``suggestion`` says concretely what to do; ``fix`` is set when ``repair`` can do it for you.
    """

    code: str
    level: Level
    message: str
    family: str = ""
    nodes: tuple[str, ...] = ()
    tensors: tuple[str, ...] = ()
    layers: tuple[str, ...] = ()
    suggestion: str | None = None
    fix: Fix | None = None

    @property
    def where(self) -> str:
        """A short location: the first layer, node or tensor named."""
        for kind, names in (("layer", self.layers), ("node", self.nodes), ("tensor", self.tensors)):
            if names:
                more = f" (+{len(names) - 1} more)" if len(names) > 1 else ""
                return f"{kind} {names[0]!r}{more}"
        return ""

    def to_dict(self) -> dict[str, Any]:
        """The diagnostic as JSON data (its fix included, or None)."""
        return {
            "code": self.code, "level": self.level.value, "family": self.family, "message": self.message,
            "nodes": list(self.nodes), "tensors": list(self.tensors), "layers": list(self.layers),
            "suggestion": self.suggestion, "fix": None if self.fix is None else self.fix.to_dict(),
        }


@dataclass
class AppliedFix:
    """What one fix pass changed during a repair."""

    id: str
    codes: list[str]
    description: str
    changes_outputs: bool = False
    applied: bool = True
    reason: str | None = None  # why it was not applied

    def to_dict(self) -> dict[str, Any]:
        """The applied (or declined) fix as JSON data."""
        return {"id": self.id, "codes": self.codes, "description": self.description,
                "changes_outputs": self.changes_outputs, "applied": self.applied, "reason": self.reason}


@dataclass
class RepairSummary:
    """The outcome of a repair: fixes applied or refused, and the numeric comparison before/after."""

    fixes: list[AppliedFix] = field(default_factory=list)
    before: list[Diagnostic] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)  # codes found before and gone after
    parity: Any = None  # onnxbridge.testing.ParityReport, when both models ran
    parity_note: str = ""
    output: str | None = None  # the file written
    not_written: str | None = None  # why no file was written (the repair did not make the model better)

    @property
    def applied(self) -> list[AppliedFix]:
        """The fixes that were applied (declined ones left out)."""
        return [f for f in self.fixes if f.applied]

    @property
    def outputs_changed_on_purpose(self) -> bool:
        """Whether an applied fix is one that changes the model's outputs by design."""
        return any(f.changes_outputs for f in self.applied)

    @property
    def verified(self) -> bool | None:
        """True/False when the outputs were compared, None when they could not be."""
        return None if self.parity is None else bool(self.parity.ok)

    def to_dict(self) -> dict[str, Any]:
        """The repair as JSON data: fixes, codes fixed, diagnostics before, parity and the file written."""
        return {
            "fixes": [f.to_dict() for f in self.fixes],
            "fixed_codes": list(self.fixed),
            "before": [d.to_dict() for d in self.before],
            "parity": None if self.parity is None else self.parity.to_dict(),
            "parity_note": self.parity_note,
            "outputs_changed_on_purpose": self.outputs_changed_on_purpose,
            "output": self.output,
            "not_written": self.not_written,
        }


@dataclass
class Report:
    """The diagnostics of one check (iterable, indexable, ``len()``), sorted by level then code."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    source: str | None = None
    kind: str = "onnx"  # "onnx" or "spec"
    targets: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    repair: RepairSummary | None = None

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.diagnostics)

    def __len__(self) -> int:
        return len(self.diagnostics)

    def __getitem__(self, index: int) -> Diagnostic:
        return self.diagnostics[index]

    def __bool__(self) -> bool:  # a report is a report even when it is empty
        return True

    @property
    def errors(self) -> list[Diagnostic]:
        """The diagnostics at level error."""
        return [d for d in self.diagnostics if d.level is Level.error]

    @property
    def warnings(self) -> list[Diagnostic]:
        """The diagnostics at level warning."""
        return [d for d in self.diagnostics if d.level is Level.warning]

    @property
    def suggestions(self) -> list[Diagnostic]:
        """The diagnostics at level suggestion."""
        return [d for d in self.diagnostics if d.level is Level.suggestion]

    @property
    def ok(self) -> bool:
        """No errors (warnings and suggestions do not count)."""
        return not self.errors

    @property
    def fixable(self) -> list[Diagnostic]:
        """The diagnostics that come with an automatic fix."""
        return [d for d in self.diagnostics if d.fix is not None]

    def codes(self) -> list[str]:
        """The distinct codes found, sorted."""
        return sorted({d.code for d in self.diagnostics})

    def by_code(self, code: str) -> list[Diagnostic]:
        """The diagnostics with rule code ``code``."""
        return [d for d in self.diagnostics if d.code == code]

    def counts(self) -> dict[str, int]:
        """How many diagnostics there are at each level: ``{"error": n, "warning": n, "suggestion": n}``."""
        return {level.value: sum(1 for d in self.diagnostics if d.level is level) for level in Level}

    def sort(self) -> None:
        """Sort the diagnostics in place by level, then code, then where they point."""
        self.diagnostics.sort(key=lambda d: (d.level.rank, d.code, d.where))

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``onnxbridge check --format json`` (schema in docs/checks.md)."""
        return {
            "schema": SCHEMA,
            "source": self.source,
            "kind": self.kind,
            "targets": list(self.targets),
            "ok": self.ok,
            "counts": self.counts(),
            "diagnostics": [d.to_dict() for d in self.diagnostics],
            "notes": list(self.notes),
            "repair": None if self.repair is None else self.repair.to_dict(),
        }
