"""Control flow: ONNX Loop and Scan -> a Keras layer whose ``call`` runs ``tf.while_loop`` over the converted
body; If -> a layer whose ``call`` runs ``tf.cond`` over the two converted branches.

A body is converted like a block (its layers and large constants live on the layer), inside a nested
``step`` function; loop-carried values are the loop variables, scan outputs are collected in
``tf.TensorArray``s and stacked. Values of the enclosing graph that a body reads are passed to the layer
as extra inputs, so the layer also works inside a Keras functional model. An If whose condition is known
when converting is taken before conversion (:func:`onnxbridge.ir.plan.take_known_branches`); inside a
body, its layer runs the branch taken.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from onnxbridge.codegen.writer import Code, NameScope, SourceWriter, call, dotted, fmt, join, lit
from onnxbridge.frameworks.tensorflow.context import TensorFlowContext, Value, item, np_literal
from onnxbridge.frameworks.tensorflow.registry import TF_OPS
from onnxbridge.ir.naming import layer_hint, value_hint
from onnxbridge.ir.nodes import node_inputs
from onnxbridge.ir.plan import loop_body_view, subgraph_view
from onnxbridge.ir.symbolic import Const
from onnxbridge.ir.view import GraphView

if TYPE_CHECKING:
    from onnxbridge.frameworks.tensorflow.codegen import ClassScope

_UNBOUNDED = 2**62  # exporters pass INT64_MAX as the trip count of a loop governed by its condition only


def _free_values(view: GraphView) -> list[str]:
    """Values the body (and bodies nested in it) read from outside, in first-use order."""
    defined = set(view.inputs)
    free: list[str] = []
    for node in view.nodes:
        for name in node_inputs(node):
            if name not in defined and name not in free and not isinstance(view.known.get(name), Const):
                free.append(name)
        defined.update(o for o in node.output if o)
    return free


def _static_dims(shape: tuple | None) -> tuple | None:
    return None if shape is None else tuple(d if isinstance(d, int) else None for d in shape)


@TF_OPS.register("Loop", since=11)
def loop(ctx: TensorFlowContext) -> None:
    """ONNX ``Loop`` as a Python loop over the converted body (carried values and scan outputs)."""
    node = ctx.node
    converter = ctx.scope.converter
    view = loop_body_view(node, ctx.view)
    body = ctx.nested(view)
    n_carried = len(node.input) - 2
    iteration, condition, *carried = view.inputs
    n_scan = len(view.outputs) - 1 - n_carried
    if n_scan < 0:
        ctx.fail("the body has fewer outputs than loop-carried values")
    names = body.vars
    names.reserve("step", "more", "results")  # the names the layer's call() uses itself

    def var(key: object, name: str, suffix: str = "") -> Code:
        return names.name(key, value_hint(name, None) + suffix)

    # the layer's inputs: trip count, condition, carried initial values, then outer values the body reads
    call_params: list[Code] = [names.name(("param", "trip"), "trip_count"), names.name(("param", "cond"), "keep_going")]
    trip = ctx.const(0) if ctx.has(0) else None
    bounded = ctx.has(0) and (trip is None or int(np.asarray(trip).reshape(-1)[0]) < _UNBOUNDED)
    call_args: list[Code] = [
        ctx.tensor_arg(0) if bounded else np_literal(np.asarray(_UNBOUNDED, np.int64), scalar=False),
        ctx.tensor_arg(1) if ctx.has(1) else np_literal(np.asarray(True), scalar=False)]
    step_params = [var(("input", iteration), iteration), var(("input", condition), condition)]
    body.values[iteration] = Value(iteration, 0, code=step_params[0])
    body.values[condition] = Value(condition, 0, code=step_params[1])
    looping: list[int] = []  # carried values that change; the others are constants (weights passed along)
    for k, name in enumerate(carried):
        if not node.input[2 + k]:
            ctx.fail(f"loop-carried value {name!r} has no initial value")
        known = view.known.get(name)
        if isinstance(known, Const):
            body.values[name] = Value(name, known.array.ndim, const=np.asarray(known.array))
            continue
        looping.append(k)
        call_params.append(var(("initial", name), name, "_initial"))
        call_args.append(ctx.tensor_arg(2 + k))
        step_params.append(var(("input", name), name))
        body.values[name] = Value(name, ctx.view.type(node.input[2 + k]).rank, code=step_params[-1])
    for name in _free_values(view):
        outer = ctx.scope.values.get(name)
        if outer is None:
            ctx.fail(f"the body reads {name!r}, which is not computed before the loop")
        if outer.const is not None:
            body.values[name] = Value(name, outer.const.ndim, const=outer.const)
            continue
        call_params.append(var(("outer", name), name))
        call_args.append(ctx.scope.view_code(outer, None, ctx.uses))
        body.values[name] = Value(name, outer.rank, code=call_params[-1])
    for name, known in view.known.items():  # constants of the body and of the outer graph it may read
        if name not in body.values and isinstance(known, Const):
            body.values[name] = Value(name, known.array.ndim, const=np.asarray(known.array))

    before = len(converter.errors)
    converter.convert_nodes(body)
    if len(converter.errors) > before:
        ctx.fail("the loop body could not be converted (see the nodes above)")
    outs = [body.view_code(body.values[o], None) for o in view.outputs]
    cond_out, scan_out = outs[0], outs[1 + n_carried:]
    carried_out = [outs[1 + k] for k in looping]
    scans = [var(("scan", k), view.outputs[1 + n_carried + k], "_steps") for k in range(n_scan)]

    live = body.live_stmts({str(c) for c in outs})
    w = SourceWriter()
    body.write_init(w, live)
    with w.block("def call(self, {})", join(call_params)):
        with w.block("def step({})", join(step_params + scans)):
            # loop variables keep the static sizes ONNX knows (Keras layers in the body need them to build)
            for k, param in zip(looping, step_params[2:]):
                shape = _static_dims(view.type(carried[k]).shape) or _static_dims(ctx.view.type(node.input[2 + k]).shape)
                if shape is not None and any(d is not None for d in shape):
                    w.line("{} = tf.ensure_shape({}, {})", param, param, lit(shape))
            for s in live:
                for template, parts in s.lines:
                    w.line(template, *parts)
            writes = [fmt("{}.write(tf.cast({}, tf.int32), {})", s, step_params[0], o) for s, o in zip(scans, scan_out)]
            w.line("return ({},)", join([fmt("{} + 1", step_params[0]), cond_out, *carried_out, *writes]))
        w.blank()
        with w.block("def more({}, *_)", join(step_params[:2])):
            test = fmt("tf.logical_and({} < {}, {})", step_params[0], call_params[0], step_params[1]) if bounded \
                else step_params[1]
            w.line("return {}", test)
        w.blank()
        arrays = [call(dotted("tf", "TensorArray"), dotted("tf", ctx.dtype(view.type(o).elem)), size=lit(0),
                       dynamic_size=lit(True))
                  for o in view.outputs[1 + n_carried:]]
        start = [call(dotted("tf", "constant"), lit(0), dtype=dotted("tf", "int64")),
                 call(dotted("tf", "cast"), call_params[1], dotted("tf", "bool")),
                 *call_params[2:2 + len(looping)], *arrays]
        w.line("results = tf.while_loop(more, step, ({},))", join(start))
        finals = [item(Code("results"), 2 + j) for j in range(len(looping))]
        finals += [fmt("{}.stack()", item(Code("results"), 2 + len(looping) + j)) for j in range(n_scan)]
        w.line("return {}", join(finals) if len(finals) > 1 else finals[0] if finals else Code("None"))
    label = node.name or node.output[0]
    cls_name = converter.add_class(("loop", label), layer_hint(node) + "_loop",
                                   f"ONNX Loop {label!r}: runs its body while the condition holds (and the trip "
                                   "count is not reached).", w)
    layer = ctx.layer(str(cls_name), module="")
    for accessor, kind, arrays_ in (wt for s in live for wt in s.weights):
        ctx._weights.append(((*ctx._last_accessor, *accessor), kind, arrays_))
    # the node's outputs: the final carried values, then the stacked scan outputs
    produced = [2 + k for k in looping] + list(range(2 + n_carried, 2 + n_carried + n_scan))
    expr = call(layer, *call_args)
    if len(produced) == 1:
        ctx.emit(expr, produced[0] - 2)
    elif produced:
        names_out = [node.output[p - 2] if p - 2 < len(node.output) else "" for p in produced]
        targets = [ctx.scope.new_var(value_hint(n, node)) if n else Code("_") for n in names_out]
        ctx.define_raw(targets, expr)
        for name, target in zip(names_out, targets):
            if name:
                ctx.uses.add(target)
                ctx.scope.values[name] = Value(name, ctx.view.type(name).rank, code=target)
    for k, name in enumerate(carried):  # constants passed along come out unchanged
        if k not in looping and k < len(node.output) and node.output[k]:
            const = body.values[name].const
            assert const is not None  # a carried value the body does not change is a constant
            ctx.set_const(k, const)


def _bind_outer(ctx: TensorFlowContext, body: ClassScope, view: GraphView, names: NameScope,
                params: dict[str, Code], call_args: list[Code]) -> None:
    """Give ``body`` the values its subgraph reads from outside: constants as they are, the others as
    parameters of the layer's ``call`` (one per value, shared by the bodies of one layer)."""
    for name in _free_values(view):
        if name in body.values:
            continue
        outer = ctx.scope.values.get(name)
        if outer is None:
            ctx.fail(f"the subgraph reads {name!r}, which is not computed before it")
        if outer.const is not None:
            body.values[name] = Value(name, outer.const.ndim, const=outer.const)
            continue
        if name not in params:
            params[name] = names.name(("outer", name), value_hint(name, None))
            call_args.append(ctx.scope.view_code(outer, None, ctx.uses))
        body.values[name] = Value(name, outer.rank if outer.rank is not None else view.type(name).rank,
                                  code=params[name])
    for name, k in view.known.items():
        if name not in body.values and isinstance(k, Const):
            body.values[name] = Value(name, k.array.ndim, const=np.asarray(k.array))


