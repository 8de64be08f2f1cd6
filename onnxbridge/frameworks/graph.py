"""A framework-neutral view of an ONNX model for the ONNX -> framework code generators.

Every exporter (``frameworks/<fw>/codegen.py``) needs the same groundwork before it writes a line of
framework code, and it lives here so each framework gets it for free:

- :func:`prepare_model` inlines helper functions (keeping spec blocks, domain ``onnxbridge.blocks``,
  as functions so they become nested classes) and runs ONNX shape inference.
- :class:`GraphView` is one graph (the main graph or one block function instantiated at its call
  sites' types) with every value's type, producers, consumers, and what is *known* about each value at
  conversion time: a constant (:class:`Const`, folded where safe), a list of dimension sizes computed
  from shapes (:class:`SymShape`, e.g. ``[x.shape[0], -1]`` from a ``Shape -> Gather -> Concat`` chain),
  or a weight passed into a block function (:class:`Placeholder`, one value per instance).
- :class:`ModelPlan` ties the main graph to the block functions it calls: one view per function and
  distinct signature (weight shapes, input types), named after the function.
- :func:`live_nodes` lists the nodes that must write code (outputs needed and not known);
  :meth:`GraphView.runtime_users` says who reads a tensor at run time (for peephole rewrites);
  :func:`node_inputs` includes the outer values a Loop/If body reads; :func:`loop_body_view` makes a
  Loop body a view of its own. All-zero initial states of LSTM/GRU/RNN are dropped (the default).
- naming helpers (:func:`layer_hint`, :func:`value_hint`, :func:`class_hint`) turn exporter node names
  (``/layer1/layer1.0/conv1/Conv``, dynamo's ``namespace`` metadata, spec layer ids) into the readable
  identifiers of generated code.

Nothing here imports a framework. Code generators render :class:`Dim` and :class:`BinOp` into their own
syntax (``x.shape[0]`` for torch, ``tf.shape(x)[0]`` for TensorFlow).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from onnxbridge.errors import OnnxBridgeError

BLOCKS_DOMAIN = "onnxbridge.blocks"

#: ONNX element types and their numpy equivalents (the ones code generators deal with)
NP_DTYPES: dict[int, type] = {
    TensorProto.FLOAT: np.float32, TensorProto.DOUBLE: np.float64, TensorProto.FLOAT16: np.float16,
    TensorProto.INT64: np.int64, TensorProto.INT32: np.int32, TensorProto.INT16: np.int16,
    TensorProto.INT8: np.int8, TensorProto.UINT8: np.uint8, TensorProto.UINT16: np.uint16,
    TensorProto.UINT32: np.uint32, TensorProto.UINT64: np.uint64, TensorProto.BOOL: np.bool_,
}
INT_TYPES = frozenset({TensorProto.INT64, TensorProto.INT32, TensorProto.INT16, TensorProto.INT8,
                       TensorProto.UINT8, TensorProto.UINT16, TensorProto.UINT32, TensorProto.UINT64})
FLOAT_TYPES = frozenset({TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16})

# ops whose outputs are never folded (random) or would only grow the file when folded
_NO_FOLD = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
                      "Bernoulli", "If", "Loop", "Scan", "SequenceConstruct"})
FOLD_LIMIT = 1 << 16  # elements: a folded result larger than this and than its inputs stays a runtime op


# --------------------------------------------------------------------------------------------------
# attributes and types
# --------------------------------------------------------------------------------------------------
def node_attrs(node: onnx.NodeProto) -> dict[str, Any]:
    """A node's attributes as plain Python values (bytes decoded to str, tensors to numpy)."""
    out: dict[str, Any] = {}
    for a in node.attribute:
        value = helper.get_attribute_value(a)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            value = [v.decode("utf-8", "replace") for v in value]
        elif isinstance(value, onnx.TensorProto):
            value = numpy_helper.to_array(value)
        out[a.name] = value
    return out


@dataclass(frozen=True)
class TensorType:
    """Element type (``TensorProto`` enum, or None) and shape (ints, dim names, None; or None if unknown)."""

    elem: int | None
    shape: tuple[int | str | None, ...] | None

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    @property
    def static_shape(self) -> tuple[int, ...] | None:
        """The shape when every dim is a known integer."""
        if self.shape is None or not all(isinstance(d, int) for d in self.shape):
            return None
        return tuple(int(d) for d in self.shape)  # type: ignore[arg-type]


