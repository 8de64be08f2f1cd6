"""Fix passes: each one repairs one kind of problem, separately from the rules that find it.

A fix pass takes an ``onnx.ModelProto`` and returns the repaired model and one line saying what it
changed, or raises :class:`FixRefused` saying why it would not be safe. Passes do their own analysis of
the model they receive (the diagnostics only decide which passes run), so they can run one after
another. Most are built on onnx-ir passes and onnxscript's optimizer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class FixRefused(Exception):
    """A fix pass declines to change the model; the message says why."""


@dataclass(frozen=True)
class FixPass:
    """A registered fix: ``func(model) -> (model, description)``; ``order`` sets when it runs."""

    id: str
    order: int
    func: Callable[[Any], tuple[Any, str]]  # a model fix takes a ModelProto, a spec fix the spec as a dict
    summary: str
    scope: str = "onnx"


_FIXES: dict[str, FixPass] = {}


def fix_pass(fix_id: str, *, order: int, scope: str = "onnx") -> Callable[[Callable], Callable]:
    """Decorator registering a fix pass under ``fix_id``; the same id twice is an error."""

    def decorate(fn: Callable) -> Callable:
        if fix_id in _FIXES:
            raise ValueError(f"fix pass {fix_id!r} is registered twice")
        summary = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else fix_id
        _FIXES[fix_id] = FixPass(fix_id, order, fn, summary, scope)
        return fn

    return decorate


def all_fixes() -> dict[str, FixPass]:
    """Every fix pass by id, in the order they run."""
    from onnxbridge.checks.fixes import hygiene, opsets, spec, structure, types  # noqa: F401  (registers them)

    return dict(sorted(_FIXES.items(), key=lambda kv: kv[1].order))