def _convert_body(ctx: TensorFlowContext, body: ClassScope, view: GraphView, what: str) -> tuple[list[Code], list]:
    """Convert a subgraph's nodes; its outputs as code and the statements they need."""
    converter = ctx.scope.converter
    before = len(converter.errors)
    converter.convert_nodes(body)
    if len(converter.errors) > before:
        ctx.fail(f"the {what} could not be converted (see the nodes above)")
    outs = [body.view_code(body.values[o], None) for o in view.outputs]
    return outs, body.live_stmts({str(c) for c in outs})


def _write_init(w: SourceWriter, live: list) -> None:
    # autocast off: the layer passes float64 and float16 values through unchanged, as ONNX does
    with w.block("def __init__(self, **kwargs)"):
        w.line("super().__init__(autocast=False, **kwargs)")
        for s in live:
            for template, parts in s.init:
                w.line(template, *parts)
    w.blank()


def _write_lines(w: SourceWriter, live: list) -> None:
    for s in live:
        for template, parts in s.lines:
            w.line(template, *parts)


def _layer_outputs(ctx: TensorFlowContext, cls_name: str, live: list, call_args: list[Code],
                   produced: list[int]) -> None:
    """Call the generated layer class and bind its results to the node outputs ``produced``."""
    layer = ctx.layer(cls_name, module="")
    for accessor, kind, arrays in (wt for s in live for wt in s.weights):
        ctx._weights.append(((*ctx._last_accessor, *accessor), kind, arrays))
    expr = call(layer, *call_args)
    if len(produced) == 1:
        ctx.emit(expr, produced[0])
        return
    names_out = [ctx.node.output[j] if j < len(ctx.node.output) else "" for j in produced]
    targets = [ctx.scope.new_var(value_hint(n, ctx.node)) if n else Code("_") for n in names_out]
    ctx.define_raw(targets, expr)
    for name, target in zip(names_out, targets):
        if name:
            ctx.uses.add(target)
            ctx.scope.values[name] = Value(name, ctx.view.type(name).rank, code=target)


