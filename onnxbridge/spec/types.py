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
    # element types that imported models use (quantised weights, masks, byte images)
    "int16": TensorProto.INT16,
    "int8": TensorProto.INT8,
    "uint8": TensorProto.UINT8,
    "uint16": TensorProto.UINT16,
    "uint32": TensorProto.UINT32,
    "uint64": TensorProto.UINT64,
}
NUMPY_DTYPES: dict[str, type] = {
    "float32": np.float32, "float16": np.float16, "float64": np.float64,
    "int64": np.int64, "int32": np.int32, "bool": np.bool_, "int16": np.int16, "int8": np.int8,
    "uint8": np.uint8, "uint16": np.uint16, "uint32": np.uint32, "uint64": np.uint64,
}
#: ONNX element type -> spec dtype name
DTYPE_NAMES: dict[int, str] = {v: k for k, v in DTYPES.items()}
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


def elem_type(dtype: str) -> int:
    """The ONNX element type of a dtype name (``float32``, ``bfloat16``, ``string`` ...)."""
    if dtype in DTYPES:
        return DTYPES[dtype]
    try:
        return int(TensorProto.DataType.Value(dtype.upper()))
    except ValueError:
        raise ValueError(f"unknown element type {dtype!r}") from None


def dtype_name(elem: int) -> str:
    """The dtype name of an ONNX element type (the spec's names, else ONNX's in lower case)."""
    return DTYPE_NAMES.get(elem) or TensorProto.DataType.Name(elem).lower()
