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
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

import onnx

from onnxbridge.checks.context import ModelContext, node_inputs

if TYPE_CHECKING:
    from onnxbridge.checks.spec import SpecContext


# ---- the ONNX checker ----------------------------------------------------------------------------------

# checker messages another rule explains better (with every occurrence, not just the first)
COVERED_ELSEWHERE = ("topologically sorted", "single static assignment", "No Op registered for",
                     "No opset import for domain", "is not output of any previous nodes",
                     "is used as output names multiple times", "is not an output of any node in graph")


def checker_problems(ctx: ModelContext) -> tuple[str | None, list[tuple[int, str]], list[tuple[str, str]]]:
    """The checker's verdict: its first message (None if the model passes), every node problem
    ``(index, message)`` and every malformed initializer ``(name, message)``."""
    if "_checker" in ctx.cache:
        return ctx.cache["_checker"]
    try:
        onnx.checker.check_model(ctx.model, full_check=False)
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
    if "_live" in ctx.cache:
        return ctx.cache["_live"]
    live: set[int] = set()
    work = [p for o in ctx.output_names for p in ctx.producers.get(o, ())]
    while work:
        i = work.pop()
        if i in live:
            continue
        live.add(i)
        for name in node_inputs(ctx.nodes[i]):
            work.extend(p for p in ctx.producers.get(name, ()) if p not in live)
    ctx.cache["_live"] = live
    return live


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