def type_of(vi: onnx.ValueInfoProto | onnx.TypeProto) -> TensorType:
    """The :class:`TensorType` of a value info (or type proto)."""
    tp = vi.type if isinstance(vi, onnx.ValueInfoProto) else vi
    if not tp.HasField("tensor_type"):
        return TensorType(None, None)
    tt = tp.tensor_type
    elem = tt.elem_type or None
    if not tt.HasField("shape"):
        return TensorType(elem, None)
    dims: list[int | str | None] = []
    for d in tt.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param") and d.dim_param:
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return TensorType(elem, tuple(dims))


def _type_proto(t: TensorType) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info("x", t.elem or 0, None if t.shape is None else list(t.shape))


# --------------------------------------------------------------------------------------------------
# what is known about a value at conversion time
# --------------------------------------------------------------------------------------------------
class Expr:
    """A symbolic integer computed from runtime dimension sizes."""

    def refs(self) -> Iterator[str]:
        """Names of the tensors whose shapes this expression reads."""
        raise NotImplementedError


@dataclass(frozen=True)
class Dim(Expr):
    """The size of ``axis`` of the tensor named ``value`` (only known at run time)."""

    value: str
    axis: int

    def refs(self) -> Iterator[str]:
        yield self.value


@dataclass(frozen=True)
class BinOp(Expr):
    """``a <op> b`` on integers; ``op`` is one of ``+ - * // % max min``."""

    op: str
    a: Elem
    b: Elem

    def refs(self) -> Iterator[str]:
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
        return {r for e in self.elems if isinstance(e, Expr) for r in e.refs()}


@dataclass
class Placeholder:
    """A weight passed into a block function: its value differs per instance, its type does not."""

    formal: str
    type: TensorType


Known = Union[Const, SymShape, Placeholder]


class NodeConversionError(OnnxBridgeError):
    """A node uses attributes or inputs that the target framework cannot express."""

    def __init__(self, node: onnx.NodeProto, reason: str):
        self.node_name = node.name or f"<unnamed {node.op_type}>"
        self.op_type = node.op_type
        self.reason = reason
        super().__init__(f"node {self.node_name!r} ({node.op_type}): {reason}")


# --------------------------------------------------------------------------------------------------
# preparing a model
# --------------------------------------------------------------------------------------------------
def opsets_of(model: onnx.ModelProto | onnx.FunctionProto) -> dict[str, int]:
    """``{domain: version}`` with ``ai.onnx`` spelled ``""``."""
    return {("" if o.domain == "ai.onnx" else o.domain): o.version for o in model.opset_import}


def prepare_model(model: onnx.ModelProto) -> onnx.ModelProto:
    """Inline every local function except spec blocks, then infer shapes (best effort).

    Block functions (domain ``onnxbridge.blocks``, no attribute parameters) stay functions: they
    become nested classes in generated code. Helper functions from exporters are inlined.
    """
    from onnx import inliner

    keep = {(f.domain, f.name) for f in model.functions
            if f.domain == BLOCKS_DOMAIN and not f.attribute and not f.attribute_proto}
    inline = [(f.domain, f.name) for f in model.functions if (f.domain, f.name) not in keep]
    if inline:
        model = inliner.inline_selected_functions(model, inline)
    return infer_shapes(model)


def infer_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """ONNX shape inference with data propagation; the model is returned unchanged when it fails."""
    try:
        return onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception:  # noqa: BLE001 - inference is a help, never a requirement
        try:
            return onnx.shape_inference.infer_shapes(model, strict_mode=False)
        except Exception:  # noqa: BLE001
            return model


