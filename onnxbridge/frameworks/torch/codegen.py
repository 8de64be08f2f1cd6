"""ONNX -> readable PyTorch source (``model.py``) plus the state dict that goes with it.

One ``nn.Module`` class per graph: the main graph and each block function (one class per distinct
signature, named after the function). The constructor holds the modules (``nn.Conv2d``, ``nn.Linear``,
``nn.LSTM`` ...) and constant tensors; ``forward`` follows the graph order with one statement per node
and variables named after the values. Op converters live in ``ops/<family>.py`` and write through
:class:`~onnxbridge.frameworks.torch.context.TorchContext`; every fragment of source is built with
:mod:`onnxbridge.codegen.writer`.

Example::

    gen = generate(onnx_model)
    print(gen.source)            # model.py text
    gen.state_dict               # {"conv1.weight": np.ndarray, ...}
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto

from onnxbridge.codegen.class_merge import merge_block_classes, with_arguments
from onnxbridge.codegen.writer import Code, NameScope, SourceWriter, call, fmt, ident, join, lit
from onnxbridge.errors import OnnxBridgeError
from onnxbridge.frameworks.context import (
    ConversionError,
    NodeConversionError,
    convert_nodes,
    lookup_converter,
)
from onnxbridge.frameworks.torch.context import (
    ParamRef,
    StateEntry,
    TorchContext,
    Transform,
    dtype_code,
    fn,
    missing_dtype,
)
from onnxbridge.frameworks.torch.helpers import HELPERS
from onnxbridge.frameworks.torch.registry import load_ops, load_patterns
from onnxbridge.frameworks.widening import widening_for
from onnxbridge.ir.dtypes import elem_of
from onnxbridge.ir.liveness import live_nodes
from onnxbridge.ir.naming import class_hint, is_generic_name, layer_hint, value_hint
from onnxbridge.ir.nodes import node_inputs
from onnxbridge.ir.plan import FunctionKey, ModelPlan, plan_model
from onnxbridge.ir.symbolic import BinOp, Const, Dim, Elem, Placeholder, SymShape
from onnxbridge.ir.view import GraphView

WEIGHTS_FILE = "model.safetensors"
HELPER_NAMES = frozenset(HELPERS)
# torch stores these but has (almost) no arithmetic kernels for them: such nodes compute in int64
UNSIGNED_WITHOUT_KERNELS = frozenset({TensorProto.UINT16, TensorProto.UINT32, TensorProto.UINT64})
DEFAULT_DEVICE = "default"  # the device key of nodes the spec did not place (the CPU unless load() says)

# names an nn.Module attribute must not take (methods and attributes of nn.Module)
MODULE_RESERVED = frozenset({
    "forward", "training", "train", "eval", "parameters", "buffers", "children", "modules", "state_dict",
    "load_state_dict", "to", "cuda", "cpu", "float", "half", "double", "bfloat16", "type", "apply", "zero_grad",
    "register_buffer", "register_parameter", "register_module", "add_module", "get_submodule", "get_parameter",
    "get_buffer", "named_parameters", "named_buffers", "named_children", "named_modules", "extra_repr",
    "requires_grad_", "share_memory", "dump_patches", "call_super_init", "compile", "xpu", "ipu", "mtia",
    "set_submodule", "set_extra_state", "get_extra_state", "to_empty", "register_forward_hook",
    "register_forward_pre_hook", "register_full_backward_hook", "register_backward_hook", "T_destination",
    "register_full_backward_pre_hook", "register_load_state_dict_post_hook", "register_load_state_dict_pre_hook",
    "register_state_dict_post_hook", "register_state_dict_pre_hook",
})
# builtins used by generated code, and module-level names
_VAR_RESERVED = {"self", "torch", "nn", "F", "os", "load", "tuple", "int", "float", "range", "len", "max", "min",
                 "list", "sum", "slice", "bool", "super", "isinstance", "dict", "round", "abs"}


# --------------------------------------------------------------------------------------------------
# state: where each weight of a class comes from
# --------------------------------------------------------------------------------------------------
@dataclass
class ChildEntry:
    """A block instance in a class: its attribute, the function signature it runs, where its weights come from."""

    attr: str
    key: FunctionKey
    mapping: dict[str, ParamRef]


@dataclass
class ClassCode:
    """One generated class: its source lines and where its state comes from."""

    name: str
    writer: SourceWriter
    state: list[StateEntry] = field(default_factory=list)
    children: list[ChildEntry] = field(default_factory=list)


@dataclass
class GeneratedModule:
    """The generated ``model.py`` text, its main class name and its state dict (numpy arrays)."""

    source: str
    class_name: str
    state_dict: dict[str, np.ndarray]


# --------------------------------------------------------------------------------------------------
# one class
# --------------------------------------------------------------------------------------------------
class ClassBuilder:
    """Writes one ``nn.Module`` class for one :class:`GraphView`."""

    def __init__(self, gen: Generator, view: GraphView, class_name: Code):
        self.gen = gen
        self.view = view
        self.class_name = class_name
        self.attrs = NameScope(reserved=MODULE_RESERVED)
        self.vars = NameScope(reserved=_VAR_RESERVED | gen.class_names_taken | HELPER_NAMES)
        self.init = SourceWriter()
        self.body = SourceWriter()
        self.values: dict[str, Code] = {}
        self.tensor_attrs: dict[str, Code] = {}
        self.state: list[StateEntry] = []
        self.children: list[ChildEntry] = []
        self.absorbed: set[int] = set()
        # per-layer devices (main graph only): node name -> device key; where each value / attribute lives
        self.placement: dict[str, str] = {} if view.is_function else gen.placements
        self.node_device: str | None = None
        self.value_device: dict[str, str] = {}
        self.attr_device: dict[str, str] = {}
        self.args = [self.vars.name(i, value_hint(i, None)) for i in view.inputs]
        self.values.update(zip(view.inputs, self.args))
        # variables are reused once nothing reads them any more (``x = self.conv(x)``): besides reading like
        # hand-written code, that frees each intermediate tensor as soon as it is dead
        self.holders: dict[str, set[str]] = {str(a): {i} for a, i in zip(self.args, view.inputs)}
        self.created: dict[str, int] = {str(a): n for n, a in enumerate(self.args)}
        self.last_use: dict[str, float] = {}
        self.index = -1
        self.current: onnx.NodeProto | None = None
        #: scales folded into a following attention call: value -> factor (see ops/attention.py)
        self.prescales: dict[str, float] = {}

    # -- values ------------------------------------------------------------------------------
    def var(self, value: str, node: onnx.NodeProto | None, hint: str | None = None, *,
            reuse: bool | None = None) -> Code:
        """The variable holding ``value``; a new one, or (``reuse``, by default for the first output of the
        node being converted) a variable of the current node's inputs that nothing reads afterwards."""
        if value not in self.values:
            if reuse is None:
                reuse = node is not None and node is self.current and bool(node.output) and value == node.output[0]
            code = self._reusable() if reuse else None
            if code is None:
                code = self.vars.name(value, hint or value_hint(value, node))
                self.created[str(code)] = len(self.created)
            self.values[value] = code
            self.holders.setdefault(str(code), set()).add(value)
        return self.values[value]

    def hold(self, value: str, code: Code) -> None:
        """``value`` is the same object as ``code`` (an alias): keep that variable alive while it is."""
        self.values[value] = code
        if str(code) in self.holders:
            self.holders[str(code)].add(value)

    def _reusable(self) -> Code | None:
        if self.current is None:
            return None
        best: Code | None = None
        for u in self.current.input:
            code = self.values.get(u)
            if code is None or str(code) not in self.holders:
                continue  # constants, expressions
            if all(self.last_use.get(h, float("inf")) <= self.index for h in self.holders[str(code)]) and (
                    best is None or self.created[str(code)] < self.created[str(best)]):
                best = code
        return best

    def _last_uses(self, nodes: list[onnx.NodeProto]) -> dict[str, float]:
        """For each value, the position of the last node that reads it (or its sizes); outputs live on."""
        last: dict[str, float] = {}
        for i, node in enumerate(nodes):
            for u in node_inputs(node):
                last[u] = i
                k = self.view.known.get(u)
                if isinstance(k, SymShape):
                    for r in k.refs():
                        last[r] = i
        for o in self.view.outputs:
            last[o] = float("inf")
            k = self.view.known.get(o)
            if isinstance(k, SymShape):
                for r in k.refs():
                    last[r] = float("inf")
        return last

    def tensor(self, value: str, consumer: onnx.NodeProto | None = None) -> Code:
        """``value`` as a tensor expression (a variable, a constant attribute, or shape arithmetic), on the consumer's device."""
        code = self._tensor(value, consumer)
        if not self.placement or self.node_device is None:
            return code
        have = self.value_device.setdefault(value, DEFAULT_DEVICE if value in self.view.inputs else self.node_device)
        if consumer is None or have == self.node_device:
            return code
        # the value lives on another device than the node using it: move it there (pipeline parallelism)
        base = str(code) if str(code).isidentifier() else value_hint(value, self.view.producer.get(value))
        hint = f"{base}_{self.node_device}"
        moved = self.vars.name(object(), hint)
        self.body.line("{} = {}.to(self.devices[{}])", moved, code, lit(self.node_device))
        self.values[value] = moved
        self.value_device[value] = self.node_device
        return moved

    def _tensor(self, value: str, consumer: onnx.NodeProto | None = None) -> Code:
        if value in self.values:
            return self.values[value]
        k = self.view.known.get(value)
        if isinstance(k, (Const, Placeholder)):
            if value not in self.tensor_attrs:
                ref = (ParamRef(k.type, formal=k.formal, name=k.formal) if isinstance(k, Placeholder)
                       else ParamRef(self.view.type(value), array=k.array, name=k.name))
                hint = value_hint(value, self.view.producer.get(value))
                if hint in ("v", "constant") and consumer is not None:
                    hint = f"{layer_hint(consumer)}_const"
                self.tensor_attrs[value] = self.add_tensor(ref, hint)
            return self.tensor_attrs[value]
        if isinstance(k, SymShape):
            items = join([self.elem(e) for e in k.elems])
            data = items if k.scalar else fmt("[{}]", items)
            expr = fn("torch.tensor", data, dtype=dtype_code(k.elem), device=self.device())
            var = self.var(value, self.view.producer.get(value))
            self.body.line("{} = {}", var, expr)
            return var
        raise OnnxBridgeError(f"value {value!r} is used before it is computed")

    def add_tensor(self, ref: ParamRef, hint: str, *, parameter: bool | None = None,
                   transform: Transform | None = None, elem: int | None = None) -> Code:
        """A constant tensor attribute (``nn.Parameter`` for named float weights, a buffer otherwise)."""
        elem = elem or ref.type.elem or (elem_of(ref.array) if ref.array is not None else None)
        if parameter is None:
            # weights with a real name (a state-dict key) stay trainable; exporter constants become buffers
            parameter = elem in (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16) \
                and (ref.formal is not None or (ref.name is not None and not is_generic_name(ref.name)))
        shape = ref.shape
        if transform is not None and ref.array is not None:
            shape = tuple(transform(ref.array).shape)
        attr = self.attrs.name(object(), hint)
        dtype_kw = {} if elem == TensorProto.FLOAT else {"dtype": dtype_code(elem)}
        empty = fn("torch.empty", lit(tuple(int(d) for d in shape)), **dtype_kw)
        if parameter:
            self.init.line("self.{} = nn.Parameter({})", attr, empty)
        else:
            self.init.line("self.register_buffer({}, {})", lit(str(attr)), empty)
        self.state.append(StateEntry(str(attr), ref, transform))
        self.place_attr(attr)
        return fmt("self.{}", attr)

    def elem(self, e: Elem) -> Code:
        """One size as code: an int, ``x.shape[k]``, or arithmetic on them."""
        if isinstance(e, int):
            return lit(e)
        if isinstance(e, Dim):
            return fmt("{}.shape[{}]", self.tensor(e.value), lit(e.axis))
        assert isinstance(e, BinOp)
        if e.op in ("max", "min"):
            return call(ident(e.op), self._operand(e.a), self._operand(e.b))
        template = {"+": "{} + {}", "-": "{} - {}", "*": "{} * {}", "//": "{} // {}", "%": "{} % {}"}[e.op]
        return fmt(template, self._operand(e.a), self._operand(e.b))

    def _operand(self, e: Elem) -> Code:
        code = self.elem(e)
        return fmt("({})", code) if isinstance(e, BinOp) and e.op not in ("max", "min") else code

    def device(self) -> Code:
        """An expression for the device the current node runs on."""
        if self.placement and self.node_device is not None:
            return fmt("self.devices[{}]", lit(self.node_device))
        if self.args:
            return fmt("{}.device", self.args[0])
        return Code("None")

    # -- the class ---------------------------------------------------------------------------
    @classmethod
    def nested(cls, parent: ClassBuilder, view: GraphView) -> ClassBuilder:
        """A builder for a subgraph (a Loop body) written inside ``parent``'s ``forward``: it shares the
        class's modules, constants, state and variable names, and sees the values computed so far."""
        sub = cls.__new__(cls)
        sub.__dict__.update(parent.__dict__)
        sub.view = view
        sub.body = SourceWriter()
        sub.values = dict(parent.values)
        sub.absorbed = set()
        sub.holders = {}  # only variables made inside the body may be reused there
        sub.created = dict(parent.created)
        sub.last_use, sub.index, sub.current = {}, -1, None
        sub.prescales = {}
        sub.placement, sub.node_device, sub.value_device = {}, None, {}
        sub.args = []
        return sub

    def build(self) -> ClassCode:
        """Convert the view and render its class."""
        self.convert()
        self.index, self.current = len(self.view.nodes), None
        outs = [self.tensor(o) for o in self.view.outputs]
        self.body.line("return {}", join(outs) if outs else Code("None"))
        return self._render()

    def convert(self) -> None:
        """Write the code of every live node, in graph order; raise every conversion problem at once."""
        registry = load_ops()
        errors: list[NodeConversionError] = []
        nodes, patterns = self._match_patterns(live_nodes(self.view))
        self.last_use = self._last_uses(nodes)
        position = {id(n): i for i, n in enumerate(nodes)}

        for name in self.view.inputs:
            reason = missing_dtype(self.view.type(name).elem)
            if reason:
                errors.append(NodeConversionError(name, reason, "graph input"))

        def step(node: onnx.NodeProto) -> None:
            if id(node) in self.absorbed:
                return
            for name in [*node.input, *node.output]:
                reason = missing_dtype(self.view.type(name).elem) if name else None
                if reason:
                    raise NodeConversionError(node, reason)
            self.index, self.current = position[id(node)], node
            self._enter(node)
            if id(node) in self.view.calls:
                self._call(node)
                return
            plan = widening_for(node, self.view, UNSIGNED_WITHOUT_KERNELS)
            ctx = TorchContext(self, node, plan if not isinstance(plan, str) else None)
            converter = patterns.get(id(node)) or lookup_converter(registry, node, self.view.opsets)
            if converter is None:
                ctx.fail("no torch converter for this op at this opset")
            if isinstance(plan, str):
                ctx.fail(plan)
            converter(ctx)
            ctx.narrow_outputs()

        def failed(node: onnx.NodeProto) -> None:
            for o in node.output:  # later nodes still find a value; the failure is what is reported
                self.values.setdefault(o, Code("None"))

        convert_nodes(nodes, step, failed, errors)
        if errors:
            raise ConversionError(TorchContext.framework, errors)

    def _match_patterns(self, nodes: list[onnx.NodeProto]) -> tuple[list[onnx.NodeProto], dict[int, Callable]]:
        """Replace each subgraph a pattern matches by one node at the place of its last node; returns the
        node list and the writers of those nodes (by ``id``). Per-layer device placement keeps every node."""
        writers: dict[int, Callable] = {}
        if self.placement:
            return nodes, writers
        for pattern in load_patterns():
            for match in pattern(self.view, nodes):
                last = max(i for i, n in enumerate(nodes) if id(n) in match.ids)
                nodes = [match.node if i == last else n for i, n in enumerate(nodes)
                         if i == last or id(n) not in match.ids]
                writers[id(match.node)] = match.emit
        return nodes, writers

    def _enter(self, node: onnx.NodeProto) -> None:
        """Start converting ``node``: with per-layer devices, its outputs live on its device."""
        if self.placement:
            self.node_device = self.placement.get(node.name, DEFAULT_DEVICE)
            for o in node.output:
                if o:
                    self.value_device[o] = self.node_device

    def place_attr(self, attr: Code) -> None:
        """A module or tensor attribute made for the node being converted goes on that node's device."""
        if self.placement and self.node_device is not None:
            self.attr_device.setdefault(str(attr), self.node_device)

    def _call(self, node: onnx.NodeProto) -> None:
        key = self.view.calls[id(node)]
        callee = self.gen.plan.functions[key]
        formals = [s[0] for s in key.signature]
        actual = {f: (node.input[i] if i < len(node.input) else "") for i, f in enumerate(formals)}
        attr = self.attrs.name(object(), layer_hint(node))
        self.init.line("self.{} = {}()", attr, self.gen.class_name(key))
        self.place_attr(attr)
        mapping: dict[str, ParamRef] = {}
        for formal in callee.weights:
            k = self.view.known[actual[formal]]
            mapping[formal] = (ParamRef(k.type, formal=k.formal) if isinstance(k, Placeholder)
                               else ParamRef(self.view.type(actual[formal]), array=k.array, name=k.name))  # type: ignore[union-attr]
        self.children.append(ChildEntry(str(attr), key, mapping))
        args = [self.tensor(actual[f], node) if actual[f] else Code("None") for f in callee.inputs]
        outs = [self.var(o, node) if o else Code("_") for o in node.output]
        self.body.line("{} = self.{}({})", join(outs), attr, join(args))

    def _render(self) -> ClassCode:
        w = SourceWriter()
        with w.block("class {}(nn.Module)", self.class_name):
            doc = self.view.doc or (f"Block {self.view.name!r}." if self.view.is_function
                                    else f"Converted from the ONNX graph {self.view.name!r} (opset {self.view.opset}).")
            w.docstring(doc)
            w.blank()
            if self.placement:
                placed = {a: d for a, d in self.attr_device.items() if d != DEFAULT_DEVICE}
                w.comment("where the layers run (from the spec); load() places them, forward() moves activations")
                w.line("PLACEMENT = {}", lit(placed))
                w.blank()
            with w.block("def __init__(self)"):
                w.line("super().__init__()")
                if self.placement:
                    keys = sorted({DEFAULT_DEVICE, *self.placement.values()})
                    w.line("self.devices = {}", lit({k: "cpu" if k == DEFAULT_DEVICE else k for k in keys}))
                w.extend(self.init)
            w.blank()
            with w.block("def forward({})", join([Code("self"), *self.args])):
                w.extend(self.body)
        return ClassCode(str(self.class_name), w, self.state, self.children)


