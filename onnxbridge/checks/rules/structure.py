"""Structure rules: the ONNX checker in plain words, ordering, cycles, names, dangling and dead values,
and opset imports."""

from __future__ import annotations

import re
from collections.abc import Iterator

import onnx

from onnxbridge.checks.analysis import (
    COVERED_ELSEWHERE,
    checker_problems,
    cycles_of,
    dead_cycles,
    foreign_ops,
    live_nodes,
    ops_missing_from_opset,
    redefinitions,
    unproduced_outputs,
    used_ops,
)
from onnxbridge.checks.context import ModelContext
from onnxbridge.checks.registry import Finding, rule
from onnxbridge.checks.rules._util import agree, listing, plural
from onnxbridge.ir.nodes import node_inputs


@rule("OB100", family="structure", level="error")
def onnx_checker(ctx: ModelContext) -> Iterator[Finding]:
    """The ONNX checker's errors (bad attributes, wrong input counts, malformed tensors), every one of them."""
    first, nodes, tensors = checker_problems(ctx)
    if first is None:
        return
    for i, message in nodes:
        node = ctx.nodes[i]
        yield Finding(f"{ctx.describe(i)}: {_plain_node_error(message, node)}", nodes=(ctx.label(i),),
                      suggestion=_node_suggestion(message, node, ctx.opset_for(node)))
    for name, message in tensors:
        yield Finding(f"initializer {name!r} is malformed: {message}", tensors=(name,),
                      suggestion="re-export the model; the stored tensor data does not match its shape/type")
    if not nodes and not tensors and not any(c in first for c in COVERED_ELSEWHERE):
        yield Finding(f"the ONNX checker rejects the model: {first}",
                      suggestion="fix the problem named above; re-exporting from the source framework often does")


def _plain_node_error(message: str, node: onnx.NodeProto) -> str:
    m = re.search(r"has (input|output) size (\d+) not in range \[min=(\d+), max=(\d+)\]", message)
    if m:
        kind, got, lo, hi = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)
        want = f"exactly {lo}" if str(lo) == hi else f"{lo} to {hi}" if hi != "2147483647" else f"at least {lo}"
        return f"has {plural(got, kind)} but {node.op_type} takes {want}"
    m = re.search(r"Unrecognized attribute: (\S+) for operator (\S+)", message)
    if m:
        return f"has attribute {m.group(1)!r}, which {m.group(2)} does not define"
    m = re.search(r"Required attribute '(\S+)' is missing", message)
    if m:
        return f"lacks the required attribute {m.group(1)!r}"
    return message


def _node_suggestion(message: str, node: onnx.NodeProto, opset: int | None) -> str:
    doc = f"https://onnx.ai/onnx/operators/onnx__{node.op_type}.html"
    if "Unrecognized attribute" in message:
        return f"remove the attribute or check its spelling against {doc} (opset {opset})"
    return f"compare the node with the operator's definition for opset {opset}: {doc}"


@rule("OB101", family="structure", level="error", fix="topological-sort",
      fix_description="reorder the nodes topologically (stable: independent nodes keep their order)")
def not_sorted(ctx: ModelContext) -> Iterator[Finding]:
    """Nodes must come after the nodes that produce their inputs (topological order)."""
    cyclic = set(_cycle_nodes(ctx))
    seen: set[str] = set(ctx.graph_inputs) | set(ctx.initializers) | ctx.sparse_initializers
    late: list[tuple[int, str]] = []
    for i, node in enumerate(ctx.nodes):
        if i not in cyclic:
            for name in node_inputs(node):
                if name and name not in seen and name in ctx.producers:
                    late.append((i, name))
                    break
        seen.update(node.output)
    if not late:
        return
    i, name = late[0]
    producer = ctx.producers[name][0]
    yield Finding(
        f"{plural(len(late), 'node')} {agree(len(late), 'reads', 'read')} a tensor before the node that produces it; first: {ctx.describe(i)} "
        f"reads {name!r}, produced later by {ctx.describe(producer)}",
        nodes=tuple(ctx.label(j) for j, _ in late), tensors=tuple(n for _, n in late),
        suggestion="sort the nodes topologically (ONNX requires it; onnxruntime tolerates it, other tools do not)")


def _cycle_nodes(ctx: ModelContext) -> list[int]:
    return [i for comp in cycles_of(ctx) for i in comp]


@rule("OB102", family="structure", level="error", fix="remove-unused",
      fix_description="remove the cycle: none of its nodes reaches a graph output")
