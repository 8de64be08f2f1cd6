"""What a PyTorch op converter sees: :class:`TorchContext` (the shared reading API plus torch's writing calls)
and the small helpers converters build code with (:func:`fn`, :func:`scalar`, :func:`compact` ...).

Converters write one ``forward`` statement per node, named after the value (``x = self.conv1(x)``), and put
modules and constant tensors in ``__init__`` (:meth:`TorchContext.add_module`, :meth:`TorchContext.add_tensor`).

Example::

    @TORCH_OPS.register("LeakyRelu")
    def leaky_relu(ctx: TorchContext) -> None:
        ctx.emit(fn("F.leaky_relu", ctx.t(0), scalar(np.float32(ctx.attr("alpha", 0.01)))))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx

from onnxbridge.codegen.writer import Code, SourceWriter, call, dotted, fmt, ident, join, lit
from onnxbridge.errors import OnnxBridgeError
from onnxbridge.frameworks.context import ConverterContext
from onnxbridge.frameworks.widening import SIGN_BIT
from onnxbridge.ir.dtypes import NP_DTYPES, SUB_BYTE_INT_TYPES, dtype_name, onnx_type_name
from onnxbridge.ir.naming import layer_hint
from onnxbridge.ir.symbolic import Const, Elem, Placeholder, SymShape
from onnxbridge.ir.types import TensorType
from onnxbridge.ir.view import GraphView

if TYPE_CHECKING:
    from onnxbridge.frameworks.torch.codegen import ClassBuilder
    from onnxbridge.frameworks.widening import Wide, Widening

# torch has a dtype of the same name for every ONNX element type except these (its int4/uint4/float4 dtypes
# are placeholders without kernels, not even a copy)
_NO_TORCH_DTYPE: dict[int, str] = {
    onnx.TensorProto.STRING: "torch has no string tensors",
    **{e: "torch has no usable tensors of sub-byte integers" for e in SUB_BYTE_INT_TYPES},
    onnx.TensorProto.FLOAT4E2M1: "torch has no usable 4-bit float tensors (only packed pairs)",
}


def missing_dtype(elem: int | None) -> str | None:
    """Why torch cannot hold tensors of ONNX element type ``elem`` (None when it can, or it is unknown)."""
    if elem is None or elem == 0:
        return None
    reason = _NO_TORCH_DTYPE.get(elem)
    if reason is None and dtype_name(elem) is None:
        reason = "torch has no such dtype"
    return f"{reason} (element type {onnx_type_name(elem)})" if reason else None


def api(name: str) -> Code:
    """A fixed API name such as ``torch.relu`` (validated as a dotted identifier)."""
    return dotted(*name.split("."))


def fn(name: str, *args: Code, **kwargs: Code) -> Code:
    """``name(args..., key=value)`` for a fixed API name."""
    return call(api(name), *args, **kwargs)


def dtype_code(elem: int | None) -> Code:
    """``torch.float32`` for an ONNX element type."""
    name = dtype_name(elem)
    if name is None or elem in _NO_TORCH_DTYPE:
        raise OnnxBridgeError(missing_dtype(elem) or f"ONNX element type {onnx_type_name(elem)} has no torch dtype")
    return api(f"torch.{name}")


def scalar(value: Any) -> Code:
    """A Python literal for a numpy scalar; float32 values get their shortest float32 spelling."""
    v = np.asarray(value).reshape(-1)[0]
    if isinstance(v, np.floating):
        return lit(float(str(np.float32(v)))) if v.dtype == np.float32 else lit(float(v))
    if isinstance(v, np.bool_):
        return lit(bool(v))
    return lit(int(v))


def _wide_code(wide: Wide, expr: Code) -> Code:
    """A narrow tensor of a widened node as the int64 one it computes with (see ``frameworks/widening.py``)."""
    if wide.how == "convert":
        return fmt("{}.to(torch.int64)", expr)
    if wide.how == "view":
        return fmt("{}.view(torch.int64)", expr)
    return fmt("({}.view(torch.int64) ^ {})", expr, lit(SIGN_BIT))


def _narrow_code(wide: Wide, expr: Code) -> Code:
    """A widened node's int64 result back in its narrow type."""
    narrow = dtype_code(wide.narrow)
    if wide.how == "convert":
        return fmt("{}.to({})", expr, narrow)
    if wide.how == "view":
        return fmt("{}.view({})", expr, narrow)
    return fmt("({} ^ {}).view({})", expr, lit(SIGN_BIT), narrow)


def compact(values: list[int] | tuple[int, ...]) -> Code:
    """``3`` when all values are equal, else ``(3, 5)`` — how people write kernel sizes."""
    vals = [int(v) for v in values]
    return lit(vals[0]) if vals and all(v == vals[0] for v in vals) else lit(tuple(vals))


