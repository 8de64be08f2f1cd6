"""ONNX -> readable Keras 3 source (``model.py``): a functional model, one Layer class per ONNX function.

The generated module has:

* ``build_model(params)``: the Keras functional model, written node by node (``keras.Input`` ->
  ``layers.Conv2D(...)`` -> ``ops.add(...)`` ...), layer names taken from the ONNX node names;
* one ``keras.layers.Layer`` subclass per ONNX local function (spec blocks), whose sublayers are created
  in ``__init__`` and used in ``call``;
* a ``tf.Module`` wrapper whose ``tf.function`` ``__call__`` takes the inputs positionally in the ONNX
  graph's order and layout and returns one tensor or a tuple, plus a ``serve`` signature;
* ``load()``, which builds the model and fills its weights from ``model.weights.npz`` beside the file.

The exporter builds the live object from this same source, so the file and the live object cannot drift.

Internally the graph is converted to channels-last (see :mod:`.layout`); each op converter in
``ops/<family>.py`` asks the :class:`NodeContext` for its inputs in the layout it needs and writes code
through :mod:`onnxbridge.codegen.writer`, never by pasting model strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

import numpy as np
import onnx
from onnx import helper

from onnxbridge.codegen.writer import Code, NameScope, SourceWriter, call, dotted, fmt, ident, join, lit
from onnxbridge.errors import OnnxBridgeError
from onnxbridge.frameworks import graph as G
from onnxbridge.frameworks.graph import Const, Elem, GraphView, Placeholder, TensorType
from onnxbridge.frameworks.tensorflow import layout as L
from onnxbridge.frameworks.tensorflow.registry import load_converters

WEIGHTS_FILE = "model.weights.npz"
INLINE_LIMIT = 16  # constants with at most this many elements are written as literals

NP_DTYPE_NAMES = {
    onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.DOUBLE: "float64", onnx.TensorProto.FLOAT16: "float16",
    onnx.TensorProto.INT64: "int64", onnx.TensorProto.INT32: "int32", onnx.TensorProto.INT16: "int16",
    onnx.TensorProto.INT8: "int8", onnx.TensorProto.UINT8: "uint8", onnx.TensorProto.BOOL: "bool",
    onnx.TensorProto.BFLOAT16: "bfloat16",
}
_MODULE_NAMES = ("keras", "layers", "ops", "np", "tf", "Path", "params", "self", "WEIGHTS_FILE",
                 "build_model", "load", "kwargs", "super")


class NodeError(Exception):
    """A node that cannot be converted (collected, then reported together)."""


class ConversionError(OnnxBridgeError):
    """Some nodes of the model cannot be converted to TensorFlow; every one is listed."""

    def __init__(self, problems: list[tuple[str, str, str]]):
        self.problems = problems
        listed = "; ".join(f"{name} ({op}): {why}" for name, op, why in problems[:8])
        more = f"; and {len(problems) - 8} more" if len(problems) > 8 else ""
        super().__init__(f"{len(problems)} node(s) cannot be converted to TensorFlow: {listed}{more}",
                         hint="see docs/support-matrix.md for what is supported")


def dtype_name(elem_type: int | None) -> str:
    if elem_type is None:
        return "float32"
    if elem_type not in NP_DTYPE_NAMES:
        raise NodeError(f"element type {onnx.TensorProto.DataType.Name(elem_type)} is not supported")
    return NP_DTYPE_NAMES[elem_type]


# -- values and statements ---------------------------------------------------------------------------
@dataclass
class Value:
    """What the converter holds for one ONNX tensor."""

    name: str
    rank: int | None
    code: Code | None = None          # the variable (or expression) holding the stored tensor
    perm: L.Perm | None = None        # stored = transpose(logical, perm); None = as in ONNX
    const: np.ndarray | None = None   # known value
    instance: bool = False            # a constant that differs between instances of a block class
    sym: list[Elem] | None = None     # value of a small int tensor computed from run-time dims
    fill: float | None = None         # every element has this value
    feature_perm: np.ndarray | None = None  # [N, F] with features stored in this order (flattened NHWC)

    @property
    def layout(self) -> L.Perm:
        return self.perm if self.perm is not None else L.identity(self.rank or 0)


@dataclass
class Stmt:
    """One statement of generated code, with what it defines and uses (for dead-code removal)."""

    lines: list[tuple[str, tuple[Code, ...]]]
    defines: set[str]
    uses: set[str]
    init: list[tuple[str, tuple[Code, ...]]] = field(default_factory=list)
    weights: list[tuple[tuple[str, ...], str, list[np.ndarray]]] = field(default_factory=list)
    constants: dict[str, np.ndarray] = field(default_factory=dict)
    keep: bool = False


def listing(codes: Sequence[Code]) -> Code:
    """``[a, b, c]`` from code fragments."""
    return fmt("[{}]", join(list(codes))) if codes else Code("[]")


def item(x: Code, index: int) -> Code:
    """``x[index]`` for an integer index."""
    return fmt("{}[{}]", x, lit(int(index)))


def slice_code(start: int | None, stop: int | None, step: int = 1) -> Code:
    """``start:stop:step`` (parts left out when None/1), for use inside :func:`subscript`."""
    text = f"{'' if start is None else lit(int(start))}:{'' if stop is None else lit(int(stop))}"
    return Code(text + (f":{lit(int(step))}" if step != 1 else ""))


def subscript(x: Code, items: Sequence[Code]) -> Code:
    """``x[i0, i1, ...]`` from :func:`slice_code` / :func:`lit` fragments (always a tuple key, which
    Keras symbolic tensors need)."""
    return fmt("{}[{},]", x, join(list(items))) if len(items) == 1 else fmt("{}[{}]", x, join(list(items)))


def _short_float(value: float) -> float:
    """The shortest decimal that is the same float32 (ONNX float attributes are float32)."""
    return float(np.format_float_positional(np.float32(value), unique=True, trim="-"))


def _py(value: Any) -> Code:
    return value if isinstance(value, Code) else lit(value)


def np_literal(array: np.ndarray, *, scalar: bool = True) -> Code:
    """``np.array([...], dtype='float32')`` for a small array, or a plain number for a float scalar
    (unless ``scalar=False``)."""
    array = np.asarray(array)
    if scalar and array.ndim == 0 and array.dtype.kind == "f":
        return lit(float(array))
    values = array.tolist()
    return call(dotted("np", "array"), lit(values), dtype=lit(str(array.dtype)))


# -- scopes ------------------------------------------------------------------------------------------
class Scope:
    """The body being written: ``build_model`` (functional) or one block class's ``call``."""

    functional = True

    def __init__(self, converter: Converter, view: GraphView):
        self.converter = converter
        self.view = view
        self.opsets = view.opsets
        self.vars = NameScope(reserved=set(_MODULE_NAMES) | converter.module_names)
        self.values: dict[str, Value] = {}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        self.outputs: set[str] = set()
        self.live: set[int] = set()
        self.stmts: list[Stmt] = []
        self._views: dict[tuple[int, L.Perm], Value] = {}

    @property
    def opset(self) -> int:
        return self.opsets.get("", self.opsets.get("ai.onnx", 18))

    def is_live(self, node: onnx.NodeProto) -> bool:
        return id(node) in self.live

    # naming
    def new_var(self, hint: str) -> Code:
        text = hint
        for suffix in ("_output_0", ":0"):
            if text.endswith(suffix):
                text = text[: -len(suffix)]
        return self.vars.name(object(), text or "v")

    def info(self, name: str) -> TensorType:
        return self.view.type(name)

    # code pieces that differ between the functional body and a class body
    def layer_ref(self, cls: Code, hint: str, kwargs: dict[str, Code], stmt_init: list) -> tuple[Code, tuple[str, ...]]:
        raise NotImplementedError

    def constant_ref(self, array: np.ndarray, hint: str, instance: bool, stmt: Stmt) -> Code:
        raise NotImplementedError

    # materialising values
    def view_code(self, value: Value, perm: L.Perm | None, uses: set[str] | None = None) -> Code:
        """Code for ``value`` stored with ``perm`` (None = as in ONNX), writing a transpose if needed."""
        uses = uses if uses is not None else set()
        rank = value.rank or 0
        want = perm if perm is not None else L.identity(rank)
        if value.const is not None:
            array = value.const if L.is_identity(want) or value.const.ndim != len(want) else \
                np.transpose(value.const, want)
            return self.constant_code(array, value.name, value.instance, uses)
        if value.sym is not None:
            if all(isinstance(d, int) for d in value.sym):
                return self.constant_code(np.asarray(value.sym, dtype=np.int64).reshape(
                    () if rank == 0 else (-1,)), value.name, False, uses)
            key = (id(value), ("sym",))
            if key not in self._views:
                var = self.new_var(f"{value.name}_value")
                used: set[str] = set()
                expr = self.sym_code(value.sym, rank == 0, used)
                self.emit(Stmt([("{} = {}", (var, expr))], {var}, used))
                self._views[key] = Value(value.name, rank, code=var)
            uses.add(self._views[key].code)
            return self._views[key].code
        if value.code is None:
            raise NodeError(f"tensor {value.name!r} has no value (a previous node failed)")
        if value.feature_perm is not None:
            key = (id(value), ("features",))
            if key not in self._views:
                var = self.new_var(f"{value.name}_nchw_order")
                order = np.argsort(value.feature_perm)
                self.emit(Stmt([("{} = {}", (var, call(dotted("ops", "take"), value.code,
                                                          self.constant_code(order.astype(np.int64), value.name,
                                                                             False, set()), axis=lit(1))))],
                               {var}, {value.code}))
                self._views[key] = Value(value.name, value.rank, code=var)
            uses.add(self._views[key].code)
            return self._views[key].code
        current = value.layout
        if tuple(current) == tuple(want):
            uses.add(value.code)
            return value.code
        key = (id(value), tuple(want))
        if key not in self._views:
            var = self.new_var(f"{value.name}_{'nhwc' if tuple(want) == L.channels_last(rank) else 't'}")
            shape = self.info(value.name).shape
            target = None if shape is None else L.stored_shape(shape, want)
            if shape is not None and L.only_moves_unit_dims(L.stored_shape(shape, current), L.convert(current, want)) and \
                    sum(not isinstance(d, int) for d in target) <= 1:
                # only size-1 axes move (e.g. [N, C, 1, 1]): a reshape, no data movement
                dims = tuple(d if isinstance(d, int) else -1 for d in target)
                expr = call(dotted("ops", "reshape"), value.code, lit(dims))
            else:
                expr = call(dotted("ops", "transpose"), value.code, lit(L.convert(current, want)))
                self.converter.transposes += 1
            self.emit(Stmt([("{} = {}", (var, expr))], {var}, {value.code}))
            self._views[key] = Value(value.name, rank, code=var, perm=tuple(want))
        uses.add(self._views[key].code)
        return self._views[key].code

    def shape_code(self, tensor: str, uses: set[str]) -> Code:
        """The run-time logical shape of ``tensor`` as an int64 vector (``ShapeOf`` helper)."""
        key = (tensor, ("shape",))
        if key not in self._views:
            value = self.values[tensor]
            if value.code is None:
                raise NodeError(f"the shape of {tensor!r} is needed at run time but it has no value")
            rank = value.rank if value.rank is not None else self.info(tensor).rank
            if rank is None:
                raise NodeError(f"the rank of {tensor!r} is unknown")
            order = [L.stored_axis(value.layout, a) for a in range(rank)] if value.perm else list(range(rank))
            self.converter.helpers.add("ShapeOf")
            var = self.new_var(f"{tensor}_shape")
            self.emit(Stmt([("{} = {}", (var, call(call(ident("ShapeOf"), lit(order)), value.code)))],
                           {var}, {value.code}))
            self._views[key] = Value(tensor, 1, code=var)
        uses.add(self._views[key].code)
        return self._views[key].code

    def elem_code(self, elem: Elem, uses: set[str]) -> Code:
        """One run-time size (int, :class:`Dim` or :class:`BinOp`) as an int64 scalar expression."""
        if isinstance(elem, (int, np.integer)):
            return np_literal(np.asarray(int(elem), dtype=np.int64))
        if isinstance(elem, G.Dim):
            return item(self.shape_code(elem.value, uses), elem.axis)
        if isinstance(elem, G.BinOp):
            fn = {"+": "add", "-": "subtract", "*": "multiply", "//": "floor_divide", "%": "mod",
                  "max": "maximum", "min": "minimum"}[elem.op]
            return call(dotted("ops", fn), self.elem_code(elem.a, uses), self.elem_code(elem.b, uses))
        raise NodeError(f"cannot compute {elem!r} at run time")

    def sym_code(self, elems: Sequence[Elem], scalar: bool, uses: set[str]) -> Code:
        """A shape vector (or scalar) whose items are only known at run time."""
        parts = [self.elem_code(e, uses) for e in elems]
        if scalar and len(parts) == 1:
            return parts[0]
        return call(dotted("ops", "stack"), listing(parts))

    def constant_code(self, array: np.ndarray, hint: str, instance: bool, uses: set[str]) -> Code:
        if not instance and (array.size <= INLINE_LIMIT or array.dtype.kind in "iub" and array.size <= 64):
            return np_literal(array)
        stmt = Stmt([], set(), set())
        code = self.constant_ref(array, hint, instance, stmt)
        if stmt.init or stmt.weights or stmt.constants:
            self.emit(stmt)
        if isinstance(code, Code) and code.isidentifier():
            uses.add(code)
        else:
            uses.update(stmt.defines)
        return code

    def emit(self, stmt: Stmt) -> None:
        self.stmts.append(stmt)

    def live_stmts(self, roots: set[str]) -> list[Stmt]:
        """Statements needed for ``roots`` (dead-code removal over defines/uses)."""
        needed = set(roots)
        keep: list[bool] = [False] * len(self.stmts)
        for i in range(len(self.stmts) - 1, -1, -1):
            s = self.stmts[i]
            if s.keep or (s.defines & needed):
                keep[i] = True
                needed |= s.uses
        return [s for s, k in zip(self.stmts, keep) if k]


