"""BatchNormalization -> BatchNorm1d/2d, LayerNormalization -> LayerNorm (the expanded form: regions.py)."""

from __future__ import annotations

import numpy as np
import onnx

from onnxbridge.spec.layers.generic import clean_float
from onnxbridge.spec.lift.draft import Draft, WeightSource
from onnxbridge.spec.lift.matchers import matcher
from onnxbridge.spec.lift.matchers.common import attr, float32, float32_weight, one_output
from onnxbridge.spec.lift.scope import Scope


@matcher("BatchNormalization")
def batch_norm(scope: Scope, node: onnx.NodeProto) -> Draft | None:
    """``BatchNorm1d`` / ``BatchNorm2d`` for an inference-mode ``BatchNormalization`` with a single output."""
    if scope.opset < 9 or int(attr(node, "training_mode", 0)) or not one_output(node, scope):
        return None
    x = scope.inp(node, 0)
    rank = scope.rank(x)
    if rank not in (2, 3, 4) or not float32(scope, x):
        return None
    channels = scope.dims(x)[1]
    stats = [scope.inp(node, k) for k in range(1, 5)]
    if not isinstance(channels, int) or not all(float32_weight(scope, s) and scope.weight_shape(s) == (channels,)
                                                for s in stats):
        return None
    params: dict = {}
    eps = clean_float(float(attr(node, "epsilon", 1e-5)))
    if eps != 1e-5:
        params["eps"] = eps
    momentum = clean_float(1.0 - clean_float(float(attr(node, "momentum", 0.9))))
    if momentum != 0.1:
        params["momentum"] = momentum
    weights = {k: WeightSource(v) for k, v in zip(("weight", "bias", "running_mean", "running_var"), stats)}
    return Draft("BatchNorm2d" if rank == 4 else "BatchNorm1d", params, [x], [node.output[0]], [node], weights)


def _all_ones(scope: Scope, value: str) -> bool:
    c = scope.const(value)
    return c is not None and bool(np.all(c == 1))


@matcher("LayerNormalization")
def layer_norm(scope: Scope, node: onnx.NodeProto) -> Draft | None:
    """``LayerNorm`` for an ONNX ``LayerNormalization`` (opset 17) over the trailing axes."""
    x, scale, bias = scope.inp(node, 0), scope.inp(node, 1), scope.inp(node, 2)
    rank = scope.rank(x)
    # before opset 17 the node is not ONNX (onnxruntime runs it as its own op, with the same arithmetic):
    # the LayerNorm layer is written out at such opsets, so the rebuilt model is valid where this one is not
    if rank is None or not float32(scope, x) or not one_output(node, scope):
        return None
    if int(attr(node, "stash_type", 1)) != 1:
        return None
    axis = int(attr(node, "axis", -1))
    axis = axis + rank if axis < 0 else axis
    dims = rank - axis
    if not 1 <= dims < rank:
        return None
    trailing = scope.dims(x)[axis:]
    if not all(isinstance(d, int) for d in trailing) or not float32_weight(scope, scale) \
            or scope.weight_shape(scale) != tuple(trailing):
        return None
    params: dict = {}
    if dims != 1:
        params["normalized_dims"] = dims
    eps = clean_float(float(attr(node, "epsilon", 1e-5)))
    if eps != 1e-5:
        params["eps"] = eps
    weights: dict = {}
    if bias:
        if not float32_weight(scope, bias) or scope.weight_shape(bias) != tuple(trailing):
            return None
        weights = {"weight": WeightSource(scale), "bias": WeightSource(bias)}
    elif _all_ones(scope, scale):
        params["elementwise_affine"] = False
    else:
        weights = {"weight": WeightSource(scale), "bias": WeightSource(scale, np.zeros_like)}
    return Draft("LayerNorm", params, [x], [node.output[0]], [node], weights)