def cycles(ctx: ModelContext) -> Iterator[Finding]:
    """The graph has a cycle: a node depends, through other nodes, on its own output."""
    dead = {tuple(comp) for comp in dead_cycles(ctx)}
    for comp in cycles_of(ctx):
        path = " -> ".join(ctx.label(i) for i in comp[:8]) + (" -> ..." if len(comp) > 8 else "")
        nodes = tuple(ctx.label(i) for i in comp)
        if tuple(comp) in dead:
            yield Finding(f"{plural(len(comp), 'node')} form a cycle ({path} -> {ctx.label(comp[0])}) that feeds no "
                          "graph output; a graph cannot depend on its own output", nodes=nodes,
                          suggestion="remove these nodes: nothing the model computes depends on them")
            continue
        yield Finding(f"{plural(len(comp), 'node')} form a cycle ({path} -> {ctx.label(comp[0])}); "
                      f"a graph cannot depend on its own output", nodes=nodes, fixable=False,
                      suggestion="a loop must be written with the Loop or Scan operator; otherwise one of these "
                                 "nodes reads the wrong tensor: re-export the model")


@rule("OB103", family="structure", level="error", fix="rename-definitions",
      fix_description="give each definition its own name; each consumer reads the definition just before it "
                      "in node order")
def defined_twice(ctx: ModelContext) -> Iterator[Finding]:
    """A tensor name is defined more than once (ONNX graphs are in single static assignment form)."""
    for plan in redefinitions(ctx):
        producers = ctx.producers[plan.name]
        if plan.refusal:
            fix, suggestion = None, (f"rename all but one definition of {plan.name!r} and point each consumer at "
                                     f"the value it really needs (node order does not settle it: {plan.refusal})")
        else:
            renamed = ", ".join(f"{'the initializer' if w is None else ctx.label(w)!r} -> {n!r}"
                                for w, n in plan.renames)
            fix = f"rename {renamed}; each consumer reads the definition just before it in node order"
            suggestion = (f"rename all but one definition of {plan.name!r}; read in node order (as ONNX's "
                          f"reference evaluator runs it) that means {renamed}")
        yield Finding(f"tensor {plan.name!r} is defined {len(plan.definitions)} times (by "
                      f"{', '.join(plan.definitions)}); consumers cannot tell which value they read, and "
                      "onnxruntime refuses the model",
                      nodes=tuple(ctx.label(i) for i in producers), tensors=(plan.name,), suggestion=suggestion,
                      fix=fix, fixable=plan.refusal is None)


@rule("OB104", family="structure", level="suggestion", fix="name-nodes",
      fix_description="give every unnamed node a unique name")
def unnamed_nodes(ctx: ModelContext) -> Iterator[Finding]:
    """Nodes without a name (tools, error messages and generated code refer to nodes by name)."""
    unnamed = [i for i, n in enumerate(ctx.nodes) if not n.name]
    if unnamed:
        yield Finding(f"{plural(len(unnamed), 'node')} {agree(len(unnamed), 'has', 'have')} no name ({listing(ctx.label(i) for i in unnamed)})",
                      nodes=tuple(ctx.label(i) for i in unnamed),
                      suggestion="name every node; error messages, profiles and generated code use the names")


@rule("OB105", family="structure", level="warning", fix="name-nodes",
      fix_description="rename duplicates so every node name is unique")
def duplicate_node_names(ctx: ModelContext) -> Iterator[Finding]:
    """Two or more nodes share a name."""
    by_name: dict[str, list[int]] = {}
    for i, n in enumerate(ctx.nodes):
        if n.name:
            by_name.setdefault(n.name, []).append(i)
    for name, idx in by_name.items():
        if len(idx) > 1:
            ops = ", ".join(ctx.nodes[i].op_type for i in idx)
            yield Finding(f"{len(idx)} nodes are named {name!r} ({ops}); tools that address nodes by name "
                          "(profilers, converters, placement) will confuse them",
                          nodes=(name,), suggestion="give each node a unique name")


@rule("OB106", family="structure", level="error", fix="reconnect-outputs",
      fix_description="rename the one unread tensor of the output's type and shape to the output's name, or "
                      "remove the output")