class FunctionalScope(Scope):
    """The body of ``build_model``: layers are created inline, constants come from ``params``."""

    def layer_ref(self, cls, hint, kwargs, stmt_init):
        name = self.converter.layer_names.name(object(), hint)
        kwargs = {**kwargs, "name": lit(str(name))}
        return call(cls, **kwargs), (str(name),)

    def constant_ref(self, array, hint, instance, stmt):
        key = self.converter.constant_key(hint, array)
        stmt.constants[key] = array
        var = self.new_var(f"{hint}_value")
        stmt.lines.append(("{} = {}", (var, fmt("params[{}]", lit(key)))))
        stmt.defines.add(var)
        return var


class ClassScope(Scope):
    """The body of a block class: sublayers and per-instance constants are attributes set in ``__init__``."""

    functional = False

    def __init__(self, converter, view):
        super().__init__(converter, view)
        self.attrs = NameScope(reserved={"name", "weights", "trainable", "dtype", "built", "call", "build",
                                         "input", "output", "losses", "path", "variables", "layers"})

    def write_init(self, w: SourceWriter, live: list[Stmt]) -> None:
        """``__init__`` of the generated layer class: the sublayers and constants of the ``live`` statements."""
        with w.block("def __init__(self, **kwargs)"):
            w.line("super().__init__(**kwargs)")
            for s in live:
                for template, parts in s.init:
                    w.line(template, *parts)
        w.blank()

    def layer_ref(self, cls, hint, kwargs, stmt_init):
        attr = self.attrs.name(object(), hint)
        kwargs = {**kwargs, "name": lit(str(attr))}
        stmt_init.append(("self.{} = {}", (attr, call(cls, **kwargs))))
        return fmt("self.{}", attr), (str(attr),)

    def constant_ref(self, array, hint, instance, stmt):
        attr = self.attrs.name(object(), hint)
        stmt.init.append(("self.{} = self.add_weight(name={}, shape={}, dtype={}, initializer={}, trainable=False)",
                          (attr, lit(str(attr)), lit(tuple(int(d) for d in array.shape)), lit(str(array.dtype)),
                           lit("zeros"))))
        stmt.weights.append(((str(attr),), "variable", [array]))
        ref = fmt("self.{}", attr)
        stmt.defines.add(ref)
        return ref


