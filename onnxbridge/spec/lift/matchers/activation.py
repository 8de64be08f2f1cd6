"""One-node activations: Relu, Sigmoid, Tanh, HardSwish, LeakyRelu, Elu, Gelu, Softmax, LogSoftmax.

Activations written as several nodes (GELU as Erf arithmetic, SiLU as x * sigmoid(x)) are found in
``regions.py``.
"""

from __future__ import annotations

import onnx
from onnx import TensorProto

from onnxbridge.spec.layers.generic import clean_float
from onnxbridge.spec.lift.draft import Draft
from onnxbridge.spec.lift.matchers import matcher
from onnxbridge.spec.lift.matchers.common import attr, float32
from onnxbridge.spec.lift.scope import Scope

_FLOATS = (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16)
_PLAIN = {"Relu": "ReLU", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "HardSwish": "Hardswish"}


def _float(scope: Scope, value: str) -> bool:
    return scope.elem(value) in _FLOATS and scope.shape(value) is not None


@matcher(*_PLAIN)
def plain(scope: Scope, node: onnx.NodeProto) -> Draft | None:
    """A parameterless activation layer for an ONNX activation node of the same meaning."""
    x = scope.inp(node, 0)
    if not _float(scope, x) or (node.op_type == "HardSwish" and scope.opset < 14):
        return None
    return Draft(_PLAIN[node.op_type], {}, [x], [node.output[0]], [node])


@matcher("LeakyRelu", "Elu")
def with_alpha(scope: Scope, node: onnx.NodeProto) -> Draft | None:
    """``LeakyReLU`` or ``ELU`` for ONNX ``LeakyRelu`` / ``Elu``, their ``alpha`` kept as a parameter."""
    x = scope.inp(node, 0)
    if not _float(scope, x):
        return None
    if node.op_type == "LeakyRelu":
        slope = clean_float(float(attr(node, "alpha", 0.01)))
        return Draft("LeakyReLU", {} if slope == 0.01 else {"negative_slope": slope}, [x], [node.output[0]], [node])
    alpha = clean_float(float(attr(node, "alpha", 1.0)))
    return Draft("ELU", {} if alpha == 1.0 else {"alpha": alpha}, [x], [node.output[0]], [node])


@matcher("Gelu")
def gelu(scope: Scope, node: onnx.NodeProto) -> Draft | None:
    """``GELU`` for ONNX ``Gelu`` (opset 20), exact or tanh-approximated."""
    x = scope.inp(node, 0)
    if not float32(scope, x) or scope.shape(x) is None:
        return None
    approximate = attr(node, "approximate", "none")
    return Draft("GELU", {} if approximate == "none" else {"approximate": approximate}, [x], [node.output[0]], [node])


@matcher("Softmax", "LogSoftmax")
def softmax(scope: Scope, node: onnx.NodeProto) -> Draft | None:
    """``Softmax`` / ``LogSoftmax`` for the ONNX ops; before opset 13 only when they normalise over the last
    axis."""
    x = scope.inp(node, 0)
    rank = scope.rank(x)
    if not _float(scope, x) or not rank:
        return None
    axis = int(attr(node, "axis", -1 if scope.opset >= 13 else 1))
    if scope.opset < 13 and axis % rank != rank - 1:
        return None  # before opset 13 the input was coerced to 2-D around the axis
    if axis >= rank or axis < -rank:
        return None
    dim = axis - rank if axis >= 0 else axis  # -1 reads as 'the last dim'
    return Draft(node.op_type, {} if dim == -1 else {"dim": dim}, [x], [node.output[0]], [node])
