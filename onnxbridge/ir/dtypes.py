"""The one table of ONNX element types: their names, numpy dtypes and kinds.

Every other module asks this one instead of keeping its own table. Names are the numpy spellings
(``float32``, ``int64``, ``bool``), which torch (``torch.float32``), Keras (``"float32"``) and the spec use too.

Example::

    dtype_name(TensorProto.FLOAT)      # "float32"
    numpy_dtype(TensorProto.INT64)     # dtype('int64')
    elem_of(np.dtype("float16"))       # TensorProto.FLOAT16
    elem_named("bool")                 # TensorProto.BOOL
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from onnx import TensorProto


@dataclass(frozen=True)
class ElementType:
    """One ONNX element type: its enum value, name, numpy dtype (None when numpy has none) and kind."""

    elem: int
    name: str
    numpy: type | None
    kind: str  # "float", "int", "uint", "bool", "string"


_TABLE = (
    ElementType(TensorProto.FLOAT, "float32", np.float32, "float"),
    ElementType(TensorProto.DOUBLE, "float64", np.float64, "float"),
    ElementType(TensorProto.FLOAT16, "float16", np.float16, "float"),
    ElementType(TensorProto.BFLOAT16, "bfloat16", None, "float"),
    ElementType(TensorProto.INT64, "int64", np.int64, "int"),
    ElementType(TensorProto.INT32, "int32", np.int32, "int"),
    ElementType(TensorProto.INT16, "int16", np.int16, "int"),
    ElementType(TensorProto.INT8, "int8", np.int8, "int"),
    ElementType(TensorProto.UINT8, "uint8", np.uint8, "uint"),
    ElementType(TensorProto.UINT16, "uint16", np.uint16, "uint"),
    ElementType(TensorProto.UINT32, "uint32", np.uint32, "uint"),
    ElementType(TensorProto.UINT64, "uint64", np.uint64, "uint"),
    ElementType(TensorProto.BOOL, "bool", np.bool_, "bool"),
    ElementType(TensorProto.STRING, "string", None, "string"),
    ElementType(TensorProto.COMPLEX64, "complex64", np.complex64, "complex"),
    ElementType(TensorProto.COMPLEX128, "complex128", np.complex128, "complex"),
    # numpy has none of these; ONNX hands them out as ml_dtypes arrays of the same names
    ElementType(TensorProto.FLOAT8E4M3FN, "float8_e4m3fn", None, "float"),
    ElementType(TensorProto.FLOAT8E4M3FNUZ, "float8_e4m3fnuz", None, "float"),
    ElementType(TensorProto.FLOAT8E5M2, "float8_e5m2", None, "float"),
    ElementType(TensorProto.FLOAT8E5M2FNUZ, "float8_e5m2fnuz", None, "float"),
    ElementType(TensorProto.FLOAT8E8M0, "float8_e8m0fnu", None, "float"),
    ElementType(TensorProto.FLOAT4E2M1, "float4_e2m1fn", None, "float"),
    ElementType(TensorProto.INT4, "int4", None, "int"),
    ElementType(TensorProto.UINT4, "uint4", None, "uint"),
    ElementType(TensorProto.INT2, "int2", None, "int"),
    ElementType(TensorProto.UINT2, "uint2", None, "uint"),
)

#: the float types narrower than 16 bits (float8 and float4 kinds)
TINY_FLOAT_TYPES = frozenset({TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT8E4M3FNUZ, TensorProto.FLOAT8E5M2,
                              TensorProto.FLOAT8E5M2FNUZ, TensorProto.FLOAT8E8M0, TensorProto.FLOAT4E2M1})
#: the integer types narrower than a byte (ONNX packs them two or four to a byte)
SUB_BYTE_INT_TYPES = frozenset({TensorProto.INT4, TensorProto.UINT4, TensorProto.INT2, TensorProto.UINT2})

ELEMENT_TYPES: dict[int, ElementType] = {t.elem: t for t in _TABLE}
_BY_NAME: dict[str, ElementType] = {t.name: t for t in _TABLE}

#: ONNX element type -> numpy scalar type, for the types numpy has
NP_DTYPES: dict[int, type] = {t.elem: t.numpy for t in _TABLE if t.numpy is not None}
#: the integer element types (signed and unsigned)
INT_TYPES = frozenset(t.elem for t in _TABLE if t.kind in ("int", "uint"))
#: the floating-point element types
FLOAT_TYPES = frozenset(t.elem for t in _TABLE if t.kind == "float")


def dtype_name(elem: int | None) -> str | None:
    """The name of an ONNX element type (``"float32"``), or None when it has none here."""
    t = ELEMENT_TYPES.get(elem) if elem is not None else None
    return t.name if t is not None else None


def numpy_dtype(elem: int | None) -> np.dtype | None:
    """The numpy dtype of an ONNX element type, or None (unknown, string, and the ml_dtypes ones: bfloat16,
    float8 ...)."""
    t = NP_DTYPES.get(elem) if elem is not None else None
    return np.dtype(t) if t is not None else None


def elem_named(name: str) -> int | None:
    """The ONNX element type called ``name`` (``"float32"`` -> ``TensorProto.FLOAT``), or None."""
    t = _BY_NAME.get(name)
    return t.elem if t is not None else None


def elem_of(dtype: Any) -> int | None:
    """The ONNX element type of a numpy dtype (or array, or dtype name), or None when ONNX has none."""
    try:
        if isinstance(dtype, np.ndarray):
            dtype = dtype.dtype
        name = np.dtype(dtype).name
    except TypeError:
        return None
    return elem_named(name)


def onnx_type_name(elem: int | None) -> str:
    """ONNX's own spelling of an element type (``FLOAT``, ``INT64``), for messages."""
    try:
        return TensorProto.DataType.Name(elem or 0)
    except ValueError:
        return f"type {elem}"
