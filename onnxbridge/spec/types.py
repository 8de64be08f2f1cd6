"""Shapes and dtypes as the spec sees them: a dim is an int or a symbolic name such as ``batch``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from onnxbridge.ir.dtypes import ELEMENT_TYPES, elem_named

Dim = Union[int, str]
Shape = tuple[Dim, ...]

# the element types a spec tensor may have (schema.DType), looked up in the one table in onnxbridge.ir.dtypes
_SPEC_ELEMS = [ELEMENT_TYPES[elem_named(name) or 0]
               for name in ("float32", "float16", "float64", "int64", "int32", "bool")]
DTYPES: dict[str, int] = {t.name: t.elem for t in _SPEC_ELEMS}
NUMPY_DTYPES: dict[str, type] = {t.name: t.numpy for t in _SPEC_ELEMS if t.numpy is not None}
FLOAT_DTYPES = tuple(t.name for t in _SPEC_ELEMS if t.kind == "float")


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