@TF_OPS.register("If")
def if_(ctx: TensorFlowContext) -> None:
    """ONNX ``If`` (see the module docstring)."""
    node = ctx.node
    cond = ctx.const(0)
    known = None if cond is None else bool(np.asarray(cond).reshape(-1)[0])
    branches = ["then_branch", "else_branch"] if known is None else ["then_branch" if known else "else_branch"]
    scopes: list[tuple[ClassScope, GraphView]] = []
    for attribute in branches:
        view = subgraph_view(node, attribute, ctx.view)
        body = ctx.nested(view)
        if scopes:  # one class: the branches share its attribute and variable names
            body.vars, body.attrs = scopes[0][0].vars, scopes[0][0].attrs
        scopes.append((body, view))
    names = scopes[0][0].vars
    params: dict[str, Code] = {}
    call_params: list[Code] = []
    call_args: list[Code] = []
    if known is None:
        call_params.append(names.name(("param", "cond"), "condition"))
        call_args.append(ctx.tensor_arg(0))
    for body, view in scopes:
        _bind_outer(ctx, body, view, names, params, call_args)
    call_params += list(params.values())
    converted = [_convert_body(ctx, body, view, attribute.replace("_", " "))
                 for (body, view), attribute in zip(scopes, branches)]
    live = [s for _, stmts in converted for s in stmts]
    w = SourceWriter()
    _write_init(w, live)
    with w.block("def call({})", join([Code("self"), *call_params])):
        if known is not None:
            outs, stmts = converted[0]
            _write_lines(w, stmts)
            w.line("return {}", join(outs))
        else:
            for attribute, (outs, stmts) in zip(branches, converted):
                with w.block("def {}()", Code(attribute)):
                    _write_lines(w, stmts)
                    w.line("return ({},)", join(outs))
                w.blank()
            result = fmt("tf.cond(tf.reshape(tf.cast({}, tf.bool), []), then_branch, else_branch)", call_params[0])
            w.line("return {}", result if len(node.output) > 1 else fmt("{}[0]", result))
    label = node.name or node.output[0]
    cls_name = ctx.scope.converter.add_class(("if", label), layer_hint(node) + "_if",
                                             f"ONNX If {label!r}: " + ("the branch it takes, known when converting."
                                                                       if known is not None else
                                                                       "runs one branch or the other (tf.cond)."), w)
    _layer_outputs(ctx, cls_name, live, call_args, [j for j in range(len(node.output)) if node.output[j]])


