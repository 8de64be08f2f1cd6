"""A model prepared for code generation: the main graph's view and one view per block function signature.

What every code generator needs before it writes a line of framework code:

- :func:`prepare_model` inlines helper functions (keeping spec blocks, domain :data:`BLOCKS_DOMAIN`, as
  functions so they become nested classes) and runs ONNX shape inference;
- :func:`plan_model` refuses a model that breaks ONNX's rules (:mod:`onnxbridge.ir.validity`) with one
  :class:`~onnxbridge.ir.validity.InvalidModelError` naming every offending node and weight, so no
  converter reads a malformed node;
- :func:`plan_model` makes a :class:`ModelPlan`: the main graph's :class:`GraphView` and one view per
  (block function, distinct signature: weight shapes and input types), named after the function, with
  constants and shape arithmetic folded; all-zero initial states of LSTM/GRU/RNN are dropped (the default);
- :func:`loop_body_view` makes a Loop body a view of its own, :func:`subgraph_view` any other subgraph (an If
  branch, a Scan body).

Example::

    plan = plan_model(model)
    plan.main.nodes, list(plan.functions)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from onnxbridge.ir.conventions import is_block_function, is_onnx_domain, opsets_of
from onnxbridge.ir.folding import fold_node
from onnxbridge.ir.io import fits_in_protobuf
from onnxbridge.ir.nodes import raw_attr
from onnxbridge.ir.symbolic import Const, Placeholder
from onnxbridge.ir.types import UNKNOWN, TensorType, graph_types, infer_shapes, value_info
from onnxbridge.ir.validity import (
    InvalidModelError,
    describe,
    inference_problem,
    initializer_value,
    node_problem,
    one_node_model,
    recurrent_problem,
)
from onnxbridge.ir.view import GraphView


def prepare_model(model: onnx.ModelProto) -> onnx.ModelProto:
    """Inline every local function except spec blocks, then infer shapes (best effort).

    Block functions (domain ``onnxbridge.blocks``, no attribute parameters) stay functions: they
    become nested classes in generated code. Helper functions from exporters are inlined.
    """
    return _prepare(model)[0]


def _prepare(model: onnx.ModelProto) -> tuple[onnx.ModelProto, bool]:
    """:func:`prepare_model`, and whether ONNX's shape rules fail somewhere in it (then each node is judged
    on its own, to name the one that breaks them)."""
    from onnx import inliner

    keep = {(f.domain, f.name) for f in model.functions if is_block_function(f)}
    inline = [(f.domain, f.name) for f in model.functions if (f.domain, f.name) not in keep]
    if inline:
        model = inliner.inline_selected_functions(model, inline)
    model = take_known_branches(model)
    if not fits_in_protobuf(model):  # ONNX cannot infer it in one piece: inference is left to the views
        return infer_shapes(model), False
    try:
        return onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True), False
    except onnx.shape_inference.InferenceError:
        return infer_shapes(model), True
    except Exception:  # noqa: BLE001 - too large to infer, or data propagation failed: inference is a help
        return infer_shapes(model), False


def take_known_branches(model: onnx.ModelProto, rounds: int = 8) -> onnx.ModelProto:
    """Replace each If of the main graph whose condition is known without running the model (a constant, or
    folded from static shapes: ``Size(x) == 4``) by the nodes of the branch it takes, until none is left.

    Exporters and ONNX's own function bodies write such Ifs for cases decided by ranks and attributes; a
    branch that cannot run (it splits a 4-vector into 5) also stops ONNX shape inference for everything
    after it, so taking the branch first lets inference type the rest. ``model`` is returned unchanged
    when it has no such If.
    """
    for _ in range(rounds):
        g = model.graph
        if not any(n.op_type == "If" and is_onnx_domain(n.domain) for n in g.node):
            return model
        inits = {i.name for i in g.initializer}
        view = GraphView(g.name, list(g.node), [i.name for i in g.input if i.name not in inits],
                         [o.name for o in g.output], graph_types(infer_shapes(model).graph), opsets_of(model))
        for init in g.initializer:
            view.known[init.name] = Const(initializer_value(init), init.name)
        nodes: list[onnx.NodeProto] = []
        taken = False
        for node in g.node:
            cond = view.const(node.input[0]) if node.op_type == "If" and is_onnx_domain(node.domain) else None
            if cond is None or cond.size != 1:
                fold_node(node, view)
                nodes.append(node)
                continue
            branch = next(a.g for a in node.attribute
                          if a.name == ("then_branch" if bool(cond.reshape(-1)[0]) else "else_branch"))
            inserted = [helper.make_node("Constant", [], [i.name], value=i) for i in branch.initializer]
            inserted += list(branch.node)
            inserted += [helper.make_node("Identity", [b.name], [o]) for o, b in zip(node.output, branch.output) if o]
            for inner in inserted:
                fold_node(inner, view)
            nodes += inserted
            taken = True
        if not taken:
            return model
        model = _with_nodes(model, nodes)
    return model


def _with_nodes(model: onnx.ModelProto, nodes: list[onnx.NodeProto]) -> onnx.ModelProto:
    out = onnx.ModelProto()
    out.CopyFrom(model)
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    return out


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
    #: whether each node is judged by the ONNX checker (:func:`plan_model` refuses those it fails)
    validate: bool = True
    #: whether each node is also judged by its op's ONNX shape rules (they fail somewhere in the model)
    judge_inference: bool = False
    #: what breaks ONNX's rules, one line per node (:func:`plan_model` raises them together)
    problems: list[str] = field(default_factory=list)


def plan_model(model: onnx.ModelProto, *, validate: bool = True) -> ModelPlan:
    """Prepare ``model`` and analyse its main graph and every block function instance it calls.

    Raises :class:`~onnxbridge.ir.validity.InvalidModelError` naming every weight whose data does not fill
    its shape, and with ``validate`` (what code generators ask for) every node that breaks ONNX's rules.
    """
    model, judge_inference = _prepare(model)
    g = model.graph
    inits = {i.name for i in g.initializer}
    view = GraphView(g.name, list(g.node), [i.name for i in g.input if i.name not in inits],
                     [o.name for o in g.output], graph_types(g), opsets_of(model), doc=g.doc_string)
    for init in g.initializer:
        view.known[init.name] = Const(initializer_value(init, functools.partial(_readers, g, init.name)), init.name)
    plan = ModelPlan(model, view, validate=validate, judge_inference=validate and judge_inference)
    functions = {(f.domain, f.name): f for f in model.functions}
    _analyze(view, plan, functions)
    if plan.problems:
        raise InvalidModelError(plan.problems)
    return plan


def _readers(graph: onnx.GraphProto, name: str) -> str:
    """The nodes reading ``name``, for a message (``node 'conv' (Conv)``), at most three."""
    found = [describe(n) for n in graph.node if name in n.input]
    return ", ".join(found[:3]) + (", ..." if len(found) > 3 else "")


def _problem(node: onnx.NodeProto, view: GraphView, plan: ModelPlan) -> str | None:
    """What breaks ONNX's rules in ``node`` (:mod:`onnxbridge.ir.validity`), or None."""
    if not plan.validate:
        return None
    problem = node_problem(node, view.opsets, plan.model.ir_version) or recurrent_problem(node, _shape_in(view))
    if problem is None and plan.judge_inference:
        names = [n for n in node.input if n]
        consts = {n: c for n in names if (c := view.const(n)) is not None}
        problem = inference_problem(node, {n: view.type(n) for n in names}, consts, view.opsets)
    return problem