# --------------------------------------------------------------------------------------------------
# one graph
# --------------------------------------------------------------------------------------------------
@dataclass
class GraphView:
    """One graph with types, producers, consumers and conversion-time knowledge of its values.

    ``inputs`` are the runtime inputs (graph inputs that are not initializers, or the activation
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

    def __post_init__(self) -> None:
        for node in self.nodes:
            for o in node.output:
                if o:
                    self.producer[o] = node
            for i in node_inputs(node):
                self.consumers.setdefault(i, []).append(node)

    @property
    def opset(self) -> int:
        return self.opsets.get("", 1)

    def type(self, value: str) -> TensorType:
        """What is known of ``value``'s type (an unknown type when nothing is)."""
        if value in self.types:
            return self.types[value]
        k = self.known.get(value)
        if isinstance(k, Const):
            return TensorType(_elem_of(k.array), tuple(int(d) for d in k.array.shape))
        if isinstance(k, Placeholder):
            return k.type
        if isinstance(k, SymShape):
            return TensorType(k.elem, () if k.scalar else (len(k.elems),))
        return TensorType(None, None)

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
                out.append(sym[axis])  # type: ignore[arg-type, index]
            else:
                out.append(Dim(value, axis))
        return out

    def const(self, value: str) -> np.ndarray | None:
        k = self.known.get(value)
        if isinstance(k, Const):
            return k.array
        if isinstance(k, SymShape) and all(isinstance(e, int) for e in k.elems):
            return np.asarray(k.elems if not k.scalar else k.elems[0], dtype=NP_DTYPES.get(k.elem, np.int64))
        return None

    def users(self, value: str) -> list[onnx.NodeProto]:
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
        return value in self.outputs


def _elem_of(array: np.ndarray) -> int | None:
    try:
        return int(helper.np_dtype_to_tensor_dtype(array.dtype))
    except (KeyError, TypeError, ValueError):
        return None


def graph_types(graph: onnx.GraphProto) -> dict[str, TensorType]:
    """Types of every value a graph describes (inputs, outputs, value_info, initializers)."""
    types: dict[str, TensorType] = {}
    for vi in list(graph.input) + list(graph.value_info) + list(graph.output):
        t = type_of(vi)
        if vi.name not in types or (t.shape is not None and types[vi.name].shape is None):
            types[vi.name] = t
    for init in graph.initializer:
        types[init.name] = TensorType(init.data_type, tuple(int(d) for d in init.dims))
    return types


# --------------------------------------------------------------------------------------------------
# the whole model: main graph and block functions
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FunctionKey:
    """A block function instantiated with one signature (weight shapes, input types)."""

    domain: str
    name: str
    signature: tuple


@dataclass
class ModelPlan:
    """The main graph's view and one view per (block function, signature) it uses, in call order."""

    model: onnx.ModelProto
    main: GraphView
    functions: dict[FunctionKey, GraphView] = field(default_factory=dict)
    class_names: dict[FunctionKey, str] = field(default_factory=dict)


def plan_model(model: onnx.ModelProto) -> ModelPlan:
    """Prepare ``model`` and analyse its main graph and every block function instance it calls."""
    model = prepare_model(model)
    g = model.graph
    inits = {i.name for i in g.initializer}
    view = GraphView(g.name, list(g.node), [i.name for i in g.input if i.name not in inits],
                     [o.name for o in g.output], graph_types(g), opsets_of(model), doc=g.doc_string)
    for init in g.initializer:
        view.known[init.name] = Const(numpy_helper.to_array(init), init.name)
    plan = ModelPlan(model, view)
    functions = {(f.domain, f.name): f for f in model.functions}
    _analyze(view, plan, functions)
    return plan


def _analyze(view: GraphView, plan: ModelPlan, functions: dict[tuple[str, str], onnx.FunctionProto]) -> None:
    for node in view.nodes:
        fn = functions.get((node.domain, node.op_type))
        if fn is not None:
            view.calls[id(node)] = _instantiate(fn, node, view, plan, functions)
            continue
        fold_node(node, view)
    _drop_zero_initial_states(view)


_RECURRENT_STATES = {"LSTM": (5, 6), "GRU": (5,), "RNN": (5,)}


def _drop_zero_initial_states(view: GraphView) -> None:
    """An all-zero initial state is the default: omit it (exporters write ConstantOfShape(0) for it)."""
    for node in view.nodes:
        for i in _RECURRENT_STATES.get(node.op_type, ()) if node.domain in ("", "ai.onnx") else ():
            if i >= len(node.input) or not node.input[i]:
                continue
            if _is_zero_fill(view, node.input[i]):
                node.input[i] = ""


_SAME_VALUES = frozenset({"Expand", "Slice", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Cast", "Tile",
                          "Transpose", "Gather"})


