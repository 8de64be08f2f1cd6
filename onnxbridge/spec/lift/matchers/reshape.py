"""Flatten -> Flatten; Reshape to a constant per-sample shape -> Flatten / Reshape; Transpose -> Permute."""

from __future__ import annotations

import math

import onnx

from onnxbridge.spec.lift.draft import Draft
from onnxbridge.spec.lift.matchers import matcher
from onnxbridge.spec.lift.matchers.common import attr
from onnxbridge.spec.lift.scope import Scope


@matcher("Flatten")
def flatten(scope: Scope, node: onnx.NodeProto) -> Draft | None:
    """``Flatten`` for an ONNX ``Flatten`` at axis 1."""
    x = scope.inp(node, 0)
    rank = scope.rank(x)
    if not rank or rank < 2 or int(attr(node, "axis", 1)) != 1:
        return None  # ONNX Flatten(axis=k>1) also merges the leading dims: no spec equivalent
    return Draft("Flatten", {}, [x], [node.output[0]], [node])


@matcher("Reshape")
def reshape(scope: Scope, node: onnx.NodeProto) -> Draft | None:
    """``Reshape`` or ``Flatten`` for a ``Reshape`` to a constant shape that keeps the batch dimension."""
    x, target = scope.inp(node, 0), scope.inp(node, 1)
    shape = scope.shape(x)
    values = scope.const(target)
    if not shape or values is None or scope.is_weight(x):
        return None
    t = [int(v) for v in values.reshape(-1)]
    if not t or (int(attr(node, "allowzero", 0)) and 0 in t):
        return None
    sample = shape[1:]
    size = math.prod(sample) if all(isinstance(d, int) for d in sample) else None
    # the batch must stay where it is: copied (0), or -1 when the rest accounts for every element
    if t[0] == 0:
        rest = t[1:]
    elif t[0] == -1 and size is not None and t[1:] and all(v > 0 for v in t[1:]) and math.prod(t[1:]) == size:
        rest = t[1:]
    else:
        return None
    if not rest:
        return None
    zeros = 0
    while zeros < len(rest) and rest[zeros] == 0:
        zeros += 1
    if rest[zeros:] == [-1] and zeros + 1 < len(shape):  # [0, 0, ..., -1]: flatten from a dim on
        return Draft("Flatten", {} if zeros == 0 else {"start_dim": zeros + 1}, [x], [node.output[0]], [node])
    if zeros or any(v == 0 or v < -1 for v in rest) or rest.count(-1) > 1:
        return None
    if size is not None and -1 not in rest and math.prod(rest) != size:
        return None
    if size is None and -1 in rest:
        return None
    if size is not None and rest in ([size], [-1]) and len(shape) > 2:
        return Draft("Flatten", {}, [x], [node.output[0]], [node])
    return Draft("Reshape", {"shape": rest}, [x], [node.output[0]], [node])


@matcher("Transpose")
def transpose(scope: Scope, node: onnx.NodeProto) -> Draft | None:
    """``Permute`` for an ONNX ``Transpose``."""
    x = scope.inp(node, 0)
    rank = scope.rank(x)
    if not rank or rank < 2:
        return None
    perm = [int(p) for p in attr(node, "perm", list(reversed(range(rank))))]
    return Draft("Permute", {"dims": perm}, [x], [node.output[0]], [node])