def _shape_in(view: GraphView):
    def shape_of(name: str) -> tuple | None:
        c = view.const(name)
        return tuple(c.shape) if c is not None else view.type(name).shape

    return shape_of


def _analyze(view: GraphView, plan: ModelPlan, functions: dict[tuple[str, str], onnx.FunctionProto]) -> None:
    sharpened: set[str] = set()  # values whose shape now has static sizes ONNX inference left symbolic
    for node in view.nodes:
        fn = functions.get((node.domain, node.op_type))
        if fn is not None:
            view.calls[id(node)] = _instantiate(fn, node, view, plan, functions)
            continue
        problem = _problem(node, view, plan)
        if problem is not None:  # neither typed nor folded: nothing downstream is judged by it
            plan.problems.append(f"{describe(node, f'in block {view.name!r}' if view.is_function else '')}: "
                                 f"{problem}")
            for o in node.output:
                view.types.pop(o, None)
            continue
        _type_node(view, node)
        if sharpened.intersection(node.input):
            _sharpen_from_inputs(view, node, sharpened)
        fold_node(node, view)
        _sharpen_from_target(view, node, sharpened)
    _drop_zero_initial_states(view)


def _type_node(view: GraphView, node: onnx.NodeProto) -> None:
    """Fill in the output types ONNX shape inference missed for ``node`` (see :func:`_infer_node_types`;
    a Scan's from its body, see :func:`_infer_scan_types`)."""
    if node.op_type == "Scan" and is_onnx_domain(node.domain):
        _infer_scan_types(view, node)
    else:
        _infer_node_types(view, node)