def _is_zero_fill(view: GraphView, value: str, depth: int = 0) -> bool:
    """Whether ``value`` is all zeros whatever the inputs (a zero constant, possibly expanded or sliced)."""
    c = view.const(value)
    if c is not None:
        return not np.any(c)
    producer = view.producer.get(value)
    if producer is None or depth > 6:
        return False
    if producer.op_type == "ConstantOfShape":
        fill = _attr(producer, "value")
        return fill is None or not np.any(numpy_helper.to_array(fill))
    if producer.op_type == "Concat":
        return all(_is_zero_fill(view, i, depth + 1) for i in producer.input if i)
    return producer.op_type in _SAME_VALUES and _is_zero_fill(view, producer.input[0], depth + 1)


def _instantiate(fn: onnx.FunctionProto, call: onnx.NodeProto, caller: GraphView, plan: ModelPlan,
                 functions: dict[tuple[str, str], onnx.FunctionProto]) -> FunctionKey:
    formals = list(fn.input)
    actuals = list(call.input) + [""] * (len(formals) - len(call.input))
    weights = [f for f, a in zip(formals, actuals) if a and isinstance(caller.known.get(a), (Const, Placeholder))]
    types = {f: caller.type(a) for f, a in zip(formals, actuals) if a}
    signature = tuple((f, f in weights, types.get(f, TensorType(None, None)).elem,
                       _normalised_shape(types.get(f, TensorType(None, None)).shape)) for f in formals)
    key = FunctionKey(fn.domain, fn.name, signature)
    if key in plan.functions:
        return key
    inputs = [f for f in formals if f not in weights]
    body_types = _function_types(fn, types, plan.model)
    body_types.update(types)
    view = GraphView(fn.name, list(fn.node), inputs, list(fn.output), body_types,
                     {**opsets_of(plan.model), **opsets_of(fn)}, weights=weights, doc=fn.doc_string,
                     is_function=True)
    for w in weights:
        view.known[w] = Placeholder(w, types[w])
    plan.functions[key] = view
    same_name = sum(1 for k in plan.class_names if k.name == fn.name)
    plan.class_names[key] = f"{fn.name}_{same_name + 1}" if same_name else fn.name
    _analyze(view, plan, functions)
    return key


def _normalised_shape(shape: tuple | None) -> tuple | None:
    # dim names differ between call sites without changing the code; only fixed sizes matter
    return None if shape is None else tuple(d if isinstance(d, int) else None for d in shape)


def _function_types(fn: onnx.FunctionProto, formal_types: dict[str, TensorType],
                    model: onnx.ModelProto) -> dict[str, TensorType]:
    """Shape inference over a function body, with its formals typed as at the call site."""
    inputs = []
    for f in fn.input:
        t = formal_types.get(f)
        vi = _type_proto(t) if t is not None and t.elem else helper.make_tensor_value_info(f, TensorProto.FLOAT, None)
        vi.name = f
        inputs.append(vi)
    outputs = [helper.make_empty_tensor_value_info(o) for o in fn.output]
    graph = helper.make_graph(list(fn.node), fn.name, inputs, outputs)
    temp = helper.make_model(graph, opset_imports=list(model.opset_import), ir_version=model.ir_version,
                             functions=list(model.functions))
    return graph_types(infer_shapes(temp).graph)


# --------------------------------------------------------------------------------------------------
# folding: constants and shape arithmetic known at conversion time
# --------------------------------------------------------------------------------------------------
def fold_node(node: onnx.NodeProto, view: GraphView) -> None:
    """Record in ``view.known`` what ``node``'s outputs are, when that is known at conversion time."""
    if node.domain not in ("", "ai.onnx") or node.op_type in _NO_FOLD:
        return
    if node.op_type == "Constant":
        view.known[node.output[0]] = Const(_constant_value(node))
        return
    handler = _SYM_RULES.get(node.op_type)
    if handler is not None:
        result = handler(node, view)
        if result is not None:
            if isinstance(result, SymShape) and all(isinstance(e, int) for e in result.elems):
                dtype = NP_DTYPES.get(result.elem, np.int64)
                view.known[node.output[0]] = Const(np.asarray(result.elems[0] if result.scalar else result.elems,
                                                              dtype=dtype))
            else:
                view.known[node.output[0]] = result
            return
    inputs = [i for i in node.input if i]
    if not inputs or not all(view.const(i) is not None for i in inputs):
        return
    _fold_with_reference(node, view)