@dataclass
class ParamRef:
    """A weight as a converter sees it: a fixed array, or a block weight formal (per instance)."""

    type: TensorType
    array: np.ndarray | None = None
    formal: str | None = None
    name: str | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        """The weight's shape (static: block weights have fixed shapes per signature)."""
        if self.array is not None:
            return tuple(self.array.shape)
        assert self.type.static_shape is not None, f"weight {self.formal} has no static shape"
        return self.type.static_shape

    def value(self, env: dict[str, np.ndarray]) -> np.ndarray:
        """The array: the fixed one, or the call site's value of the formal (``env``)."""
        return self.array if self.array is not None else env[self.formal]  # type: ignore[index]


#: a function applied to a weight when the state dict is made (transpose, gate reordering ...)
Transform = Callable[[np.ndarray], np.ndarray]


@dataclass
class StateEntry:
    """One state-dict entry of a generated class: its key, the weight, and how it is transformed."""

    key: str
    ref: ParamRef
    transform: Transform | None = None


class TorchContext(ConverterContext):
    """The converter's view of one node while one ``nn.Module`` class is written (see the base class for
    the reading API); the methods below write torch code."""

    framework = "PyTorch"

    def __init__(self, builder: ClassBuilder, node: onnx.NodeProto, widening: Widening | None = None):
        super().__init__(node, builder.view, builder.absorbed)
        self.b = builder
        self._module_hint: str | None = None  # a module's output is named after the module
        #: unsigned inputs computed in int64 (see ``widening.py``): the converter sees the int64 world
        self.widening = widening

    # -- the wide world of a widened node (types, values and expressions of its narrow inputs) --------
    def type(self, i: int) -> TensorType:
        """What is known of input ``i``'s type (int64 for a narrow input of a widened node)."""
        t = super().type(i)
        return self.widening.type(t, self.widening.inputs.get(i)) if self.widening else t

    def out_type(self, j: int = 0) -> TensorType:
        """What is known of output ``j``'s type (int64 for a narrow output of a widened node)."""
        t = super().out_type(j)
        return self.widening.type(t, self.widening.outputs.get(j)) if self.widening else t

    def const(self, i: int) -> np.ndarray | None:
        """Input ``i``'s value when it is known at conversion time (as int64 when it is widened)."""
        c = super().const(i)
        wide = self.widening.inputs.get(i) if self.widening else None
        return wide.value(c) if wide is not None and c is not None else c

    def narrow_outputs(self) -> None:
        """After a widened node's code: cast each narrow output back (``z = z.to(torch.uint16)``)."""
        if not self.widening:
            return
        for j, wide in self.widening.outputs.items():
            name = self.node.output[j]
            code = self.b.values.get(name)
            if code is None or not self.used(j):
                continue
            back = _narrow_code(wide, code)
            if str(code).isidentifier() and str(code) in self.b.holders:
                self.line("{} = {}", code, back)
            else:  # an alias of an expression: the narrow result gets its own variable
                del self.b.values[name]
                self.emit(back, j)

    # -- reading torch-specific facts ---------------------------------------------------------------
    def param(self, i: int) -> ParamRef | None:
        """Input ``i`` as a weight (a constant, or a block weight), or None when it is computed."""
        if not self.has(i):
            return None
        name = self.node.input[i]
        k = self.view.known.get(name)
        if isinstance(k, Const):
            return ParamRef(self.view.type(name), array=k.array, name=k.name)
        if isinstance(k, Placeholder):
            return ParamRef(k.type, formal=k.formal, name=k.formal)
        c = self.view.const(name)
        if c is not None:
            return ParamRef(self.type(i), array=c)
        return None

    @property
    def prescales(self) -> dict[str, float]:
        """Scales folded into a following attention call: value -> factor (see ``ops/_attention.py``)."""
        return self.b.prescales

    # -- inputs as code ---------------------------------------------------------------------------
    def t(self, i: int) -> Code:
        """Input ``i`` as a tensor expression."""
        code = self.b.tensor(self.node.input[i], self.node)
        wide = self.widening.inputs.get(i) if self.widening else None
        return _wide_code(wide, code) if wide is not None else code

    def tensor(self, name: str, consumer: onnx.NodeProto | None = None) -> Code:
        """Any value computed so far (``name``) as a tensor expression, read by ``consumer`` (this node)."""
        return self.b.tensor(name, consumer if consumer is not None else self.node)

    def operand(self, i: int, peer: int | None = None) -> Code:
        """Input ``i`` as a Python scalar when that keeps ONNX semantics, else as a tensor."""
        c = self.const(i)
        if c is not None and c.size == 1 and peer is not None and c.dtype.kind in "fiub":
            peer_type = self.type(peer)
            same_kind = peer_type.elem is not None and \
                np.dtype(NP_DTYPES.get(peer_type.elem, np.float32)).kind == c.dtype.kind
            if same_kind and peer_type.rank is not None and c.ndim <= peer_type.rank \
                    and not isinstance(self.view.known.get(self.node.input[peer]), (Const, SymShape)):
                return scalar(c)
        return self.t(i)

    def elem_code(self, e: Elem) -> Code:
        """One size (an int, or a run-time size such as ``x.shape[0]``) as code."""
        return self.b.elem(e)

    def seq(self, i: int) -> Code:
        """Input ``i`` (a 1-D integer tensor) as Python arguments, e.g. ``x.shape[0], -1``."""
        elems = self.elems(i)
        if elems is not None:
            return join([self.b.elem(e) for e in elems]) if elems else Code("()")
        return fmt("*{}.tolist()", self.t(i))

    # -- outputs ------------------------------------------------------------------------------------
    def output_var(self, j: int = 0, hint: str | None = None) -> Code:
        """The variable that holds output ``j`` (named from ``hint`` or the value, on first use)."""
        return self.b.var(self.node.output[j], self.node, hint or (self._module_hint if j == 0 else None))

    def var_for(self, name: str, hint: str | None = None) -> Code:
        """The variable for tensor ``name`` of a node this converter absorbed (it may reuse a dead input's)."""
        return self.b.var(name, self.view.producer.get(name), hint, reuse=True)

    def emit(self, expr: Code, j: int = 0) -> Code:
        """``out_j = expr``."""
        var = self.output_var(j)
        self.b.body.line("{} = {}", var, expr)
        return var

    def define(self, name: str, expr: Code, hint: str | None = None) -> Code:
        """``name = expr`` for tensor ``name``: an output of this node or of a node it absorbed."""
        var = self.output_var(list(self.node.output).index(name), hint) if name in self.node.output \
            else self.var_for(name, hint)
        self.b.body.line("{} = {}", var, expr)
        return var

    def alias(self, source: Code | int, j: int = 0) -> None:
        """Output ``j`` is ``source`` itself, an expression or input index (no statement), e.g. Identity."""
        expr = self.t(source) if isinstance(source, int) else source
        self.b.hold(self.node.output[j], expr)

    def targets(self, count: int) -> Code:
        """``a, _, c`` for a multi-output statement (``_`` for unused outputs)."""
        return join([self.output_var(j) if self.used(j) else Code("_") for j in range(count)])

    # -- statements -----------------------------------------------------------------------------------
    def line(self, template: str, *parts: Code) -> None:
        """One statement in ``forward`` (``template`` is ours; its holes take code)."""
        self.b.body.line(template, *parts)

    @contextmanager
    def block(self, template: str, *parts: Code) -> Iterator[None]:
        """An indented block in ``forward`` (``while ...:``)."""
        with self.b.body.block(template, *parts):
            yield

    def extend(self, body: SourceWriter) -> None:
        """Append the statements of a nested body (a Loop's) at the current indentation."""
        self.b.body.extend(body)

    def temp(self, hint: str) -> Code:
        """A fresh local variable."""
        return self.b.vars.name(object(), hint)

    def nested(self, view: GraphView) -> ClassBuilder:
        """A builder for a subgraph (a Loop body) written inside this ``forward``, seeing its values."""
        return type(self.b).nested(self.b, view)

    # -- the constructor --------------------------------------------------------------------------------
    def add_module(self, ctor: Code, params: Mapping[str, ParamRef | tuple[ParamRef, Transform] | np.ndarray],
                   hint: str | None = None, weight: int | None = 1) -> Code:
        """``self.<name> = ctor`` in the constructor, with its state entries; returns ``self.<name>``."""
        wname = self.view.known.get(self.node.input[weight]) if weight is not None and self.has(weight) else None
        wlabel = wname.name if isinstance(wname, Const) else (wname.formal if isinstance(wname, Placeholder) else None)
        if wlabel and len(self.view.users(self.node.input[weight])) > 1:
            wlabel = None  # a weight shared by several layers (deduplicated by the exporter) names none of them
        attr = self.b.attrs.name(object(), hint or layer_hint(self.node, wlabel))
        self.b.init.line("self.{} = {}", attr, ctor)
        self._module_hint = str(attr)
        self.b.place_attr(attr)
        for pname, spec in params.items():
            if isinstance(spec, np.ndarray):
                spec = ParamRef(TensorType(None, spec.shape), array=spec)
            ref, transform = spec if isinstance(spec, tuple) else (spec, None)
            self.b.state.append(StateEntry(f"{attr}.{pname}", ref, transform))
        return fmt("self.{}", attr)

    def add_tensor(self, ref: ParamRef, hint: str, *, parameter: bool | None = None,
                   transform: Transform | None = None, elem: int | None = None) -> Code:
        """A constant tensor attribute (``nn.Parameter`` for weights, a buffer otherwise)."""
        return self.b.add_tensor(ref, hint, parameter=parameter, transform=transform, elem=elem)

    def helper(self, name: str) -> Code:
        """A helper function written into the generated module (see ``helpers.py``): its name, to call."""
        self.b.gen.helpers.add(name)
        return ident(name)

    def dtype(self, elem: int | None) -> Code:
        """``torch.float32`` for an ONNX element type."""
        return dtype_code(elem)

    def device(self) -> Code:
        """An expression for the device the module runs on."""
        return self.b.device()
