"""Shapes and dtypes as the spec sees them: a dim is an int or a symbolic name such as ``batch``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import numpy as np
from onnx import TensorProto

Dim = Union[int, str]
Shape = tuple[Dim, ...]

DTYPES: dict[str, int] = {
    "float32": TensorProto.FLOAT,
    "float16": TensorProto.FLOAT16,
    "float64": TensorProto.DOUBLE,
    "int64": TensorProto.INT64,
    "int32": TensorProto.INT32,
    "bool": TensorProto.BOOL,
}
NUMPY_DTYPES: dict[str, type] = {
    "float32": np.float32, "float16": np.float16, "float64": np.float64,
    "int64": np.int64, "int32": np.int32, "bool": np.bool_,
}
FLOAT_DTYPES = ("float32", "float16", "float64")


@dataclass(frozen=True)
class TensorInfo:
    """The shape and dtype of one tensor flowing between layers."""

    shape: Shape
    dtype: str = "float32"

    @property
    def rank(self) -> int:
        return len(self.shape)

    def with_shape(self, shape: Shape) -> TensorInfo:
        return TensorInfo(tuple(shape), self.dtype)

    def __str__(self) -> str:
        return format_shape(self.shape)


def format_shape(shape: Shape) -> str:
    """``[batch, 16, 4, 4]``."""
    return "[" + ", ".join(str(d) for d in shape) + "]"


def is_static(d: Dim) -> bool:
    return isinstance(d, int)


def dim_mul(a: Dim, b: Dim) -> Dim:
    """Product of two dims; symbolic when either is (``a*b``)."""
    if isinstance(a, int) and isinstance(b, int):
        return a * b
    if a == 1:
        return b
    if b == 1:
        return a
    return f"{a}*{b}"


def numel(shape: Shape) -> Dim:
    out: Dim = 1
    for d in shape:
        out = dim_mul(out, d)
    return out
