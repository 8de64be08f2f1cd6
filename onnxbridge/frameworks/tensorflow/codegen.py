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
``ops/<family>.py`` asks the :class:`~.context.TensorFlowContext` for its inputs in the layout it needs and writes code
through :mod:`onnxbridge.codegen.writer`, never by pasting model strings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NoReturn

import numpy as np
import onnx

from onnxbridge.codegen.class_merge import MergedClass, merge_block_classes, with_arguments
from onnxbridge.codegen.writer import Code, NameScope, SourceWriter, call, dotted, fmt, ident, join, lit
from onnxbridge.errors import OnnxBridgeError
from onnxbridge.frameworks.context import (
    ConversionError,
    NodeConversionError,
    convert_nodes,
    lookup_converter,
)
from onnxbridge.frameworks.tensorflow import layout as L
from onnxbridge.frameworks.tensorflow.context import (
    INLINE_LIMIT,
    Stmt,
    TensorFlowContext,
    Value,
    dtype_name,
    item,
    listing,
    np_literal,
)
from onnxbridge.frameworks.tensorflow.helpers import HELPERS
from onnxbridge.frameworks.tensorflow.registry import load_ops, load_patterns
from onnxbridge.frameworks.widening import widening_for
from onnxbridge.ir.folding import fold_node
from onnxbridge.ir.liveness import live_nodes
from onnxbridge.ir.naming import class_hint, layer_hint
from onnxbridge.ir.nodes import node_attrs
from onnxbridge.ir.plan import ModelPlan, plan_model
from onnxbridge.ir.symbolic import BinOp, Const, Dim, Elem, Placeholder, SymShape
from onnxbridge.ir.types import TensorType
from onnxbridge.ir.view import GraphView

WEIGHTS_FILE = "model.weights.npz"
# Keras promotes uint64 to uint32 in every op that combines types: such nodes compute on the int64 bits
UNSIGNED_NARROWED = frozenset({onnx.TensorProto.UINT64})

# module-level names and the builtins generated code calls (a local of that name would shadow them)
_MODULE_NAMES = ("keras", "layers", "ops", "np", "tf", "Path", "params", "self", "WEIGHTS_FILE",
                 "build_model", "load", "kwargs", "super", "float", "int", "bool", "tuple", "list", "dict", "range",
                 "len", "str", "isinstance")
# attributes a keras.layers.Layer has (a sublayer attribute of that name would replace them)
LAYER_RESERVED = frozenset({
    "activity_regularizer", "add_loss", "add_metric", "add_variable", "add_weight", "autocast", "build",
    "build_from_config", "built", "call", "call_signature_parameters", "compute_dtype", "compute_mask",
    "compute_output_shape", "compute_output_spec", "count_params", "dtype", "dtype_policy", "from_config",
    "get_build_config", "get_config", "get_weights", "input", "input_dtype", "input_spec", "layers",
    "load_own_variables", "losses", "metrics", "metrics_variables", "name", "non_trainable_variables",
    "non_trainable_weights", "output", "path", "quantization_mode", "quantize", "quantized_build",
    "quantized_call", "rematerialized_call", "save_own_variables", "set_weights", "stateless_call",
    "supports_jit", "supports_masking", "symbolic_call", "trainable", "trainable_variables", "trainable_weights",
    "variable_dtype", "variables", "weights",
})


# -- scopes ------------------------------------------------------------------------------------------
def _class_names(sources: list[list[str]]) -> list[str]:
    """The classes that module sources define at top level, in order."""
    return [line[len("class "):].split("(")[0].split(":")[0] for source in sources for line in source
            if line.startswith("class ")]