def dangling_outputs(ctx: ModelContext) -> Iterator[Finding]:
    """A graph output that no node produces (and that is not an input or initializer)."""
    for d in unproduced_outputs(ctx):
        message = f"graph output {d.name!r} ({d.type_text}) is not produced by any node"
        if d.tensor:
            producer = ctx.producers[d.tensor][0]
            yield Finding(f"{message}; {ctx.describe(producer)} computes {d.tensor!r}, the only tensor of that type "
                          "and shape nothing reads (the exporter may have renamed it)",
                          tensors=(d.name, d.tensor), nodes=(ctx.label(producer),),
                          suggestion=f"rename {d.tensor!r} to {d.name!r}",
                          fix=f"rename tensor {d.tensor!r} to {d.name!r} (checked: same values)")
            continue
        why = ("no unread tensor has its type and shape" if not d.matches else
               f"{len(d.matches)} unread tensors have its type and shape ({listing(d.matches)}), so which one is "
               "meant is unclear" if len(d.matches) > 1 else
               f"the one unread tensor of its type and shape ({d.matches[0]!r}) also fits another output")
        yield Finding(f"{message}; {why}", tensors=(d.name, *d.matches),
                      suggestion=f"remove output {d.name!r}, or rename the tensor that holds the result to "
                                 f"{d.name!r} (the exporter may have renamed it)",
                      fix=f"remove graph output {d.name!r} (callers no longer get it)")


@rule("OB107", family="structure", level="error")
def undefined_inputs(ctx: ModelContext) -> Iterator[Finding]:
    """A node reads a tensor that nothing defines (no node, graph input or initializer)."""
    for name, users in ctx.consumers.items():
        if name not in ctx.producers and not ctx.is_defined_outside_nodes(name):
            yield Finding(f"tensor {name!r} is read by {listing(ctx.describe(i) for i in users)} but nothing "
                          "defines it", nodes=tuple(ctx.label(i) for i in users), tensors=(name,),
                          suggestion=f"add {name!r} as a graph input or initializer, or point the node at an "
                                     "existing tensor")


@rule("OB108", family="structure", level="warning", fix="remove-unused",
      fix_description="remove nodes (and initializers) that do not contribute to any output")
def dead_nodes(ctx: ModelContext) -> Iterator[Finding]:
    """Nodes whose results never reach a graph output (dead code: they still cost time to load and run)."""
    live = live_nodes(ctx)
    dead = [i for i in range(len(ctx.nodes)) if i not in live]
    if dead:
        ops = sorted({ctx.nodes[i].op_type for i in dead})
        yield Finding(f"{plural(len(dead), 'node')} ({', '.join(ops)}) {agree(len(dead), 'does', 'do')} not contribute to any output: "
                      f"{listing(ctx.label(i) for i in dead)}", nodes=tuple(ctx.label(i) for i in dead),
                      suggestion="remove them, or add the missing graph output if one of them was meant to be one")


@rule("OB109", family="structure", level="warning", fix="remove-unused",
      fix_description="remove initializers nothing reads")
def unused_initializers(ctx: ModelContext) -> Iterator[Finding]:
    """Initializers no node reads (weights stored for nothing)."""
    unused = [n for n in ctx.initializers if n not in ctx.consumers and n not in ctx.output_names
              and n not in ctx.graph_inputs]
    if unused:
        size = sum(_nbytes(ctx.initializers[n]) for n in unused)
        yield Finding(f"{plural(len(unused), 'initializer')} ({_human(size)}) {agree(len(unused), 'is', 'are')} not used by any node: "
                      f"{listing(unused)}", tensors=tuple(unused), suggestion="remove them to shrink the file")


@rule("OB110", family="structure", level="warning", fix="remove-unused-inputs",
      fix_description="remove graph inputs nothing reads (callers no longer pass them)")
def unused_inputs(ctx: ModelContext) -> Iterator[Finding]:
    """Graph inputs no node reads: callers must feed data that is ignored."""
    for vi in ctx.real_inputs:
        if vi.name not in ctx.consumers and vi.name not in ctx.output_names:
            yield Finding(f"graph input {vi.name!r} is not read by any node; callers must still feed it",
                          tensors=(vi.name,),
                          suggestion=f"remove input {vi.name!r}, or connect it to the node that should use it")


@rule("OB111", family="structure", level="suggestion", fix="initializers-not-inputs",
      fix_description="stop listing initializers as graph inputs (they become constants)")
def initializers_as_inputs(ctx: ModelContext) -> Iterator[Finding]:
    """Initializers also listed as graph inputs: callers may override them, so they are not constants."""
    if ctx.model.ir_version < 4:
        return  # before IR 4 every initializer had to be an input
    both = [n for n in ctx.graph_inputs if n in ctx.initializers]
    if both:
        yield Finding(f"{plural(len(both), 'initializer')} {agree(len(both), 'is', 'are')} also graph inputs ({listing(both)}), so runtimes "
                      "cannot treat them as constants (no constant folding, no BatchNorm fusion)",
                      tensors=tuple(both),
                      suggestion="remove them from the graph inputs unless callers really override the weights")


# ---- opsets --------------------------------------------------------------------------------------------

