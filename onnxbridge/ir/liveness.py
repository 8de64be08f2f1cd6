"""Which nodes must write code: those whose outputs are needed and not known at conversion time.

Example::

    for node in live_nodes(view):      # graph order
        ...
"""

from __future__ import annotations

import onnx

from onnxbridge.ir.nodes import node_inputs
from onnxbridge.ir.symbolic import Const, Placeholder, SymShape
from onnxbridge.ir.view import GraphView


def live_nodes(view: GraphView) -> list[onnx.NodeProto]:
    """Nodes whose outputs are needed and not known at conversion time, in graph order.

    A node whose outputs are all known (constants, shape arithmetic) writes no code; the tensors its
    symbolic results read the sizes of are kept alive instead.
    """
    needed: set[str] = set()

    def need(value: str) -> None:
        k = view.known.get(value)
        if isinstance(k, SymShape):
            for r in k.refs():
                need(r)
        elif not isinstance(k, (Const, Placeholder)):
            needed.add(value)

    for o in view.outputs:
        need(o)
    live: list[onnx.NodeProto] = []
    for node in reversed(view.nodes):
        outs = [o for o in node.output if o]
        if not any(o in needed for o in outs):
            continue
        live.append(node)
        for i in node_inputs(node):
            need(i)
    return list(reversed(live))
