"""Analysis that rules and fixes share: facts about a model (or a spec) computed once per context.

A rule reports what these functions find; a fix pass recomputes them on the model it receives (fixes never
trust the diagnostics). Results that several rules reuse are cached in ``ctx.cache``.

Example::

    ctx = ModelContext.from_model(model)
    cycles_of(ctx)              # [[3, 4, 7]]: node indices that form a cycle
    first_opset("Gelu")         # 20
"""

from __future__ import annotations

import functools
import math
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import onnx

from onnxbridge.checks.context import ModelContext
from onnxbridge.ir.io import INLINE_ELEMENTS
from onnxbridge.ir.nodes import node_inputs

if TYPE_CHECKING:
    from onnxbridge.checks.spec import SpecContext


# ---- the ONNX checker ----------------------------------------------------------------------------------

# checker messages another rule explains better (with every occurrence, not just the first)
COVERED_ELSEWHERE = ("topologically sorted", "single static assignment", "No Op registered for",
                     "No opset import for domain", "is not output of any previous nodes",
                     "is used as output names multiple times", "is not an output of any node in graph")


def _check_whole_model(ctx: ModelContext) -> None:
    """``onnx.checker.check_model`` on the model; one over 2 GiB is checked without its weights' data, as a
    file beside an empty stand-in for that data (the checker only asks that the data file exists)."""
    if ctx.checkable is ctx.model:
        onnx.checker.check_model(ctx.model, full_check=False)
        return
    with tempfile.TemporaryDirectory(prefix="onnxbridge-check-") as tmp:
        folder = Path(tmp)
        (folder / "weights.data").touch()
        onnx.save(ctx.checkable, str(folder / "model.onnx"))
        onnx.checker.check_model(str(folder / "model.onnx"), full_check=False)


def checker_problems(ctx: ModelContext) -> tuple[str | None, list[tuple[int, str]], list[tuple[str, str]]]:
    """The checker's verdict: its first message (None if the model passes), every node problem
    ``(index, message)`` and every malformed initializer ``(name, message)``."""
    if "_checker" in ctx.cache:
        return ctx.cache["_checker"]
    try:
        _check_whole_model(ctx)
        ctx.cache["_checker"] = (None, [], [])
        return ctx.cache["_checker"]
    except Exception as exc:  # noqa: BLE001 - ValidationError, or protobuf errors for odd models
        first = one_line(exc)
    cctx = onnx.checker.C.CheckerContext()
    cctx.ir_version = ctx.model.ir_version
    cctx.opset_imports = {d: v for d, v in ctx.opset_entries}
    nodes: list[tuple[int, str]] = []
    for i, node in enumerate(ctx.nodes):
        if ctx.is_local_function(node) or any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
                                              for a in node.attribute):
            continue  # function calls and subgraphs are covered by the whole-model message
        try:
            onnx.checker.check_node(node, cctx)
        except Exception as exc:  # noqa: BLE001
            message = one_line(exc)
            if not any(c in message for c in COVERED_ELSEWHERE):
                nodes.append((i, message))
    tensors: list[tuple[str, str]] = []
    for name, tensor in ctx.initializers.items():
        if ctx.checkable is not ctx.model and math.prod(tensor.dims) > INLINE_ELEMENTS:
            continue  # a model over 2 GiB: the checker would serialise the tensor, which protobuf refuses
        try:
            onnx.checker.check_tensor(tensor, cctx)
        except Exception as exc:  # noqa: BLE001
            tensors.append((name, one_line(exc)))
    ctx.cache["_checker"] = (first, nodes, tensors)
    return ctx.cache["_checker"]


