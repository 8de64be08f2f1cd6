"""Unsigned integers torch stores but has almost no kernels for, and how a node computes on them anyway.

torch holds uint16, uint32 and uint64 tensors, but ``+``, ``>``, ``torch.maximum`` ... are not implemented
for them (``"add_stub" not implemented for 'UInt16'``). ONNX integer arithmetic wraps modulo ``2**bits``, so a
node reading such a type computes in int64 and its result is cast back:

- uint16 / uint32 -> int64 holds every value: every op gives the exact result, and the cast back wraps the
  way ONNX does (``-1`` -> ``65535``).
- uint64 -> int64 holds the same bits (``x.view(torch.int64)``): *ring* ops (add, sub, mul, bitwise ops,
  sums) give the same bits, reinterpreted back with ``view``; *ordering* ops (comparisons, max/min, arg max,
  top-k, clip) compare the bits with the sign bit flipped (``x ^ -2**63``), which orders int64 values as the
  unsigned ones they stand for. The other ops (division, remainder, shift right) need the unsigned value
  itself: their converters write it out (``ops/elementwise.py``), or the node is refused.

While a node is converted this way, its context shows the converter the wide world throughout: the input
types, the known constant values and the input expressions are the int64 ones, so the converter's code is
unchanged; :meth:`Widening.narrow` then writes the cast back of each output.

Example::

    plan = widening_for(node, view)      # None when the node needs nothing
    # Add(x: uint16, y: uint16) is written  z = x.to(torch.int64) + y.to(torch.int64)
    #                                       z = z.to(torch.uint16)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto

from onnxbridge.codegen.writer import Code, fmt, lit
from onnxbridge.ir.types import TensorType
from onnxbridge.ir.view import GraphView

#: the unsigned types torch has (almost) no arithmetic kernels for
NARROW = frozenset({TensorProto.UINT16, TensorProto.UINT32, TensorProto.UINT64})
WIDE = TensorProto.INT64
SIGN_BIT = -(2**63)

# ops whose result, computed modulo 2**64, has the same bits whatever the signedness
_RING = frozenset({"Add", "Sub", "Mul", "Neg", "Sum", "CumSum", "ReduceSum", "ReduceProd", "ReduceSumSquare",
                   "BitwiseNot", "BitwiseAnd", "BitwiseOr", "BitwiseXor"})
# ops that only compare and select values
_ORDER = frozenset({"Greater", "Less", "GreaterOrEqual", "LessOrEqual", "Equal", "Max", "Min", "Clip",
                    "ReduceMax", "ReduceMin", "ArgMax", "ArgMin", "TopK"})
# ops that need the value itself (exact in int64 for uint16/uint32)
_VALUE = frozenset({"Div", "Mod", "Abs", "Sign", "Mean", "ReduceMean", "ReduceL1", "ReduceL2", "ReduceLogSum",
                    "ReduceLogSumExp", "BitShift"})
# of those, the converters that write uint64 out themselves
_UINT64_BY_CONVERTER = frozenset({"Div", "Mod", "BitShift"})


@dataclass(frozen=True)
class Wide:
    """How one narrow tensor is seen while its node computes: ``how`` is ``convert`` (``.to(torch.int64)``),
    ``view`` (the same 64 bits as int64) or ``flip`` (the same bits, sign bit flipped: unsigned order)."""

    narrow: int
    how: str

    def code(self, expr: Code) -> Code:
        """The narrow tensor ``expr`` as the wide one."""
        if self.how == "convert":
            return fmt("{}.to(torch.int64)", expr)
        if self.how == "view":
            return fmt("{}.view(torch.int64)", expr)
        return fmt("({}.view(torch.int64) ^ {})", expr, lit(SIGN_BIT))

    def back(self, expr: Code, narrow_dtype: Code) -> Code:
        """The wide result ``expr`` as the narrow type (``narrow_dtype``: ``torch.uint16`` ...)."""
        if self.how == "convert":
            return fmt("{}.to({})", expr, narrow_dtype)
        if self.how == "view":
            return fmt("{}.view({})", expr, narrow_dtype)
        return fmt("({} ^ {}).view({})", expr, lit(SIGN_BIT), narrow_dtype)

    def value(self, array: np.ndarray) -> np.ndarray:
        """A known narrow value as the wide one."""
        if self.how == "convert":
            return array.astype(np.int64)
        wide = np.ascontiguousarray(array).view(np.int64)
        return wide ^ np.int64(SIGN_BIT) if self.how == "flip" else wide


@dataclass
class Widening:
    """The plan for one node: how each narrow input and output is seen (by index)."""

    inputs: dict[int, Wide]
    outputs: dict[int, Wide]

    def type(self, t: TensorType, wide: Wide | None) -> TensorType:
        """A tensor type as the converter sees it."""
        return TensorType(WIDE, t.shape) if wide is not None else t


def widening_for(node: onnx.NodeProto, view: GraphView) -> Widening | str | None:
    """The plan for ``node``: None when it needs none, a reason (str) when torch cannot compute it."""
    op = node.op_type
    if op not in _RING and op not in _ORDER and op not in _VALUE:
        return None
    elems = {i: view.type(name).elem for i, name in enumerate(node.input) if name}
    narrow = {e for e in elems.values() if e in NARROW}
    if not narrow:
        return None
    is_u64 = TensorProto.UINT64 in narrow
    if is_u64 and op in _UINT64_BY_CONVERTER:
        return None
    if is_u64 and op in _VALUE:
        return f"torch has no uint64 kernels for {op}, and int64 cannot hold every uint64 value"
    how = "convert" if not is_u64 else "view" if op in _RING else "flip"
    inputs = {i: Wide(e, how) for i, e in elems.items() if e in NARROW}
    outputs = {}
    for j, name in enumerate(node.output):
        elem = view.type(name).elem if name else None
        if elem in NARROW:
            outputs[j] = Wide(elem, how)
    return Widening(inputs, outputs)
