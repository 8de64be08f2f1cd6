"""Add / Mul of two computed tensors -> Add / Multiply; Concat -> Concat."""

from __future__ import annotations

import onnx

from onnxbridge.spec.lift.draft import Draft
from onnxbridge.spec.lift.matchers import matcher
from onnxbridge.spec.lift.matchers.common import attr
from onnxbridge.spec.lift.scope import Scope


def broadcastable(a: tuple, b: tuple) -> bool:
    """Whether the spec's shape rule can tell these shapes broadcast (equal dims, or one of them 1)."""
    for x, y in zip(reversed(a), reversed(b)):
        if x != y and x != 1 and y != 1:
            return False
        if None in (x, y):
            return False
    return True


@matcher("Add", "Mul")
def elementwise(scope: Scope, node: onnx.NodeProto) -> Draft | None:
    """``Add`` / ``Multiply`` for an ONNX ``Add`` / ``Mul`` of two computed tensors of one type that
    broadcast."""
    a, b = scope.inp(node, 0), scope.inp(node, 1)
    if not (scope.is_dynamic(a) and scope.is_dynamic(b)) or scope.elem(a) != scope.elem(b):
        return None
    sa, sb = scope.shape(a), scope.shape(b)
    if sa is None or sb is None or not broadcastable(sa, sb):
        return None
    return Draft("Add" if node.op_type == "Add" else "Multiply", {}, [a, b], [node.output[0]],
                 [node])


@matcher("Concat")
def concat(scope: Scope, node: onnx.NodeProto) -> Draft | None:
    """``Concat`` for an ONNX ``Concat`` of two or more computed tensors of one rank."""
    ins = scope.ins(node)
    if len(ins) < 2 or not all(scope.is_dynamic(i) for i in ins):
        return None
    ranks = {scope.rank(i) for i in ins}
    if len(ranks) != 1:
        return None
    rank = ranks.pop()
    if rank is None:
        return None
    axis = int(attr(node, "axis"))
    if axis % rank == 0:
        return None  # the spec joins along a feature dim, never the batch
    shapes = [scope.dims(i) for i in ins]
    for k in range(rank):
        if k != axis % rank and (len({s[k] for s in shapes}) != 1 or shapes[0][k] is None):
            return None
    return Draft("Concat", {} if axis == 1 else {"dim": axis}, list(ins), [node.output[0]], [node])