class Scope:
    """The body being written: ``build_model`` (functional) or one block class's ``call``."""

    functional = True

    def __init__(self, converter: Converter, view: GraphView):
        self.converter = converter
        self.view = view
        self.opsets = view.opsets
        self.vars = NameScope(reserved=set(_MODULE_NAMES) | converter.module_names | set(HELPERS))
        self.values: dict[str, Value] = {}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        self.outputs: set[str] = set()
        self.live: set[int] = set()
        self.stmts: list[Stmt] = []
        self._views: dict[tuple[int | str, tuple[int | str, ...]], Value] = {}
        self.absorbed: set[int] = set()  # nodes (by id) a converter did the work of (fusions)
        self.current: onnx.NodeProto | None = None  # the node being converted

    def is_live(self, node: onnx.NodeProto) -> bool:
        """Whether ``node`` writes code (its outputs are needed and not known)."""
        return id(node) in self.live

    # naming
    def new_var(self, hint: str) -> Code:
        """A fresh local variable named after ``hint`` (a tensor name, suffixes dropped)."""
        text = hint
        for suffix in ("_output_0", ":0"):
            if text.endswith(suffix):
                text = text[: -len(suffix)]
        return self.vars.name(object(), text or "v")

    def info(self, name: str) -> TensorType:
        """What is known of tensor ``name``'s type."""
        return self.view.type(name)

    def nested(self, view: GraphView) -> ClassScope:
        """A class body for a subgraph of this one (a Loop body)."""
        return ClassScope(self.converter, view)

    def fail(self, reason: str) -> NoReturn:
        """Stop converting the current node (raise :class:`NodeConversionError` naming it)."""
        if self.current is None:
            raise NodeConversionError(self.view.name or "graph", reason, "graph")
        raise NodeConversionError(self.current, reason)

    # code pieces that differ between the functional body and a class body
    def layer_ref(self, cls: Code, hint: str, kwargs: dict[str, Code], stmt_init: list) -> tuple[Code, tuple[str, ...]]:
        """A layer instance for the body: created inline, or an attribute made in ``__init__``."""
        raise NotImplementedError

    def constant_ref(self, array: np.ndarray, hint: str, instance: bool, stmt: Stmt) -> Code:
        """A large constant: read from ``params``, or a non-trainable weight of the class."""
        raise NotImplementedError

    # materialising values
    def view_code(self, value: Value, perm: L.Perm | None, uses: set[str] | None = None) -> Code:
        """Code for ``value`` stored with ``perm`` (None = as in ONNX), writing a transpose if needed."""
        uses = uses if uses is not None else set()
        key: tuple[int | str, tuple[int | str, ...]]
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
            return self._view_code(key, uses)
        if value.code is None:
            self.fail(f"tensor {value.name!r} has no value (a previous node failed)")
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
            return self._view_code(key, uses)
        current = value.layout
        if tuple(current) == tuple(want):
            uses.add(value.code)
            return value.code
        key = (id(value), tuple(want))
        if key not in self._views:
            var = self.new_var(f"{value.name}_{'nhwc' if tuple(want) == L.channels_last(rank) else 't'}")
            shape = self.info(value.name).shape
            target = None if shape is None else L.stored_shape(shape, want)
            if shape is not None and target is not None and L.only_moves_unit_dims(L.stored_shape(shape, current), L.convert(current, want)) and \
                    sum(not isinstance(d, int) for d in target) <= 1:
                # only size-1 axes move (e.g. [N, C, 1, 1]): a reshape, no data movement
                dims = tuple(d if isinstance(d, int) else -1 for d in target)
                expr = call(dotted("ops", "reshape"), value.code, lit(dims))
            else:
                expr = call(dotted("ops", "transpose"), value.code, lit(L.convert(current, want)))
                self.converter.transposes += 1
            self.emit(Stmt([("{} = {}", (var, expr))], {var}, {value.code}))
            self._views[key] = Value(value.name, rank, code=var, perm=tuple(want))
        return self._view_code(key, uses)

    def _view_code(self, key: tuple[int | str, tuple[int | str, ...]], uses: set[str]) -> Code:
        code = self._views[key].code
        assert code is not None  # every view is made from a variable
        uses.add(code)
        return code

    def shape_code(self, tensor: str, uses: set[str]) -> Code:
        """The run-time logical shape of ``tensor`` as an int64 vector (``ShapeOf`` helper)."""
        key = (tensor, ("shape",))
        if key not in self._views:
            value = self.values[tensor]
            if value.code is None:
                self.fail(f"the shape of {tensor!r} is needed at run time but it has no value")
            rank = value.rank if value.rank is not None else self.info(tensor).rank
            if rank is None:
                self.fail(f"the rank of {tensor!r} is unknown")
            order = [L.stored_axis(value.layout, a) for a in range(rank)] if value.perm else list(range(rank))
            self.converter.helpers.add("ShapeOf")
            var = self.new_var(f"{tensor}_shape")
            self.emit(Stmt([("{} = {}", (var, call(call(ident("ShapeOf"), lit(order)), value.code)))],
                           {var}, {value.code}))
            self._views[key] = Value(tensor, 1, code=var)
        return self._view_code(key, uses)

    def elem_code(self, elem: Elem, uses: set[str]) -> Code:
        """One run-time size (int, :class:`Dim` or :class:`BinOp`) as an int64 scalar expression."""
        if isinstance(elem, (int, np.integer)):
            return np_literal(np.asarray(int(elem), dtype=np.int64))
        if isinstance(elem, Dim):
            return item(self.shape_code(elem.value, uses), elem.axis)
        if isinstance(elem, BinOp):
            fn = {"+": "add", "-": "subtract", "*": "multiply", "//": "floor_divide", "%": "mod",
                  "max": "maximum", "min": "minimum"}[elem.op]
            return call(dotted("ops", fn), self.elem_code(elem.a, uses), self.elem_code(elem.b, uses))
        self.fail(f"cannot compute {elem!r} at run time")

    def sym_code(self, elems: Sequence[Elem], scalar: bool, uses: set[str]) -> Code:
        """A shape vector (or scalar) whose items are only known at run time."""
        parts = [self.elem_code(e, uses) for e in elems]
        if scalar and len(parts) == 1:
            return parts[0]
        return call(dotted("ops", "stack"), listing(parts))

    def constant_code(self, array: np.ndarray, hint: str, instance: bool, uses: set[str]) -> Code:
        """Code for a constant: a literal when small, else stored (see :meth:`constant_ref`)."""
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
        """Append a statement to the body."""
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
        """``layers.X(..., name=...)`` inline in ``build_model``."""
        name = self.converter.layer_names.name(object(), hint)
        kwargs = {**kwargs, "name": lit(str(name))}
        return call(cls, **kwargs), (str(name),)

    def constant_ref(self, array, hint, instance, stmt):
        """``params[key]``: the constant is stored with the weights."""
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
        self.attrs = NameScope(reserved=LAYER_RESERVED)

    def write_init(self, w: SourceWriter, live: list[Stmt]) -> None:
        """``__init__`` of the generated layer class: the sublayers and constants of the ``live`` statements."""
        with w.block("def __init__(self, **kwargs)"):
            w.line("super().__init__(**kwargs)")
            for s in live:
                for template, parts in s.init:
                    w.line(template, *parts)
        w.blank()

    def layer_ref(self, cls, hint, kwargs, stmt_init):
        """``self.<attr>``, created in ``__init__``."""
        attr = self.attrs.name(object(), hint)
        kwargs = {**kwargs, "name": lit(str(attr))}
        stmt_init.append(("self.{} = {}", (attr, call(cls, **kwargs))))
        return fmt("self.{}", attr), (str(attr),)

    def constant_ref(self, array, hint, instance, stmt):
        """``self.<attr>``: a non-trainable weight of the class, filled per instance."""
        attr = self.attrs.name(object(), hint)
        stmt.init.append(("self.{} = self.add_weight(name={}, shape={}, dtype={}, initializer={}, trainable=False)",
                          (attr, lit(str(attr)), lit(tuple(int(d) for d in array.shape)), lit(str(array.dtype)),
                           lit("zeros"))))
        stmt.weights.append(((str(attr),), "variable", [array]))
        ref = fmt("self.{}", attr)
        stmt.defines.add(ref)
        return ref


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
    key: tuple = ()  # the ONNX function (domain, name): its classes for several widths may merge


