"""What is known about a value at conversion time: a constant, sizes computed from run-time shapes, or a
weight passed into a block function.

- :class:`Const`: an array known now (an initializer, or folded from constants).
- :class:`SymShape`: a small integer tensor whose elements are ints or :class:`Expr` over run-time sizes,
  e.g. ``[x.shape[0], -1]`` from a ``Shape -> Gather -> Concat`` chain.
- :class:`Placeholder`: a weight of a block function (its value differs per call site, its type does not).

Code generators render :class:`Dim` and :class:`BinOp` in their own syntax (``x.shape[0]`` for torch,
``tf.shape(x)[0]`` for TensorFlow).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Union

import numpy as np
from onnx import TensorProto

from onnxbridge.ir.types import TensorType


class Expr:
    """A symbolic integer computed from run-time dimension sizes."""

    def refs(self) -> Iterator[str]:
        """Names of the tensors whose shapes this expression reads."""
        raise NotImplementedError


@dataclass(frozen=True)
class Dim(Expr):
    """The size of ``axis`` of the tensor named ``value`` (only known at run time)."""

    value: str
    axis: int

    def refs(self) -> Iterator[str]:
        """The tensor this size is read from."""
        yield self.value


@dataclass(frozen=True)
class BinOp(Expr):
    """``a <op> b`` on integers; ``op`` is one of ``+ - * // % max min``."""

    op: str
    a: Elem
    b: Elem

    def refs(self) -> Iterator[str]:
        """The tensors whose sizes either operand reads."""
        for e in (self.a, self.b):
            if isinstance(e, Expr):
                yield from e.refs()


Elem = Union[int, Expr]


def sym_binop(op: str, a: Elem, b: Elem) -> Elem:
    """``a op b`` simplified: integers are computed, neutral elements dropped."""
    if isinstance(a, int) and isinstance(b, int):
        return {"+": a + b, "-": a - b, "*": a * b, "//": _trunc_div(a, b) if b else 0,
                "%": (a % b) if b else 0, "max": max(a, b), "min": min(a, b)}[op]
    if op in ("+", "-") and b == 0:
        return a
    if op == "+" and a == 0:
        return b
    if op in ("*", "//") and b == 1:
        return a
    if op == "*" and a == 1:
        return b
    return BinOp(op, a, b)


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


@dataclass
class Const:
    """A value known at conversion time; ``name`` is the initializer it came from, if any."""

    array: np.ndarray
    name: str | None = None


@dataclass
class SymShape:
    """An integer tensor (0-D or 1-D) whose elements are known symbolically (sizes, ``-1`` ...)."""

    elems: tuple[Elem, ...]
    scalar: bool = False
    elem: int = TensorProto.INT64

    def refs(self) -> set[str]:
        """The tensors whose run-time sizes the elements read."""
        return {r for e in self.elems if isinstance(e, Expr) for r in e.refs()}


@dataclass
class Placeholder:
    """A weight passed into a block function: its value differs per instance, its type does not."""

    formal: str
    type: TensorType


Known = Union[Const, SymShape, Placeholder]