def _constant_value(node: onnx.NodeProto) -> np.ndarray:
    a = node.attribute[0]
    if a.name in ("value", "sparse_value"):
        return numpy_helper.to_array(a.t) if a.name == "value" else numpy_helper.to_array(a.sparse_tensor.values)
    value = helper.get_attribute_value(a)
    dtype = {"value_float": np.float32, "value_floats": np.float32, "value_int": np.int64,
             "value_ints": np.int64}.get(a.name)
    if dtype is None:
        return np.asarray(value)
    return np.asarray(value, dtype=dtype)


def _fold_with_reference(node: onnx.NodeProto, view: GraphView) -> None:
    from onnx.reference import ReferenceEvaluator

    values = [view.const(i) if i else None for i in node.input]
    # weights rearranged at run time (Transpose, Concat, Slice of initializers) fold; growing ops stay
    budget = max(FOLD_LIMIT, sum(v.size for v in values if v is not None))
    if node.op_type == "ConstantOfShape" and values[0] is not None and np.prod(values[0]) > budget:
        return
    try:
        evaluator = ReferenceEvaluator(node, opsets={"": view.opset})
        outs = evaluator.run(None, {i: v for i, v in zip(node.input, values) if i})
    except Exception:  # noqa: BLE001 - when the reference cannot evaluate it, it stays a runtime op
        return
    for name, out in zip(node.output, outs):
        if not name or out is None:
            continue
        out = np.asarray(out)
        if out.size > budget:
            return
        view.known[name] = Const(out)


def _ints(view: GraphView, value: str) -> list[int] | None:
    c = view.const(value) if value else None
    return None if c is None else [int(v) for v in np.asarray(c).reshape(-1)]


def _elems(view: GraphView, value: str) -> tuple[tuple[Elem, ...], bool] | None:
    """The elements of an integer value known at conversion time (symbolically or not), and if 0-D."""
    k = view.known.get(value)
    if isinstance(k, SymShape):
        return k.elems, k.scalar
    c = view.const(value)
    if c is not None and c.dtype.kind in "iu" and c.ndim <= 1:
        return tuple(int(v) for v in c.reshape(-1)), c.ndim == 0
    return None


def _attr(node: onnx.NodeProto, name: str, default: Any = None) -> Any:
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _rule_shape(node: onnx.NodeProto, view: GraphView) -> SymShape | None:
    dims = view.dims(node.input[0])
    if dims is None:
        return None
    rank = len(dims)
    start = _attr(node, "start", 0)
    end = _attr(node, "end", rank)
    start, end = (max(0, min(rank, s + rank if s < 0 else s)) for s in (start, end))
    return SymShape(tuple(dims[start:end]))


def _rule_size(node: onnx.NodeProto, view: GraphView) -> SymShape | None:
    dims = view.dims(node.input[0])
    if dims is None:
        return None
    total: Elem = 1
    for d in dims:
        total = sym_binop("*", total, d)
    return SymShape((total,), scalar=True)


def _rule_gather(node: onnx.NodeProto, view: GraphView) -> SymShape | None:
    data = _elems(view, node.input[0])
    idx = view.const(node.input[1])
    if data is None or data[1] or idx is None or idx.ndim > 1 or _attr(node, "axis", 0) != 0:
        return None
    n = len(data[0])
    picked = [data[0][int(i) + n if i < 0 else int(i)] for i in idx.reshape(-1)]
    return SymShape(tuple(picked), scalar=idx.ndim == 0, elem=view.type(node.input[0]).elem or TensorProto.INT64)


def _rule_unsqueeze(node: onnx.NodeProto, view: GraphView) -> SymShape | None:
    data = _elems(view, node.input[0])
    axes = _attr(node, "axes") if len(node.input) < 2 else _ints(view, node.input[1])
    if data is None or axes is None:
        return None
    if data[1] and len(axes) == 1 and axes[0] in (0, -1):
        return SymShape(data[0], elem=view.type(node.input[0]).elem or TensorProto.INT64)
    return None


def _rule_squeeze(node: onnx.NodeProto, view: GraphView) -> SymShape | None:
    data = _elems(view, node.input[0])
    if data is None or data[1] or len(data[0]) != 1:
        return None
    return SymShape(data[0], scalar=True, elem=view.type(node.input[0]).elem or TensorProto.INT64)


def _rule_concat(node: onnx.NodeProto, view: GraphView) -> SymShape | None:
    parts = [_elems(view, i) for i in node.input if i]
    if any(p is None or p[1] for p in parts):
        return None
    return SymShape(tuple(e for p in parts for e in p[0]),  # type: ignore[union-attr]
                    elem=view.type(node.input[0]).elem or TensorProto.INT64)


