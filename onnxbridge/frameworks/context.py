"""The converter contract every framework bridge shares: one signature, one reading API, one error type.

An op converter is a function ``convert(ctx) -> None`` registered in its framework's
:class:`~onnxbridge.frameworks.registry.OpRegistry`. ``ctx`` is a :class:`ConverterContext` subclass
(``frameworks/<fw>/context.py``): this base reads the node the same way in every framework; the subclass
adds the framework's way of writing code (``ctx.t(i)`` / ``ctx.emit(...)`` for torch, ``ctx.x(i, perm)`` /
``ctx.emit(..., perm=...)`` for Keras). Porting a converter between frameworks changes only those calls.

Reading (same names, same meanings everywhere):

- the node: ``node``, ``op``, ``node_name``, ``opset``, ``attr(name, default)``, ``attrs``;
- inputs and outputs: ``n_inputs``, ``has(i)``, ``input_name(i)``, ``n_outputs``, ``has_output(j)``,
  ``output_name(j)``, ``used(j)``, ``readers(value)``, ``sole_reader(j)``, ``is_output(value)``;
- types: ``type(i)`` / ``out_type(j)`` (may be unknown), ``elem(i)``, ``rank(i)``, ``shape(i)``,
  ``out_rank(j)``, ``out_shape(j)`` (fail when unknown);
- values known now: ``const(i)`` (an empty 1-D tensor is known too), ``ints(i)``, ``elems(i)`` (ints and
  run-time sizes of a shape-like input),
  and ``const_of(value)`` / ``elems_of(value)`` for any tensor by name;
- ONNX rules: ``axis(axis, rank)``, ``spatial_pads(kernel, strides, dilations)``,
  ``transposed_pads(kernel, strides, dilations, output_padding)``;
- ``fail(reason)`` raises :class:`NodeConversionError` naming the node (it never returns);
- ``absorb(node)``: a later node's work is done by this converter (a fusion); it is not converted again.

The driver (:func:`convert_nodes`) runs the converters of a graph's nodes in order and collects every
failure, so :class:`ConversionError` lists every offending node at once.

Example::

    @TORCH_OPS.register("Relu")
    def relu(ctx: TorchContext) -> None:
        ctx.emit(fn("torch.relu", ctx.t(0)))

    @TF_OPS.register("Relu")
    def relu(ctx: TensorFlowContext) -> None:
        x, perm = ctx.x_any(0)
        ctx.emit(call(dotted("ops", "relu"), x), perm=perm)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, NoReturn

import numpy as np
import onnx

from onnxbridge.errors import OnnxBridgeError
from onnxbridge.frameworks.registry import OpRegistry
from onnxbridge.ir import semantics
from onnxbridge.ir.conventions import normalise_domain
from onnxbridge.ir.dtypes import elem_of, numpy_dtype
from onnxbridge.ir.nodes import node_attrs, node_label
from onnxbridge.ir.symbolic import Elem, SymShape
from onnxbridge.ir.types import TensorType
from onnxbridge.ir.view import GraphView

#: what the registries hold: one function per ONNX op (and version) writing that node's code
Converter = Callable[["ConverterContext"], None]

_LISTED = 8  # failures spelled out in a ConversionError message; the rest are counted


class NodeConversionError(OnnxBridgeError):
    """One node cannot be converted: its name, op type and why (what the framework cannot express).

    ``node`` may also be the name of a graph value, with ``op_type`` saying what it is (``"output"``), for a
    problem that belongs to no node (a graph output nothing computes).
    """

    def __init__(self, node: onnx.NodeProto | str, reason: str, op_type: str = ""):
        if isinstance(node, str):
            self.node_name, self.op_type, what = node, op_type, f"{op_type} {node!r}"
        else:
            self.node_name, self.op_type = node_label(node), node.op_type
            what = f"node {self.node_name!r} ({node.op_type})"
        self.reason = reason
        super().__init__(f"{what}: {reason}")


class ConversionError(OnnxBridgeError):
    """Some nodes of a model cannot be converted to a framework; ``errors`` holds every one."""

    def __init__(self, framework: str, errors: Sequence[NodeConversionError]):
        self.framework = framework
        self.errors = list(errors)
        listed = "; ".join(e.message for e in self.errors[:_LISTED])
        more = f"; and {len(self.errors) - _LISTED} more" if len(self.errors) > _LISTED else ""
        super().__init__(f"{len(self.errors)} node(s) cannot be converted to {framework}: {listed}{more}",
                         hint="see docs/support-matrix.md for what is supported")


class ConverterContext:
    """What one op converter sees of its node; subclasses add their framework's code-writing calls.

    ``view`` is the graph the node is in; ``absorbed`` the set (of node ids) the driver skips.
    """

    #: the framework's name in messages ("PyTorch", "TensorFlow")
    framework: ClassVar[str] = ""

    def __init__(self, node: onnx.NodeProto, view: GraphView, absorbed: set[int]):
        self.node = node
        self.view = view
        self._absorbed = absorbed
        self._attrs = node_attrs(node)

    # -- the node ----------------------------------------------------------------------------------
    @property
    def op(self) -> str:
        """The node's op type (``"Conv"``)."""
        return self.node.op_type

    @property
    def node_name(self) -> str:
        """The node's name as messages and layer names use it (``<unnamed Conv>`` when it has none)."""
        return node_label(self.node)

    @property
    def opset(self) -> int:
        """The version of the default ONNX domain the graph imports."""
        return self.view.opset

    @property
    def attrs(self) -> dict[str, Any]:
        """Every attribute of the node, as :meth:`attr` gives it."""
        return {name: self.attr(name) for name in self._attrs}

    def attr(self, name: str, default: Any = None) -> Any:
        """An attribute as a plain value: strings decoded, tensors as numpy arrays, floats in their shortest
        float32 spelling (``1e-05``, not ``9.999999747378752e-06``; ONNX float attributes are float32)."""
        if name not in self._attrs:
            return default
        value = self._attrs[name]
        if isinstance(value, float):
            return _short_float(value)
        if isinstance(value, list) and value and isinstance(value[0], float):
            return [_short_float(v) for v in value]
        return value

    # -- inputs and outputs -----------------------------------------------------------------------
    @property
    def n_inputs(self) -> int:
        """How many inputs the node lists (omitted optional ones included)."""
        return len(self.node.input)

    def has(self, i: int) -> bool:
        """Whether input ``i`` is given (not omitted)."""
        return i < len(self.node.input) and bool(self.node.input[i])

    def input_name(self, i: int) -> str:
        """The name of the tensor that is input ``i``."""
        return self.node.input[i]

    @property
    def n_outputs(self) -> int:
        """How many outputs the node lists (omitted optional ones included)."""
        return len(self.node.output)

    def has_output(self, j: int) -> bool:
        """Whether output ``j`` is asked for (named)."""
        return j < len(self.node.output) and bool(self.node.output[j])

    def output_name(self, j: int = 0) -> str:
        """The name of the tensor that is output ``j``."""
        return self.node.output[j]

    def readers(self, value: str) -> list[onnx.NodeProto]:
        """The converted nodes that read ``value`` when the model runs."""
        return self.view.runtime_users(value)

    def is_output(self, value: str) -> bool:
        """Whether ``value`` is an output of the graph (or block function) being converted."""
        return self.view.is_output(value)

    def used(self, j: int) -> bool:
        """Whether output ``j`` is asked for and needed: some node reads it or it is a graph output."""
        if not self.has_output(j):
            return False
        name = self.node.output[j]
        return bool(self.readers(name)) or self.is_output(name)

    def sole_reader(self, j: int = 0) -> onnx.NodeProto | None:
        """The one node reading output ``j`` (None when several do, none does, or it is a graph output):
        the candidate for a fusion."""
        if not self.has_output(j):
            return None
        name = self.node.output[j]
        users = self.readers(name)
        return users[0] if len(users) == 1 and not self.is_output(name) else None

    def absorb(self, node: onnx.NodeProto) -> None:
        """Record that this converter also does ``node``'s work (a fusion): the driver skips ``node``."""
        self._absorbed.add(id(node))

    # -- types --------------------------------------------------------------------------------------
    def type(self, i: int) -> TensorType:
        """What is known of input ``i``'s type (element type and shape may each be None)."""
        return self.view.type(self.node.input[i]) if self.has(i) else TensorType(None, None)

    def out_type(self, j: int = 0) -> TensorType:
        """What is known of output ``j``'s type."""
        return self.view.type(self.node.output[j])

    def elem(self, i: int) -> int | None:
        """Input ``i``'s ONNX element type (from its type, else from its known value), or None."""
        elem = self.type(i).elem
        if elem is None:
            c = self.const(i)
            if c is not None:
                elem = elem_of(c.dtype)
        return elem

    def out_elem(self, j: int = 0) -> int | None:
        """Output ``j``'s ONNX element type, or None."""
        return self.out_type(j).elem

    def rank(self, i: int) -> int:
        """Input ``i``'s rank; fails when it is unknown (``type(i).rank`` is None then)."""
        r = self._rank(self.node.input[i]) if self.has(i) else None
        if r is None:
            self.fail(f"the rank of input {self.node.input[i] if self.has(i) else i!r} is unknown")
        return r

    def out_rank(self, j: int = 0) -> int:
        """Output ``j``'s rank; fails when shape inference did not find it."""
        r = self.out_type(j).rank
        if r is None:
            self.fail(f"the rank of output {self.node.output[j]!r} is unknown (shape inference failed)")
        return r

    def shape(self, i: int) -> tuple:
        """Input ``i``'s shape (ints, dim names, None); fails when it is unknown."""
        s = self.type(i).shape
        if s is None:
            c = self.const(i)
            if c is not None:
                return tuple(c.shape)
            self.fail(f"the shape of input {self.node.input[i] if self.has(i) else i!r} is unknown")
        return s

    def out_shape(self, j: int = 0) -> tuple:
        """Output ``j``'s shape; fails when shape inference did not find it."""
        s = self.out_type(j).shape
        if s is None:
            self.fail(f"the shape of output {self.node.output[j]!r} is unknown (shape inference failed)")
        return s

    # -- values known at conversion time ------------------------------------------------------------
    def const(self, i: int) -> np.ndarray | None:
        """Input ``i``'s value when it is known at conversion time (a constant, folded arithmetic, or a
        tensor with no elements: its shape says so)."""
        return self.const_of(self.node.input[i]) if self.has(i) else None

    def const_of(self, value: str) -> np.ndarray | None:
        """Any tensor's value (``value`` by name, e.g. an input of a node to fuse) when it is known now."""
        if not value:
            return None
        c = self._const(value)
        return c if c is not None else self._empty(value)

    def ints(self, i: int) -> list[int] | None:
        """Input ``i``'s known value as a flat list of ints, or None."""
        c = self.const(i)
        return None if c is None else [int(v) for v in np.asarray(c).reshape(-1)]

    def elems(self, i: int) -> list[Elem] | None:
        """The elements of a shape-like integer input known at conversion time: ints, and run-time sizes
        (:class:`~onnxbridge.ir.symbolic.Dim`, :class:`~onnxbridge.ir.symbolic.BinOp`); None otherwise."""
        return self.elems_of(self.node.input[i]) if self.has(i) else None

    def elems_of(self, value: str) -> list[Elem] | None:
        """:meth:`elems` of any tensor, by name."""
        if not value:
            return None
        sym = self._symbolic(value)
        if sym is not None:
            return list(sym)
        c = self.const_of(value)
        if c is not None and c.dtype.kind in "iu":
            return [int(v) for v in c.reshape(-1)]
        return None

    # -- ONNX rules ---------------------------------------------------------------------------------
    def axis(self, axis: int, rank: int) -> int:
        """``axis`` normalised into ``[0, rank)``; fails when it is out of range."""
        try:
            return semantics.normalise_axis(int(axis), rank)
        except ValueError as exc:
            self.fail(str(exc))

    def spatial_pads(self, kernel: Sequence[int], strides: Sequence[int], dilations: Sequence[int]) -> list[int]:
        """The node's ONNX ``pads`` (begins, then ends) over input 0's spatial dims, ``auto_pad`` resolved
        per the ONNX spec (:func:`onnxbridge.ir.semantics.conv_pads`)."""
        shape = self.type(0).shape
        nd = len(kernel)
        spatial = shape[2:] if shape is not None and len(shape) == nd + 2 else None
        try:
            return semantics.conv_pads(self.attr("auto_pad", "NOTSET"), self.attr("pads"), kernel, strides,
                                       dilations, spatial)
        except ValueError as exc:
            self.fail(str(exc))

    def transposed_pads(self, kernel: Sequence[int], strides: Sequence[int], dilations: Sequence[int],
                        output_padding: Sequence[int]) -> list[int]:
        """A ConvTranspose node's ONNX ``pads``: given, or from ``output_shape`` / ``auto_pad`` per the spec
        (:func:`onnxbridge.ir.semantics.conv_transpose_pads`)."""
        shape = self.type(0).shape
        spatial = shape[2:] if shape is not None and len(shape) == len(kernel) + 2 else None
        try:
            return semantics.conv_transpose_pads(self.attr("auto_pad", "NOTSET"), self.attr("pads"),
                                                 self.attr("output_shape"), kernel, strides, dilations,
                                                 output_padding, spatial)
        except ValueError as exc:
            self.fail(str(exc))

    # -- failing ------------------------------------------------------------------------------------
    def fail(self, reason: str) -> NoReturn:
        """Stop converting this node: raise :class:`NodeConversionError` naming it, with ``reason``."""
        raise NodeConversionError(self.node, reason)

    # -- what the framework knows beyond the view (overridden where it tracks values itself) ---------
    def _const(self, name: str) -> np.ndarray | None:
        return self.view.const(name)

    def _empty(self, name: str) -> np.ndarray | None:
        """The value of a 1-D tensor of static length 0 (an empty list of axes, pads, scales ...: known,
        whatever computes it)."""
        t = self.view.type(name)
        dtype = numpy_dtype(t.elem)
        if t.static_shape != (0,) or dtype is None:
            return None
        return np.zeros((0,), dtype)

    def _symbolic(self, name: str) -> tuple[Elem, ...] | None:
        k = self.view.known.get(name)
        return k.elems if isinstance(k, SymShape) else None

    def _rank(self, name: str) -> int | None:
        r = self.view.type(name).rank
        if r is None:
            c = self._const(name)
            r = None if c is None else c.ndim
        return r


