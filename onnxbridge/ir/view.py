"""A view of one graph for code generation: its nodes, every value's type, producer and consumers, and what
is known about each value at conversion time (:mod:`onnxbridge.ir.symbolic`).

A view is the main graph of a model, one block function instantiated at its call sites' types, or a Loop
body; :mod:`onnxbridge.ir.plan` makes them.

Example::

    view.type("x").shape          # ("batch", 3, 32, 32)
    view.const("shape")           # np.array([-1, 192]) when it is known now
    view.dims("x")                # [Dim("x", 0), 3, 32, 32]
    view.runtime_users("h")       # the nodes that read h when the model runs
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import onnx

from onnxbridge.ir.dtypes import NP_DTYPES, elem_of
from onnxbridge.ir.nodes import node_inputs
from onnxbridge.ir.symbolic import Const, Dim, Elem, Known, Placeholder, SymShape
from onnxbridge.ir.types import UNKNOWN, TensorType

if TYPE_CHECKING:
    from onnxbridge.ir.plan import FunctionKey


@dataclass
class GraphView:
    """One graph with types, producers, consumers and conversion-time knowledge of its values.

    ``inputs`` are the run-time inputs (graph inputs that are not initializers, or the activation
    formals of a block function); ``weights`` the formal weight inputs of a block function.
    """

    name: str
    nodes: list[onnx.NodeProto]
    inputs: list[str]
    outputs: list[str]
    types: dict[str, TensorType]
    opsets: dict[str, int]
    known: dict[str, Known] = field(default_factory=dict)
    weights: list[str] = field(default_factory=list)
    doc: str = ""
    is_function: bool = False
    producer: dict[str, onnx.NodeProto] = field(default_factory=dict)
    consumers: dict[str, list[onnx.NodeProto]] = field(default_factory=dict)
    #: function calls: node (by id) -> the FunctionKey of the view that implements it
    calls: dict[int, FunctionKey] = field(default_factory=dict)
    #: shapes worked out here where ONNX shape inference had none (e.g. after a Reshape to x.shape[0])
    sym_shapes: dict[str, tuple[Elem | None, ...]] = field(default_factory=dict)
    _from_inputs: set[str] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        for node in self.nodes:
            for o in node.output:
                if o:
                    self.producer[o] = node
            for i in node_inputs(node):
                self.consumers.setdefault(i, []).append(node)

    @property
    def opset(self) -> int:
        """The version of the default ONNX domain the graph imports."""
        return self.opsets.get("", 1)

    def type(self, value: str) -> TensorType:
        """What is known of ``value``'s type (an unknown type when nothing is)."""
        if value in self.types:
            return self.types[value]
        k = self.known.get(value)
        if isinstance(k, Const):
            return TensorType(elem_of(k.array), tuple(int(d) for d in k.array.shape))
        if isinstance(k, Placeholder):
            return k.type
        if isinstance(k, SymShape):
            return TensorType(k.elem, () if k.scalar else (len(k.elems),))
        return UNKNOWN

    def dims(self, value: str) -> list[Elem] | None:
        """``value``'s dims: static sizes as ints, the others as :class:`Dim` (read at run time)."""
        t = self.type(value)
        sym = self.sym_shapes.get(value)
        if t.shape is None and sym is None:
            return None
        shape = t.shape if t.shape is not None else sym
        out: list[Elem] = []
        for axis, d in enumerate(shape):  # type: ignore[arg-type]
            if isinstance(d, int):
                out.append(d)
            elif sym is not None and len(sym) == len(shape) and sym[axis] is not None:  # type: ignore[arg-type]
                out.append(sym[axis])  # type: ignore[arg-type]
            else:
                out.append(Dim(value, axis))
        return out

    def const(self, value: str) -> np.ndarray | None:
        """``value``'s array when it is known at conversion time (a constant, or shape arithmetic on
        static sizes)."""
        k = self.known.get(value)
        if isinstance(k, Const):
            return k.array
        if isinstance(k, SymShape) and all(isinstance(e, int) for e in k.elems):
            return np.asarray(k.elems if not k.scalar else k.elems[0], dtype=NP_DTYPES.get(k.elem, np.int64))
        return None

    def from_inputs(self, value: str) -> bool:
        """Whether ``value`` is computed from the run-time inputs; the others (weights and what is computed
        from them alone) are the same on every run."""
        if self._from_inputs is None:
            reached = set(self.inputs)
            for node in self.nodes:
                if any(i in reached for i in node_inputs(node)):
                    reached.update(o for o in node.output if o)
            self._from_inputs = reached
        return value in self._from_inputs

    def users(self, value: str) -> list[onnx.NodeProto]:
        """Every node that reads ``value`` (its subgraphs included)."""
        return self.consumers.get(value, [])

    def runtime_users(self, value: str) -> list[onnx.NodeProto]:
        """The nodes that need ``value`` at run time: direct consumers that write code, and consumers of
        shape arithmetic that reads ``value``'s sizes (``Shape -> Gather -> Reshape`` needs ``x.shape``)."""
        out: dict[int, onnx.NodeProto] = {}
        for node in self.users(value):
            if not all(o in self.known for o in node.output if o):
                out[id(node)] = node
        for name, k in self.known.items():
            if isinstance(k, SymShape) and value in k.refs():
                for node in self.users(name):
                    if not all(o in self.known for o in node.output if o):
                        out[id(node)] = node
        return list(out.values())

    def is_output(self, value: str) -> bool:
        """Whether ``value`` is an output of the graph (or function)."""
        return value in self.outputs
