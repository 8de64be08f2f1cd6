"""Small helpers the matchers share."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto

from onnxbridge.ir.nodes import node_attrs
from onnxbridge.spec.layers.generic import clean_float
from onnxbridge.spec.lift.scope import Scope


def attr(node: onnx.NodeProto, name: str, default: Any = None) -> Any:
    """The attribute ``name`` of ``node`` as a Python value, or ``default``."""
    return node_attrs(node).get(name, default)


def float32(scope: Scope, value: str) -> bool:
    """Whether ``value`` is float32 (the natural layers' weights are float32)."""
    return scope.elem(value) == TensorProto.FLOAT


def float32_weight(scope: Scope, value: str) -> bool:
    """Whether ``value`` is a float32 weight (a constant or initializer)."""
    return scope.is_weight(value) and scope.weight_elem(value) == TensorProto.FLOAT


def collapse(values: list[int] | tuple[int, ...]) -> int | list[int]:
    """``[3, 3]`` -> ``3``; ``[3, 5]`` stays a list."""
    values = [int(v) for v in values]
    return values[0] if values and all(v == values[0] for v in values) else values


def number(value: float) -> float:
    """A float attribute in its shortest exact form."""
    return clean_float(value)


def scalar(scope: Scope, value: str) -> float | None:
    """The value of a constant with one element, else None."""
    c = scope.const(value)
    if c is None or c.size != 1:
        return None
    return float(np.asarray(c).reshape(-1)[0])


def static_dim(scope: Scope, value: str, axis: int) -> int | None:
    """The fixed size of dimension ``axis`` of ``value``, or None when it is symbolic, unknown or out of
    range."""
    shape = scope.shape(value)
    if shape is None or not -len(shape) <= axis < len(shape):
        return None
    d = shape[axis]
    return d if isinstance(d, int) else None


def outputs_used(node: onnx.NodeProto, scope: Scope) -> list[int]:
    """Indices of the node's outputs that something reads."""
    return [i for i, o in enumerate(node.output) if o and (scope.users(o) or scope.is_output(o))]


def one_output(node: onnx.NodeProto, scope: Scope) -> bool:
    """Only the first output is read (the others are absent or unused)."""
    return outputs_used(node, scope) == [0]


def default_domain(node: onnx.NodeProto) -> bool:
    """Whether ``node`` is in the standard ONNX domain."""
    return node.domain in ("", "ai.onnx")