def _rule_slice(node: onnx.NodeProto, view: GraphView) -> SymShape | None:
    data = _elems(view, node.input[0])
    if data is None or data[1]:
        return None
    if view.opset < 10:
        starts, ends, axes, steps = _attr(node, "starts"), _attr(node, "ends"), _attr(node, "axes", [0]), [1]
    else:
        get = [(_ints(view, node.input[i]) if len(node.input) > i and node.input[i] else None) for i in range(1, 5)]
        starts, ends, axes, steps = get[0], get[1], get[2] or [0], get[3] or [1]
    if starts is None or ends is None or list(axes) not in ([0], [-1]):
        return None
    return SymShape(tuple(data[0][slice(starts[0], ends[0], steps[0])]),
                    elem=view.type(node.input[0]).elem or TensorProto.INT64)


def _rule_identity(node: onnx.NodeProto, view: GraphView) -> SymShape | None:
    k = view.known.get(node.input[0])
    return k if isinstance(k, SymShape) else None


def _rule_cast(node: onnx.NodeProto, view: GraphView) -> SymShape | None:
    k = view.known.get(node.input[0])
    to = _attr(node, "to")
    if isinstance(k, SymShape) and to in INT_TYPES:
        return SymShape(k.elems, k.scalar, to)
    return None


def _rule_reshape(node: onnx.NodeProto, view: GraphView) -> SymShape | None:
    k = view.known.get(node.input[0])
    if not isinstance(k, SymShape):
        _record_reshape_shape(node, view)
        return None
    shape = _ints(view, node.input[1]) if len(node.input) > 1 else None
    if shape is None:
        return None
    if shape == []:
        return SymShape(k.elems, True, k.elem) if len(k.elems) == 1 else None
    if len(shape) == 1 and shape[0] in (-1, len(k.elems)):
        return SymShape(k.elems, False, k.elem)
    return None


def _record_reshape_shape(node: onnx.NodeProto, view: GraphView) -> None:
    """Remember a Reshape's output dims from its target (``[x.shape[0], 4, 10, 8]``)."""
    target = _elems(view, node.input[1]) if len(node.input) > 1 else None
    if target is None or target[1]:
        return
    allowzero = _attr(node, "allowzero", 0)
    in_dims = view.dims(node.input[0])
    out: list[Elem | None] = []
    for i, e in enumerate(target[0]):
        if e == 0 and not allowzero:
            out.append(in_dims[i] if in_dims is not None and i < len(in_dims) else None)
        else:
            out.append(None if e == -1 else e)
    view.sym_shapes[node.output[0]] = tuple(out)


_BIN = {"Add": "+", "Sub": "-", "Mul": "*", "Div": "//", "Mod": "%", "Max": "max", "Min": "min"}


def _rule_binary(node: onnx.NodeProto, view: GraphView) -> SymShape | None:
    if len(node.input) != 2 or not any(isinstance(view.known.get(i), SymShape) for i in node.input):
        return None
    a, b = _elems(view, node.input[0]), _elems(view, node.input[1])
    if a is None or b is None:
        return None
    if node.op_type == "Mod" and _attr(node, "fmod", 0):
        return None
    (ea, sa), (eb, sb) = a, b
    if len(ea) != len(eb) and 1 not in (len(ea), len(eb)):
        return None
    n = max(len(ea), len(eb))
    ea, eb = (ea * n if len(ea) == 1 else ea), (eb * n if len(eb) == 1 else eb)
    op = _BIN[node.op_type]
    return SymShape(tuple(sym_binop(op, x, y) for x, y in zip(ea, eb)), scalar=sa and sb,
                    elem=view.type(node.input[0]).elem or TensorProto.INT64)


def _rule_where(node: onnx.NodeProto, view: GraphView) -> SymShape | None:
    cond = view.const(node.input[0])
    a, b = _elems(view, node.input[1]), _elems(view, node.input[2])
    if cond is None or a is None or b is None or cond.ndim > 1:
        return None
    n = max(cond.size, len(a[0]), len(b[0]))
    c = list(cond.reshape(-1)) * (n if cond.size == 1 else 1)
    ea, eb = (a[0] * n if len(a[0]) == 1 else a[0]), (b[0] * n if len(b[0]) == 1 else b[0])
    if len(c) != n or len(ea) != n or len(eb) != n:
        return None
    return SymShape(tuple(x if bool(k) else y for k, x, y in zip(c, ea, eb)), scalar=a[1] and b[1] and cond.ndim == 0,
                    elem=view.type(node.input[1]).elem or TensorProto.INT64)