# -- the per-node API used by op converters -----------------------------------------------------------
class NodeContext:
    """What an op converter sees: the node's inputs (in the layout it asks for), attributes, and emitters."""

    def __init__(self, scope: Scope, node: onnx.NodeProto):
        self.scope = scope
        self.node = node
        self.uses: set[str] = set()
        self._init: list = []
        self._weights: list = []
        self._emitted = False
        self._attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}

    # -- attributes and static facts --
    @property
    def name(self) -> str:
        return self.node.name or f"{self.node.op_type}_{self.node.output[0]}"

    @property
    def opset(self) -> int:
        return self.scope.opset

    def attr(self, name: str, default: Any = None) -> Any:
        """An attribute as a plain value (strings decoded; float32 floats in their shortest form, so the
        source reads ``1e-05`` rather than ``9.999999747378752e-06``)."""
        if name not in self._attrs:
            return default
        value = self._attrs[name]
        if isinstance(value, bytes):
            return value.decode()
        if isinstance(value, float):
            return _short_float(value)
        if isinstance(value, list) and value and isinstance(value[0], bytes):
            return [v.decode() for v in value]
        if isinstance(value, list) and value and isinstance(value[0], float):
            return [_short_float(v) for v in value]
        return value

    def has(self, i: int) -> bool:
        return i < len(self.node.input) and bool(self.node.input[i])

    @property
    def n_inputs(self) -> int:
        return len(self.node.input)

    @property
    def n_outputs(self) -> int:
        return sum(1 for o in self.node.output if o)

    def wants_output(self, i: int) -> bool:
        return i < len(self.node.output) and bool(self.node.output[i])

    def value(self, i: int) -> Value:
        try:
            return self.scope.values[self.node.input[i]]
        except (KeyError, IndexError):
            raise NodeError(f"input {i} is missing") from None

    def info(self, i: int) -> TensorType:
        return self.scope.info(self.node.input[i])

    def out_info(self, i: int = 0) -> TensorType:
        return self.scope.info(self.node.output[i])

    def rank(self, i: int) -> int:
        r = self.value(i).rank
        if r is None:
            r = self.info(i).rank
        if r is None:
            raise NodeError(f"the rank of input {self.node.input[i]!r} is unknown")
        return r

    def out_rank(self, i: int = 0) -> int:
        r = self.out_info(i).rank
        if r is None:
            raise NodeError(f"the rank of output {self.node.output[i]!r} is unknown (shape inference failed)")
        return r

    def shape(self, i: int) -> tuple:
        s = self.info(i).shape
        if s is None:
            c = self.const(i)
            if c is not None:
                return c.shape
            raise NodeError(f"the shape of input {self.node.input[i]!r} is unknown")
        return s

    def out_shape(self, i: int = 0) -> tuple:
        s = self.out_info(i).shape
        if s is None:
            raise NodeError(f"the shape of output {self.node.output[i]!r} is unknown (shape inference failed)")
        return s

    def dtype(self, i: int) -> str:
        c = self.const(i)
        if c is not None:
            return str(c.dtype)
        return dtype_name(self.info(i).elem)

    def out_dtype(self, i: int = 0) -> str:
        return dtype_name(self.out_info(i).elem)

    def const(self, i: int) -> np.ndarray | None:
        if not self.has(i):
            return None
        v = self.scope.values.get(self.node.input[i])
        if v is None:
            return None
        if v.const is not None:
            return v.const
        if v.sym is not None and all(isinstance(d, int) for d in v.sym):
            return np.asarray(v.sym, dtype=np.int64)
        return None

    def is_instance_const(self, i: int) -> bool:
        return self.value(i).instance

    def ints(self, i: int) -> list[int] | None:
        c = self.const(i)
        return None if c is None else [int(v) for v in np.asarray(c).reshape(-1)]

    def dims(self, i: int) -> list[Elem] | None:
        """A shape-like input as ints and run-time sizes (:class:`Dim`, :class:`BinOp`), or None."""
        if not self.has(i):
            return None
        v = self.value(i)
        if v.sym is not None:
            return list(v.sym)
        c = self.const(i)
        return None if c is None else [int(d) for d in np.asarray(c).reshape(-1)]

    def fill(self, i: int) -> float | None:
        if not self.has(i):
            return None
        v = self.value(i)
        if v.fill is not None:
            return v.fill
        if v.const is not None and v.const.size and np.all(v.const == v.const.reshape(-1)[0]):
            return float(v.const.reshape(-1)[0])
        return None

    def perm(self, i: int) -> L.Perm:
        v = self.value(i)
        return v.layout if v.rank is not None else L.identity(self.rank(i))

    def axis(self, axis: int, rank: int) -> int:
        if not -rank <= axis < max(rank, 1):
            raise NodeError(f"axis {axis} is out of range for rank {rank}")
        return axis + rank if axis < 0 else axis

    # -- inputs as code --
    def x(self, i: int, perm: Sequence[int] | None = None) -> Code:
        """Input ``i`` as code, stored with ``perm`` (default: exactly as ONNX sees it)."""
        v = self.value(i)
        if v.rank is None:
            v.rank = self.info(i).rank
            if v.rank is None and perm is not None:
                v.rank = len(perm)
        return self.scope.view_code(v, tuple(perm) if perm is not None else None, self.uses)

    def tensor_arg(self, i: int) -> Code:
        """Input ``i`` as a positional argument of a layer call: constants become arrays (Keras layers take
        only tensors or arrays positionally), everything else as :meth:`x`."""
        c = self.const(i)
        if c is not None and c.size <= INLINE_LIMIT and not self.value(i).instance:
            return np_literal(c, scalar=False)
        return self.x(i)

    def x_cl(self, i: int) -> Code:
        """Input ``i`` stored channels-last (NWC/NHWC/NDHWC)."""
        return self.x(i, L.channels_last(self.rank(i)))

    def x_any(self, i: int) -> tuple[Code, L.Perm]:
        """Input ``i`` in whatever layout it already has, with that layout."""
        v = self.value(i)
        if v.const is not None or v.sym is not None or v.feature_perm is not None:
            return self.x(i), L.identity(self.rank(i))
        return self.x(i, v.layout), v.layout

    def aligned(self, indices: Sequence[int], out_rank: int | None = None,
                perm: Sequence[int] | None = None) -> tuple[list[Code], L.Perm]:
        """Inputs of a broadcasting element-wise op, all in one layout (the first permuted input's).

        ``perm`` forces the layout (for inputs combined with an already converted tensor).
        """
        rank = out_rank if out_rank is not None else max(self.rank(i) for i in indices)
        if perm is not None:
            perm = tuple(perm) if not L.is_identity(perm) else None
        for i in indices if perm is None else ():
            v = self.value(i)
            if v.const is None and v.sym is None and v.feature_perm is None and v.rank == rank \
                    and not L.is_identity(v.layout):
                perm = v.layout
                break
        if perm is None:
            return [self.x(i) for i in indices], L.identity(rank)
        codes = []
        for i in indices:
            v = self.value(i)
            r = self.rank(i)
            if v.const is not None:
                c = v.const.reshape((1,) * (rank - v.const.ndim) + v.const.shape) if v.const.ndim else v.const
                codes.append(self.scope.constant_code(np.transpose(c, perm) if c.ndim else c, v.name, v.instance,
                                                      self.uses))
            elif r == rank:
                codes.append(self.x(i, perm))
            elif all(d == 1 for d in self.shape(i)):
                codes.append(self.x(i))
            else:  # lower rank: make it full rank, then store it like the others
                lifted = call(dotted("ops", "reshape"), self.x(i), lit(tuple([1] * (rank - r)) + tuple(
                    -1 if not isinstance(d, int) else d for d in self.shape(i))))
                codes.append(call(dotted("ops", "transpose"), lifted, lit(perm)))
        return codes, perm

    # -- emitting --
    def layer(self, cls: str, *, hint: str | None = None, weights: Sequence[np.ndarray] = (), module: str = "layers",
              **kwargs: Any) -> Code:
        """A Keras layer for this node (``layers.<cls>(..., name=<node name>)``); returns the callable."""
        args = {k: _py(v) for k, v in kwargs.items() if v is not None}
        fn = dotted(module, cls) if module else ident(cls)
        if hint is None:
            # the exporter's module path first: weights deduplicated by an optimizer may carry another
            # layer's name
            path = G.module_path(self.node)
            weight = self.node.input[1] if len(self.node.input) > 1 else None
            hint = ".".join(path) if path else G.layer_hint(self.node, weight)
        ref, accessor = self.scope.layer_ref(fn, hint, args, self._init)
        self._last_accessor = accessor
        if weights:
            self._weights.append((accessor, "layer", [np.asarray(w) for w in weights]))
        return ref

    def constant(self, array: np.ndarray, hint: str | None = None) -> Code:
        """A constant tensor (a literal when small, else stored with the weights)."""
        instance = any(self.scope.values[n].instance for n in self.node.input if n in self.scope.values)
        return self.scope.constant_code(np.asarray(array), hint or self.node.output[0], instance, self.uses)

    def helper(self, name: str) -> Code:
        """A helper layer class written into the generated module (see ``ops/helpers.py``)."""
        self.scope.converter.helpers.add(name)
        return ident(name)

    def _stmt(self, lines: list, defines: set[str]) -> None:
        stmt = Stmt(lines, defines, set(self.uses), init=list(self._init), weights=list(self._weights))
        self._init.clear()
        self._weights.clear()
        self.scope.emit(stmt)
        self._emitted = True

    def out(self, i: int, expr: Code, perm: Sequence[int] | None = None, **extra: Any) -> Code:
        """Assign output ``i`` (stored with ``perm``) to a new variable named after the tensor."""
        return self.define(self.node.output[i], expr, perm, **extra)

    def define_raw(self, targets: Code | Sequence[Code], expr: Code) -> None:
        """``targets = expr`` for intermediate variables (not ONNX tensors), e.g. a tuple to unpack."""
        targets = [targets] if isinstance(targets, Code) else list(targets)
        text = join(targets) if targets else Code("_")
        self._stmt([("{} = {}", (text, expr))], set(targets))

    def define(self, name: str, expr: Code, perm: Sequence[int] | None = None, **extra: Any) -> Code:
        """Assign tensor ``name`` (an output of this node, or of a node fused into it)."""
        var = self.scope.new_var(G.value_hint(name, self.node))
        self._stmt([("{} = {}", (var, expr))], {var})
        rank = self.scope.info(name).rank
        if rank is None and perm is not None:
            rank = len(perm)
        value = Value(name, rank, code=var, perm=None if perm is None or L.is_identity(perm) else tuple(perm))
        for k, v in extra.items():
            setattr(value, k, v)
        self.scope.values[name] = value
        return var

    def outs(self, expr: Code, perms: Sequence[Sequence[int] | None]) -> list[Code]:
        """Unpack a tuple-valued expression into the node's outputs (unused ones get ``_``)."""
        names = list(self.node.output) + [""] * (len(perms) - len(self.node.output))
        targets = []
        for name in names[: len(perms)]:
            targets.append(self.scope.new_var(G.value_hint(name, self.node)) if name else Code("_"))
        self._stmt([("{} = {}", (join(targets), expr))], {t for t in targets if t != "_"})
        for name, var, perm in zip(names, targets, perms):
            if name:
                rank = self.scope.info(name).rank
                if rank is None and perm is not None:
                    rank = len(perm)
                self.scope.values[name] = Value(name, rank, code=var,
                                                perm=None if perm is None or L.is_identity(perm) else tuple(perm))
        return targets

    def alias(self, i: int, source: int | Value, perm: Sequence[int] | None = None, *, keep_perm: bool = False) -> None:
        """Output ``i`` is input ``source`` (or a value) seen with another permutation: no code."""
        v = self.value(source) if isinstance(source, int) else source
        name = self.node.output[i]
        new = Value(name, self.out_info(i).rank, code=v.code, const=v.const, instance=v.instance, sym=v.sym,
                    fill=v.fill, feature_perm=v.feature_perm)
        if new.rank is None:
            new.rank = v.rank
        if keep_perm:
            new.perm = v.perm
        elif perm is not None and not L.is_identity(perm):
            new.perm = tuple(perm)
        self.scope.values[name] = new

    def set_const(self, i: int, array: np.ndarray) -> None:
        name = self.node.output[i]
        instance = any(self.scope.values[n].instance for n in self.node.input if n in self.scope.values)
        self.scope.values[name] = Value(name, np.ndim(array), const=np.asarray(array), instance=instance)

    def sole_consumer(self, i: int = 0) -> onnx.NodeProto | None:
        """The only node reading output ``i`` (None if several, none, or it is a graph/function output)."""
        name = self.node.output[i]
        users = self.scope.consumers.get(name, [])
        if len(users) != 1 or name in self.scope.outputs:
            return None
        return users[0]

    def fail(self, message: str) -> NoReturn:
        raise NodeError(message)


