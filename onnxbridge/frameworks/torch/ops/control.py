"""Control flow: Loop -> a Python ``while`` loop over the converted body (what tf2onnx writes for Keras 3 GRUs
and other ``tf.while_loop``s), Scan -> a ``for`` loop over the scanned axis, If -> ``if``/``else``.

Bodies and branches are converted like any graph, in place, and see the values computed before them (ONNX's
outer-scope references); the loop-carried values become variables updated at the end of each iteration,
scan outputs are collected in lists and stacked. A carried value the body passes through unchanged (a
weight) stays a constant. An If whose condition is known when converting becomes the branch it takes.
"""

from __future__ import annotations

import numpy as np

from onnxbridge.codegen.writer import Code, SourceWriter, fmt, join, lit
from onnxbridge.frameworks.torch.context import TorchContext, scalar
from onnxbridge.frameworks.torch.registry import TORCH_OPS
from onnxbridge.ir.naming import value_hint
from onnxbridge.ir.plan import loop_body_view, subgraph_view

REG = TORCH_OPS.register

_UNBOUNDED = 2**62  # exporters pass INT64_MAX as the trip count of a loop governed by its condition only


@REG("Loop", since=11)
def loop(ctx: TorchContext) -> None:
    """ONNX ``Loop`` as a Python ``while`` loop over the converted body (carried values and stacked scan
    outputs)."""
    view = loop_body_view(ctx.node, ctx.view)
    body = ctx.nested(view)
    n_carried = len(ctx.node.input) - 2
    iteration, condition, *carried = view.inputs
    n_scan = len(view.outputs) - 1 - n_carried
    step, keep = ctx.temp("step"), ctx.temp("keep_going")
    ctx.line("{} = torch.zeros((), dtype=torch.int64)", step)
    ctx.line("{} = {}", keep, ctx.t(1) if ctx.has(1) else lit(True))
    body.values[iteration], body.values[condition] = step, keep
    variables: list[Code | None] = []
    for k, name in enumerate(carried):
        if name in view.known:  # passed through unchanged: a constant, nothing to carry
            variables.append(None)
            continue
        var = ctx.temp(value_hint(name, None))
        ctx.line("{} = {}", var, ctx.t(2 + k))
        body.values[name] = var
        variables.append(var)
    scans = [ctx.temp(f"{value_hint(view.outputs[1 + n_carried + j], None)}_steps") for j in range(n_scan)]
    for s in scans:
        ctx.line("{} = []", s)
    trip = ctx.const(0) if ctx.has(0) else None
    tests = []
    if ctx.has(0) and (trip is None or int(trip) < _UNBOUNDED):
        tests.append(fmt("{} < {}", step, scalar(trip) if trip is not None else ctx.t(0)))
    tests.append(keep)
    body.convert()
    cond_out = body.tensor(view.outputs[0])
    carried_out = [body.tensor(view.outputs[1 + k]) for k, v in enumerate(variables) if v is not None]
    scan_out = [body.tensor(o) for o in view.outputs[1 + n_carried:]]
    test = tests[0]
    for more in tests[1:]:
        test = fmt("{} and {}", test, more)
    with ctx.block("while {}", test):
        ctx.extend(body.body)
        targets = [keep] + [v for v in variables if v is not None]
        ctx.line("{} = {}", join(targets), join([cond_out, *carried_out]))
        for s, out in zip(scans, scan_out):
            ctx.line("{}.append({})", s, out)
        ctx.line("{} = {} + 1", step, step)
    for k, variable in enumerate(variables):
        if ctx.used(k):
            ctx.alias(variable if variable is not None else ctx.t(2 + k), k)
    for j, s in enumerate(scans):
        if ctx.used(n_carried + j):
            ctx.emit(fmt("torch.stack({})", s), n_carried + j)


def _branch(ctx: TorchContext, attribute: str) -> tuple[SourceWriter, list[Code]]:
    """An If branch converted in place: its statements and its outputs as code."""
    view = subgraph_view(ctx.node, attribute, ctx.view)
    body = ctx.nested(view)
    body.convert()
    outs = [body.tensor(o) for o in view.outputs]
    return body.body, outs


@REG("If")
def if_(ctx: TorchContext) -> None:
    """ONNX ``If`` (see the module docstring)."""
    cond = ctx.const(0)
    if cond is not None:  # known when converting: only the branch taken is written
        taken = "then_branch" if bool(np.asarray(cond).reshape(-1)[0]) else "else_branch"
        body, outs = _branch(ctx, taken)
        ctx.extend(body)
        for j, out in enumerate(outs):
            if ctx.has_output(j):
                ctx.alias(out, j)
        return
    then_body, then_outs = _branch(ctx, "then_branch")
    else_body, else_outs = _branch(ctx, "else_branch")
    targets = join([ctx.output_var(j) if ctx.has_output(j) else Code("_") for j in range(len(then_outs))])
    with ctx.block("if {}", ctx.t(0)):
        ctx.extend(then_body)
        ctx.line("{} = {}", targets, join(then_outs))
    with ctx.block("else"):
        ctx.extend(else_body)
        ctx.line("{} = {}", targets, join(else_outs))


