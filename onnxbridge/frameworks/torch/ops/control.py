"""Control flow: Loop -> a Python ``while`` loop over the converted body (what tf2onnx writes for Keras 3 GRUs
and other ``tf.while_loop``s).

The body is converted like any graph, inside the loop, and sees the values computed before it; the
loop-carried values become variables updated at the end of each iteration, scan outputs are collected in
lists and stacked. A carried value the body passes through unchanged (a weight) stays a constant.
"""

from __future__ import annotations

from onnxbridge.codegen.writer import Code, fmt, join, lit
from onnxbridge.frameworks.torch.context import TorchContext, scalar
from onnxbridge.frameworks.torch.registry import TORCH_OPS
from onnxbridge.ir.naming import value_hint
from onnxbridge.ir.plan import loop_body_view

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
