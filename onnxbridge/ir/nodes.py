"""Reading one node: its attributes as plain values, its inputs (including what its subgraphs read), its
subgraphs, and a walk over every node of a graph including those nested in If/Loop/Scan bodies.

Example::

    node_attrs(conv)              # {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER", ...}
    node_inputs(loop)             # ["M", "cond", "v0", "x2"]  (x2 is read inside the body)
    [n.op_type for n in walk_nodes(model.graph.node)]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import onnx
from onnx import helper, numpy_helper


def node_attrs(node: onnx.NodeProto) -> dict[str, Any]:
    """A node's attributes as plain Python values (bytes decoded to str, tensors to numpy)."""
    out: dict[str, Any] = {}
    for a in node.attribute:
        value = helper.get_attribute_value(a)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            value = [v.decode("utf-8", "replace") for v in value]
        elif isinstance(value, onnx.TensorProto):
            value = numpy_helper.to_array(value)
        out[a.name] = value
    return out


def raw_attr(node: onnx.NodeProto, name: str, default: Any = None) -> Any:
    """One attribute as ONNX gives it (``helper.get_attribute_value``), or ``default``."""
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def node_label(node: onnx.NodeProto) -> str:
    """How messages name a node: its name, or ``<unnamed Op>`` when it has none."""
    return node.name or f"<unnamed {node.op_type}>"


def subgraphs(node: onnx.NodeProto) -> list[onnx.GraphProto]:
    """The graphs a node's attributes hold (a Loop body, the branches of an If)."""
    out: list[onnx.GraphProto] = []
    for a in node.attribute:
        if a.type == onnx.AttributeProto.GRAPH:
            out.append(a.g)
        elif a.type == onnx.AttributeProto.GRAPHS:
            out.extend(a.graphs)
    return out


def node_inputs(node: onnx.NodeProto) -> list[str]:
    """A node's inputs (given ones, each once), then the outer values its subgraphs read by name."""
    names: list[str] = []
    for i in node.input:
        if i and i not in names:
            names.append(i)
    for g in subgraphs(node):
        for name in outer_references(g):
            if name not in names:
                names.append(name)
    return names


def outer_references(graph: onnx.GraphProto) -> list[str]:
    """The names a subgraph reads from its enclosing scopes, in first-use order."""
    defined = {i.name for i in graph.input} | {i.name for i in graph.initializer}
    out: list[str] = []
    for node in graph.node:
        for name in node_inputs(node):
            if name not in defined and name not in out:
                out.append(name)
        defined.update(o for o in node.output if o)
    return out


def walk_nodes(nodes: Iterable[onnx.NodeProto]) -> Iterator[onnx.NodeProto]:
    """Every node, each followed by the nodes of its subgraphs (depth first)."""
    for node in nodes:
        yield node
        for g in subgraphs(node):
            yield from walk_nodes(g.node)