class Converter:
    """Converts one ONNX model; holds what is shared by all scopes (classes, helpers, errors)."""

    def __init__(self, model: onnx.ModelProto, *, channels_last: bool = False):
        self.plan = plan_with_shapes(model)
        self.model = self.plan.model
        self.channels_last = channels_last
        self.registry = load_ops()
        self.helpers: set[str] = set()
        self.classes: dict[tuple[str, str], list[_BlockClass]] = {}
        self.class_order: list[_BlockClass] = []
        self.class_names = NameScope(reserved=set(_MODULE_NAMES))
        self.layer_names = NameScope()
        self.module_names: set[str] = set()
        self._const_keys = NameScope()
        self.errors: list[NodeConversionError] = []
        self.transposes = 0

    def constant_key(self, hint: str, array: np.ndarray) -> str:
        """The key a constant is stored under in ``params`` (and the weights file)."""
        return f"constants/{self._const_keys.name(object(), hint)}"

    # -- converting the nodes of one scope --
    def convert_nodes(self, scope: Scope) -> None:
        """Convert the live nodes of ``scope``'s view in graph order, recording every failure in ``errors``."""
        view = scope.view
        scope.live = {id(n) for n in live_nodes(view)}
        scope.consumers = {k: [n for n in v if id(n) in scope.live] for k, v in view.consumers.items()}
        scope.outputs = set(view.outputs)
        nodes, writers = self._match_patterns(scope)

        def step(node: onnx.NodeProto) -> None:
            scope.current = node
            if id(node) not in scope.live:
                self._known_outputs(scope, node)
                return  # nothing needs its outputs computed (unused, or known constants)
            if id(node) in scope.absorbed or (all(o in scope.values for o in node.output if o) and any(node.output)):
                return  # already produced by the node it was fused into
            inputs = [scope.values.get(n) if n else None for n in node.input]
            missing = [n for n, v in zip(node.input, inputs) if n and v is None]
            if missing:
                scope.fail(f"input {missing[0]!r} is not produced by any earlier node")
            if any(v is not None and v.code is None and v.const is None and v.sym is None and v.fill is None
                   for v in inputs):
                self._mark_broken(scope, node)  # downstream of a failed node: reported once, upstream
                return
            if id(node) in writers:
                writers[id(node)](TensorFlowContext(scope, node))
                return
            if id(node) in view.calls:
                self.call_function(scope, node)
                return
            if self._fold(scope, node, inputs):
                return
            plan = widening_for(node, view, UNSIGNED_NARROWED, every_op=True)
            ctx = TensorFlowContext(scope, node, plan if not isinstance(plan, str) else None)
            converter = lookup_converter(self.registry, node, scope.opsets)
            if converter is None:
                ctx.fail("no converter for this op")
            if isinstance(plan, str):
                ctx.fail(plan)
            converter(ctx)
            ctx.narrow_outputs()
            for o in node.output:  # constants a converter computed feed later folding
                v = scope.values.get(o)
                if o and v is not None and v.const is not None:
                    view.known[o] = Const(v.const)

        convert_nodes(nodes, step, lambda node: self._mark_broken(scope, node), self.errors)
        scope.current = None

    @staticmethod
    def _match_patterns(scope: Scope) -> tuple[list[onnx.NodeProto], dict[int, Callable]]:
        """Replace each subgraph a pattern matches (see ``TF_PATTERNS``) by one node at the place of its
        last node; returns the node list and the writers of those nodes (by ``id``)."""
        nodes = list(scope.view.nodes)
        writers: dict[int, Callable] = {}
        for pattern in load_patterns():
            for match in pattern(scope.view, [n for n in nodes if id(n) in scope.live]):
                last = max(i for i, n in enumerate(nodes) if id(n) in match.ids)
                nodes = [match.node if i == last else n for i, n in enumerate(nodes)
                         if i == last or id(n) not in match.ids]
                writers[id(match.node)] = match.emit
                scope.live = (scope.live - match.ids) | {id(match.node)}
                for name in match.node.input:  # converters that fuse with their reader see the new node
                    readers = [n for n in scope.consumers.get(name, []) if id(n) not in match.ids]
                    scope.consumers[name] = [*readers, match.node]
        return nodes, writers

    @staticmethod
    def _known_outputs(scope: Scope, node: onnx.NodeProto) -> None:
        """Values for outputs known at conversion time (a graph output can be one)."""
        for name in node.output:
            k = scope.view.known.get(name) if name else None
            if isinstance(k, Const):
                scope.values[name] = Value(name, k.array.ndim, const=np.asarray(k.array))
            elif k is not None and not isinstance(k, Placeholder):
                scope.values[name] = Value(name, 0 if k.scalar else 1, sym=list(k.elems))

    @staticmethod
    def _mark_broken(scope: Scope, node: onnx.NodeProto) -> None:
        for o in node.output:
            if o:
                scope.values[o] = Value(o, scope.info(o).rank)

    @staticmethod
    def _fold(scope: Scope, node: onnx.NodeProto, inputs: list[Value | None]) -> bool:
        """Constants and shape arithmetic are known now (see :func:`onnxbridge.ir.folding.fold_node`): no code for them."""
        fold_node(node, scope.view)
        outs = [o for o in node.output if o]
        known = [scope.view.known.get(o) for o in outs]
        if not outs or any(k is None or isinstance(k, Placeholder) for k in known):
            return False
        instance = any(v is not None and v.instance for v in inputs)
        for name, k in zip(outs, known):
            if isinstance(k, Const):
                scope.values[name] = Value(name, k.array.ndim, const=np.asarray(k.array), instance=instance)
            else:
                assert isinstance(k, SymShape)  # placeholders and unknowns returned above
                rank = 0 if k.scalar else 1
                scope.values[name] = Value(name, rank, sym=list(k.elems))
        return True

    # -- block functions --
    def call_function(self, scope: Scope, node: onnx.NodeProto) -> None:
        """Write a block function call: its class (made once per body), then the call."""
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
        ctx = TensorFlowContext(scope, node)
        for formal in template.weights:
            v = scope.values.get(actual[formal])
            if v is None or v.const is None:
                ctx.fail(f"weight {formal!r} of block {template.name!r} is not a constant")
            view.known[formal] = Const(v.const)
            body.values[formal] = Value(formal, v.const.ndim, const=v.const, instance=True)
        params: list[Code] = []
        args: list[Code] = []
        for formal in template.inputs:
            name = actual[formal]
            if not name:
                ctx.fail(f"input {formal!r} of block {template.name!r} is missing")
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
            ctx.fail(f"block {template.name!r} could not be converted (see the nodes above)")
        returns: list[Code] = []
        out_perms: list[L.Perm | None] = []
        for o in template.outputs:
            v = body.values[o]
            try:
                if v.code is None or v.feature_perm is not None:
                    returns.append(body.view_code(v, None))
                    out_perms.append(None)
                else:
                    returns.append(body.view_code(v, v.layout))
                    out_perms.append(v.layout)
            except NodeConversionError as exc:
                ctx.fail(f"block {template.name!r}: {exc.reason}")
        cls_name, accessor_weights = self._block_class(template, key, body, params, returns)
        layer_call = ctx.layer(cls_name, module="", hint=layer_hint(node))
        for accessor, kind, arrays in accessor_weights:
            ctx._weights.append(((*ctx._last_accessor, *accessor), kind, arrays))
        expr = call(layer_call, *args)
        if len(template.outputs) == 1:
            ctx.emit(expr, perm=out_perms[0])
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
        name = self.add_class((key.domain, key.name), class_hint(key.name, "Block"),
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
            match = _BlockClass(str(name), text, cw.render().rstrip("\n").split("\n"), key)
            variants.append(match)
            self.class_order.append(match)
        return match.name

    # -- the whole model --
    def run(self) -> Generated:
        """Convert the whole model: inputs, every node, outputs; the rendered module."""
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
            try:
                dtype = dtype_name(t.elem)
            except ValueError as exc:
                raise OnnxBridgeError(f"graph input {name!r}: {exc} by the TensorFlow bridge",
                                      hint="cast the input to a supported type before exporting") from None
            scope.emit(Stmt([("{} = keras.Input(batch_shape={}, dtype={}, name={})",
                              (var, lit(dims), lit(dtype), lit(str(layer_name))))], {var}, set(), keep=True))
            scope.values[name] = Value(name, rank, code=var, perm=perm)
            input_vars.append(var)
            signature.append((var, dims, dtype))
        self.convert_nodes(scope)
        if self.errors:
            raise ConversionError(TensorFlowContext.framework, self.errors)
        outputs: list[Code] = []
        for name in view.outputs:
            v = scope.values.get(name)
            if v is None:
                self._fail_output(name, "no node produces this graph output")
            if v.rank is None:
                v.rank = view.type(name).rank
            perm = L.channels_last(v.rank) if self.channels_last and v.rank in (4, 5) else None
            if v.const is not None or v.fill is not None and v.code is None:
                if not input_vars:
                    self._fail_output(name, "the graph has no inputs; a Keras model needs at least one")
                # a constant output still has to come out of a layer fed by an input
                self.helpers.add("ConstantLike")
                array = v.const if v.const is not None else None
                if array is None:
                    self._fail_output(name, "a constant of a run-time shape cannot be an output")
                used: set[str] = set()
                const = scope.constant_code(np.asarray(array), name, False, used)
                var = scope.new_var(name)
                scope.emit(Stmt([("{} = {}", (var, call(call(ident("ConstantLike"), const), input_vars[0])))],
                                {var}, used | {input_vars[0]}))
                outputs.append(var)
                continue
            try:
                outputs.append(scope.view_code(v, perm))
            except NodeConversionError as exc:
                self._fail_output(name, exc.reason)
        live = scope.live_stmts({str(c) for c in outputs} | {str(c) for c in input_vars})
        return self._render(scope, live, input_vars, signature, outputs)

    @staticmethod
    def _fail_output(name: str, reason: str) -> NoReturn:
        raise ConversionError(TensorFlowContext.framework, [NodeConversionError(name, reason, "output")]) from None

    # -- rendering --
    def _merged_classes(self) -> tuple[list[list[str]], list[MergedClass]]:
        """The block classes' sources, a block's classes for several widths merged into one with
        constructor parameters where they differ only in sizes (see :mod:`onnxbridge.codegen.class_merge`);
        and the merges, whose instances the module text must rewrite."""
        sources = {c.name: "\n".join(c.source) + "\n" for c in self.class_order}
        groups: dict[tuple, list[str]] = {}
        for c in self.class_order:
            groups.setdefault(c.key, []).append(c.name)
        merges: list[MergedClass] = []
        for names in groups.values():
            if len(names) < 2:
                continue
            keep = min(names, key=lambda n: (len(n), n))  # BasicBlock, not BasicBlock_2
            merged = merge_block_classes(keep, {n: sources[n] for n in names})
            if merged is None:
                continue
            merges.append(merged)
            sources = {n: with_arguments(t, merged) for n, t in sources.items() if n not in names}
            sources[keep] = merged.source
        order = [c.name for c in self.class_order]
        return [sources[n].rstrip("\n").split("\n") for n in sorted(sources, key=order.index)], merges

    def _render(self, scope, live, input_vars, signature, outputs) -> Generated:
        model = self.model
        g = model.graph
        graph_name = class_hint(g.name, "model")
        class_name = self.class_names.name(("wrapper",), graph_name, style="camel", fallback="Model")
        if str(class_name) in {c.name for c in self.class_order} or str(class_name) in HELPERS:
            class_name = self.class_names.name(("wrapper2",), f"{graph_name}_model", style="camel")
        helpers = [HELPERS[name]() for name in sorted(self.helpers)]
        classes, merges = self._merged_classes()
        layer_classes = _class_names(helpers + classes)
        w = SourceWriter()
        w.docstring(f"{graph_name}: Keras 3 model converted from ONNX by onnxbridge. "
                    f"Inputs and outputs follow the ONNX graph ({'channels-last images' if self.channels_last else 'same layout as ONNX'}). "
                    "Use load() to get the ready model with its weights from model.weights.npz beside this file."
                    + (" A .keras file saved from it loads with keras.saving.load_model(path, "
                       "custom_objects=CUSTOM_OBJECTS)." if layer_classes else ""))
        w.blank()
        w.line("from pathlib import Path")
        w.blank()
        w.line("import keras")
        w.line("import numpy as np")
        w.line("import tensorflow as tf")
        w.line("from keras import layers, ops")
        w.blank()
        w.line("WEIGHTS_FILE = Path(__file__).with_name({})", lit(WEIGHTS_FILE))
        for source in helpers + classes:
            w.blank(2)
            w._lines.extend(source)
        if layer_classes:
            # Keras finds a model's own layer classes by name when it loads a .keras file of the model
            w.blank(2)
            w.line("CUSTOM_OBJECTS = {}", Code("{" + ", ".join(f"{lit(n)}: {ident(n)}" for n in layer_classes) + "}"))
        after_classes = len(w._lines)  # instances below still name the classes before merging
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
        for merged in merges:
            w._lines[after_classes:] = [with_arguments(line, merged) for line in w._lines[after_classes:]]
        return Generated(w.render(), str(class_name), constants, weights,
                         [str(v) for v in input_vars], out_names, self.channels_last, self.transposes)


def plan_with_shapes(model: onnx.ModelProto, rounds: int = 3) -> ModelPlan:
    """:func:`onnxbridge.ir.plan.plan_model`, plus the shapes ONNX inference misses behind computed reshapes.

    ONNX shape inference gives up after a Reshape whose target is computed from run-time sizes
    (``Shape -> Gather -> Concat``); the folded shape arithmetic knows its rank and most dims. Those
    shapes are written into the model's value_info and inference runs again, so every later tensor
    has a rank (the layout logic needs ranks).
    """
    plan = plan_model(model)
    for _ in range(rounds):
        view = plan.main
        added = []
        for node in view.nodes:
            if node.op_type not in ("Reshape", "Expand", "ConstantOfShape") or not node.output[0]:
                continue
            out = node.output[0]
            if view.type(out).rank is not None and all(d is not None for d in view.type(out).shape or ()):
                continue
            shape_input = node.input[0] if node.op_type == "ConstantOfShape" else node.input[1]
            k = view.known.get(shape_input)
            elems = list(k.elems) if isinstance(k, SymShape) else (
                [int(v) for v in k.array.reshape(-1)] if isinstance(k, Const) else None)
            if elems is None or node.op_type == "Expand":
                continue
            dims = _dims_of(elems, view, node, out)
            elem = view.type(node.input[0]).elem if node.op_type != "ConstantOfShape" else None
            if elem is None:
                value = node_attrs(node).get("value")
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
        plan = plan_model(model)
    return plan


def _dims_of(elems: list, view: GraphView, node: onnx.NodeProto, out: str) -> list:
    """Reshape target elements as ONNX dims (ints or symbol names), resolving 0 and -1 when possible."""
    src = view.type(node.input[0]).shape if node.op_type == "Reshape" else None
    allowzero = node_attrs(node).get("allowzero", 0)
    dims: list = []
    for k, e in enumerate(elems):
        if isinstance(e, int) and e == 0 and src is not None and not allowzero and k < len(src):
            e = src[k]
        if isinstance(e, Dim):
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
            dims[dims.index(None)] = int(np.prod([d for d in src if isinstance(d, int)])) // known
    return [d if d is not None else f"{out}_dim{k}" for k, d in enumerate(dims)]


def generate(model: onnx.ModelProto, *, channels_last: bool = False) -> Generated:
    """Keras source for ``model`` plus the weights the exporter assigns.

    Raises :class:`UnsupportedOpsError` listing every op without a converter, and
    :class:`~onnxbridge.frameworks.context.ConversionError` listing every node whose attributes Keras
    cannot express.
    """
    converter = Converter(model, channels_last=channels_last)
    converter.registry.require_all(converter.model)
    return converter.run()
