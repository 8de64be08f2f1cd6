"""Opset-aware registries of ONNX-op converters, one per target framework.

A converter is registered for an op and the opset version where the op last changed in a way that
matters to it (``since``). For a node in a model with opset ``v`` the registry asks ONNX which schema
version applies (``onnx.defs.get_schema(op, max_inclusive_version=v)``) and picks the converter with
the greatest ``since`` not above it.

Example::

    TORCH_OPS = OpRegistry("torch")

    @TORCH_OPS.register("Relu")
    def relu(node, ctx): ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import onnx

from onnxbridge.errors import UnsupportedOpsError


@dataclass(frozen=True)
class OpKey:
    domain: str
    op_type: str
    since: int


class OpRegistry:
    """Maps (domain, op type, since-version) to a converter function for one framework."""

    def __init__(self, framework: str):
        self.framework = framework
        self._converters: dict[tuple[str, str], dict[int, Callable]] = {}

    def register(self, op_type: str, *, since: int = 1, domain: str = "") -> Callable[[Callable], Callable]:
        """Decorator: register a converter; registering the same (domain, op, since) twice is an error."""

        def decorate(fn: Callable) -> Callable:
            versions = self._converters.setdefault((domain, op_type), {})
            if since in versions:
                raise ValueError(f"{self.framework}: converter for {domain or 'ai.onnx'}::{op_type} "
                                 f"since opset {since} is already registered ({versions[since].__module__})")
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
        return self.lookup(op_type, opset, domain) is not None

    def keys(self) -> list[OpKey]:
        """Every registered (domain, op, since), sorted — the support matrix is generated from this."""
        return sorted((OpKey(d, op, v) for (d, op), vs in self._converters.items() for v in vs),
                      key=lambda k: (k.domain, k.op_type, k.since))

    def op_types(self) -> set[str]:
        return {op for (_, op) in self._converters}

    def missing(self, nodes: Iterable[onnx.NodeProto], opsets: dict[str, int],
                local_functions: set[tuple[str, str]] = frozenset()) -> dict[str, list[str]]:
        """Ops among ``nodes`` that have no converter: ``{op_type: [node names]}`` (all at once)."""
        missing: dict[str, list[str]] = {}
        for node in nodes:
            if (node.domain, node.op_type) in local_functions:
                continue
            domain = "" if node.domain in ("", "ai.onnx") else node.domain
            if not self.supports(node.op_type, opsets.get(domain, opsets.get("", 1)), domain):
                label = node.op_type if not domain else f"{domain}::{node.op_type}"
                missing.setdefault(label, []).append(node.name or f"<unnamed {node.op_type}>")
        return missing

    def require_all(self, model: onnx.ModelProto) -> None:
        """Raise :class:`UnsupportedOpsError` listing every op in ``model`` without a converter."""
        opsets = {("" if o.domain == "ai.onnx" else o.domain): o.version for o in model.opset_import}
        functions = {(f.domain, f.name) for f in model.functions}
        nodes = list(model.graph.node) + [n for f in model.functions for n in f.node]
        missing = self.missing(_all_nodes(nodes), opsets, functions)
        if missing:
            raise UnsupportedOpsError(self.framework, missing)


def _all_nodes(nodes: Iterable[onnx.NodeProto]) -> Iterable[onnx.NodeProto]:
    """Nodes including those inside If/Loop/Scan subgraphs."""
    for node in nodes:
        yield node
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from _all_nodes(attr.g.node)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for g in attr.graphs:
                    yield from _all_nodes(g.node)
