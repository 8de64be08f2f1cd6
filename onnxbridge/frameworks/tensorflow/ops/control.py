"""Control flow: ONNX Loop -> a Keras layer whose ``call`` runs ``tf.while_loop`` over the converted body.

The body is converted like a block (its layers and large constants live on the layer), inside a nested
``step`` function; loop-carried values are the loop variables, scan outputs are collected in
``tf.TensorArray``s and stacked. Values of the enclosing graph that the body reads are passed to the layer
as extra inputs, so the layer also works inside a Keras functional model.
"""

from __future__ import annotations

import numpy as np

from onnxbridge.codegen.writer import Code, SourceWriter, call, dotted, fmt, join, lit
from onnxbridge.frameworks.tensorflow.context import TensorFlowContext, Value, item, np_literal
from onnxbridge.frameworks.tensorflow.registry import TF_OPS
from onnxbridge.ir.naming import layer_hint, value_hint
from onnxbridge.ir.nodes import node_inputs
from onnxbridge.ir.plan import loop_body_view
from onnxbridge.ir.symbolic import Const
from onnxbridge.ir.view import GraphView

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
