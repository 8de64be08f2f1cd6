"""Resolve a spec into a plan (every reference, type and parameter checked) and infer its shapes.

``plan_spec`` walks the layers in dependency order and, for each one, validates its parameters, works
out its output shapes and parameter count, and records everything lowering needs. It does not stop at
the first problem: structural errors (unknown types, bad parameters, dangling references, cycles) are
all collected, and shape errors are reported once each — layers downstream of a broken layer are marked
"not inferred" instead of failing again.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pydantic import BaseModel, ValidationError

from onnxbridge.errors import SpecError
from onnxbridge.limits import check_memory, exceeded, format_bytes, limit
from onnxbridge.spec.blocks import BuiltinBlock, get_block
from onnxbridge.spec.plan_memo import MISSING, PlanMemo, params_key
from onnxbridge.spec.registry import (
    DEFAULT_OPSET,
    LayerDef,
    LayerShapeError,
    Weight,
    all_layers,
    current_opset,
    get_layer,
    targeting_opset,
)
from onnxbridge.spec.schema import BlockSpec, LayerSpec, Spec
from onnxbridge.spec.types import TensorInfo, format_shape

Ref = tuple[str, int]  # (producer: layer id or scope input name, output index)
WEIGHT_BYTES = 4  # weights are initialised as float32


@dataclass
class PlanNode:
    """One resolved layer or block instance."""

    id: str
    path: str
    type_name: str
    spec: LayerSpec
    inputs: list[Ref]
    layer: type[LayerDef] | None = None
    params: Any = None
    block: Plan | None = None
    in_infos: list[TensorInfo] = field(default_factory=list)
    out_infos: list[TensorInfo] | None = None
    weights: dict[str, Weight] = field(default_factory=dict)

    @property
    def is_block(self) -> bool:
        """Whether the node is a block instance (a built-in or spec-defined block) rather than one layer."""
        return self.block is not None or self.layer is None


@dataclass
class Plan:
    """A resolved scope: the top-level network or the body of one block instance."""

    name: str
    input_names: list[str]
    input_infos: list[TensorInfo]
    nodes: list[PlanNode]
    outputs: list[Ref]
    description: str = ""


@dataclass
class LayerRow:
    """One line of the per-layer summary."""

    path: str
    id: str
    type: str
    depth: int
    outputs: list[TensorInfo] | None
    params: int
    status: str = "ok"  # ok | error | not inferred
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON data: path, type, depth, status, output shapes and dtypes, parameter count and
        error."""
        return {"id": self.path, "type": self.type, "depth": self.depth, "status": self.status,
                "output_shapes": None if self.outputs is None else [list(o.shape) for o in self.outputs],
                "output_dtypes": None if self.outputs is None else [o.dtype for o in self.outputs],
                "params": self.params, "error": self.error}


