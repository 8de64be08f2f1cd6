"""Shapes and dtypes as the spec sees them: a dim is an int or a symbolic name such as ``batch``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeGuard, Union

from onnxbridge.ir.dtypes import ELEMENT_TYPES, elem_named, onnx_type_name
from onnxbridge.ir.dtypes import dtype_name as ir_dtype_name

Dim = Union[int, str]
Shape = tuple[Dim, ...]

# the element types a spec tensor may have (schema.DType) and those imported models use (quantised weights,
# masks, byte images), looked up in the one table in onnxbridge.ir.dtypes
_SPEC_ELEMS = [ELEMENT_TYPES[elem_named(name) or 0]
               for name in ("float32", "float16", "float64", "int64", "int32", "bool",
                            "int16", "int8", "uint8", "uint16", "uint32", "uint64")]
DTYPES: dict[str, int] = {t.name: t.elem for t in _SPEC_ELEMS}
NUMPY_DTYPES: dict[str, type] = {t.name: t.numpy for t in _SPEC_ELEMS if t.numpy is not None}
#: ONNX element type -> spec dtype name
DTYPE_NAMES: dict[int, str] = {v: k for k, v in DTYPES.items()}
FLOAT_DTYPES = tuple(t.name for t in _SPEC_ELEMS if t.kind == "float")


@dataclass(frozen=True)
class TensorInfo:
    """The shape and dtype of one tensor flowing between layers."""

    shape: Shape
    dtype: str = "float32"

    @property
    def rank(self) -> int:
        """The number of dimensions."""
        return len(self.shape)

    def with_shape(self, shape: Shape) -> TensorInfo:
        """The same element type with another shape."""
        return TensorInfo(tuple(shape), self.dtype)

    def __str__(self) -> str:
        return format_shape(self.shape)


def format_shape(shape: Shape) -> str:
    """``[batch, 16, 4, 4]``."""
    return "[" + ", ".join(str(d) for d in shape) + "]"


def is_static(d: Dim) -> TypeGuard[int]:
    """Whether dimension ``d`` is a fixed number (not symbolic)."""
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
    """The number of elements of ``shape``: a number when every dimension is fixed, symbolic otherwise."""
    out: Dim = 1
    for d in shape:
        out = dim_mul(out, d)
    return out


def elem_type(dtype: str) -> int:
    """The ONNX element type of a dtype name (``float32``, ``bfloat16``, ``string`` ...)."""
    elem = DTYPES.get(dtype) or elem_named(dtype)
    if elem is None:
        raise ValueError(f"unknown element type {dtype!r}")
    return elem


def dtype_name(elem: int) -> str:
    """The dtype name of an ONNX element type (the spec's names, else ONNX's in lower case)."""
    return DTYPE_NAMES.get(elem) or ir_dtype_name(elem) or onnx_type_name(elem).lower()