def one_line(exc: BaseException) -> str:
    """The first line of an ONNX error, without the context onnx appends (at most 400 characters)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    # drop the "==> Context: Bad node spec for node. Name: x OpType: y" tail onnx appends
    return text.split("==> Context:")[0].strip()[:400]


# ---- graph structure -----------------------------------------------------------------------------------

def cycles_of(ctx: ModelContext) -> list[list[int]]:
    """Strongly connected components with a cycle (Tarjan, iterative), each in node order."""
    if "_cycles" in ctx.cache:
        return ctx.cache["_cycles"]
    n = len(ctx.nodes)
    succ: list[list[int]] = [[] for _ in range(n)]
    for i, node in enumerate(ctx.nodes):
        for out in node.output:
            for j in ctx.consumers.get(out, ()):
                succ[i].append(j)
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    stack: list[int] = []
    comps: list[list[int]] = []
    counter = 0
    for root in range(n):
        if index[root] != -1:
            continue
        work = [(root, 0)]
        while work:
            v, pos = work.pop()
            if pos == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack[v] = True
            recurse = False
            for k in range(pos, len(succ[v])):
                w = succ[v][k]
                if index[w] == -1:
                    work.append((v, k + 1))
                    work.append((w, 0))
                    recurse = True
                    break
                if on_stack[w]:
                    low[v] = min(low[v], index[w])
            if recurse:
                continue
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1 or v in succ[v]:
                    comps.append(sorted(comp))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    ctx.cache["_cycles"] = comps
    return comps


def live_nodes(ctx: ModelContext) -> set[int]:
    """Nodes whose results reach a graph output (backwards from the outputs)."""
    if "_live" not in ctx.cache:
        ctx.cache["_live"] = reaching(ctx, ctx.output_names)
    return ctx.cache["_live"]


def reaching(ctx: ModelContext, names: Iterable[str]) -> set[int]:
    """Nodes whose results reach any of the tensors ``names`` (their producers, and what those read)."""
    found: set[int] = set()
    work = [p for name in names for p in ctx.producers.get(name, ())]
    while work:
        i = work.pop()
        if i in found:
            continue
        found.add(i)
        for name in node_inputs(ctx.nodes[i]):
            work.extend(p for p in ctx.producers.get(name, ()) if p not in found)
    return found


def dead_cycles(ctx: ModelContext) -> list[list[int]]:
    """The cycles (see :func:`cycles_of`) none of whose nodes reaches a graph output: removing them is safe."""
    live = live_nodes(ctx)
    return [comp for comp in cycles_of(ctx) if not live & set(comp)]


# ---- names defined twice -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Redefinition:
    """How to split a tensor name defined more than once into one name per definition.

    The graph is read in node order, as ONNX's reference evaluator runs it: each consumer reads the
    definition just before it. ``renames`` gives the new name of every definition but the one that keeps
    the name (``None`` stands for the initializer); ``reads`` the name each consumer reads afterwards.
    ``refusal`` says why node order does not settle it (then nothing is renamed).
    """

    name: str
    definitions: tuple[str, ...]  # where it is defined, in words, in order
    renames: tuple[tuple[int | None, str], ...] = ()
    reads: tuple[tuple[int, str], ...] = ()
    refusal: str | None = None


def redefinitions(ctx: ModelContext) -> list[Redefinition]:
    """Every tensor name defined more than once (by nodes, or by a node and a graph input/initializer)."""
    if "_redefinitions" in ctx.cache:
        return ctx.cache["_redefinitions"]
    taken = set(ctx.graph_inputs) | set(ctx.initializers) | ctx.sparse_initializers | set(ctx.producers) \
        | set(ctx.consumers) | ctx.output_names
    found = []
    for name, producers in ctx.producers.items():
        outside = [what for what, hit in (("a graph input", name in ctx.graph_inputs),
                                          ("an initializer", name in ctx.initializers),
                                          ("a sparse initializer", name in ctx.sparse_initializers)) if hit]
        if len(producers) + len(outside) > 1:
            found.append(_plan_redefinition(ctx, name, producers, outside, taken))
    ctx.cache["_redefinitions"] = found
    return found


def _plan_redefinition(ctx: ModelContext, name: str, producers: list[int], outside: list[str],
                       taken: set[str]) -> Redefinition:
    definitions = tuple(outside + [ctx.describe(i) for i in producers])

    def refuse(reason: str) -> Redefinition:
        return Redefinition(name, definitions, refusal=reason)

    if len(set(producers)) != len(producers):
        return refuse(f"{ctx.describe(producers[0])} lists it twice among its own outputs")
    if "a sparse initializer" in outside:
        return refuse("a sparse initializer defines it")
    is_input = name in ctx.graph_inputs
    # positions in node order; -1 is the graph input or initializer, defined before every node
    positions = ([-1] if outside else []) + list(producers)
    keeper = -1 if is_input else positions[-1]  # a graph input keeps its name: callers feed it by name
    new_name = {p: _fresh(f"{name}_{k}", taken) for k, p in enumerate(positions, 1) if p != keeper}
    reads = []
    for j in sorted(set(ctx.consumers.get(name, ()))):
        if name not in ctx.nodes[j].input:
            return refuse(f"{ctx.describe(j)} reads it inside a subgraph")
        before = [p for p in positions if p < j]
        if not before:
            return refuse(f"{ctx.describe(j)} reads it before any node defines it, so node order does not "
                          "say which definition it means")
        reads.append((j, name if before[-1] == keeper else new_name[before[-1]]))
    if name in ctx.output_names and positions[-1] != keeper:
        return refuse("it is both a graph input and a graph output")
    renames = tuple((None if p == -1 else p, n) for p, n in new_name.items())
    return Redefinition(name, definitions, renames, tuple(reads))


def _fresh(base: str, taken: set[str]) -> str:
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    taken.add(name)
    return name


# ---- graph outputs nothing produces --------------------------------------------------------------------

@dataclass(frozen=True)
class DanglingOutput:
    """A graph output no node produces, and the unread tensors that have its element type and shape.

    With exactly one such tensor (claimed by no other dangling output), that is the tensor the exporter
    renamed: ``tensor`` names it. Otherwise the output can only be removed.
    """

    name: str
    type_text: str
    matches: tuple[str, ...]
    tensor: str | None


def unproduced_outputs(ctx: ModelContext) -> list[DanglingOutput]:
    """Graph outputs that no node produces (nor an input or initializer), with their candidate tensors."""
    if "_dangling" in ctx.cache:
        return ctx.cache["_dangling"]
    outputs = [o for o in ctx.graph_outputs if o.name not in ctx.producers and not ctx.is_defined_outside_nodes(o.name)]
    unread = [name for node in ctx.nodes for name in node.output
              if name and name not in ctx.consumers and name not in ctx.output_names]
    matches = {o.name: tuple(t for t in unread if _same_type(ctx, o, t)) for o in outputs}
    found = []
    for o in outputs:
        m = matches[o.name]
        unique = len(m) == 1 and sum(m[0] in other for other in matches.values()) == 1
        found.append(DanglingOutput(o.name, _declared_text(o), m, m[0] if unique else None))
    ctx.cache["_dangling"] = found
    return found


def _same_type(ctx: ModelContext, output: onnx.ValueInfoProto, tensor: str) -> bool:
    tt = output.type.tensor_type
    if not tt.elem_type or ctx.elem_type(tensor) != tt.elem_type:
        return False
    if not tt.HasField("shape"):
        return True
    shape = ctx.shape(tensor)
    if shape is None or len(shape) != len(tt.shape.dim):
        return False
    # fixed sizes must agree; a symbolic dimension matches any symbolic one (exporters name them freely)
    return all((d.dim_value == s) if d.HasField("dim_value") else not isinstance(s, int)
               for d, s in zip(tt.shape.dim, shape))


def _declared_text(vi: onnx.ValueInfoProto) -> str:
    from onnxbridge.checks.context import type_name

    tt = vi.type.tensor_type
    if not tt.HasField("shape"):
        return f"{type_name(tt.elem_type)} [?]"
    dims = [str(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?") for d in tt.shape.dim]
    return f"{type_name(tt.elem_type)} [{', '.join(dims)}]"


# ---- opsets -------------------------------------------------------------------------------------------

@functools.cache
def _first_versions() -> dict[tuple[str, str], int]:
    first: dict[tuple[str, str], int] = {}
    for s in onnx.defs.get_all_schemas_with_history():
        key = (s.domain, s.name)
        first[key] = min(first.get(key, s.since_version), s.since_version)
    return first


@functools.cache
def onnx_domains() -> frozenset[str]:
    """The domains ONNX defines operators in."""
    return frozenset(d for d, _ in _first_versions())


def first_opset(op: str, domain: str = "") -> int | None:
    """The first opset version that defines ``op``, or None when ONNX does not know it."""
    return _first_versions().get((domain, op))


def has_schema(op: str, version: int, domain: str = "") -> bool:
    """Whether ONNX defines ``op`` in ``domain`` at opset ``version`` (or earlier)."""
    try:
        onnx.defs.get_schema(op, max_inclusive_version=version, domain=domain)
        return True
    except onnx.defs.SchemaError:
        return False


def ops_missing_from_opset(ctx: ModelContext) -> dict[tuple[str, str], int | None]:
    """``{(domain, op): first opset that has it}`` for the ONNX ops the imported opset lacks (None: no opset
    has it). Domains the model does not import and non-ONNX domains are not judged here."""
    missing: dict[tuple[str, str], int | None] = {}
    for domain, op, _ in used_ops(ctx):
        version = ctx.opsets.get(domain)
        if version is None or domain not in onnx_domains() or (domain, op) in missing:
            continue
        if not has_schema(op, version, domain):
            missing[(domain, op)] = first_opset(op, domain)
    return missing


@functools.cache
def onnxruntime_ops() -> frozenset[tuple[str, str]]:
    """``(domain, op)`` of every op some execution provider of the installed onnxruntime has a kernel for."""
    from onnxruntime.capi import onnxruntime_pybind11_state as ortc

    return frozenset(("" if k.domain == "ai.onnx" else k.domain, k.op_name) for k in ortc.get_all_opkernel_def())


def foreign_ops(ctx: ModelContext) -> dict[tuple[str, str], list[str]]:
    """``{(domain, op): node labels}`` for ops of an imported domain that is not ONNX's, which no local function
    defines and no onnxruntime kernel implements: nothing here can run, infer or convert them."""
    found: dict[tuple[str, str], list[str]] = {}
    for domain, op, label in used_ops(ctx):
        if domain in onnx_domains() or domain not in ctx.opsets or (domain, op) in ctx.functions:
            continue
        if (domain, op) not in onnxruntime_ops():
            found.setdefault((domain, op), []).append(label)
    return found


def used_ops(ctx: ModelContext) -> Iterator[tuple[str, str, str]]:
    """(domain, op type, node label) of every node in the graph and in local functions (not calls)."""
    for i, node in enumerate(ctx.nodes):
        if not ctx.is_local_function(node):
            yield ("" if node.domain == "ai.onnx" else node.domain), node.op_type, ctx.label(i)
    for f in ctx.model.functions:
        for node in f.node:
            if (node.domain, node.op_type) not in ctx.functions:
                yield ("" if node.domain == "ai.onnx" else node.domain), node.op_type, f"{f.name}/{node.name or node.op_type}"


# ---- types and batch -----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4096)
def _formal_types(op: str, domain: str, version: int) -> tuple[tuple[str, ...], bool, frozenset[str]] | None:
    """The type-parameter name of each formal input, whether the last is variadic, and the parameters."""
    try:
        schema = onnx.defs.get_schema(op, max_inclusive_version=version, domain=domain)
    except onnx.defs.SchemaError:
        return None
    params = frozenset(c.type_param_str for c in schema.type_constraints)
    variadic = bool(schema.inputs) and schema.inputs[-1].option == onnx.defs.OpSchema.FormalParameterOption.Variadic
    return tuple(p.type_str for p in schema.inputs), variadic, params


def type_mismatches(ctx: ModelContext) -> list[tuple[int, dict]]:
    """Nodes whose inputs bound to one type parameter have different element types.

    Each item is ``(node index, {"expected": elem type, "wrong": [(input name, elem type)]})``.
    """
    if "_mismatch" in ctx.cache:
        return ctx.cache["_mismatch"]
    found: list[tuple[int, dict]] = []
    for i, node in enumerate(ctx.nodes):
        if ctx.is_local_function(node) or len(node.input) < 2:
            continue
        version = ctx.opset_for(node)
        formal = _formal_types(node.op_type, "" if node.domain == "ai.onnx" else node.domain, version or 0) \
            if version else None
        if formal is None:
            continue
        types, variadic, params = formal
        groups: dict[str, list[tuple[str, int]]] = {}
        for pos, name in enumerate(node.input):
            if not name:
                continue
            if pos < len(types):
                tparam = types[pos]
            elif variadic and types:
                tparam = types[-1]
            else:
                continue
            et = ctx.elem_type(name)
            if tparam in params and et:
                groups.setdefault(tparam, []).append((name, et))
        for members in groups.values():
            if len({et for _, et in members}) < 2:
                continue
            expected = _expected_type(ctx, members)
            wrong = [(n, et) for n, et in members if et != expected]
            found.append((i, {"expected": expected, "wrong": wrong}))
            break
    ctx.cache["_mismatch"] = found
    return found


def _expected_type(ctx: ModelContext, members: list[tuple[str, int]]) -> int:
    # data flowing through the graph decides; constants (weights, biases) are the ones to convert
    dynamic = [et for n, et in members if not ctx.is_constant(n)]
    pool = dynamic or [et for _, et in members]
    if ctx.float_precision in pool:
        return ctx.float_precision  # the model's own precision wins a tie
    return Counter(pool).most_common(1)[0][0]


def fixed_batch(ctx: ModelContext) -> int | None:
    """The batch size hard-coded in dimension 0 of every real input (rank >= 2), or None."""
    values = set()
    for vi in ctx.real_inputs:
        dims = vi.type.tensor_type.shape.dim
        if not vi.type.tensor_type.HasField("shape") or len(dims) < 2:
            return None
        d = dims[0]
        if not d.HasField("dim_value"):
            return None
        values.add(d.dim_value)
    if len(values) != 1:
        return None
    batch = values.pop()
    # outputs must carry the same leading dim (a model that reduces over the batch is not batched)
    for o in ctx.graph_outputs:
        dims = o.type.tensor_type.shape.dim
        if o.type.tensor_type.HasField("shape") and dims and dims[0].HasField("dim_value") \
                and dims[0].dim_value != batch:
            return None
    return batch


# ---- hygiene -------------------------------------------------------------------------------------------

EXTERNAL_MARKER = "onnxbridge.save_external_data"  # set by the external-data fix

FOLD_OUTPUT_LIMIT = 1 << 20  # elements: folding bigger results would bloat the file


def float64_via_cast(ctx: ModelContext, name: str) -> bool:
    """Whether every reader of ``name`` casts it to float32 (a float64 weight used as float32)."""
    users = ctx.consumers.get(name, ())
    return bool(users) and all(
        ctx.nodes[i].op_type == "Cast" and any(a.name == "to" and a.i == onnx.TensorProto.FLOAT
                                               for a in ctx.nodes[i].attribute) for i in users)


def batchnorm_fusions(ctx: ModelContext) -> list[tuple[int, int]]:
    """(producer, batchnorm) pairs where an inference BatchNormalization can fold into a Conv/Gemm."""
    pairs = []
    for i, node in enumerate(ctx.nodes):
        if node.op_type != "BatchNormalization" or node.domain not in ("", "ai.onnx") or len(node.input) < 5:
            continue
        if any(a.name == "training_mode" and a.i for a in node.attribute) or \
                sum(1 for o in node.output if o) > 1:
            continue
        if not all(ctx.is_constant_value(n) for n in node.input[1:5]):
            continue
        producers = ctx.producers.get(node.input[0], [])
        if len(producers) != 1:
            continue
        p = producers[0]
        prev = ctx.nodes[p]
        if prev.op_type not in ("Conv", "ConvTranspose", "Gemm") or prev.domain not in ("", "ai.onnx"):
            continue
        if len(ctx.consumers.get(node.input[0], [])) != 1 or node.input[0] in ctx.output_names:
            continue
        if not all(ctx.is_constant_value(n) for n in prev.input[1:] if n):
            continue
        pairs.append((p, i))
    return pairs


# ---- specs ---------------------------------------------------------------------------------------------

def unused_layers(ctx: SpecContext) -> list[str]:
    """Top-level layers whose output nothing reads (not another layer, not a graph output)."""
    if ctx.plan is None:
        return []
    used = {producer for node in ctx.plan.nodes for producer, _ in node.inputs}
    used |= {producer for producer, _ in ctx.plan.outputs}
    return [node.id for node in ctx.plan.nodes if node.id not in used]



def unconnected_layers(ctx: SpecContext) -> list[str]:
    """Top-level layers on no path from a graph input to a graph output, in the spec's order: layers not
    wired in yet (``inputs: []``), those fed only by them, and those whose output reaches no graph output.

    Unlike :func:`unused_layers` this follows whole chains and also answers when the spec has structural
    problems (a layer without its inputs is one): the wiring then comes from the planner's partial plan.
    """
    plan = ctx.plan
    if plan is None and ctx.spec is not None:
        from onnxbridge.spec.plan import plan_spec_partial

        plan, _, _ = plan_spec_partial(ctx.spec)
    if plan is None:
        return []
    consumers: dict[str, list[str]] = {}
    for node in plan.nodes:
        for producer, _ in node.inputs:
            consumers.setdefault(producer, []).append(node.id)
    fed = _reach(plan.input_names, lambda name: consumers.get(name, ()))
    producers = {node.id: [p for p, _ in node.inputs] for node in plan.nodes}
    feeding = _reach([p for p, _ in plan.outputs], lambda name: producers.get(name, ()))
    connected = fed & feeding
    return [layer.id for layer in ctx.spec.layers if layer.id not in connected]


def _reach(start: Iterable[str], step) -> set[str]:
    """Every name reachable from ``start`` (included) by following ``step``."""
    seen = set(start)
    todo = list(seen)
    while todo:
        for nxt in step(todo.pop()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen
