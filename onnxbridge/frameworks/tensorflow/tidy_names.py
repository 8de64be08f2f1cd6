"""Keras names back in a tf2onnx export: exporter scopes stripped from node, value and initializer names.

tf2onnx names everything after the TensorFlow op that made it, inside the scopes of the traced function:
``StatefulPartitionedCall/StatefulPartitionedCall/functional_1/stem_1/convolution``. The serving-call
scopes and the model's own scope say nothing, and TensorFlow makes every layer scope unique with a
``_1`` suffix (layer ``dense_1`` becomes ``dense_1_2``). Once cleaned, the same node is
``stem/convolution``, its weights ``stem.kernel`` and ``stem.bias``, so every target names the layer
``stem`` (see :mod:`onnxbridge.ir.naming`). Graph inputs and outputs keep their names (they are the
model's interface); every other name stays unique.

Example::

    strip_exporter_scopes(onnx_model)   # in place
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import onnx

_CALL_SCOPE = re.compile(r"^(Stateful)?PartitionedCall(_\d+)?$")
_UNIQUE_SUFFIX = re.compile(r"^(.+?)_\d+$")
# (op, input index) -> the Keras weight role of a constant in that slot
_WEIGHT_ROLES = {("Conv", 1): "kernel", ("Conv", 2): "bias", ("ConvTranspose", 1): "kernel",
                 ("ConvTranspose", 2): "bias", ("MatMul", 1): "kernel", ("Gemm", 1): "kernel", ("Gemm", 2): "bias"}


def strip_exporter_scopes(model: onnx.ModelProto) -> None:
    """Rename, in place, the nodes, values and initializers of a tf2onnx export after their Keras layers."""
    graph = model.graph
    interface = {v.name for v in graph.input} | {v.name for v in graph.output}
    names = [n for n in _all_names(graph) if n not in interface]
    clean = _scope_cleaner(names)
    values = {n: clean(n) for n in _value_names(graph) if n not in interface}
    values.update(_weight_names(graph, clean, interface))
    values = _unique(values, taken=interface)
    nodes = _unique({node.name: clean(node.name) for node in _nodes(graph) if node.name}, taken=set())
    _apply(graph, values, nodes)


def _scope_cleaner(names: list[str]):
    """A function mapping one tf2onnx name to its name without the exporter's scopes."""
    split = [_drop_call_scopes(n.split("/")) for n in names if "/" in n]
    firsts = {parts[0] for parts in split if len(parts) > 1}
    model_scope = next(iter(firsts)) if len(firsts) == 1 else None
    # the layer scope of each name (after the model scope); TensorFlow suffixed every one of them with _N
    layer_scopes = {parts[1] if parts[0] == model_scope else parts[0]
                    for parts in split if len(parts) > (2 if parts[0] == model_scope else 1)}
    unsuffixed = {s: m.group(1) for s in layer_scopes if (m := _UNIQUE_SUFFIX.match(s))}
    if len(unsuffixed) != len(layer_scopes) or len(set(unsuffixed.values())) != len(unsuffixed):
        unsuffixed = {}  # not the pattern of a Keras trace (or two layers would merge): keep the scopes

    def clean(name: str) -> str:
        if "/" not in name:
            return name
        parts = _drop_call_scopes(name.split("/"))
        if model_scope is not None and len(parts) > 2 and parts[0] == model_scope:
            parts = parts[1:]
        if len(parts) > 1:
            parts[0] = unsuffixed.get(parts[0], parts[0])
        return "/".join(parts) or name

    return clean


def _drop_call_scopes(parts: list[str]) -> list[str]:
    k = 0
    while k < len(parts) - 1 and _CALL_SCOPE.match(parts[k]):
        k += 1
    return parts[k:]


def _weight_names(graph: onnx.GraphProto, clean, interface: set[str]) -> dict[str, str]:
    """``layer.kernel`` / ``layer.bias`` for constants read by exactly one Conv, Gemm or MatMul node."""
    constants = {i.name for i in graph.initializer}
    readers: dict[str, list[tuple[onnx.NodeProto, int]]] = {}
    for node in graph.node:
        for k, name in enumerate(node.input):
            if name in constants:
                readers.setdefault(name, []).append((node, k))
    out = {}
    for name, uses in readers.items():
        if len(uses) != 1 or name in interface:
            continue
        node, k = uses[0]
        role = _WEIGHT_ROLES.get((node.op_type, k))
        layer = clean(node.name).split("/")[0] if "/" in node.name else None
        if role and layer:
            out[name] = f"{layer}.{role}"
    return out


def _unique(mapping: dict[str, str], taken: set[str]) -> dict[str, str]:
    """The same mapping with clashes resolved (``name_2``, ...); names that do not change are kept first."""
    taken = set(taken) | {old for old, new in mapping.items() if old == new}
    out = {}
    for old, new in mapping.items():
        if old == new:
            continue
        candidate, n = new, 2
        while candidate in taken:
            candidate, n = f"{new}_{n}", n + 1
        taken.add(candidate)
        out[old] = candidate
    return out


def _nodes(graph: onnx.GraphProto) -> Iterator[onnx.NodeProto]:
    for node in graph.node:
        yield node
        for sub in _subgraphs(node):
            yield from _nodes(sub)


def _subgraphs(node: onnx.NodeProto) -> Iterator[onnx.GraphProto]:
    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.GRAPH:
            yield attr.g
        elif attr.type == onnx.AttributeProto.GRAPHS:
            yield from attr.graphs


def _value_names(graph: onnx.GraphProto) -> Iterator[str]:
    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        yield vi.name
    for init in graph.initializer:
        yield init.name
    for node in graph.node:
        yield from (n for n in node.output if n)
        for sub in _subgraphs(node):
            yield from _value_names(sub)


def _all_names(graph: onnx.GraphProto) -> list[str]:
    return list(_value_names(graph)) + [n.name for n in _nodes(graph) if n.name]


def _apply(graph: onnx.GraphProto, values: dict[str, str], nodes: dict[str, str]) -> None:
    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        vi.name = values.get(vi.name, vi.name)
    for init in graph.initializer:
        init.name = values.get(init.name, init.name)
    for node in graph.node:
        node.name = nodes.get(node.name, node.name)
        for k, name in enumerate(node.input):
            node.input[k] = values.get(name, name)
        for k, name in enumerate(node.output):
            node.output[k] = values.get(name, name)
        for sub in _subgraphs(node):
            _apply(sub, values, nodes)