_SYM_RULES = {
    "Shape": _rule_shape, "Size": _rule_size, "Gather": _rule_gather, "Unsqueeze": _rule_unsqueeze,
    "Squeeze": _rule_squeeze, "Concat": _rule_concat, "Slice": _rule_slice, "Identity": _rule_identity,
    "Cast": _rule_cast, "Reshape": _rule_reshape, "Where": _rule_where,
    **{op: _rule_binary for op in _BIN},
}


# --------------------------------------------------------------------------------------------------
# liveness: which nodes must be written
# --------------------------------------------------------------------------------------------------
def live_nodes(view: GraphView) -> list[onnx.NodeProto]:
    """Nodes whose outputs are needed and not known at conversion time, in graph order.

    A node whose outputs are all known (constants, shape arithmetic) writes no code; the tensors its
    symbolic results read the sizes of are kept alive instead.
    """
    needed: set[str] = set()

    def need(value: str) -> None:
        k = view.known.get(value)
        if isinstance(k, SymShape):
            for r in k.refs():
                need(r)
        elif not isinstance(k, (Const, Placeholder)):
            needed.add(value)

    for o in view.outputs:
        need(o)
    live: list[onnx.NodeProto] = []
    for node in reversed(view.nodes):
        outs = [o for o in node.output if o]
        if not any(o in needed for o in outs):
            continue
        live.append(node)
        for i in node_inputs(node):
            need(i)
    return list(reversed(live))


def node_inputs(node: onnx.NodeProto) -> list[str]:
    """A node's inputs, including the outer values its subgraphs (Loop/If/Scan bodies) read by name."""
    names = [i for i in node.input if i]
    for a in node.attribute:
        graphs = [a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)
        for g in graphs:
            for name in _outer_references(g):
                if name not in names:
                    names.append(name)
    return names


def _outer_references(graph: onnx.GraphProto) -> list[str]:
    defined = {i.name for i in graph.input} | {i.name for i in graph.initializer}
    out: list[str] = []
    for node in graph.node:
        for name in node_inputs(node):
            if name not in defined and name not in out:
                out.append(name)
        defined.update(o for o in node.output if o)
    return out


def loop_body_view(loop: onnx.NodeProto, outer: GraphView) -> GraphView:
    """The body of a ``Loop`` as a view: inputs ``(iteration, condition, carried...)``, outputs
    ``(condition, carried..., scan outputs...)``. It sees the outer graph's values and constants, and a
    carried value the body passes through unchanged is the outer constant it starts from."""
    body = next(a.g for a in loop.attribute if a.name == "body")
    inits = {i.name for i in body.initializer}
    view = GraphView(body.name or "loop_body", list(body.node), [i.name for i in body.input if i.name not in inits],
                     [o.name for o in body.output], {**outer.types, **graph_types(body)}, dict(outer.opsets),
                     is_function=outer.is_function)
    view.known.update(outer.known)
    view.sym_shapes.update(outer.sym_shapes)
    for init in body.initializer:
        view.known[init.name] = Const(numpy_helper.to_array(init), init.name)
    for k, name in enumerate(view.inputs[2:]):
        initial = loop.input[2 + k] if 2 + k < len(loop.input) else ""
        passthrough = 1 + k < len(view.outputs) and view.outputs[1 + k] == name
        if passthrough and isinstance(outer.known.get(initial), (Const, Placeholder)):
            view.known[name] = outer.known[initial]
    for node in view.nodes:
        fold_node(node, view)
    return view


# --------------------------------------------------------------------------------------------------
# naming
# --------------------------------------------------------------------------------------------------
def is_generic_name(name: str) -> bool:
    """Whether a value name is an exporter's counter (``val_12``, ``onnx::Mul_3``) rather than a real name."""
    return not name or bool(_GENERIC_VALUE.match(name)) or name.startswith("/")