def _merged(old: TensorType, new: TensorType) -> TensorType | None:
    """``old`` with each size it does not know taken from ``new`` where ``new`` knows it (same rank), or
    None when that adds nothing."""
    if old.shape is None or new.shape is None or len(old.shape) != len(new.shape):
        return None
    shape = tuple(n if not isinstance(o, int) and isinstance(n, int) else o for o, n in zip(old.shape, new.shape))
    return TensorType(old.elem, shape) if shape != old.shape else None


def _sharpen_from_target(view: GraphView, node: onnx.NodeProto, sharpened: set[str]) -> None:
    """A Reshape to a shape computed at run time from other tensors' sizes (``Concat(Shape(x)[0:2], [2, 8])``,
    as tf2onnx writes an einsum): the static sizes folding found in the target (``view.sym_shapes``) go into
    the output's type, where ONNX inference, which does not follow ``Max`` or ``ReduceProd`` of sizes, left
    them symbolic; the nodes after it are then typed again (:func:`_sharpen_from_inputs`)."""
    if node.op_type != "Reshape" or not is_onnx_domain(node.domain) or not node.output:
        return
    out = node.output[0]
    sym = view.sym_shapes.get(out)
    if sym is None:
        return
    merged = _merged(view.type(out), TensorType(None, tuple(d if isinstance(d, int) else None for d in sym)))
    if merged is not None:
        view.types[out] = merged
        sharpened.add(out)


def _sharpen_from_inputs(view: GraphView, node: onnx.NodeProto, sharpened: set[str]) -> None:
    """``node`` typed again, alone, now that an input has static sizes ONNX inference did not know: each
    output size it finds replaces a symbolic one (a Squeeze or Softmax after a sharpened Reshape keeps the
    head count), and those outputs sharpen the nodes after them in turn."""
    outs = [o for o in node.output if o]
    if not outs or all(view.type(o).static_shape is not None for o in outs):
        return
    inferred = _types_alone(view, node)
    if inferred is None:
        return
    for o in outs:
        merged = _merged(view.type(o), inferred.get(o, UNKNOWN))
        if merged is not None:
            view.types[o] = merged
            sharpened.add(o)


def _infer_node_types(view: GraphView, node: onnx.NodeProto) -> None:
    """Types ONNX shape inference missed for ``node``'s outputs, inferred for the node alone with the
    values folded so far (axes from ``Range(0, Size(Shape(x)))``, split sizes from shape arithmetic ...);
    later nodes then see them too."""
    outs = [o for o in node.output if o]
    if not outs or all(view.type(o).rank is not None for o in outs):
        return
    inferred = _types_alone(view, node)
    if inferred is None:
        return
    for o in outs:
        t = inferred.get(o, UNKNOWN)
        if t.rank is not None and view.type(o).rank is None:
            view.types[o] = t


