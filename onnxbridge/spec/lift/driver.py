"""ONNX -> spec: prepare the model, draft layers (natural ones first, ``Op`` for the rest), assemble, check.

The steps:

1. A model this project built, unchanged, carries its spec: that spec comes back as it was (with the
   model's weights).
2. Otherwise the graph is prepared (helper functions inlined, shapes inferred, constants folded; see
   :func:`onnxbridge.ir.plan.plan_model`), Identity and inference Dropout are seen through, and the
   matchers (``matchers/``) propose natural layers, multi-node patterns first. Calls to block functions
   become block instances (``blocks.py``); every other node becomes an ``Op`` layer.
3. The drafts are ordered, named and wired into spec data; the spec is planned, and a natural layer the
   planner rejects is put back as ``Op`` layers, so the lifted spec always builds.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx

from onnxbridge.errors import OnnxBridgeError, SpecError
from onnxbridge.ir.conventions import BLOCKS_DOMAIN
from onnxbridge.ir.plan import plan_model
from onnxbridge.spec.lift.assemble import UnwiredValue, assemble
from onnxbridge.spec.lift.blocks import Blocks
from onnxbridge.spec.lift.draft import Draft
from onnxbridge.spec.lift.generic import constant_draft, op_draft
from onnxbridge.spec.lift.matchers import PASSES
from onnxbridge.spec.lift.naming import Namer, identifier
from onnxbridge.spec.lift.scope import Scope, make_scope
from onnxbridge.spec.registry import DEFAULT_OPSET
from onnxbridge.spec.schema import Spec
from onnxbridge.spec.types import DTYPE_NAMES

MAX_ROUNDS = 6
MAX_DEMOTIONS = 64


class LiftError(OnnxBridgeError):
    """A model that is not valid ONNX in a way no spec can express (a cycle, an undefined value)."""


@dataclass
class Lifted:
    """A lifted spec (holding its weights) and what a user should know about how it was made."""

    spec: Spec
    notes: list[str] = field(default_factory=list)
    #: layer counts by type
    layer_types: dict[str, int] = field(default_factory=dict)


def lift_model(model: onnx.ModelProto | str | os.PathLike, *, name: str | None = None) -> Lifted:
    """Lift ``model`` (an ``onnx.ModelProto`` or a path to an ``.onnx`` file) to a spec with its weights."""
    source = None
    if not isinstance(model, onnx.ModelProto):
        from onnxbridge.ir import load_model

        source = str(model)
        model = load_model(model)
    try:
        return _lift(model, name)
    except OnnxBridgeError as exc:
        if source:
            exc.with_source(source)
        raise


def _lift(model: onnx.ModelProto, name: str | None) -> Lifted:
    from onnxbridge.spec.lift.embedded import embedded_spec

    found = embedded_spec(model)
    if found is not None:
        spec, notes = found
        if name:
            spec.name = identifier(name)
        return Lifted(spec, notes, _count(spec))
    model = copy.deepcopy(model)
    _sort_graph(model)
    inline: set[str] = set()
    for _ in range(MAX_ROUNDS):
        try:
            return _lift_once(model, name, inline)
        except _RetryWithInlined as retry:
            inline |= retry.functions
    return _lift_once(model, name, inline, natural=False)


class _RetryWithInlined(Exception):
    def __init__(self, functions: set[str]):
        self.functions = functions


def _inline(model: onnx.ModelProto, names: set[str], notes: list[str]) -> onnx.ModelProto:
    """Inline helper functions (and block functions in ``names``); blocks of this project stay functions."""
    from onnx import inliner

    chosen = [(f.domain, f.name) for f in model.functions
              if f.name in names or f.domain != BLOCKS_DOMAIN or f.attribute or f.attribute_proto]
    if not chosen:
        return model
    try:
        return inliner.inline_selected_functions(model, chosen)
    except RuntimeError:
        # a function importing another version of an opset than the model: read its body at the model's
        main = {o.domain: o.version for o in model.opset_import}
        for f in model.functions:
            for o in f.opset_import:
                if o.domain in main and o.version != main[o.domain]:
                    notes.append(f"function {f.name!r} imports {o.domain or 'ai.onnx'} {o.version}; "
                                 f"its nodes are read at the model's {main[o.domain]}")
                    o.version = main[o.domain]
        return inliner.inline_selected_functions(model, chosen)


def _lift_once(model: onnx.ModelProto, name: str | None, inline: set[str], natural: bool = True) -> Lifted:
    notes: list[str] = []
    model = _inline(model, inline, notes)
    plan = plan_model(model, validate=False)  # a broken model lifts too: the spec is where it is fixed
    demoted: set[int] = set()  # nodes of natural layers the planner rejected
    for _ in range(MAX_DEMOTIONS):
        ctx = _Context(plan, demoted, natural)
        main = make_scope(plan.main)
        drafts = ctx.draft_scope(main)
        spec, weights = _build_spec(ctx, main, drafts, name, model)
        problem_layers = _check(spec)
        if not problem_layers:
            break
        by_id = {d.id: d for d in drafts}
        fresh = {id(n) for i in problem_layers if i in by_id and by_id[i].natural and by_id[i].block is None
                 for n in by_id[i].nodes}
        blocks = {by_id[i].block.key.name for i in problem_layers if i in by_id and by_id[i].block is not None}
        if blocks:
            raise _RetryWithInlined(blocks)
        if not fresh - demoted:
            notes.append(f"the lifted spec has shape problems at {', '.join(sorted(problem_layers)[:5])}")
            break
        demoted |= fresh
    spec._weights = weights
    ops = sorted({d.params["op_type"] for d in ctx.all_drafts if d.type == "Op"})
    if ops:
        notes.append(f"{sum(1 for d in ctx.all_drafts if d.type == 'Op')} node(s) kept as Op layers "
                     f"({', '.join(ops[:12])}{', ...' if len(ops) > 12 else ''})")
    notes.extend(ctx.notes)
    return Lifted(spec, notes, _count(spec))


class _Context:
    def __init__(self, plan, demoted: set[int], natural: bool):
        self.plan = plan
        self.demoted = demoted
        self.natural = natural
        self.blocks = Blocks(plan, self.draft_scope)
        self.all_drafts: list[Draft] = []
        self.notes: list[str] = []

    def draft_scope(self, scope: Scope) -> list[Draft]:
        taken: set[int] = set()
        drafts: list[Draft] = []
        if self.natural:
            for matchers in PASSES:
                for node in scope.nodes:
                    if id(node) in taken or id(node) in self.demoted or node.domain not in ("", "ai.onnx"):
                        continue
                    for matcher in matchers.get(node.op_type, ()):
                        try:
                            draft = matcher(scope, node)
                        except Exception:  # noqa: BLE001 - a matcher that cannot decide leaves the node alone
                            draft = None
                        if draft is None or any(id(n) in taken or id(n) in self.demoted for n in draft.nodes):
                            continue
                        taken.update(id(n) for n in draft.nodes)
                        drafts.append(draft)
                        break
        for node in scope.nodes:
            if id(node) in taken:
                continue
            if self.blocks.is_call(scope, node):
                drafts.append(self.blocks.instance(scope, node))
            else:
                drafts.append(op_draft(scope, node))
        produced = {o for d in drafts for o in d.outputs}
        for value in scope.outputs:
            if value not in produced and value not in scope.inputs and scope.is_weight(value):
                drafts.append(constant_draft(scope, value))
                produced.add(value)
        self.all_drafts.extend(drafts)
        return drafts


def _build_spec(ctx: _Context, main: Scope, drafts: list[Draft], name: str | None,
                model: onnx.ModelProto) -> tuple[Spec, dict[str, np.ndarray]]:
    g = model.graph
    inits = {i.name for i in g.initializer}
    names = Namer()
    inputs: dict[str, str] = {}
    input_specs = []
    for vi in g.input:
        if vi.name in inits:
            continue
        spec_name = names.name(identifier(vi.name, "input"), "input")
        inputs[vi.name] = spec_name
        input_specs.append(_input_spec(vi, spec_name))
    output_names = [names.name(identifier(o.name, "output"), "output") for o in g.output]
    blocks = ctx.blocks.finish(set())
    for d in drafts:
        if d.block is not None:
            d.type, d.params = ctx.blocks.bodies[d.block.key].name, dict(ctx.blocks.bodies[d.block.key].args)
    layer_namer = Namer(list(inputs.values()) + output_names)
    own: dict[str, str] = {}
    for o, oname in zip(g.output, output_names):
        own.setdefault(main.canon(o.name), oname)
    try:
        result = assemble(main, drafts, inputs, layer_namer, own)
    except UnwiredValue as exc:
        raise LiftError(f"value {exc.value!r} is read but never computed (not an input, initializer or "
                        "node output)", hint="the model is not valid ONNX; run 'onnxbridge check' on it") from None
    outputs = []
    for o, oname in zip(g.output, output_names):
        value = main.canon(o.name)
        ref = result.refs.get(value)
        if ref is None:
            raise LiftError(f"output {o.name!r} is never computed", hint="run 'onnxbridge check' on the model")
        outputs.append({"name": oname, "from": ref})
    if not result.layers:  # outputs that are inputs, passed straight through: one Identity each
        for out in outputs:
            layer_id = layer_namer.name(f"{out['name']}_identity")
            result.layers.append({"id": layer_id, "type": "Op", "input": out["from"], "op_type": "Identity"})
            out["from"] = layer_id
    data: dict[str, Any] = {"name": identifier(name or _graph_name(g.name), "network")}
    if g.doc_string:
        data["description"] = g.doc_string
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), DEFAULT_OPSET)
    if opset != DEFAULT_OPSET:
        data["opset"] = int(opset)
    data["inputs"] = input_specs
    if blocks:
        data["blocks"] = blocks
    data["layers"] = result.layers
    last = result.layers[-1]["id"] if result.layers else None
    if outputs != [{"name": last, "from": last}]:  # else the default: the last layer, named after it
        data["outputs"] = outputs
    weights: dict[str, np.ndarray] = {}
    for d in result.order:
        if d.block is not None:
            weights.update(ctx.blocks.instance_weights(d, main))
            continue
        for param, src in d.weights.items():
            array = main.const(src.value)
            if array is not None:
                weights[f"{d.id}.{param}"] = src.apply(array)
    from onnxbridge.spec.io import spec_from_dict

    try:
        spec = spec_from_dict(data, source="lifted spec")
    except SpecError as exc:
        raise LiftError(f"the lifted spec is not valid: {exc.message}",
                        hint="please report the model; this is a bug in lift") from None
    return spec, weights


def _graph_name(name: str) -> str:
    from onnxbridge.ir.naming import class_hint

    return class_hint(name, "network")


def _input_spec(vi: onnx.ValueInfoProto, name: str) -> dict[str, Any]:
    tt = vi.type.tensor_type if vi.type.HasField("tensor_type") else None
    if tt is None:
        raise LiftError(f"input {vi.name!r} is not a tensor", hint="a spec's inputs are tensors")
    dtype = DTYPE_NAMES.get(tt.elem_type)
    if dtype is None:
        raise LiftError(f"input {vi.name!r} has element type {onnx.TensorProto.DataType.Name(tt.elem_type)}, "
                        "which a spec cannot declare", hint="cast it to a float or int type in the model")
    if not tt.HasField("shape"):
        raise LiftError(f"input {vi.name!r} has no shape", hint="export the model with input shapes")
    shape: list[int | str] = []
    for axis, d in enumerate(tt.shape.dim):
        if d.HasField("dim_value") and d.dim_value > 0:
            shape.append(int(d.dim_value))
        elif d.dim_param:
            shape.append(identifier(d.dim_param, f"d{axis}"))
        else:
            shape.append("batch" if axis == 0 else f"{name}_d{axis}")
    return {"name": name, "shape": shape, "dtype": dtype}


def _check(spec: Spec) -> set[str]:
    """Top-level layer ids the planner rejects (a shape error inside or at the layer)."""
    from onnxbridge.spec.plan import plan_spec

    try:
        _, report = plan_spec(spec)
    except SpecError as exc:
        bad = set()
        for problem in exc.problems or [exc.message]:
            for layer in spec.layers:
                if f"layer {layer.id} " in problem or f"layer {layer.id}/" in problem:
                    bad.add(layer.id)
        return bad or {"?"}
    return {r.path.split("/")[0] for r in report.rows if r.status == "error"}


def _count(spec: Spec) -> dict[str, int]:
    out: dict[str, int] = {}
    for layer in spec.layers:
        out[layer.type] = out.get(layer.type, 0) + 1
    return out


def _sort_graph(model: onnx.ModelProto) -> None:
    """Put the main graph's nodes in dependency order; refuse cycles."""
    g = model.graph
    known = {i.name for i in g.input} | {i.name for i in g.initializer} | {""}
    from onnxbridge.ir.nodes import node_inputs

    producer = {o: i for i, n in enumerate(g.node) for o in n.output if o}
    state: dict[int, int] = {}
    order: list[int] = []
    for start in range(len(g.node)):
        if start in state:
            continue
        stack = [(start, iter(node_inputs(g.node[start])))]
        state[start] = 1
        while stack:
            i, it = stack[-1]
            for name in it:
                j = producer.get(name)
                if name in known or j is None:
                    continue
                if state.get(j) == 1:
                    raise LiftError(f"node {g.node[j].name or g.node[j].op_type!r} is part of a cycle",
                                    hint="the model is not valid ONNX; run 'onnxbridge check' on it")
                if j not in state:
                    state[j] = 1
                    stack.append((j, iter(node_inputs(g.node[j]))))
                    break
            else:
                stack.pop()
                state[i] = 2
                order.append(i)
    nodes = [copy.deepcopy(g.node[i]) for i in order]
    del g.node[:]
    g.node.extend(nodes)


__all__ = ["BLOCKS_DOMAIN", "LiftError", "Lifted", "lift_model"]