@rule("OB112", family="structure", level="error", fix="raise-opset",
      fix_description="convert the model to the first opset that has every op (onnx.version_converter), kept "
                      "only if the outputs stay the same")
def op_not_in_opset(ctx: ModelContext) -> Iterator[Finding]:
    """An op the imported opset version does not have (it was added later, or does not exist at all)."""
    missing = ops_missing_from_opset(ctx)
    labels: dict[tuple[str, str], list[str]] = {}
    for domain, op, label in used_ops(ctx):
        if (domain, op) in missing:
            labels.setdefault((domain, op), []).append(label)
    for (domain, op), since in sorted(missing.items()):
        version = ctx.opsets[domain]
        dom = domain or "ai.onnx"
        if since is None:
            msg = f"{op} is not an operator of {dom} in any opset"
            hint = f"replace {op} with standard operators, or put it in the custom domain that implements it"
        else:
            msg = f"{op} does not exist in {dom} opset {version}; it was added in opset {since}"
            hint = (f"import {dom} opset {since} or later, converting the other ops "
                    f"(onnx.version_converter), or express {op} with older operators "
                    f"(re-export with opset_version={since})")
        yield Finding(f"{msg} (used by {listing(labels[(domain, op)])})", nodes=tuple(labels[(domain, op)]),
                      suggestion=hint, fixable=since is not None and domain == "")


@rule("OB113", family="structure", level="error", fix="add-opset-import",
      fix_description="import the missing domains (the default domain at the newest opset of the "
                                      "model's IR version)")
def missing_opset_import(ctx: ModelContext) -> Iterator[Finding]:
    """Nodes use a domain the model does not import."""
    used: dict[str, list[str]] = {}
    for domain, _op, label in used_ops(ctx):
        if domain not in ctx.opsets:
            used.setdefault(domain, []).append(label)
    for (domain, _), _f in ctx.functions.items():
        if domain not in ctx.opsets and any(n.domain == domain for n in ctx.nodes):
            used.setdefault(domain, [])
    for domain, labels in sorted(used.items()):
        dom = domain or "ai.onnx (the default domain)"
        yield Finding(f"the model uses {dom} but does not import it"
                      + (f" (used by {listing(labels)})" if labels else ""),
                      nodes=tuple(labels), suggestion=f"add an opset_import entry for {dom}")


@rule("OB115", family="structure", level="error")
def unknown_domain_ops(ctx: ModelContext) -> Iterator[Finding]:
    """Ops from a domain that is not ONNX's, defined by no local function and implemented by no onnxruntime
    kernel: nothing here can run, shape-check or convert them."""
    for (domain, op), labels in sorted(foreign_ops(ctx).items()):
        yield Finding(f"{op} from domain {domain!r} is defined by neither ONNX, a local function of the model, nor "
                      f"onnxruntime (used by {listing(labels)}); onnxruntime cannot load the model without the "
                      "library that implements it, shape inference cannot see past it, and the converters "
                      "cannot convert it", nodes=tuple(labels),
                      suggestion=f"load the custom-op library that implements {domain}::{op} "
                                 "(onnxruntime: SessionOptions.register_custom_ops_library), ship it in the model as "
                                 "a local function, or replace it with standard ONNX operators")



@rule("OB114", family="structure", level="warning")
def mixed_opsets(ctx: ModelContext) -> Iterator[Finding]:
    """A domain imported twice with different versions, or functions importing another version than the model."""
    seen: dict[str, set[int]] = {}
    for domain, version in ctx.opset_entries:
        seen.setdefault(domain, set()).add(version)
    for domain, versions in sorted(seen.items()):
        if len(versions) > 1:
            yield Finding(f"{domain or 'ai.onnx'} is imported {len(versions)} times with versions "
                          f"{sorted(versions)}; which one applies is undefined",
                          suggestion=f"keep a single import of {domain or 'ai.onnx'}")
    for f in ctx.model.functions:
        for o in f.opset_import:
            domain = "" if o.domain == "ai.onnx" else o.domain
            model_version = ctx.opsets.get(domain)
            if model_version is not None and o.version != model_version:
                yield Finding(f"function {f.name!r} imports {domain or 'ai.onnx'} opset {o.version} but the model "
                              f"imports opset {model_version}; onnxruntime rejects mixed versions",
                              nodes=(f.name,),
                              suggestion=f"re-export so the function and the model use the same opset "
                                         f"({model_version})")


def _nbytes(t: onnx.TensorProto) -> int:
    n = 1
    for d in t.dims:
        n *= d
    try:
        itemsize = onnx.helper.tensor_dtype_to_np_dtype(t.data_type).itemsize
    except Exception:  # noqa: BLE001
        itemsize = 4
    return n * itemsize


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
