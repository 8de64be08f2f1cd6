"""Who produces and who reads each value of a node list, and a stable topological order.

These work on any node list, also an invalid one (a value with two producers, a cycle), so the checks can
use them on the models they diagnose; subgraph reads count as reads of the node that holds the subgraph.

Example::

    order = topological_order(list(model.graph.node))   # node indices, or None when there is a cycle
"""

from __future__ import annotations

from collections.abc import Sequence

import onnx

from onnxbridge.ir.nodes import node_inputs


def producers(nodes: Sequence[onnx.NodeProto]) -> dict[str, list[int]]:
    """``{value: [indices of the nodes that write it]}`` (one each in a valid graph)."""
    out: dict[str, list[int]] = {}
    for i, node in enumerate(nodes):
        for name in node.output:
            if name:
                out.setdefault(name, []).append(i)
    return out


def consumers(nodes: Sequence[onnx.NodeProto]) -> dict[str, list[int]]:
    """``{value: [indices of the nodes that read it]}``, subgraph reads included."""
    out: dict[str, list[int]] = {}
    for i, node in enumerate(nodes):
        for name in node_inputs(node):
            out.setdefault(name, []).append(i)
    return out


def topological_order(nodes: Sequence[onnx.NodeProto]) -> list[int] | None:
    """Node indices in a stable topological order, or None when the nodes form a cycle.

    Nodes that are ready are taken in graph order, and a node that the one just placed was holding back
    comes next (so a sorted graph keeps its order exactly, and an unsorted one moves as little as it can).
    """
    made = producers(nodes)
    read = consumers(nodes)
    indegree = [sum(1 for name in node_inputs(node) for p in made.get(name, ()) if p != i)
                for i, node in enumerate(nodes)]
    ready = [i for i, d in enumerate(indegree) if d == 0]
    ready.reverse()
    order: list[int] = []
    while ready:
        i = ready.pop()
        order.append(i)
        released = []
        for name in set(nodes[i].output):
            for j in set(read.get(name, ())):
                if j == i:
                    continue
                indegree[j] -= 1
                if indegree[j] == 0:
                    released.append(j)
        ready.extend(sorted(released, reverse=True))
    return order if len(order) == len(nodes) else None