# -- the driver ----------------------------------------------------------------------------------------
@dataclass
class Generated:
    """The generated module and what the exporter needs to fill in its weights."""

    source: str
    class_name: str
    constants: dict[str, np.ndarray]
    weights: list[tuple[tuple[str, ...], str, list[np.ndarray]]]
    input_names: list[str]
    output_names: list[str]
    channels_last: bool
    transposes: int
    notes: list[str] = field(default_factory=list)


@dataclass
class _BlockClass:
    name: str
    body: str
    source: list[str]


class Converter:
    """Converts one ONNX model; holds what is shared by all scopes (classes, helpers, errors)."""

    def __init__(self, model: onnx.ModelProto, *, channels_last: bool = False):
        self.plan = plan_with_shapes(model)
        self.model = self.plan.model
        self.channels_last = channels_last
        self.registry = load_converters()
        self.helpers: set[str] = set()
        self.classes: dict[tuple[str, str], list[_BlockClass]] = {}
        self.class_order: list[_BlockClass] = []
        self.class_names = NameScope(reserved=set(_MODULE_NAMES))
        self.layer_names = NameScope()
        self.module_names: set[str] = set()
        self._const_keys = NameScope()
        self.errors: list[tuple[str, str, str]] = []
        self.transposes = 0

    def constant_key(self, hint: str, array: np.ndarray) -> str:
        return f"constants/{self._const_keys.name(object(), hint)}"

    # -- converting the nodes of one scope --
    def convert_nodes(self, scope: Scope) -> None:
        view = scope.view
        scope.live = {id(n) for n in G.live_nodes(view)}
        scope.consumers = {k: [n for n in v if id(n) in scope.live] for k, v in view.consumers.items()}
        scope.outputs = set(view.outputs)
        for node in view.nodes:
            if id(node) not in scope.live:
                self._known_outputs(scope, node)
                continue  # nothing needs its outputs computed (unused, or known constants)
            if all(o in scope.values for o in node.output if o) and any(node.output):
                continue  # already produced by the node it was fused into
            inputs = [scope.values.get(n) if n else None for n in node.input]
            if any(v is None for n, v in zip(node.input, inputs) if n):
                missing = [n for n, v in zip(node.input, inputs) if n and v is None]
                self._record(node, f"input {missing[0]!r} is not produced by any earlier node")
                self._mark_broken(scope, node)
                continue
            if any(v is not None and v.code is None and v.const is None and v.sym is None and v.fill is None
                   for v in inputs):
                self._mark_broken(scope, node)  # downstream of a failed node: reported once, upstream
                continue
            if id(node) in view.calls:
                try:
                    self.call_function(scope, node)
                except NodeError as exc:
                    self._record(node, str(exc))
                    self._mark_broken(scope, node)
                continue
            if self._fold(scope, node, inputs):
                continue
            domain = "" if node.domain in ("", "ai.onnx") else node.domain
            fn = self.registry.lookup(node.op_type, scope.opsets.get(domain, scope.opset), domain)
            if fn is None:
                self._record(node, "no converter for this op")
                self._mark_broken(scope, node)
                continue
            ctx = NodeContext(scope, node)
            try:
                fn(node, ctx)
            except NodeError as exc:
                self._record(node, str(exc))
                self._mark_broken(scope, node)
            for o in node.output:  # constants a converter computed feed later folding
                v = scope.values.get(o)
                if o and v is not None and v.const is not None:
                    view.known[o] = Const(v.const)

    @staticmethod
    def _known_outputs(scope: Scope, node: onnx.NodeProto) -> None:
        """Values for outputs known at conversion time (a graph output can be one)."""
        for name in node.output:
            k = scope.view.known.get(name) if name else None
            if isinstance(k, Const):
                scope.values[name] = Value(name, k.array.ndim, const=np.asarray(k.array))
            elif k is not None and not isinstance(k, Placeholder):
                scope.values[name] = Value(name, 0 if k.scalar else 1, sym=list(k.elems))

    def _record(self, node: onnx.NodeProto, why: str) -> None:
        self.errors.append((node.name or node.output[0], node.op_type, why))

    @staticmethod
    def _mark_broken(scope: Scope, node: onnx.NodeProto) -> None:
        for o in node.output:
            if o:
                scope.values[o] = Value(o, scope.info(o).rank)

    @staticmethod
    def _fold(scope: Scope, node: onnx.NodeProto, inputs: list[Value | None]) -> bool:
        """Constants and shape arithmetic are known now (see :func:`graph.fold_node`): no code for them."""
        G.fold_node(node, scope.view)
        outs = [o for o in node.output if o]
        known = [scope.view.known.get(o) for o in outs]
        if not outs or any(k is None or isinstance(k, Placeholder) for k in known):
            return False
        instance = any(v is not None and v.instance for v in inputs)
        for name, k in zip(outs, known):
            if isinstance(k, Const):
                scope.values[name] = Value(name, k.array.ndim, const=np.asarray(k.array), instance=instance)
            else:
                rank = 0 if k.scalar else 1
                scope.values[name] = Value(name, rank, sym=list(k.elems))
        return True

    # -- block functions --
    def call_function(self, scope: Scope, node: onnx.NodeProto) -> None:
        key = scope.view.calls[id(node)]
        template = self.plan.functions[key]
        formals = [sig[0] for sig in key.signature]
        actual = {f: (node.input[i] if i < len(node.input) else "") for i, f in enumerate(formals)}
        # one view per instance: the weights are this call's arrays, so converters see real values
        view = GraphView(template.name, list(template.nodes), list(template.inputs), list(template.outputs),
                         dict(template.types), dict(template.opsets), weights=list(template.weights),
                         doc=template.doc, is_function=True)
        view.calls = dict(template.calls)
        body = ClassScope(self, view)
        ctx = NodeContext(scope, node)
        for formal in template.weights:
            v = scope.values.get(actual[formal])
            if v is None or v.const is None:
                raise NodeError(f"weight {formal!r} of block {template.name!r} is not a constant")
            view.known[formal] = Const(v.const)
            body.values[formal] = Value(formal, v.const.ndim, const=v.const, instance=True)
        params: list[Code] = []
        args: list[Code] = []
        for formal in template.inputs:
            name = actual[formal]
            if not name:
                raise NodeError(f"input {formal!r} of block {template.name!r} is missing")
            pname = body.vars.name(("input", formal), formal)
            params.append(pname)
            i = list(node.input).index(name)
            code, perm = ctx.x_any(i)
            args.append(code)
            rank = scope.values[name].rank
            if rank is None:
                rank = view.type(formal).rank
            body.values[formal] = Value(formal, rank, code=pname, perm=None if L.is_identity(perm) else perm)
        before = len(self.errors)
        self.convert_nodes(body)
        if len(self.errors) > before:
            raise NodeError(f"block {template.name!r} could not be converted (see the nodes above)")
        returns: list[Code] = []
        out_perms: list[L.Perm | None] = []
        for o in template.outputs:
            v = body.values[o]
            if v.code is None or v.feature_perm is not None:
                returns.append(body.view_code(v, None))
                out_perms.append(None)
            else:
                returns.append(body.view_code(v, v.layout))
                out_perms.append(v.layout)
        cls_name, accessor_weights = self._block_class(template, key, body, params, returns)
        layer_call = ctx.layer(cls_name, module="", hint=G.layer_hint(node))
        for accessor, kind, arrays in accessor_weights:
            ctx._weights.append(((*ctx._last_accessor, *accessor), kind, arrays))
        expr = call(layer_call, *args)
        if len(template.outputs) == 1:
            ctx.out(0, expr, perm=out_perms[0])
        else:
            ctx.outs(expr, out_perms)

    def _block_class(self, view: GraphView, key, body: ClassScope, params: list[Code], returns: list[Code]):
        live = body.live_stmts({str(r) for r in returns})
        w = SourceWriter()
        body.write_init(w, live)
        with w.block("def call({})", join([Code("self"), *params])):
            for s in live:
                for template, parts in s.lines:
                    w.line(template, *parts)
            w.line("return {}", join(returns) if returns else Code("None"))
        doc = (view.doc or "").strip() or f"Block {key.name}."
        name = self.add_class((key.domain, key.name), G.class_hint(key.name, "Block"),
                              f"{doc} (ONNX function {key.domain}.{key.name})", w)
        weights = [wt for s in live for wt in s.weights]
        return name, weights

    def add_class(self, key: tuple, hint: str, doc: str, body: SourceWriter) -> str:
        """A ``keras.layers.Layer`` class with ``body`` (its methods); an identical one is reused."""
        text = body.render()
        variants = self.classes.setdefault(key, [])
        match = next((c for c in variants if c.body == text), None)
        if match is None:
            name = self.class_names.name(("class", *key, len(variants)), hint, style="camel", fallback="Block")
            self.module_names.add(str(name))
            cw = SourceWriter()
            with cw.block("class {}(keras.layers.Layer)", name):
                cw.docstring(doc)
                cw.blank()
                cw.extend(body)
            match = _BlockClass(str(name), text, cw.render().rstrip("\n").split("\n"))
            variants.append(match)
            self.class_order.append(match)
        return match.name

    # -- the whole model --
    def run(self) -> Generated:
        view = self.plan.main
        scope = FunctionalScope(self, view)
        g = self.model.graph
        for init in g.initializer:
            k = view.known.get(init.name)
            arr = k.array if isinstance(k, Const) else onnx.numpy_helper.to_array(init)
            scope.values[init.name] = Value(init.name, arr.ndim, const=arr)
        input_vars: list[Code] = []
        signature: list[tuple[Code, tuple, str]] = []
        for name in view.inputs:
            t = view.type(name)
            if t.shape is None:
                raise OnnxBridgeError(f"graph input {name!r} has no shape",
                                      hint="give the model's inputs a rank (dims may be symbolic)")
            rank = len(t.shape)
            perm = L.channels_last(rank) if self.channels_last and rank in (4, 5) else None
            stored = L.stored_shape(t.shape, perm) if perm else t.shape
            dims = tuple(d if isinstance(d, int) else None for d in stored)
            var = scope.vars.name(("input", name), name)
            layer_name = self.layer_names.name(("input", name), name)
            dtype = dtype_name(t.elem)
            scope.emit(Stmt([("{} = keras.Input(batch_shape={}, dtype={}, name={})",
                              (var, lit(dims), lit(dtype), lit(str(layer_name))))], {var}, set(), keep=True))
            scope.values[name] = Value(name, rank, code=var, perm=perm)
            input_vars.append(var)
            signature.append((var, dims, dtype))
        self.convert_nodes(scope)
        if self.errors:
            raise ConversionError(self.errors)
        outputs: list[Code] = []
        for name in view.outputs:
            v = scope.values.get(name)
            if v is None:
                raise ConversionError([(name, "output", "no node produces this graph output")])
            if v.rank is None:
                v.rank = view.type(name).rank
            perm = L.channels_last(v.rank) if self.channels_last and v.rank in (4, 5) else None
            if v.const is not None or v.fill is not None and v.code is None:
                if not input_vars:
                    raise ConversionError([(name, "output", "the graph has no inputs; a Keras model needs at "
                                                            "least one")])
                # a constant output still has to come out of a layer fed by an input
                self.helpers.add("ConstantLike")
                array = v.const if v.const is not None else None
                if array is None:
                    raise ConversionError([(name, "output", "a constant of a run-time shape cannot be an output")])
                used: set[str] = set()
                const = scope.constant_code(np.asarray(array), name, False, used)
                var = scope.new_var(name)
                scope.emit(Stmt([("{} = {}", (var, call(call(ident("ConstantLike"), const), input_vars[0])))],
                                {var}, used | {input_vars[0]}))
                outputs.append(var)
                continue
            try:
                outputs.append(scope.view_code(v, perm))
            except NodeError as exc:
                raise ConversionError([(name, "output", str(exc))]) from None
        live = scope.live_stmts({str(c) for c in outputs} | {str(c) for c in input_vars})
        return self._render(scope, live, input_vars, signature, outputs)

    # -- rendering --
    def _render(self, scope, live, input_vars, signature, outputs) -> Generated:
        from onnxbridge.frameworks.tensorflow.ops.helpers import HELPERS

        model = self.model
        g = model.graph
        graph_name = G.class_hint(g.name, "model")
        class_name = self.class_names.name(("wrapper",), graph_name, style="camel", fallback="Model")
        if str(class_name) in {c.name for c in self.class_order} or str(class_name) in HELPERS:
            class_name = self.class_names.name(("wrapper2",), f"{graph_name}_model", style="camel")
        w = SourceWriter()
        w.docstring(f"{graph_name}: Keras 3 model converted from ONNX by onnxbridge. "
                    f"Inputs and outputs follow the ONNX graph ({'channels-last images' if self.channels_last else 'same layout as ONNX'}). "
                    "Use load() to get the ready model with its weights from model.weights.npz beside this file.")
        w.blank()
        w.line("from pathlib import Path")
        w.blank()
        w.line("import keras")
        w.line("import numpy as np")
        w.line("import tensorflow as tf")
        w.line("from keras import layers, ops")
        w.blank()
        w.line("WEIGHTS_FILE = Path(__file__).with_name({})", lit(WEIGHTS_FILE))
        for name in sorted(self.helpers):
            w.blank(2)
            for line in HELPERS[name]():
                w._lines.append(line)
        for cls in self.class_order:
            w.blank(2)
            w._lines.extend(cls.source)
        w.blank(2)
        constants: dict[str, np.ndarray] = {}
        weights: list = []
        with w.block("def build_model(params)"):
            w.docstring("The Keras functional model; ``params`` holds the constants stored with the weights.")
            for s in live:
                for template, parts in s.lines:
                    w.line(template, *parts)
                constants.update(s.constants)
                weights.extend(s.weights)
            ins = input_vars[0] if len(input_vars) == 1 else listing(input_vars)
            outs = outputs[0] if len(outputs) == 1 else listing(outputs)
            w.line("return keras.Model(inputs={}, outputs={}, name={})", ins, outs,
                   lit(NameScope.sanitize(graph_name)))
        w.blank(2)
        specs = [call(dotted("tf", "TensorSpec"), lit(dims), dotted("tf", dtype), name=lit(str(var)))
                 for var, dims, dtype in signature]
        out_names = [NameScope.sanitize(o.name) for o in g.output]
        seen: set[str] = set()
        for k, n in enumerate(out_names):
            if n in seen:
                out_names[k] = f"{n}_{k}"
            seen.add(out_names[k])
        arg_list = join(input_vars)
        model_in = input_vars[0] if len(input_vars) == 1 else listing(input_vars)
        with w.block("class {}(tf.Module)", class_name):
            w.docstring("Callable like the ONNX model: inputs positionally in the ONNX graph's order and layout, "
                        "one tensor or a tuple out, in the graph's output order.")
            w.blank()
            with w.block("def __init__(self, keras_model)"):
                w.line("super().__init__(name={})", lit(NameScope.sanitize(graph_name)))
                w.line("self.keras_model = keras_model")
            w.blank()
            w.line("@tf.function(input_signature=[{}], autograph=False)", join(specs))
            with w.block("def __call__(self, {})", arg_list):
                if len(outputs) == 1:
                    w.line("return self.keras_model({}, training=False)", model_in)
                else:
                    w.line("return tuple(self.keras_model({}, training=False))", model_in)
            w.blank()
            w.line("@tf.function(input_signature=[{}], autograph=False)", join(specs))
            with w.block("def serve(self, {})", arg_list):
                w.docstring("The serving signature: a dict of named outputs.")
                if len(outputs) == 1:
                    w.line("return {{{}: self.keras_model({}, training=False)}}", lit(out_names[0]), model_in)
                else:
                    w.line("results = self.keras_model({}, training=False)", model_in)
                    w.line("return {}", Code("{" + ", ".join(f"{lit(n)}: results[{k}]"
                                                             for k, n in enumerate(out_names)) + "}"))
        w.blank(2)
        with w.block("def load(weights_file=WEIGHTS_FILE)"):
            w.docstring(f"The converted model with its weights, ready to call: {class_name}(keras model).")
            with w.block("with np.load(weights_file, allow_pickle=False) as data"):
                w.line("params = {key: data[key] for key in data.files}")
            w.line("model = build_model(params)")
            with w.block("for variable in model.weights"):
                w.line("variable.assign(params[variable.path])")
            w.line("return {}(model)", class_name)
        return Generated(w.render(), str(class_name), constants, weights,
                         [str(v) for v in input_vars], out_names, self.channels_last, self.transposes)


