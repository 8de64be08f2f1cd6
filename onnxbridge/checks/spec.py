"""What spec rules look at: a spec document planned once, with every problem the planner found, in layer terms.

The spec's own planner (``onnxbridge.spec.plan.plan_spec``) resolves references and infers every
layer's shape, reporting every problem; :func:`analyse` keeps its findings with stable codes (layer shape
rules raise ``LayerShapeError(..., code=...)``) for the spec rules (``rules/spec.py``) and the spec fixes
(``fixes/spec.py``). The rules run in :mod:`onnxbridge.checks.engine`, the fixes in
:mod:`onnxbridge.checks.repair`, exactly as for ONNX models.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

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

    #: the rules that look at it (``@rule(..., scope="spec")``) and what their messages call it
    scope: ClassVar[str] = "spec"
    subject: ClassVar[str] = "spec"

    data: dict[str, Any] | None
    spec: Any = None
    plan: Any = None
    shapes: Any = None
    structure: list[str] = field(default_factory=list)
    layer_problems: list[LayerProblem] = field(default_factory=list)
    targets: tuple[str, ...] = ()
    options: dict = field(default_factory=dict)


    @property
    def is_valid(self) -> bool:
        """Whether the spec resolved and every layer's shape was inferred (it can be lowered to ONNX)."""
        return self.spec is not None and not self.structure and not self.layer_problems


def spec_context(source: Any, *, targets: tuple[str, ...] = (), options: dict | None = None) -> SpecContext:
    """Read and analyse a spec (a path, a ``Spec``, plain data, a ``Network``) for the spec rules."""
    data, _ = read_spec_document(source)
    return analyse(data, targets=targets, options=options)


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


def analyse(data: dict[str, Any], *, targets: tuple[str, ...] = (), options: dict | None = None,
            memo: Any = None) -> SpecContext:
    """Validate and plan ``data``, collecting every structural and per-layer problem. ``memo`` (a
    :class:`~onnxbridge.spec.plan_memo.PlanMemo`) lets the planner look up layers it planned before."""
    from onnxbridge.spec.io import spec_from_dict
    from onnxbridge.spec.plan import plan_spec

    ctx = SpecContext(data, targets=tuple(targets), options=dict(options or {}))
    try:
        ctx.spec = spec_from_dict(data)
    except SpecError as exc:
        ctx.structure = split_problems(exc)
        return ctx
    try:
        ctx.plan, ctx.shapes = plan_spec(ctx.spec, memo=memo)
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
    """The layer id a problem message starts with (``"layer 'x': ..."``), as a 1-tuple; empty when it names
    none."""
    m = _LAYER_PREFIX.match(problem)
    return (m.group(1),) if m else ()