# --------------------------------------------------------------------------------------------------
# the module
# --------------------------------------------------------------------------------------------------
class Generator:
    """Generates every class of one model and assembles ``model.py``."""

    def __init__(self, plan: ModelPlan, class_name: str | None = None):
        from onnxbridge.runtime.layer_devices import read_placements

        self.plan = plan
        self.placements = read_placements(plan.model)  # {node name: device} from the spec, often empty
        self.classes = NameScope(reserved=("load", "torch", "nn", "F", "os", *HELPER_NAMES))
        self.class_names_taken: set[str] = set()
        self.helpers: set[str] = set()  # helper functions written into the module (see helpers.py)
        self._names: dict[FunctionKey | str, Code] = {}
        for key in plan.functions:
            self.class_name(key)
        self.main_name = self.classes.name("__main__", class_name or class_hint(plan.main.name), style="camel",
                                           fallback="Model")
        self.class_names_taken.add(str(self.main_name))

    def class_name(self, key: FunctionKey) -> Code:
        """The class name of a block function signature (unique in the module)."""
        if key not in self._names:
            self._names[key] = self.classes.name(key, self.plan.class_names[key], style="camel", fallback="Block")
            self.class_names_taken.add(str(self._names[key]))
        return self._names[key]

    def generate(self) -> GeneratedModule:
        """Every class, the module text and the state dict; raise every conversion problem at once."""
        codes: dict[FunctionKey | str, ClassCode] = {}
        errors: list[NodeConversionError] = []
        for key, view in reversed(list(self.plan.functions.items())):
            try:
                codes[key] = ClassBuilder(self, view, self.class_name(key)).build()
            except ConversionError as exc:
                errors.extend(exc.errors)
        try:
            codes["__main__"] = ClassBuilder(self, self.plan.main, self.main_name).build()
        except ConversionError as exc:
            errors.extend(exc.errors)
        if errors:
            raise ConversionError(TorchContext.framework, errors)
        state = _resolve_state(codes, "__main__", {})
        source = self._render(self._merged_texts(codes))
        return GeneratedModule(source, str(self.main_name), state)

    def _merged_texts(self, codes: dict[FunctionKey | str, ClassCode]) -> list[str]:
        """Each class's source, a block's classes for several widths merged into one with constructor
        parameters where they differ only in sizes (see :mod:`onnxbridge.codegen.class_merge`); callees
        come first."""
        texts: dict[FunctionKey | str, str] = {key: code.writer.render() for key, code in codes.items()}
        groups: dict[tuple[str, str], list[FunctionKey]] = {}
        for key in codes:
            if isinstance(key, FunctionKey):
                groups.setdefault((key.domain, key.name), []).append(key)
        for keys in groups.values():
            if len(keys) < 2:
                continue
            names = {k: str(self._names[k]) for k in keys}
            keep = min(keys, key=lambda k: (len(names[k]), names[k]))  # BasicBlock, not BasicBlock2
            merged = merge_block_classes(names[keep], {names[k]: texts[k] for k in keys})
            if merged is None:
                continue
            for k in keys:
                del texts[k]
            texts[keep] = merged.source
            texts = {k: with_arguments(t, merged) if k != keep else t for k, t in texts.items()}
        order = list(codes)
        return [texts[k] for k in sorted(texts, key=order.index)]

    def _render(self, classes: list[str]) -> str:
        body = SourceWriter()
        for name in sorted(self.helpers):
            body.blank(2)
            for line in HELPERS[name]():
                body.line("{}", Code(line))
        for text in classes:
            body.blank(2)
            for line in text.rstrip("\n").split("\n"):
                body.line("{}", Code(line))
        body.blank(2)
        self._write_load(body)
        text = body.render()
        head = SourceWriter()
        model = self.plan.model
        head.docstring(f"{self.main_name}: PyTorch code generated by onnxbridge from the ONNX graph "
                       f"{model.graph.name!r} (opset {self.plan.main.opset}). load() returns the model "
                       f"with its weights from {WEIGHTS_FILE} beside this file; it needs only torch "
                       "(and safetensors to read the weights).")
        head.blank()
        head.line("import os")
        head.blank()
        head.line("import torch")
        if "F." in text:
            head.line("import torch.nn.functional as F")
        head.line("from torch import nn")
        return head.render() + text

    def _write_load(self, w: SourceWriter) -> None:
        if self.placements:
            self._write_placed_load(w)
            return
        with w.block("def load(weights=None, device={})", lit("cpu")):
            w.docstring(f"Return {self.main_name} in eval mode with its weights: a path to a safetensors file "
                        f"(default: {WEIGHTS_FILE} beside this file) or a state dict.")
            self._write_state_loading(w, "load_file(path, device=str(device))")
            w.line("return model.to(device).eval()")

    def _write_state_loading(self, w: SourceWriter, load_call: str) -> None:
        """The body shared by both load()s: read the state dict, build on 'meta', assign the weights."""
        w.line("if isinstance(weights, dict):")
        w.line("    state = weights")
        w.line("else:")
        w.line("    from safetensors.torch import load_file")
        w.blank()
        w.line("    path = weights or os.path.join(os.path.dirname(os.path.abspath(__file__)), {})", lit(WEIGHTS_FILE))
        w.line("    state = " + load_call)
        w.line("with torch.device({}):", lit("meta"))
        w.line("    model = {}()", self.main_name)
        w.line("model.load_state_dict(state, assign=True)")

    def _write_placed_load(self, w: SourceWriter) -> None:
        """load() and place() for a model whose layers the spec put on devices."""
        with w.block("def load(weights=None, device=None)"):
            w.docstring(f"Return {self.main_name} in eval mode with its weights: a path to a safetensors file "
                        f"(default: {WEIGHTS_FILE} beside this file) or a state dict. Each layer goes to the "
                        "device the spec placed it on (the others to the CPU); device= puts the whole model "
                        "on one device instead.")
            self._write_state_loading(w, "load_file(path)")
            w.line("return place(model, device).eval()")
        w.blank(2)
        with w.block("def place(model, device=None)"):
            w.docstring("Put each layer of model on its device (pipeline-style model parallelism), or, with "
                        "device, the whole model on that one device.")
            w.line("for key in model.devices:")
            w.line("    model.devices[key] = device or ({} if key == {} else key)", lit("cpu"), lit(DEFAULT_DEVICE))
            w.line("model.to(model.devices[{}])", lit(DEFAULT_DEVICE))
            w.line("for name, key in model.PLACEMENT.items():")
            w.line("    part = getattr(model, name)")
            w.line("    if isinstance(part, nn.Module):")
            w.line("        part.to(model.devices[key])")
            w.line("    else:")
            w.line("        part.data = part.data.to(model.devices[key])")
            w.line("return model")


