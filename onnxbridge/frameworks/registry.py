"""Opset-aware registries of ONNX-op converters, one per target framework.

The ``since`` convention (one rule, here): a converter is registered at the ONNX schema version where the
op last changed in a way the converter handles, and it is valid from there on. ``since`` must be a version
at which the op's schema changed (``onnx.defs.get_schema(op, max_inclusive_version=since).since_version ==
since``); left out, it is the op's first version. A converter is registered once per op (a second
registration of the same function would say nothing), and registering the same (domain, op, since) twice
is an error. For a node in a model with opset ``v`` the registry asks ONNX which schema version applies
(``onnx.defs.get_schema(op, max_inclusive_version=v)``) and picks the converter with the greatest
``since`` not above it; :meth:`OpRegistry.valid_from` is the first opset with a converter, and the support
matrix (``scripts/gen_support_matrix.py``) lists each registered ``since``.

Example::

    TORCH_OPS = OpRegistry("torch")

    @TORCH_OPS.register("Relu")                # valid from Relu's first version
    def relu(ctx): ...

    @TORCH_OPS.register("Softmax", since=13)   # Softmax-13: one axis instead of "flatten to 2-D"
    def softmax(ctx): ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import onnx

from onnxbridge.errors import UnsupportedOpsError
from onnxbridge.ir.conventions import normalise_domain, opsets_of
from onnxbridge.ir.nodes import walk_nodes


@dataclass(frozen=True)
class OpKey:
    """One registration: the converter of ``domain::op_type`` valid from opset ``since``."""

    domain: str
    op_type: str
    since: int


def schema_versions(op_type: str, domain: str = "") -> tuple[int, ...]:
    """The opset versions at which ONNX changed ``op_type``'s schema, oldest first (empty when ONNX has
    no schema for it, e.g. an op of a custom domain)."""
    return _schema_index().get((domain, op_type), ())


@lru_cache(maxsize=1)
def _schema_index() -> dict[tuple[str, str], tuple[int, ...]]:
    index: dict[tuple[str, str], set[int]] = {}
    for schema in onnx.defs.get_all_schemas_with_history():
        index.setdefault((schema.domain, schema.name), set()).add(schema.since_version)
    return {key: tuple(sorted(v)) for key, v in index.items()}


class OpRegistry:
    """Maps (domain, op type, since-version) to a converter function for one framework."""

    def __init__(self, framework: str):
        self.framework = framework
        self._converters: dict[tuple[str, str], dict[int, Callable]] = {}

    def register(self, op_type: str, *, since: int | None = None, domain: str = "") -> Callable[[Callable], Callable]:
        """Decorator: register a converter of ``op_type`` valid from schema version ``since`` (default: the
        op's first version). ``since`` must be a version where the op changed; registering the same
        (domain, op, since) twice, or the same function twice for one op, is an error."""
        label = f"{domain or 'ai.onnx'}::{op_type}"
        known = schema_versions(op_type, domain)
        if since is None:
            since = known[0] if known else 1
        elif known and since not in known:
            raise ValueError(f"{self.framework}: {label} has no schema version {since} (it changed at "
                             f"{', '.join(map(str, known))}): register the converter at the version it handles")

        def decorate(fn: Callable) -> Callable:
            versions = self._converters.setdefault((domain, op_type), {})
            if since in versions:
                raise ValueError(f"{self.framework}: converter for {label} since opset {since} is already "
                                 f"registered ({versions[since].__module__})")
            if any(f is fn for f in versions.values()):
                raise ValueError(f"{self.framework}: {fn.__qualname__} is already registered for {label}: "
                                 "register a converter once, at the first version it handles")
            versions[since] = fn
            return fn

        return decorate

    def lookup(self, op_type: str, opset: int, domain: str = "") -> Callable | None:
        """The converter for ``op_type`` in a model importing ``domain`` at ``opset``, or None."""
        versions = self._converters.get((domain, op_type))
        if not versions:
            return None
        try:
            schema_version = onnx.defs.get_schema(op_type, max_inclusive_version=opset,
                                                  domain=domain).since_version
        except onnx.defs.SchemaError:
            schema_version = opset
        usable = [v for v in versions if v <= schema_version]
        return versions[max(usable)] if usable else None

    def supports(self, op_type: str, opset: int, domain: str = "") -> bool:
        """Whether a node of ``op_type`` in a model importing ``domain`` at ``opset`` has a converter."""
        return self.lookup(op_type, opset, domain) is not None

    def valid_from(self, op_type: str, domain: str = "") -> int | None:
        """The first opset at which ``op_type`` has a converter (its lowest ``since``), or None."""
        versions = self._converters.get((domain, op_type))
        return min(versions) if versions else None

    def keys(self) -> list[OpKey]:
        """Every registered (domain, op, since), sorted — the support matrix is generated from this."""
        return sorted((OpKey(d, op, v) for (d, op), vs in self._converters.items() for v in vs),
                      key=lambda k: (k.domain, k.op_type, k.since))

    def op_types(self) -> set[str]:
        """Every op type with a converter."""
        return {op for (_, op) in self._converters}

    def missing(self, nodes: Iterable[onnx.NodeProto], opsets: dict[str, int],
                local_functions: AbstractSet[tuple[str, str]] = frozenset()) -> dict[str, list[str]]:
        """Ops among ``nodes`` that have no converter: ``{op_type: [node names]}`` (all at once)."""
        missing: dict[str, list[str]] = {}
        for node in nodes:
            if (node.domain, node.op_type) in local_functions:
                continue
            domain = normalise_domain(node.domain)
            if not self.supports(node.op_type, opsets.get(domain, opsets.get("", 1)), domain):
                label = node.op_type if not domain else f"{domain}::{node.op_type}"
                missing.setdefault(label, []).append(node.name or f"<unnamed {node.op_type}>")
        return missing

    def require_all(self, model: onnx.ModelProto) -> None:
        """Raise :class:`UnsupportedOpsError` listing every op in ``model`` without a converter."""
        opsets = opsets_of(model)
        functions = {(f.domain, f.name) for f in model.functions}
        nodes = list(model.graph.node) + [n for f in model.functions for n in f.node]
        missing = self.missing(walk_nodes(nodes), opsets, functions)
        if missing:
            raise UnsupportedOpsError(self.framework, missing)


# the checks' target rules read this name; onnxbridge.ir.nodes.walk_nodes is the one to use
_all_nodes = walk_nodes


@dataclass
class PatternMatch:
    """A matched subgraph: ``node`` (inputs and output of the whole group) stands for the nodes in ``ids``
    (by ``id``) at the position of the last of them, and ``emit(ctx)`` writes its code (a converter)."""

    node: Any  # onnx.NodeProto
    ids: set[int]
    emit: Callable[[Any], None]


class PatternRegistry:
    """Subgraph patterns of one framework, tried in registration order: ``pattern(view, live nodes) ->
    [PatternMatch]``. A code generator replaces each match's nodes by its ``node`` and calls ``emit`` with
    its converter context there."""

    def __init__(self, framework: str) -> None:
        self.framework = framework
        self._patterns: dict[str, Callable] = {}

    def register(self, pattern: Callable) -> Callable:
        """Decorator: register a pattern; registering the same name twice is an error."""
        key = f"{pattern.__module__}.{pattern.__qualname__}"
        if key in self._patterns:
            raise ValueError(f"{self.framework}: pattern {key} is already registered")
        self._patterns[key] = pattern
        return pattern

    def __iter__(self) -> Iterator[Callable]:
        return iter(list(self._patterns.values()))