def plan_with_shapes(model: onnx.ModelProto, rounds: int = 3) -> G.ModelPlan:
    """:func:`graph.plan_model`, plus the shapes ONNX inference misses behind computed reshapes.

    ONNX shape inference gives up after a Reshape whose target is computed from run-time sizes
    (``Shape -> Gather -> Concat``); the folded shape arithmetic knows its rank and most dims. Those
    shapes are written into the model's value_info and inference runs again, so every later tensor
    has a rank (the layout logic needs ranks).
    """
    plan = G.plan_model(model)
    for _ in range(rounds):
        view = plan.main
        added = []
        for node in view.nodes:
            if node.op_type not in ("Reshape", "Expand", "ConstantOfShape") or not node.output[0]:
                continue
            out = node.output[0]
            if view.type(out).rank is not None and all(d is not None for d in view.type(out).shape):
                continue
            shape_input = node.input[0] if node.op_type == "ConstantOfShape" else node.input[1]
            k = view.known.get(shape_input)
            elems = list(k.elems) if isinstance(k, G.SymShape) else (
                [int(v) for v in k.array.reshape(-1)] if isinstance(k, Const) else None)
            if elems is None or node.op_type == "Expand":
                continue
            dims = _dims_of(elems, view, node, out)
            elem = view.type(node.input[0]).elem if node.op_type != "ConstantOfShape" else None
            if elem is None:
                value = G.node_attrs(node).get("value")
                elem = onnx.helper.np_dtype_to_tensor_dtype(value.dtype) if value is not None else onnx.TensorProto.FLOAT
            added.append(onnx.helper.make_tensor_value_info(out, elem, dims))
        if not added:
            return plan
        model = onnx.ModelProto()
        model.CopyFrom(plan.model)
        known = {vi.name for vi in added}
        kept = [vi for vi in model.graph.value_info if vi.name not in known]
        del model.graph.value_info[:]
        model.graph.value_info.extend(kept + added)
        plan = G.plan_model(model)
    return plan