_GENERIC_VALUE = re.compile(r"^(val_\d+|getitem(_\d+)?|onnx::.*|\d+|_?v_?\d*|tmp\d*)$")
_WEIGHT_NAME = re.compile(r"^([A-Za-z_][\w.]*?)\.(weight|weight_ih_l0|bias|running_mean|scale|kernel)$")


def module_path(node: onnx.NodeProto) -> list[str]:
    """The module path an exporter recorded for ``node`` (``['layer1.0', 'conv1']``), or ``[]``.

    Reads TorchScript-exporter node names (``/layer1/layer1.0/conv1/Conv``), dynamo's ``namespace``
    metadata (``: Net/layer1: Sequential/layer1.0: Block/conv1: Conv2d/conv2d: aten.conv2d``) and
    spec layer names (``conv1`` or ``conv1/Add``). A segment that only prefixes the next one
    (``layer1`` before ``layer1.0``) is dropped.
    """
    parts: list[str] = []
    meta = {p.key: p.value for p in node.metadata_props}
    if node.name.startswith("/"):
        parts = [p for p in node.name.split("/")[1:-1] if p]
    elif "namespace" in meta:
        segments = meta["namespace"].split("/")
        parts = [s.split(":")[0].strip() for s in segments[1:-1]]
    elif node.name and not node.name.startswith("node_") and "/" in node.name:
        parts = [p for p in node.name.split("/")[:-1] if p]
    elif node.name and re.match(r"^[A-Za-z_][\w.]*$", node.name) and not node.name.startswith("node_") \
            and not re.match(rf"^{re.escape(node.op_type)}_*\d*$", node.name, re.IGNORECASE):
        parts = [node.name]
    parts = [p for p in parts if p and not p.startswith(":")]
    collapsed = [p for i, p in enumerate(parts) if not (i + 1 < len(parts) and parts[i + 1].startswith(p + "."))]
    return collapsed


def layer_hint(node: onnx.NodeProto, weight: str | None = None) -> str:
    """A readable name for the layer a node implements (a module attribute in generated code).

    Prefers the weight's own name (``layer1.0.conv1.weight`` -> ``layer1.0.conv1``), then the
    exporter's module path, then the node name, then the op type.
    """
    if weight:
        m = _WEIGHT_NAME.match(weight)
        if m:
            return m.group(1)
    path = module_path(node)
    if path:
        return ".".join(path)
    if node.name and not node.name.startswith("node_"):
        return node.name
    return _snake(node.op_type)


def value_hint(value: str, node: onnx.NodeProto | None) -> str:
    """A readable variable name for a value: from the module its node belongs to (the innermost two
    scopes, plus the op for non-layer ops), else from its own name if meaningful, else the op type."""
    path = _last_scopes(module_path(node)) if node is not None else []
    if path and node is not None:
        op = _snake(node.op_type)
        if _is_module_op(node.op_type) or _snake(path[-1]).startswith(op):
            return "_".join(path)
        return "_".join([*path, op])
    base = value.rsplit(":", 1)[0] if re.search(r":\d+$", value) else value
    if "/" in base and not base.startswith("/"):  # TensorFlow style a/b/c:0
        segs = [s for s in base.split("/") if s]
        base = "_".join(segs[-2:]) if len(segs) > 1 else segs[0]
    if base and not base.startswith("/") and not _GENERIC_VALUE.match(base):
        return base
    return _snake(node.op_type) if node is not None else "v"


def _last_scopes(path: list[str]) -> list[str]:
    """The innermost two named scopes of a module path, with their indices: ``layers.0.self_attn`` ->
    ``['layers', '0', 'self_attn']`` (local variable names need not repeat the whole path)."""
    parts = [p for seg in path for p in seg.split(".") if p]
    named = [i for i, p in enumerate(parts) if not p.isdigit()]
    return parts[named[-2]:] if len(named) >= 2 else parts


_MODULE_OPS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization", "LayerNormalization",
                         "InstanceNormalization", "GroupNormalization", "LSTM", "GRU", "RNN", "Gather", "PRelu"})


def _is_module_op(op_type: str) -> bool:
    return op_type in _MODULE_OPS


def _snake(text: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text).lower()


def class_hint(name: str, fallback: str = "Model") -> str:
    """The class name for a graph or function name; generic exporter names become ``fallback``."""
    if not name or name.lower() in {"main_graph", "torch_jit", "torch-jit-export", "tf2onnx", "graph", "model"}:
        return fallback
    return name
