"""Unsigned integers a framework stores but cannot compute with, and how a node computes on them anyway.

torch holds uint16, uint32 and uint64 tensors but has almost no kernels for them (``"add_stub" not
implemented for 'UInt16'``); Keras computes uint64 as uint32 (its type promotion narrows it). ONNX integer
arithmetic wraps modulo ``2**bits``, so a node reading such a type computes in int64 and its result goes
back to the narrow type:

- uint16 / uint32 -> int64 (``convert``) holds every value: every op gives the exact result, and the cast
  back wraps the way ONNX does (``-1`` -> ``65535``).
- uint64 -> int64 holds the same bits (``view``): *ring* ops (add, sub, mul, bitwise ops, sums) and data
  movement give the same bits, reinterpreted back; *ordering* ops (comparisons, max/min, arg max, top-k,
  clip) compare the bits with the sign bit flipped (``flip``: ``x ^ -2**63``), which orders int64 values as
  the unsigned ones they stand for. The ops that need the unsigned value itself (division, remainder,
  shift right) are written out by their converters, or the node is refused.

While a node is converted this way, its context shows the converter the wide world throughout (input types,
known constant values, input expressions: the int64 ones), so converters are unchanged; the context then
writes each narrow output back. Each bridge's context does the writing; this module decides.

Example::

    plan = widening_for(node, view, lacking=frozenset({TensorProto.UINT16}))   # None: nothing to do
    # Add(x: uint16, y: uint16) in torch:  z = x.to(torch.int64) + y.to(torch.int64)
    #                                      z = z.to(torch.uint16)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto

from onnxbridge.ir.types import TensorType
from onnxbridge.ir.view import GraphView

WIDE = TensorProto.INT64
SIGN_BIT = -(2**63)

# ops whose result, computed modulo 2**64, has the same bits whatever the signedness
RING = frozenset({"Add", "Sub", "Mul", "Neg", "Sum", "CumSum", "ReduceSum", "ReduceProd", "ReduceSumSquare",
                  "BitwiseNot", "BitwiseAnd", "BitwiseOr", "BitwiseXor"})
# ops that only compare and select values
ORDER = frozenset({"Greater", "Less", "GreaterOrEqual", "LessOrEqual", "Equal", "Max", "Min", "Clip",
                   "ReduceMax", "ReduceMin", "ArgMax", "ArgMin", "TopK"})
# ops that need the value itself (exact in int64 for uint16/uint32)
VALUE = frozenset({"Div", "Mod", "Abs", "Sign", "Mean", "ReduceMean", "ReduceL1", "ReduceL2", "ReduceLogSum",
                   "ReduceLogSumExp", "BitShift"})
# of those, the converters that write uint64 out themselves
UINT64_BY_CONVERTER = frozenset({"Div", "Mod", "BitShift"})
# ops that only move elements around and keep their type (nothing to widen, whatever the framework)
MOVES = frozenset({"Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Shape", "Size",
                   "Cast", "CastLike", "BitCast", "Constant", "Dropout"})


@dataclass(frozen=True)
class Wide:
    """How one narrow tensor is seen while its node computes: ``how`` is ``convert`` (to int64), ``view``
    (the same 64 bits as int64) or ``flip`` (the same bits with the sign bit flipped: unsigned order)."""

    narrow: int
    how: str

    def value(self, array: np.ndarray) -> np.ndarray:
        """A known narrow value as the wide one."""
        if self.how == "convert":
            return array.astype(np.int64)
        wide = np.ascontiguousarray(array).view(np.int64)
        return wide ^ np.int64(SIGN_BIT) if self.how == "flip" else wide

    def narrow_value(self, array: np.ndarray) -> np.ndarray:
        """A known wide value back in the narrow type."""
        dtype = onnx.helper.tensor_dtype_to_np_dtype(self.narrow)
        if self.how == "convert":
            return array.astype(dtype)
        bits = np.asarray(array, dtype=np.int64)
        return np.ascontiguousarray(bits ^ np.int64(SIGN_BIT) if self.how == "flip" else bits).view(dtype)


@dataclass
class Widening:
    """The plan for one node: how each narrow input and output is seen (by index)."""

    inputs: dict[int, Wide]
    outputs: dict[int, Wide]

    @staticmethod
    def type(t: TensorType, wide: Wide | None) -> TensorType:
        """A tensor type as the converter sees it."""
        return TensorType(WIDE, t.shape) if wide is not None else t


def widening_for(node: onnx.NodeProto, view: GraphView, lacking: frozenset[int], *,
                 every_op: bool = False) -> Widening | str | None:
    """The plan for ``node`` when the framework cannot compute the types in ``lacking``: None when the node
    needs none, a reason (str) when it cannot be computed. ``every_op``: every op but data movement widens
    (Keras narrows uint64 in every op that promotes types), else only arithmetic ones (torch)."""
    op = node.op_type
    arithmetic = op in RING or op in ORDER or op in VALUE
    if op in MOVES or not (arithmetic or every_op):
        return None
    elems = {i: view.type(name).elem for i, name in enumerate(node.input) if name}
    narrow = {e for e in elems.values() if e in lacking}
    if not narrow:
        return None
    is_u64 = TensorProto.UINT64 in narrow
    if is_u64 and op in UINT64_BY_CONVERTER:
        return None
    if is_u64 and op in VALUE:
        return f"{op} needs the unsigned value of uint64 inputs, which int64 cannot hold"
    how = "convert" if not is_u64 else "flip" if op in ORDER else "view"
    inputs = {i: Wide(e, how) for i, e in elems.items() if e in lacking}
    outputs = {}
    for j, name in enumerate(node.output):
        elem = view.type(name).elem if name else None
        if elem in lacking:
            outputs[j] = Wide(elem, how)
    return Widening(inputs, outputs)