@TF_OPS.register("Scan", since=8)
def scan(ctx: TensorFlowContext) -> None:
    """ONNX ``Scan`` (see the module docstring)."""
    node = ctx.node
    view = subgraph_view(node, "body", ctx.view)
    m = int(ctx.attr("num_scan_inputs"))
    batched = ctx.opset < 9  # Scan-8: a leading batch axis on every input, and sequence lengths first
    first = 1 if batched else 0
    if batched and ctx.has(0):
        ctx.fail("sequence_lens of unequal lengths are not supported")
    n_state = len(node.input) - first - m
    n_out = len(view.outputs) - n_state
    in_axes = [0] * m if batched else [ctx.axis(int(a), ctx.rank(n_state + k))
                                       for k, a in enumerate(ctx.attr("scan_input_axes", [0] * m))]
    in_dirs = [int(d) for d in ctx.attr("directions" if batched else "scan_input_directions", [0] * m)]
    out_axes = [0] * n_out if batched else [int(a) for a in ctx.attr("scan_output_axes", [0] * n_out)]
    out_dirs = [0] * n_out if batched else [int(d) for d in ctx.attr("scan_output_directions", [0] * n_out)]
    body = ctx.nested(view)
    names = body.vars
    names.reserve("t", "steps", "more", "step", "results", "run", "rows", "row", "b", "k")
    states = [names.name(("state", s), value_hint(s, None)) for s in view.inputs[:n_state]]
    initials = [names.name(("initial", s), value_hint(s, None) + "_initial") for s in view.inputs[:n_state]]
    sequences = [names.name(("sequence", k), value_hint(node.input[first + n_state + k], None) + "_sequence")
                 for k in range(m)]
    elements = [names.name(("element", e), value_hint(e, None)) for e in view.inputs[n_state:]]
    arrays = [names.name(("array", o), value_hint(o, None) + "_steps") for o in view.outputs[n_state:]]
    for name, var in zip(view.inputs, states + elements):
        body.values[name] = Value(name, view.type(name).rank, code=var)
    params: dict[str, Code] = {}
    call_args: list[Code] = [ctx.tensor_arg(i) for i in range(first, len(node.input))]
    _bind_outer(ctx, body, view, names, params, call_args)
    outs, live = _convert_body(ctx, body, view, "scan body")
    w = SourceWriter()
    _write_init(w, live)
    with w.block("def call({})", join([Code("self"), *initials, *sequences, *params.values()])):
        with w.block("def run({})", join([*initials, *sequences])):
            w.line("steps = tf.shape({})[{}]", sequences[0], lit(in_axes[0]))
            with w.block("def step({})", join([Code("t"), *states, *arrays])):
                for k, (element, sequence) in enumerate(zip(elements, sequences)):
                    position = Code("t") if not in_dirs[k] else Code("steps - 1 - t")
                    w.line("{} = tf.gather({}, {}, axis={})", element, sequence, position, lit(in_axes[k]))
                for s, state in zip(view.inputs[:n_state], states):
                    shape = _static_dims(view.type(s).shape)
                    if shape is not None and any(d is not None for d in shape):
                        w.line("{} = tf.ensure_shape({}, {})", state, state, lit(shape))
                _write_lines(w, live)
                writes = [fmt("{}.write(t, {})", a, o) for a, o in zip(arrays, outs[n_state:])]
                w.line("return ({},)", join([Code("t + 1"), *outs[:n_state], *writes]))
            w.blank()
            tensor_arrays = [fmt("tf.TensorArray(tf.{}, size=steps)", Code(ctx.dtype(view.type(o).elem)))
                             for o in view.outputs[n_state:]]
            w.line("results = tf.while_loop(lambda t, *_: t < steps, step, ({},))",
                   join([Code("tf.constant(0)"), *initials, *tensor_arrays]))
            finals = [fmt("results[{}]", lit(1 + k)) for k in range(n_state)]
            for j in range(n_out):
                stacked = fmt("results[{}].stack()", lit(1 + n_state + j))
                if out_dirs[j]:
                    stacked = fmt("tf.reverse({}, [0])", stacked)
                axis = 0 if batched else ctx.axis(out_axes[j], ctx.out_rank(n_state + j))
                if axis:
                    stacked = fmt("tf.experimental.numpy.moveaxis({}, 0, {})", stacked, lit(axis))
                finals.append(stacked)
            w.line("return ({},)", join(finals))
        w.blank()
        count = len(finals)
        if batched:  # each batch row is scanned on its own, then the rows are stacked
            rows = [fmt("{}[b]", v) for v in [*initials, *sequences]]
            w.line("rows = [run({}) for b in range({}.shape[0])]", join(rows), sequences[0])
            w.line("results = tuple(tf.stack([row[k] for row in rows]) for k in range({}))", lit(count))
        else:
            w.line("results = run({})", join([*initials, *sequences]))
        w.line("return {}", Code("results") if count > 1 else Code("results[0]"))
    label = node.name or node.output[0]
    cls_name = ctx.scope.converter.add_class(("scan", label), layer_hint(node) + "_scan",
                                             f"ONNX Scan {label!r}: runs its body once per slice of the scanned "
                                             "inputs, carrying its state.", w)
    _layer_outputs(ctx, cls_name, live, call_args, [j for j in range(len(node.output)) if node.output[j]])
