"""Keras weight names in a tf2onnx export: ``stem.kernel`` and ``stem.bias`` instead of the op path.

tf2onnx names a constant after the TensorFlow op that read it (``stem/convolution/ReadVariableOp:0``) or a
folding counter (``const_fold_opt__12``). Once the node names are the layer paths (``stem/convolution``,
see ``importer._readable_names``), a Conv, Gemm or MatMul weight read by one node is named after its layer
and Keras role, so every target names the layer ``stem`` (:mod:`onnxbridge.ir.naming` reads
``<layer>.<role>``). Graph inputs and outputs keep their names; every name stays unique.

Example::

    name_layer_weights(onnx_model)   # in place
"""

from __future__ import annotations

from collections.abc import Iterator

import onnx

# (op, input index) -> the Keras weight role of a constant in that slot
_WEIGHT_ROLES = {("Conv", 1): "kernel", ("Conv", 2): "bias", ("ConvTranspose", 1): "kernel",
                 ("ConvTranspose", 2): "bias", ("MatMul", 1): "kernel", ("Gemm", 1): "kernel", ("Gemm", 2): "bias"}


def name_layer_weights(model: onnx.ModelProto) -> None:
    """Rename, in place, the weights of Conv, Gemm and MatMul nodes after their layer (``stem.kernel``)."""
    graph = model.graph
    interface = {v.name for v in graph.input} | {v.name for v in graph.output}
    values = _unique(_weight_names(graph, lambda name: name, interface), taken=interface | set(_value_names(graph)))
    _apply(graph, values, {})


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