@REG("Scan", since=8)
def scan(ctx: TorchContext) -> None:
    """ONNX ``Scan`` (see the module docstring)."""
    node = ctx.node
    view = subgraph_view(node, "body", ctx.view)
    m = int(ctx.attr("num_scan_inputs"))
    batched = ctx.opset < 9  # Scan-8: a leading batch axis on every input, and sequence lengths first
    first = 1 if batched else 0
    n_state = len(node.input) - first - m
    n_scan_out = len(view.outputs) - n_state
    if batched and ctx.has(0):
        ctx.fail("sequence_lens of unequal lengths are not supported")
    in_axes = [int(a) for a in ctx.attr("scan_input_axes", [0] * m)]
    in_dirs = [int(d) for d in ctx.attr("scan_input_directions" if not batched else "directions", [0] * m)]
    out_axes = [int(a) for a in ctx.attr("scan_output_axes", [0] * n_scan_out)] if not batched else [0] * n_scan_out
    out_dirs = [int(d) for d in ctx.attr("scan_output_directions", [0] * n_scan_out)]
    body = ctx.nested(view)
    states = [ctx.temp(value_hint(name, None)) for name in view.inputs[:n_state]]
    scans = [ctx.temp(f"{value_hint(o, None)}_steps") for o in view.outputs[n_state:]]
    steps, batch = ctx.temp("steps"), ctx.temp("b")
    sequences = []
    for k in range(m):
        x = ctx.t(first + n_state + k)
        # Scan-8 scans axis 1 of the batched input: axis 0 of each batch row
        axis = 0 if batched else ctx.axis(in_axes[k], ctx.rank(first + n_state + k))
        sequences.append((x, axis))
    step = ctx.temp("t")
    for k, name in enumerate(view.inputs[:n_state]):
        body.values[name] = states[k]
    for name in view.inputs[n_state:]:
        body.values[name] = ctx.temp(value_hint(name, None))
    body.convert()
    state_out = [body.tensor(o) for o in view.outputs[:n_state]]
    scan_out = [body.tensor(o) for o in view.outputs[n_state:]]

    def one_sequence(index: Code | None) -> None:
        """The loop over the scanned axis (of batch row ``index`` for Scan-8)."""
        for k, var in enumerate(states):
            initial = ctx.t(first + k)
            ctx.line("{} = {}", var, initial if index is None else fmt("{}[{}]", initial, index))
        for s in scans:
            ctx.line("{} = []", s)
        x0, axis0 = sequences[0]
        x0 = x0 if index is None else fmt("{}[{}]", x0, index)
        ctx.line("{} = {}.shape[{}]", steps, x0, lit(axis0))
        with ctx.block("for {} in range({})", step, steps):
            for k, (x, axis) in enumerate(sequences):
                x = x if index is None else fmt("{}[{}]", x, index)
                position = step if not in_dirs[k] else fmt("{} - 1 - {}", steps, step)
                ctx.line("{} = {}.select({}, {})", body.values[view.inputs[n_state + k]], x, lit(axis), position)
            ctx.extend(body.body)
            if states:
                ctx.line("{} = {}", join(states), join(state_out))
            for s, out in zip(scans, scan_out):
                ctx.line("{}.append({})", s, out)

    def stacked(j: int) -> Code:
        seq = scans[j] if not out_dirs[j] else fmt("{}[::-1]", scans[j])
        out_rank = ctx.out_rank(n_state + j) - (1 if batched else 0)
        return fmt("torch.stack({}, {})", seq, lit(ctx.axis(out_axes[j], out_rank)))

    if not batched:
        one_sequence(None)
        for k, var in enumerate(states):
            if ctx.used(k):
                ctx.alias(var, k)
        for j in range(n_scan_out):
            if ctx.used(n_state + j):
                ctx.emit(stacked(j), n_state + j)
        return
    rows = [ctx.temp(f"{value_hint(o, None)}_rows") for o in node.output]
    for r in rows:
        ctx.line("{} = []", r)
    with ctx.block("for {} in range({}.shape[0])", batch, sequences[0][0]):
        one_sequence(batch)
        for k, var in enumerate(states):
            ctx.line("{}.append({})", rows[k], var)
        for j in range(n_scan_out):
            ctx.line("{}.append({})", rows[n_state + j], stacked(j))
    for j, r in enumerate(rows):
        if ctx.used(j):
            ctx.emit(fmt("torch.stack({})", r), j)