def _resolve_state(codes: dict[FunctionKey | str, ClassCode], key: FunctionKey | str,
                   env: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    code = codes[key]
    out: dict[str, np.ndarray] = {}
    for entry in code.state:
        value = entry.ref.value(env)
        out[entry.key] = entry.transform(value) if entry.transform else value
    for child in code.children:
        child_env = {formal: ref.value(env) for formal, ref in child.mapping.items()}
        for k, v in _resolve_state(codes, child.key, child_env).items():
            out[f"{child.attr}.{k}"] = v
    return out


def generate(model: onnx.ModelProto, *, class_name: str | None = None) -> GeneratedModule:
    """Generate ``model.py`` source and its state dict for ``model``.

    Raises :class:`onnxbridge.errors.UnsupportedOpsError` listing every op without a converter, and
    :class:`~onnxbridge.frameworks.context.ConversionError` listing every node whose attributes torch cannot
    express.
    """
    registry = load_ops()
    _refuse_strings(model)
    plan = plan_model(model)
    registry.require_all(plan.model)
    return Generator(plan, class_name).generate()


def _refuse_strings(model: onnx.ModelProto) -> None:
    """A model that takes or gives strings cannot become a torch module: torch has no string tensors."""
    g = model.graph
    strings = [f"{kind} {vi.name!r}" for kind, values in (("input", g.input), ("output", g.output))
               for vi in values if vi.type.tensor_type.elem_type == TensorProto.STRING]
    if strings:
        raise OnnxBridgeError(f"{', '.join(strings)} of the graph {'is a' if len(strings) == 1 else 'are'} string "
                              f"tensor{'s' if len(strings) > 1 else ''}: PyTorch has no string tensors",
                              hint="convert this model to TensorFlow, which has string tensors, or do the string "
                                   "processing outside the model")