def _dims_of(elems: list, view: GraphView, node: onnx.NodeProto, out: str) -> list:
    """Reshape target elements as ONNX dims (ints or symbol names), resolving 0 and -1 when possible."""
    src = view.type(node.input[0]).shape if node.op_type == "Reshape" else None
    allowzero = G.node_attrs(node).get("allowzero", 0)
    dims: list = []
    for k, e in enumerate(elems):
        if isinstance(e, int) and e == 0 and src is not None and not allowzero and k < len(src):
            e = src[k]
        if isinstance(e, G.Dim):
            shape = view.type(e.value).shape
            e = shape[e.axis] if shape and e.axis < len(shape) else None
        if isinstance(e, int) and e >= 0:
            dims.append(e)
        elif isinstance(e, str):
            dims.append(e)
        else:
            dims.append(None)
    if dims.count(None) == 1 and src is not None and all(isinstance(d, int) for d in src) and \
            all(isinstance(d, int) for d in dims if d is not None):
        known = int(np.prod([d for d in dims if d is not None]))
        if known:
            dims[dims.index(None)] = int(np.prod(src)) // known
    return [d if d is not None else f"{out}_dim{k}" for k, d in enumerate(dims)]


def generate(model: onnx.ModelProto, *, channels_last: bool = False) -> Generated:
    """Keras source for ``model`` plus the weights the exporter assigns.

    Raises :class:`UnsupportedOpsError` listing every op without a converter, and
    :class:`ConversionError` listing every node whose attributes Keras cannot express.
    """
    converter = Converter(model, channels_last=channels_last)
    converter.registry.require_all(converter.model)
    return converter.run()
