"""The rule registry: every check is a function registered once under a stable code.

A rule only looks: it receives a context (an indexed ONNX model, or a planned spec) and yields
:class:`Finding` objects; the engine stamps them with the rule's code, level and fix. Rules are grouped
in families, one module per family under ``onnxbridge/checks/rules/``; codes are grouped the same way
(``OB1xx`` structure, ``OB2xx`` shapes and types, ``OB3xx`` target compatibility, ``OB4xx`` hygiene
and numerics, ``OB5xx`` spec).

Example::

    @rule("OB108", family="structure", level="warning", fix="remove-unused")
    def dead_nodes(ctx):
        "Nodes whose results never reach a graph output."
        for node in ...:
            yield Finding(f"node {node.name!r} does not contribute to any output", nodes=(node.name,))

Registering the same code twice is an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from onnxbridge.checks.diagnostic import Diagnostic, Fix, Level
from onnxbridge.errors import OnnxBridgeError

FAMILIES = {
    "structure": "graph structure, names, opsets and the ONNX checker",
    "shapes": "shapes and types",
    "targets": "target compatibility (converters and execution providers)",
    "hygiene": "hygiene and numerics (weights, inference-graph noise, size)",
    "spec": "network spec, in layer terms",
}
_FAMILY_KEYS = {name.upper(): name for name in FAMILIES}
CODE_PATTERN = re.compile(r"^OB[0-9]{3}$")


@dataclass(frozen=True)
class Finding:
    """What a rule yields: a message and where; the engine adds code, level and fix.

    ``level`` overrides the rule's level for this finding; ``fix`` (a description) overrides the
    rule's default fix description, and ``fixable=False`` says this particular case cannot be fixed.
    """

    message: str
    nodes: tuple[str, ...] = ()
    tensors: tuple[str, ...] = ()
    layers: tuple[str, ...] = ()
    suggestion: str | None = None
    level: str | None = None
    fix: str | None = None
    fixable: bool = True


@dataclass(frozen=True)
class Rule:
    """A registered rule: its code, family, default level, scope (onnx or spec) and fix."""

    code: str
    name: str
    family: str
    level: Level
    scope: str
    func: Callable[..., Iterable[Finding]]
    summary: str
    fix: str | None = None
    fix_description: str | None = None
    changes_outputs: bool = False

    def diagnostic(self, finding: Finding) -> Diagnostic:
        """The diagnostic this rule reports for ``finding``: the finding's level or the rule's, and the rule's
        fix when the finding is fixable."""
        fix = None
        if self.fix and finding.fixable:
            fix = Fix(self.fix, finding.fix or self.fix_description or self.fix, self.changes_outputs)
        level = Level(finding.level) if finding.level else self.level
        return Diagnostic(self.code, level, finding.message, self.family, tuple(finding.nodes),
                          tuple(finding.tensors), tuple(finding.layers), finding.suggestion, fix)


_RULES: dict[str, Rule] = {}


def rule(code: str, *, family: str, level: str, scope: str = "onnx", fix: str | None = None,
         fix_description: str | None = None, changes_outputs: bool = False) -> Callable[[Callable], Callable]:
    """Decorator registering a rule function under ``code`` (e.g. ``"OB101"``).

    ``scope`` is ``"onnx"`` (the function takes a ModelContext) or ``"spec"`` (a SpecContext).
    ``fix`` names the fix pass in ``onnxbridge.checks.fixes`` that repairs what the rule finds.
    """

    def decorate(fn: Callable) -> Callable:
        if not CODE_PATTERN.match(code):
            raise ValueError(f"rule code {code!r} must look like OB123")
        if code in _RULES:
            raise ValueError(f"rule {code} is registered twice ({_RULES[code].func.__module__}."
                             f"{_RULES[code].name} and {fn.__module__}.{fn.__name__})")
        if family not in FAMILIES:
            raise ValueError(f"rule {code}: unknown family {family!r} (one of {', '.join(FAMILIES)})")
        if scope not in ("onnx", "spec"):
            raise ValueError(f"rule {code}: scope must be 'onnx' or 'spec'")
        summary = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else fn.__name__
        _RULES[code] = Rule(code, fn.__name__, family, Level(level), scope, fn, summary, fix, fix_description,
                            changes_outputs)
        return fn

    return decorate


def _load() -> None:
    from onnxbridge.checks import rules  # noqa: F401  (importing the family modules registers the rules)


def all_rules() -> dict[str, Rule]:
    """Every registered rule, by code, sorted."""
    _load()
    return dict(sorted(_RULES.items()))


def get_rule(code: str) -> Rule:
    """The registered rule with code ``code``; an OnnxBridgeError naming it when there is none."""
    _load()
    if code not in _RULES:
        raise OnnxBridgeError(f"unknown rule code {code!r}", hint="run 'onnxbridge check --list-rules' for the codes")
    return _RULES[code]


def expand_codes(codes: Iterable[str] | str | None) -> set[str] | None:
    """Turn ``"OB101,OB2"`` or ``["OB101", "OB2"]`` into the set of matching codes (a prefix selects a group).

    Raises :class:`OnnxBridgeError` for a code or prefix that matches no rule.
    """
    if codes is None:
        return None
    if isinstance(codes, str):
        codes = [codes]
    known = all_rules()
    selected: set[str] = set()
    for item in codes:
        for part in str(item).split(","):
            part = part.strip().upper()
            if not part:
                continue
            if part in _FAMILY_KEYS:  # a family name selects all its rules
                matched = {c for c, r in known.items() if r.family == _FAMILY_KEYS[part]}
            else:
                matched = {c for c in known if c.startswith(part)} if part.startswith("OB") else set()
            if not matched:
                raise OnnxBridgeError(f"{part!r} matches no rule code",
                                      hint="codes look like OB101; a prefix such as OB1 selects a group; "
                                           "'onnxbridge check --list-rules' lists them")
            selected |= matched
    return selected