def _short_float(value: float) -> float:
    """The shortest decimal that is the same float32."""
    return float(np.format_float_positional(np.float32(value), unique=True, trim="-"))


def lookup_converter(registry: OpRegistry, node: onnx.NodeProto, opsets: dict[str, int]) -> Converter | None:
    """The converter ``registry`` holds for ``node`` at the opset its graph imports for the node's domain."""
    domain = normalise_domain(node.domain)
    return registry.lookup(node.op_type, opsets.get(domain, opsets.get("", 1)), domain)


def convert_nodes(nodes: Iterable[onnx.NodeProto], step: Callable[[onnx.NodeProto], None],
                  failed: Callable[[onnx.NodeProto], None], errors: list[NodeConversionError]) -> None:
    """The driver loop both code generators run: ``step(node)`` for each node, in order.

    A :class:`NodeConversionError` is recorded in ``errors`` and ``failed(node)`` marks the node's outputs
    as broken, and the loop goes on, so one run reports every offending node. Any other exception after a
    recorded failure is taken as a consequence of it (code written from a broken value) and not reported
    twice; before any failure it is a bug and propagates.
    """
    for node in nodes:
        try:
            step(node)
        except NodeConversionError as exc:
            errors.append(exc)
            failed(node)
        except Exception:
            if not errors:
                raise
            failed(node)
