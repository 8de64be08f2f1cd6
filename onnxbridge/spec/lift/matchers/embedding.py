"""Gather on a constant 2-D float table with integer ids -> Embedding."""

from __future__ import annotations

import onnx

from onnxbridge.spec.lift.draft import Draft, WeightSource
from onnxbridge.spec.lift.matchers import matcher
from onnxbridge.spec.lift.matchers.common import attr, float32_weight
from onnxbridge.spec.lift.scope import Scope
from onnxbridge.spec.types import DTYPE_NAMES


@matcher("Gather")
def embedding(scope: Scope, node: onnx.NodeProto) -> Draft | None:
    """``Embedding`` for a ``Gather`` on axis 0 of a 2-D float32 table by integer ids."""
    table, ids = scope.inp(node, 0), scope.inp(node, 1)
    if int(attr(node, "axis", 0)) != 0 or not float32_weight(scope, table) or not scope.is_dynamic(ids):
        return None
    shape = scope.weight_shape(table)
    dtype = DTYPE_NAMES.get(scope.elem(ids) or 0, "")
    if shape is None or len(shape) != 2 or not dtype.startswith("int") or scope.shape(ids) is None:
        return None
    params = {"num_embeddings": int(shape[0]), "embedding_dim": int(shape[1])}
    return Draft("Embedding", params, [ids], [node.output[0]], [node], {"weight": WeightSource(table)})
