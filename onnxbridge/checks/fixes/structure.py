"""Structure fixes: node order, node names, unused nodes/initializers/inputs, opset imports."""

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

from onnxbridge.checks.analysis import cycles_of, first_opset, used_ops
from onnxbridge.checks.context import ModelContext
from onnxbridge.checks.fixes import FixRefused, fix_pass
from onnxbridge.checks.fixes._ir import run_ir
from onnxbridge.checks.rules._util import listing, plural


@fix_pass("add-opset-import", order=10)
def add_opset_import(model: onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """Import the domains the nodes use (the default domain at the newest opset of the model's IR version)."""
    ctx = ModelContext.from_model(model)
    missing: dict[str, set[str]] = {}
    for domain, op, _ in used_ops(ctx):
        if domain not in ctx.opsets:
            missing.setdefault(domain, set()).add(op)
    if not missing:
        raise FixRefused("every domain is imported")
    out = onnx.ModelProto()
    out.CopyFrom(model)
    added = []
    for domain, ops in sorted(missing.items()):
        if domain == "":
            unknown = sorted(op for op in ops if first_opset(op) is None)
            if unknown:
                raise FixRefused(f"{listing(unknown)} are not ONNX operators; cannot choose an opset")
            # the exporter most likely used the newest opset of the model's IR version
            version = max((opset for _, irv, opset, *_ in onnx.helper.VERSION_TABLE if irv == model.ir_version),
                          default=0)
            need = max(first_opset(op) or 1 for op in ops)
            if version < need:
                raise FixRefused(f"IR version {model.ir_version} predates opset {need}, which the ops need")
        elif (domain, next(iter(ops))) in ctx.functions or any((domain, op) in ctx.functions for op in ops):
            version = 1  # a domain of local functions
        else:
            raise FixRefused(f"domain {domain!r} is not ONNX's and has no local functions; its version is unknown")
        out.opset_import.add(domain=domain, version=version)
        added.append(f"{domain or 'ai.onnx'} {version}")
    return out, f"imported {', '.join(added)}"


@fix_pass("raise-opset", order=11)
def raise_opset(model: onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """Raise the default opset to the first version that has every op, if no op in use changes meaning."""
    ctx = ModelContext.from_model(model)
    old = ctx.opsets.get("")
    if old is None:
        raise FixRefused("the model does not import the default domain")
    ops = {op for domain, op, _ in used_ops(ctx) if domain == ""}
    firsts = {op: first_opset(op) for op in ops}
    unknown = sorted(op for op, v in firsts.items() if v is None)
    if unknown:
        raise FixRefused(f"{listing(unknown)} are not ONNX operators in any opset")
    new = max(v for v in firsts.values() if v is not None)
    if new <= old:
        raise FixRefused(f"every op exists in opset {old}")
    changed = []
    for op in sorted(ops):
        if firsts[op] is not None and firsts[op] <= old:
            before = onnx.defs.get_schema(op, max_inclusive_version=old).since_version
            after = onnx.defs.get_schema(op, max_inclusive_version=new).since_version
            if before != after:
                changed.append(f"{op} (changed in opset {after})")
    if changed:
        raise FixRefused(f"raising opset {old} to {new} would change {listing(changed)}; convert with "
                         "onnx.version_converter and re-verify instead")
    out = onnx.ModelProto()
    out.CopyFrom(model)
    for o in out.opset_import:
        if o.domain in ("", "ai.onnx"):
            o.version = new
    for f in out.functions:
        for o in f.opset_import:
            if o.domain in ("", "ai.onnx") and o.version == old:
                o.version = new
    return out, f"raised the default opset from {old} to {new} (no op in use changed between them)"


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
    """Remove nodes and initializers that do not contribute to any output (onnx-ir's RemoveUnusedNodesPass)."""
    nodes, inits = len(model.graph.node), len(model.graph.initializer)
    out, modified = run_ir(model, RemoveUnusedNodesPass())
    if not modified:
        raise FixRefused("nothing is unused")
    dn, di = nodes - len(out.graph.node), inits - len(out.graph.initializer)
    return out, f"removed {plural(dn, 'unused node')} and {plural(di, 'unused initializer')}"


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