def _types_alone(view: GraphView, node: onnx.NodeProto) -> dict[str, TensorType] | None:
    """The output types ONNX inference gives ``node`` typed on its own, with the types and values known so
    far; None for a node it cannot type that way (not an ONNX op, or one with a subgraph)."""
    if not is_onnx_domain(node.domain) \
            or any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
        return None
    model = one_node_model(node, view.type, view.const, view.opsets, need_shapes=True)
    return None if model is None else graph_types(infer_shapes(model).graph)


def _scan_axes(node: onnx.NodeProto, name: str, count: int) -> list[int]:
    given = next((list(a.ints) for a in node.attribute if a.name == name), None)
    return [int(a) for a in given] if given else [0] * count


def _scan_body_input_types(node: onnx.NodeProto, outer: GraphView, body_inputs: list[str]) -> dict[str, TensorType]:
    """A Scan (opset 9 on) body's input types from the node's inputs: the states as they are, each scanned
    input without its scanned axis. ONNX leaves them out of function bodies (LinearAttention's)."""
    m = int(next((a.i for a in node.attribute if a.name == "num_scan_inputs"), 0))
    n_state = len(node.input) - m
    axes = _scan_axes(node, "scan_input_axes", m)
    types: dict[str, TensorType] = {}
    for k, name in enumerate(body_inputs[:len(node.input)]):
        t = outer.type(node.input[k]) if node.input[k] else UNKNOWN
        if k >= n_state and t.shape is not None:
            shape = list(t.shape)
            axis = axes[k - n_state] % len(shape) if shape else 0
            t = TensorType(t.elem, tuple(shape[:axis] + shape[axis + 1:])) if shape else UNKNOWN
        types[name] = t
    return types


def _infer_scan_types(view: GraphView, node: onnx.NodeProto) -> None:
    """A Scan's output types from its body, typed with the node's inputs (:func:`subgraph_view`), where ONNX
    shape inference found none: final states as the body leaves them, scan outputs stacked along their
    axis (the scanned length taken from the first scanned input)."""
    outs = [o for o in node.output if o]
    if view.opset < 9 or not outs or all(view.type(o).rank is not None for o in outs):
        return
    body = subgraph_view(node, "body", view)
    m = int(next((a.i for a in node.attribute if a.name == "num_scan_inputs"), 0))
    n_state = len(node.input) - m
    first = view.type(node.input[n_state]) if m else UNKNOWN
    in_axis = _scan_axes(node, "scan_input_axes", m)[0] if m else 0
    steps = first.shape[in_axis % len(first.shape)] if first.shape else None
    out_axes = _scan_axes(node, "scan_output_axes", len(node.output) - n_state)
    for j, name in enumerate(node.output):
        if not name or view.type(name).rank is not None or j >= len(body.outputs):
            continue
        t = body.type(body.outputs[j])
        if j >= n_state and t.shape is not None:
            shape = list(t.shape)
            axis = out_axes[j - n_state] % (len(shape) + 1)
            t = TensorType(t.elem, tuple(shape[:axis] + [steps] + shape[axis:]))
        if t.rank is not None:
            view.types[name] = t


_RECURRENT_STATES = {"LSTM": (5, 6), "GRU": (5,), "RNN": (5,)}


def _drop_zero_initial_states(view: GraphView) -> None:
    """An all-zero initial state is the default: omit it (exporters write ConstantOfShape(0) for it)."""
    for node in view.nodes:
        for i in _RECURRENT_STATES.get(node.op_type, ()) if is_onnx_domain(node.domain) else ():
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
        fill = raw_attr(producer, "value")
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
    signature = tuple((f, f in weights, types.get(f, UNKNOWN).elem,
                       _normalised_shape(types.get(f, UNKNOWN).shape)) for f in formals)
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
        vi = value_info(f, t) if t is not None and t.elem else helper.make_tensor_value_info(f, TensorProto.FLOAT, None)
        inputs.append(vi)
    outputs = [helper.make_empty_tensor_value_info(o) for o in fn.output]
    graph = helper.make_graph(list(fn.node), fn.name, inputs, outputs)
    temp = helper.make_model(graph, opset_imports=list(model.opset_import), ir_version=model.ir_version,
                             functions=list(model.functions))
    return graph_types(infer_shapes(temp).graph)




