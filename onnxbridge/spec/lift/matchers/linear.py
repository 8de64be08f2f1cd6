"""Gemm, and MatMul (+ Add of a bias) with a constant weight -> Linear."""

from __future__ import annotations

import numpy as np
import onnx

from onnxbridge.spec.lift.draft import Draft, WeightSource
from onnxbridge.spec.lift.matchers import COMPOSITE, matcher
from onnxbridge.spec.lift.matchers.common import attr, float32, float32_weight, one_output
from onnxbridge.spec.lift.scope import Scope


def _transpose(a: np.ndarray) -> np.ndarray:
    return a.T


def _flat(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1)


@matcher("Gemm")
def gemm(scope: Scope, node: onnx.NodeProto) -> Draft | None:
    """``Linear`` for a ``Gemm`` of a rank-2 input by a float32 weight (no transposed input, alpha 1)."""
    x, w, c = scope.inp(node, 0), scope.inp(node, 1), scope.inp(node, 2)
    if scope.rank(x) != 2 or not float32(scope, x) or not float32_weight(scope, w) or not one_output(node, scope):
        return None
    if int(attr(node, "transA", 0)) or float(attr(node, "alpha", 1.0)) != 1.0:
        return None
    wshape = scope.weight_shape(w)
    if wshape is None or len(wshape) != 2:
        return None
    trans_b = bool(int(attr(node, "transB", 0)))
    out_features, in_features = (wshape[0], wshape[1]) if trans_b else (wshape[1], wshape[0])
    if scope.dims(x)[1] != in_features:
        return None
    weights = {"weight": WeightSource(w, None if trans_b else _transpose)}
    params: dict = {"out_features": int(out_features)}
    if c:
        cshape = scope.weight_shape(c)
        if not float32_weight(scope, c) or float(attr(node, "beta", 1.0)) != 1.0 or cshape is None \
                or cshape not in ((out_features,), (1, out_features)):
            return None
        weights["bias"] = WeightSource(c, _flat)
    else:
        params["bias"] = False
    return Draft("Linear", params, [x], [node.output[0]], [node], weights)


@matcher("MatMul", stage=COMPOSITE)
def matmul(scope: Scope, node: onnx.NodeProto) -> Draft | None:
    """``Linear`` for a ``MatMul`` of a rank-2 or rank-3 input by a 2-D float32 weight (and a following bias
    ``Add``)."""
    x, w = scope.inp(node, 0), scope.inp(node, 1)
    rank = scope.rank(x)
    if rank not in (2, 3) or not float32(scope, x) or not float32_weight(scope, w) or scope.is_weight(x):
        return None
    wshape = scope.weight_shape(w)
    if wshape is None or len(wshape) != 2 or scope.dims(x)[-1] != wshape[0]:
        return None
    out_features = int(wshape[1])
    # rank-2 inputs lower to Gemm with the weight as [out, in]; rank-3 to MatMul with [in, out]
    weights = {"weight": WeightSource(w, _transpose if rank == 2 else None)}
    nodes, output = [node], node.output[0]
    add = scope.only_user(output)
    params: dict = {"out_features": out_features}
    bias = None
    if add is not None and add.op_type == "Add" and add.domain in ("", "ai.onnx"):
        other = scope.inp(add, 1) if scope.inp(add, 0) == scope.canon(output) else scope.inp(add, 0)
        bshape = scope.weight_shape(other) if float32_weight(scope, other) else None
        if bshape is not None and int(np.prod(bshape)) == out_features and bshape[-1] == out_features \
                and len(bshape) <= rank:
            bias = other
    if bias is not None and add is not None:
        weights["bias"] = WeightSource(bias, _flat)
        nodes.append(add)
        output = add.output[0]
    else:
        params["bias"] = False
    return Draft("Linear", params, [x], [output], nodes, weights)
