"""Structure fixes: names defined twice, outputs nothing produces, node order, node names, and unused
nodes (dead cycles included), initializers and inputs."""

from __future__ import annotations

import onnx
import onnx_ir as ir
from onnx_ir.passes.common import (
    NameFixPass,
    RemoveInitializersFromInputsPass,
    RemoveUnusedNodesPass,
    TopologicalSortPass,
)
from onnx_ir.passes.common.naming import SimpleNameGenerator

from onnxbridge.checks.analysis import cycles_of, dead_cycles, live_nodes, redefinitions, unproduced_outputs
from onnxbridge.checks.context import ModelContext
from onnxbridge.checks.fixes import FixRefused, fix_pass
from onnxbridge.checks.fixes._ir import run_ir
from onnxbridge.checks.rules._util import listing, plural


@fix_pass("rename-definitions", order=5)
def rename_definitions(model: onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """Give every definition of a name defined twice its own name.

    Each consumer reads the definition just before it in node order, as ONNX's reference evaluator runs the
    graph (see ``analysis.redefinitions``).
    """
    ctx = ModelContext.from_model(model)
    plans = redefinitions(ctx)
    if not plans:
        raise FixRefused("no tensor name is defined twice")
    refused = [p for p in plans if p.refusal]
    if refused:
        raise FixRefused("; ".join(f"{p.name!r}: {p.refusal}" for p in refused))
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    done = []
    for plan in plans:
        for where, new_name in plan.renames:
            if where is None:
                next(t for t in g.initializer if t.name == plan.name).name = new_name
            else:
                node = g.node[where]
                node.output[list(node.output).index(plan.name)] = new_name
        for j, source in plan.reads:
            node = g.node[j]
            for pos, name in enumerate(node.input):
                if name == plan.name:
                    node.input[pos] = source
        renamed = ", ".join(f"{'the initializer is now called' if w is None else ctx.describe(w) + ' now writes'} {n!r}"
                            for w, n in plan.renames)
        done.append(f"{plan.name!r} had {len(plan.definitions)} definitions: {renamed}")
    # declared types of the split names may belong to either definition; inference recomputes them
    split = {p.name for p in plans}
    keep = [vi for vi in g.value_info if vi.name not in split]
    del g.value_info[:]
    g.value_info.extend(keep)
    return out, ("; ".join(done) + "; each consumer now reads the definition just before it in node order")


@fix_pass("reconnect-outputs", order=25)
def reconnect_outputs(model: onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """Connect each graph output nothing produces to its tensor, or remove it.

    The one unread tensor of the output's type and shape is renamed to the output's name (and checked to
    hold the same values); with no such tensor, or several, the output is removed.
    """
    ctx = ModelContext.from_model(model)
    dangling = unproduced_outputs(ctx)
    if not dangling:
        raise FixRefused("every graph output is produced")
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    renamed = {d.tensor: d.name for d in dangling if d.tensor}
    removed = [d.name for d in dangling if not d.tensor]
    for node in g.node:
        for pos, name in enumerate(node.output):
            if name in renamed:
                node.output[pos] = renamed[name]
    for vi in g.value_info:
        if vi.name in renamed:
            vi.name = renamed[vi.name]
    keep = [o for o in g.output if o.name not in removed]
    del g.output[:]
    g.output.extend(keep)
    if not g.output:
        raise FixRefused(f"removing {listing(removed)} would leave the graph without outputs")
    parts = [f"renamed {t!r} to {o!r}" for t, o in renamed.items()]
    if removed:
        parts.append(f"removed graph output(s) {listing(removed)} (callers no longer get them)")
    return out, "; ".join(parts) + _verify_renamed(model, out, renamed)


def _verify_renamed(original: onnx.ModelProto, fixed: onnx.ModelProto, renamed: dict[str, str]) -> str:
    """The renamed outputs must hold what the original computed under the tensors' old names."""
    from onnxbridge.checks.verify import RunFailed, compare_named, evaluate, make_inputs

    if not renamed:
        return ""
    try:
        feeds = make_inputs(original)
        before, _ = evaluate(original, feeds, list(renamed))
        after, _ = evaluate(fixed, feeds, list(renamed.values()))
    except RunFailed as exc:
        return f" (the renamed outputs were not compared: {exc})"
    report, note = compare_named({renamed[t]: v for t, v in before.items()}, after, list(renamed.values()),
                                 list(renamed.values()))
    if report is None or not report.ok:
        raise FixRefused(f"the renamed outputs do not hold what the tensors held "
                         f"({note or (report.summary() if report is not None else '')})")
    return f" (each equal to what the original computed under its old name: max abs error {report.max_abs:.1e})"


@fix_pass("topological-sort", order=20)
def topological_sort(model: onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """Sort the nodes topologically (onnx-ir's TopologicalSortPass; stable)."""
    if cycles_of(ModelContext.from_model(model)):
        raise FixRefused("the graph has a cycle; no order can satisfy it")
    out, modified = run_ir(model, TopologicalSortPass())
    if not modified:
        raise FixRefused("already sorted")
    return out, "sorted the nodes topologically"


class _OpNames(SimpleNameGenerator):
    """Unnamed nodes are named after their op (``relu``, ``relu_1``...), which reads better than ``node_7``."""

    def generate_node_name(self, node: ir.Node) -> str:
        return node.name or node.op_type.lower()


@fix_pass("name-nodes", order=30)
def name_nodes(model: onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """Give every node a unique name (onnx-ir's NameFixPass, naming new nodes after their op)."""
    before = [n.name for n in model.graph.node]
    out, _ = run_ir(model, NameFixPass(_OpNames()))
    after = [n.name for n in out.graph.node]
    renamed = sum(1 for a, b in zip(before, after) if a != b)
    if not renamed:
        raise FixRefused("every node already has a unique name")
    return out, f"named or renamed {plural(renamed, 'node')}"


@fix_pass("initializers-not-inputs", order=40)
def initializers_not_inputs(model: onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """Stop listing initializers as graph inputs (onnx-ir's RemoveInitializersFromInputsPass)."""
    inits = {t.name for t in model.graph.initializer}
    count = sum(1 for i in model.graph.input if i.name in inits)
    out, modified = run_ir(model, RemoveInitializersFromInputsPass())
    if not modified:
        raise FixRefused("no initializer is a graph input")
    return out, f"removed {plural(count, 'initializer')} from the graph inputs"


@fix_pass("remove-unused", order=90)
def remove_unused(model: onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """Remove nodes (dead cycles included) and initializers that do not contribute to any output.

    onnx-ir's RemoveUnusedNodesPass removes a node once nothing reads its outputs, which never happens inside
    a cycle: nodes that do not reach a graph output are dropped first, then the pass cleans up the rest.
    """
    ctx = ModelContext.from_model(model)
    live = live_nodes(ctx)
    cycles = [[ctx.label(i) for i in comp] for comp in dead_cycles(ctx)]
    work = model
    if len(live) < len(ctx.nodes):
        work = onnx.ModelProto()
        work.CopyFrom(model)
        del work.graph.node[:]
        work.graph.node.extend(n for i, n in enumerate(model.graph.node) if i in live)
    try:
        out, _ = run_ir(work, RemoveUnusedNodesPass())
    except FixRefused:
        if work is model:
            raise
        out = work  # onnx-ir cannot read what remains (another problem): the dead nodes are gone anyway
    nodes, inits = len(model.graph.node), len(model.graph.initializer)
    dn, di = nodes - len(out.graph.node), inits - len(out.graph.initializer)
    if not dn and not di:
        raise FixRefused("nothing is unused")
    loops = f" (among them {plural(len(cycles), 'cycle')}: {'; '.join(' -> '.join(c) for c in cycles)})" \
        if cycles else ""
    return out, f"removed {plural(dn, 'unused node')} and {plural(di, 'unused initializer')}{loops}"


@fix_pass("remove-unused-inputs", order=95)
def remove_unused_inputs(model: onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """Remove graph inputs nothing reads (the model's signature changes: callers stop passing them)."""
    ctx = ModelContext.from_model(model)
    unused = [vi.name for vi in ctx.real_inputs if vi.name not in ctx.consumers and vi.name not in ctx.output_names]
    if not unused:
        raise FixRefused("every graph input is used")
    out = onnx.ModelProto()
    out.CopyFrom(model)
    keep = [vi for vi in out.graph.input if vi.name not in unused]
    del out.graph.input[:]
    out.graph.input.extend(keep)
    return out, f"removed unused graph input(s) {listing(unused)} (callers no longer pass them)"