@dataclass
class ShapeReport:
    """Per-layer shapes and parameter counts, every shape error, and the graph outputs."""

    name: str
    rows: list[LayerRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    inputs: dict[str, TensorInfo] = field(default_factory=dict)
    outputs: dict[str, TensorInfo | None] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every layer's shapes were inferred without error."""
        return not self.errors

    @property
    def total_params(self) -> int:
        """The number of learnable parameters of the top-level layers (block contents counted in their block)."""
        return sum(r.params for r in self.rows if r.depth == 0)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON data: inputs, outputs, per-layer rows, totals and errors."""
        return {
            "name": self.name, "ok": self.ok, "errors": self.errors, "total_params": self.total_params,
            "inputs": {k: {"shape": list(v.shape), "dtype": v.dtype} for k, v in self.inputs.items()},
            "outputs": {k: None if v is None else {"shape": list(v.shape), "dtype": v.dtype}
                        for k, v in self.outputs.items()},
            "layers": [r.to_dict() for r in self.rows],
        }


class _Context:
    def __init__(self, spec: Spec, memo: PlanMemo | None = None):
        self.spec = spec
        self.memo = memo
        self.structure_errors: list[str] = []
        self.report = ShapeReport(spec.name)
        self.max_layers = limit("max_layers")
        self.max_block_depth = limit("max_block_depth")
        self.max_bytes = limit("max_spec_bytes")
        self.layers = 0  # layers and block instances planned so far, blocks expanded
        self.expanded_bytes = 0  # size of the block bodies substituted so far
        self.weight_values = 0  # every weight's element count (buffers included)
        self.largest_weight = 0
        self.largest_tensor: tuple[int, str] = (0, "")  # bytes at batch 1, and which layer output

    def structural(self, where: str, message: str) -> None:
        self.structure_errors.append(f"{where}: {message}")


def plan_spec(spec: Spec, *, opset: int | None = None, memo: PlanMemo | None = None) -> tuple[Plan, ShapeReport]:
    """Resolve and shape-check ``spec`` (for ``opset``, default the spec's own, else 18).

    Raises :class:`SpecError` listing every structural problem; shape problems are returned in the
    report (``report.errors``) so callers can show the partial table. With a ``memo``
    (:class:`~onnxbridge.spec.plan_memo.PlanMemo`), layers planned before with the same definition and
    input types are looked up instead of planned again; the result is the same.
    """
    plan, report, structure = plan_spec_partial(spec, opset=opset, memo=memo)
    if structure:
        raise SpecError(_join(structure), problems=structure)
    return plan, report


def plan_spec_partial(spec: Spec, *, opset: int | None = None, memo: PlanMemo | None = None
                      ) -> tuple[Plan, ShapeReport, list[str]]:
    """Like :func:`plan_spec`, but returns the structural problems instead of raising.

    The report then still has a row per layer: the layers at fault are ``error``, those downstream of
    them ``not inferred``, and the rest have their shapes (what an editor shows while a spec is drawn).
    """
    with targeting_opset(opset or spec.opset or DEFAULT_OPSET):
        return _plan_spec(spec, memo)


def _plan_spec(spec: Spec, memo: PlanMemo | None) -> tuple[Plan, ShapeReport, list[str]]:
    ctx = _Context(spec, memo)
    total = expanded_layer_count(spec)
    if total > ctx.max_layers:
        raise exceeded("max_layers", f"the spec expands to {total:,} layers once its blocks are expanded, more "
                                     f"than {ctx.max_layers:,}")
    inputs = [TensorInfo(tuple(i.shape), i.dtype) for i in spec.inputs]
    names = [i.name for i in spec.inputs]
    if len(set(names)) != len(names):
        ctx.structural("inputs", f"duplicate input names {sorted({n for n in names if names.count(n) > 1})}")
    ctx.report.inputs = dict(zip(names, inputs))
    for name, info in zip(names, inputs):
        _note_tensor(ctx, f"input {name}", info)
    outputs = spec.output_specs()
    plan = _plan_scope(ctx, spec.name, spec.layers, names, inputs, [o.from_ for o in outputs], path="",
                       depth=0, stack=())
    for o in outputs:
        if o.name in names:
            ctx.structural(f"output {o.name}", "has the same name as an input; rename the output")
    if len({o.name for o in outputs}) != len(outputs):
        ctx.structural("outputs", "output names must be unique")
    if not ctx.structure_errors:  # a spec at fault is reported as such first
        _check_planned_memory(ctx)
    infos = {n: i for n, i in zip(names, inputs)}
    by_id = {n.id: n for n in plan.nodes}
    for o, ref in zip(outputs, plan.outputs):
        ctx.report.outputs[o.name] = _info_of(ref, infos, by_id)
    return plan, ctx.report, list(ctx.structure_errors)


def expanded_layer_count(spec: Spec) -> int:
    """How many layers and block instances ``spec`` has once its user blocks are expanded (no planning).

    Counted per block definition and multiplied, so a spec whose blocks fan out ten-fold over seven
    levels is measured instantly instead of being expanded. Built-in blocks count as one here (their
    bodies are counted while planning); a block that uses itself, or nests too deep, counts as one (the
    planner reports it).
    """
    memo: dict[str, int] = {}
    max_depth = limit("max_block_depth")

    def count(layers: list[LayerSpec], stack: tuple[str, ...]) -> int:
        total = 0
        for layer in layers:
            total += 1
            block = spec.blocks.get(layer.type)
            if block is None or layer.type in stack or len(stack) >= max_depth:
                continue
            if layer.type not in memo:
                memo[layer.type] = count(block.layers, stack + (layer.type,))
            total += memo[layer.type]
        return total

    return count(spec.layers, ())


def _note_tensor(ctx: _Context, where: str, info: TensorInfo) -> None:
    """Remember the largest tensor (its size at batch 1: every symbolic dim taken as 1)."""
    size = _tensor_bytes(info)
    if size > ctx.largest_tensor[0]:
        ctx.largest_tensor = (size, f"{where} {format_shape(info.shape)} {info.dtype}")


def _tensor_bytes(info: TensorInfo) -> int:
    """A tensor's size in bytes at batch 1 (every symbolic dim taken as 1)."""
    size = _itemsize(info.dtype)
    for d in info.shape:
        size *= d if isinstance(d, int) else 1
    return size


@functools.cache
def _itemsize(dtype: str) -> int:
    import numpy as np

    from onnxbridge.spec.types import NUMPY_DTYPES

    return int(np.dtype(NUMPY_DTYPES.get(dtype, np.float32)).itemsize)


def _check_planned_memory(ctx: _Context) -> None:
    """Refuse, before anything is allocated, a network whose weights or a single tensor cannot fit.

    Building holds every weight twice (the initializers and the serialised model) and the largest one
    three times more while it is drawn (a float64 draw cast to float32).
    """
    values = ctx.weight_values
    if values:
        needed = 2 * WEIGHT_BYTES * values + 3 * WEIGHT_BYTES * ctx.largest_weight
        check_memory(needed, f"building {ctx.spec.name}'s {values:,} weight values "
                             f"({format_bytes(WEIGHT_BYTES * values)} as float32)",
                     hint="check the layer sizes (out_features, channels, num_embeddings), or set "
                          "ONNXBRIDGE_MAX_MEMORY if the memory is there")
    size, where = ctx.largest_tensor
    if size:
        check_memory(size, f"{where} at batch 1",
                     hint="check the input shape and the layer sizes, or set ONNXBRIDGE_MAX_MEMORY if the "
                          "memory is there")


def _join(errors: list[str]) -> str:
    if len(errors) == 1:
        return errors[0]
    return f"{len(errors)} problems: " + "; ".join(errors)


def _info_of(ref: Ref, inputs: dict[str, TensorInfo], by_id: dict[str, PlanNode]) -> TensorInfo | None:
    producer, index = ref
    if producer in inputs:
        return inputs[producer]
    node = by_id.get(producer)
    if node is None or node.out_infos is None or index >= len(node.out_infos):
        return None
    return node.out_infos[index]


def _parse_ref(text: str) -> Ref:
    producer, _, index = text.partition(":")
    return producer, int(index) if index else 0


def _plan_scope(ctx: _Context, name: str, layers: list[LayerSpec], input_names: list[str],
                input_infos: list[TensorInfo], output_refs: list[str] | None, *, path: str, depth: int,
                stack: tuple[str, ...]) -> Plan:
    where_prefix = f"{path}/" if path else ""
    # 1. ids
    ids: dict[str, LayerSpec] = {}
    for layer in layers:
        if layer.id in ids:
            ctx.structural(f"layer {where_prefix}{layer.id}", "the id is used twice; layer ids must be unique")
        elif layer.id in input_names:
            ctx.structural(f"layer {where_prefix}{layer.id}", "the id is also an input name; rename one of them")
        ids[layer.id] = layer
    known = list(input_names) + list(ids)
    known_set = set(known)  # membership for every reference; the list keeps the order for suggestions

    # 2. references (default: the previous layer, or the first input)
    nodes: list[PlanNode] = []
    previous: Ref | None = (input_names[0], 0) if input_names else None
    for layer in layers:
        where = f"layer {where_prefix}{layer.id} ({layer.type})"
        refs = layer.input_refs
        if refs is None and previous is None:
            ctx.structural(where, "has no input to take (the network has no inputs); set 'input'")
            resolved = []
        elif refs is None:
            resolved = [previous] if previous is not None else []
        else:
            resolved = []
            for text in refs:
                producer, index = _parse_ref(text)
                if producer not in known_set:
                    ctx.structural(where, f"input {text!r} does not name a layer or input{_did_you_mean(producer, known)}")
                elif producer == layer.id:
                    ctx.structural(where, "takes its own output as input (a cycle)")
                resolved.append((producer, index))
        nodes.append(PlanNode(layer.id, f"{where_prefix}{layer.id}", layer.type, layer, resolved))
        previous = (layer.id, 0)

    # 3. order (a reference to a later layer is fine as long as there is no cycle)
    ordered = _topological(ctx, nodes, set(input_names), where_prefix)

    # 4. outputs
    refs_out = output_refs if output_refs is not None else [layers[-1].id]
    outputs: list[Ref] = []
    for text in refs_out:
        producer, index = _parse_ref(text)
        if producer not in known_set:
            ctx.structural(f"output {text}", f"does not name a layer or input{_did_you_mean(producer, known)}")
        outputs.append((producer, index))

    # 5. types, parameters and shapes, in dependency order
    infos: dict[str, TensorInfo] = dict(zip(input_names, input_infos))
    by_id = {n.id: n for n in ordered}
    for node in ordered:
        _plan_node(ctx, node, infos, by_id, depth, stack)
    return Plan(name, list(input_names), list(input_infos), ordered, outputs)


def _topological(ctx: _Context, nodes: list[PlanNode], inputs: set[str], where_prefix: str) -> list[PlanNode]:
    by_id = {n.id: n for n in nodes}
    done: set[str] = set()
    ordered: list[PlanNode] = []
    visiting: list[str] = []
    reported = False

    def visit(node: PlanNode) -> None:
        nonlocal reported
        if node.id in done:
            return
        if node.id in visiting:
            if not reported:
                cycle = visiting[visiting.index(node.id):] + [node.id]
                ctx.structural(f"layer {where_prefix}{node.id}",
                               f"inputs form a cycle ({' -> '.join(cycle)}); a layer cannot depend on its own output")
                reported = True
            return
        visiting.append(node.id)
        for producer, _ in node.inputs:
            if producer in by_id and producer not in inputs:
                visit(by_id[producer])
        visiting.pop()
        done.add(node.id)
        ordered.append(node)

    for node in nodes:
        visit(node)
    return ordered


def _did_you_mean(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _plan_node(ctx: _Context, node: PlanNode, infos: dict[str, TensorInfo], by_id: dict[str, PlanNode],
               depth: int, stack: tuple[str, ...]) -> None:
    where = f"layer {node.path} ({node.type_name})"
    layer_def = get_layer(node.type_name)
    user_block = ctx.spec.blocks.get(node.type_name)
    builtin = get_block(node.type_name) if layer_def is None and user_block is None else None
    row = LayerRow(node.path, node.id, node.type_name, depth, None, 0)
    ctx.report.rows.append(row)
    ctx.layers += 1
    if ctx.layers > ctx.max_layers:  # built-in blocks grow with their parameters: count as they expand
        raise exceeded("max_layers", f"{where}: the spec expands to more than {ctx.max_layers:,} layers once "
                                     "its blocks are expanded")

    if layer_def is None and user_block is None and builtin is None:
        options = list(all_layers()) + list(ctx.spec.blocks) + _builtin_names()
        ctx.structural(where, f"unknown layer type {node.type_name!r}{_did_you_mean(node.type_name, options)}"
                              " (run 'onnxbridge layers' for the list)")
        row.status = "error"
        return

    # parameters are checked even when the inputs are broken, so every bad parameter is reported
    key = None
    if layer_def is not None:
        node.layer = layer_def
        raw = node.spec.params
        if ctx.memo is not None:
            pkey = params_key(raw)
            key = None if pkey is None else (node.type_name, pkey)
        node.params = _validate_layer_params(ctx, where, layer_def, raw, key)
        if node.params is None:
            row.status = "error"
            return
    else:
        args = _validate_block_args(ctx, where, node.type_name, user_block, builtin, node.spec.params)
        if args is None:
            row.status = "error"
            return
        node.params = args

    found = [_info_of(ref, infos, by_id) for ref in node.inputs]
    in_infos = [i for i in found if i is not None]
    if len(in_infos) != len(found):
        row.status = "not inferred"
        return
    node.in_infos = list(in_infos)

    if layer_def is not None:
        count = len(in_infos)
        if count < layer_def.min_inputs or (layer_def.max_inputs is not None and count > layer_def.max_inputs):
            want = (f"{layer_def.min_inputs}" if layer_def.max_inputs == layer_def.min_inputs else
                    f"at least {layer_def.min_inputs}" if layer_def.max_inputs is None else
                    f"{layer_def.min_inputs} to {layer_def.max_inputs}")
            ctx.structural(where, f"takes {want} input(s), got {count}; set 'input' to a list of {want} references")
            row.status = "error"
            return
        outcome = _infer_layer(ctx, layer_def, node.params, in_infos, key)
        if isinstance(outcome, LayerShapeError):
            _shape_error(ctx, row, where, in_infos, outcome)
            return
        node.weights = dict(outcome.weights)
        node.out_infos = list(outcome.outputs)
        row.outputs = node.out_infos
        row.params = outcome.params
        ctx.weight_values += outcome.weight_values
        ctx.largest_weight = max(ctx.largest_weight, outcome.largest_weight)
        for i, (info, size) in enumerate(zip(node.out_infos, outcome.output_bytes)):
            if size > ctx.largest_tensor[0]:
                where_out = f"the output of layer {node.path}" + (f" (#{i})" if i else "")
                ctx.largest_tensor = (size, f"{where_out} {format_shape(info.shape)} {info.dtype}")
        return

    # a block instance: expand, then plan its body as a nested scope
    if node.type_name in stack:
        ctx.structural(where, f"block {node.type_name!r} uses itself ({' -> '.join(stack + (node.type_name,))})")
        row.status = "error"
        return
    if len(stack) >= ctx.max_block_depth:
        ctx.structural(where, f"blocks nest more than {ctx.max_block_depth} levels deep "
                              f"({' -> '.join(stack + (node.type_name,))}); flatten some of them, or set "
                              f"ONNXBRIDGE_MAX_BLOCK_DEPTH above {ctx.max_block_depth} to allow it")
        row.status = "error"
        return
    try:
        if builtin is not None:
            body = builtin.build(node.params, list(in_infos))
        else:
            assert user_block is not None  # an unknown type returned above
            body = _substitute_block(ctx, user_block, node.params, where)
    except LayerShapeError as exc:
        _shape_error(ctx, row, where, in_infos, exc)
        return
    except SpecError as exc:
        ctx.structure_errors.append(exc.message)
        row.status = "error"
        return
    if len(body.inputs) != len(in_infos):
        ctx.structural(where, f"block {node.type_name} takes {len(body.inputs)} input(s) {body.inputs}, got {len(in_infos)}")
        row.status = "error"
        return
    errors_before = len(ctx.report.errors) + len(ctx.structure_errors)
    sub = _plan_scope(ctx, node.type_name, body.layers, body.inputs, list(in_infos), body.outputs,
                      path=node.path, depth=depth + 1, stack=stack + (node.type_name,))
    sub.description = body.description or ""
    node.block = sub
    sub_infos = dict(zip(body.inputs, in_infos))
    sub_by_id = {n.id: n for n in sub.nodes}
    found_outs = [_info_of(ref, sub_infos, sub_by_id) for ref in sub.outputs]
    outs = [o for o in found_outs if o is not None]
    row.params = sum(r.params for r in ctx.report.rows if r.path.startswith(node.path + "/") and r.depth == depth + 1)
    if len(outs) != len(found_outs) or len(ctx.report.errors) + len(ctx.structure_errors) > errors_before:
        row.status = "not inferred"
        return
    node.out_infos = list(outs)
    row.outputs = node.out_infos


def _shape_error(ctx: _Context, row: LayerRow, where: str, in_infos: list, exc: LayerShapeError) -> None:
    shapes = " and ".join(format_shape(i.shape) for i in in_infos)
    message = f"{where} got {shapes} but {exc.needs}"
    if exc.suggestion:
        message += f": {exc.suggestion}"
    ctx.report.errors.append(message)
    row.status = "error"
    row.error = message


def _builtin_names() -> list[str]:
    from onnxbridge.spec.blocks import all_blocks

    return list(all_blocks())


def _validate_params(ctx: _Context, where: str, model: type[BaseModel], raw: dict[str, Any]) -> Any:
    params, problems = _params_outcome(model, raw)
    for problem in problems:
        ctx.structural(where, problem)
    return params


def _params_outcome(model: type[BaseModel], raw: dict[str, Any]) -> tuple[Any, list[str]]:
    """The validated parameters (None when invalid) and every problem with them (pure: memoisable)."""
    try:
        return model(**raw), []
    except ValidationError as exc:
        return None, [_describe_param_error(err, model, raw) for err in exc.errors()]


def _validate_layer_params(ctx: _Context, where: str, layer_def: type[LayerDef], raw: dict[str, Any],
                           key: tuple | None) -> Any:
    """A layer's parameters validated, or looked up in the memo under ``key`` (its type and raw values).
    Parameter models are frozen, so one validated object can serve every plan."""
    memo, full = ctx.memo, None
    outcome = MISSING
    if memo is not None and key is not None:
        full = ("params", *key)
        outcome = memo.get(full)
    if outcome is MISSING:
        outcome = _params_outcome(layer_def.Params, raw)
        if memo is not None and full is not None:
            memo.put(full, outcome)
    params, problems = outcome
    for problem in problems:
        ctx.structural(where, problem)
    return params


class _LayerOutcome(NamedTuple):
    """What planning one layer with known inputs gives (pure, so memoisable), with the sums the planner
    keeps of it."""

    outputs: list[TensorInfo]
    weights: dict[str, Weight]
    params: int  # trainable weight values
    weight_values: int  # every weight value, buffers included
    largest_weight: int
    output_bytes: list[int]  # each output's size at batch 1


def _infer_layer(ctx: _Context, layer_def: type[LayerDef], params: Any, in_infos: list[TensorInfo],
                 key: tuple | None) -> _LayerOutcome | LayerShapeError:
    """A layer's output types and weights, or the shape error it raises; looked up in the memo under
    ``key`` plus the input types and the opset (what they depend on) when planned before."""
    memo, full = ctx.memo, None
    if memo is not None and key is not None:
        full = ("infer", *key, tuple(in_infos), current_opset())
        found = memo.get(full)
        if found is not MISSING:
            return found
    outcome: _LayerOutcome | LayerShapeError
    try:
        outs = list(layer_def.infer(params, list(in_infos)))
        weights = layer_def.weights(params, list(in_infos))
    except LayerShapeError as exc:
        outcome = exc.with_traceback(None)  # kept in the memo: without the frames a traceback would hold
    else:
        sizes = [w.size for w in weights.values()]
        outcome = _LayerOutcome(outs, weights, sum(w.size for w in weights.values() if w.trainable), sum(sizes),
                                max(sizes, default=0), [_tensor_bytes(o) for o in outs])
    if memo is not None and full is not None:
        memo.put(full, outcome)
    return outcome


def _describe_param_error(err: Mapping[str, Any], model: type[BaseModel], raw: dict[str, Any]) -> str:
    loc = err.get("loc") or ()
    name = str(loc[0]) if loc else "?"
    allowed = sorted(model.model_fields)
    if err.get("type") == "extra_forbidden":
        hint = _did_you_mean(name, allowed)
        return (f"unknown parameter {name!r}{hint}" if hint else
                f"unknown parameter {name!r} (allowed: {', '.join(allowed) or 'none'})")
    if err.get("type") == "missing":
        return f"missing required parameter {name!r}"
    got = raw.get(name, err.get("input"))
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"parameter {name!r}: got {got!r}, {msg[0].lower() + msg[1:] if msg else 'invalid'}"


def _validate_block_args(ctx: _Context, where: str, name: str, user: BlockSpec | None, builtin: BuiltinBlock | None,
                         raw: dict[str, Any]) -> Any:
    if builtin is not None:
        return _validate_params(ctx, where, builtin.Params, raw)
    assert user is not None
    unknown = [k for k in raw if k not in user.params]
    for k in unknown:
        ctx.structural(where, f"unknown parameter {k!r} for block {name}{_did_you_mean(k, list(user.params))}"
                              f" (block parameters: {', '.join(user.params) or 'none'})")
    args = {**user.params, **raw}
    missing = [k for k, v in args.items() if v is None]
    for k in missing:
        ctx.structural(where, f"missing required parameter {k!r} of block {name}")
    return None if unknown or missing else args


def _substitute_block(ctx: _Context, block: BlockSpec, args: dict[str, Any], where: str) -> BlockSpec:
    """The block's layers with every ``$param`` value replaced by the instance's argument.

    Arguments are shared, not copied, and measured before they are validated, so a large argument used
    by many instances is refused (``ONNXBRIDGE_MAX_SPEC_BYTES``) before it is multiplied.
    """
    from onnxbridge.spec.io import document_size

    def sub(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("$"):
            key = value[1:]
            if key not in args:
                raise SpecError(f"{where}: the block refers to {value!r}, which is not one of its parameters "
                                f"({', '.join(args) or 'none'})")
            return args[key]
        if isinstance(value, list):
            return [sub(v) for v in value]
        if isinstance(value, dict):
            return {k: sub(v) for k, v in value.items()}
        return value

    raw = [sub(layer.model_dump(by_alias=True, exclude_none=True)) for layer in block.layers]
    ctx.expanded_bytes += document_size(raw, where)
    if ctx.expanded_bytes > ctx.max_bytes:
        raise exceeded("max_spec_bytes", f"{where}: with its blocks expanded the spec is more than "
                                         f"{ctx.max_bytes:,} bytes")
    layers = [LayerSpec.model_validate(layer) for layer in raw]
    return block.model_copy(update={"layers": layers})