def loop_body_view(loop: onnx.NodeProto, outer: GraphView) -> GraphView:
    """The body of a ``Loop`` as a view: inputs ``(iteration, condition, carried...)``, outputs
    ``(condition, carried..., scan outputs...)``. It sees the outer graph's values and constants, and a
    carried value the body passes through unchanged is the outer constant it starts from."""
    body = next(a.g for a in loop.attribute if a.name == "body")
    inits = {i.name for i in body.initializer}
    view = GraphView(body.name or "loop_body", list(body.node), [i.name for i in body.input if i.name not in inits],
                     [o.name for o in body.output], {**outer.types, **_loop_body_types(body, loop, outer)},
                     dict(outer.opsets), is_function=outer.is_function)
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


def _loop_body_types(body: onnx.GraphProto, loop: onnx.NodeProto, outer: GraphView) -> dict[str, TensorType]:
    """The types of a Loop body's values. Carried inputs the body declares without a shape (function
    bodies often do) take the rank of the value they start from, and the body is inferred again from them;
    only ranks are seeded, as a carried value may change its sizes from one iteration to the next."""
    types = graph_types(body)
    seeded: dict[str, TensorType] = {}
    for k, inp in enumerate(body.input[2:]):
        start = outer.types.get(loop.input[2 + k]) if 2 + k < len(loop.input) and loop.input[2 + k] else None
        own = types.get(inp.name, UNKNOWN)
        if own.shape is None and start is not None and start.shape is not None:
            seeded[inp.name] = TensorType(own.elem or start.elem, (None,) * len(start.shape))
    if not seeded:
        return types
    defined = {i.name for i in body.input} | inits_of(body) | {o for n in body.node for o in n.output}
    read = [i for n in body.node for i in n.input if i and i not in defined]
    if any(name not in outer.types for name in read):
        return types
    graph = onnx.GraphProto()
    graph.CopyFrom(body)
    del graph.input[:], graph.output[:], graph.value_info[:]
    graph.input.extend(value_info(i.name, seeded[i.name]) if i.name in seeded else i for i in body.input)
    graph.input.extend(value_info(name, outer.types[name]) for name in dict.fromkeys(read))
    graph.output.extend(onnx.ValueInfoProto(name=o.name) for o in body.output)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in outer.opsets.items()])
    inferred = graph_types(infer_shapes(model).graph)
    return {**types, **{n: t for n, t in inferred.items() if types.get(n, UNKNOWN).shape is None}}


def inits_of(graph: onnx.GraphProto) -> set[str]:
    """The names of a graph's initializers."""
    return {i.name for i in graph.initializer}


def subgraph_view(node: onnx.NodeProto, attribute: str, outer: GraphView) -> GraphView:
    """The subgraph ``attribute`` of ``node`` (an If branch, a Scan body) as a view: its declared inputs and
    outputs. It sees the outer graph's values and constants (ONNX's outer-scope references), and its own
    constants and shape arithmetic are folded."""
    graph = next(a.g for a in node.attribute if a.name == attribute)
    inits = {i.name for i in graph.initializer}
    view = GraphView(graph.name or attribute, list(graph.node), [i.name for i in graph.input if i.name not in inits],
                     [o.name for o in graph.output], {**outer.types, **graph_types(graph)}, dict(outer.opsets),
                     is_function=outer.is_function)
    view.known.update(outer.known)
    view.sym_shapes.update(outer.sym_shapes)
    for init in graph.initializer:
        view.known[init.name] = Const(numpy_helper.to_array(init), init.name)
    if node.op_type == "Scan" and is_onnx_domain(node.domain) and outer.opset >= 9:
        for name, t in _scan_body_input_types(node, outer, view.inputs).items():
            if view.type(name).rank is None and t.rank is not None:
                view.types[name] = t
    for inner in view.nodes:
        _type_node(view, inner)
        fold_node(inner, view)
    return view
