"""Block functions (domain ``onnxbridge.blocks``) -> spec blocks, and calls to them -> block instances.

Each function body is lifted like the main graph, once per signature it is called with (the weight shapes
differ between instances: a ``BasicBlock`` with 16 and one with 32 channels share one function). Bodies
of one function (or of ``Name``, ``Name_2`` ...) that differ only in parameter values become one block
whose differing values are block parameters, so the instances read ``{type: BasicBlock, out_channels: 32}``.
Weights stay per instance: ``<instance id>.<layer id>.<param>``, as the lowering names them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx

from onnxbridge.ir.plan import FunctionKey, ModelPlan
from onnxbridge.ir.symbolic import Const, Placeholder
from onnxbridge.spec.blocks import get_block
from onnxbridge.spec.lift.assemble import assemble
from onnxbridge.spec.lift.draft import Draft, WeightSource
from onnxbridge.spec.lift.naming import Namer, identifier
from onnxbridge.spec.lift.scope import Scope, make_scope
from onnxbridge.spec.registry import get_layer


@dataclass(frozen=True)
class Formal:
    """A weight that comes from the instance's call: the function formal it is passed as."""

    name: str
    transform: Any = None


Source = Any  # Formal | np.ndarray (a value fixed inside the body)


@dataclass
class Body:
    """One function signature, lifted."""

    key: FunctionKey
    scope: Scope
    drafts: list[Draft]
    input_names: list[str] = field(default_factory=list)
    layers: list[dict[str, Any]] = field(default_factory=list)  # set when the body is assembled
    outputs: list[str] = field(default_factory=list)  # set when the body is assembled
    sources: dict[str, Source] = field(default_factory=dict)
    name: str = ""  # set when its family is named
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def nested(self) -> list[Draft]:
        """The drafts of this body that are block instances themselves."""
        return [d for d in self.drafts if d.block is not None]


@dataclass
class Instance:
    """What a block instance draft needs besides the generic draft fields."""

    key: FunctionKey
    actuals: dict[str, str]  # function formal -> the caller's value


class Blocks:
    """Collects block bodies while the graph is drafted, then names them and writes their definitions."""

    def __init__(self, plan: ModelPlan, draft_scope):
        self.plan = plan
        self._draft_scope = draft_scope
        self.bodies: dict[FunctionKey, Body] = {}
        self._functions = {(f.domain, f.name): f for f in plan.model.functions}

    def is_call(self, scope: Scope, node: onnx.NodeProto) -> bool:
        """Whether ``node`` calls a local function of the model."""
        return id(node) in scope.view.calls

    def instance(self, scope: Scope, node: onnx.NodeProto) -> Draft:
        """The draft of a block instance for the call ``node``; the function body is lifted the first time it
        is called."""
        key = scope.view.calls[id(node)]
        if key not in self.bodies:
            view = self.plan.functions[key]
            body_scope = make_scope(view)
            self.bodies[key] = Body(key, body_scope, [])  # registered first: a body never calls itself
            self.bodies[key].drafts = self._draft_scope(body_scope)
        fn = self._functions[(key.domain, key.name)]
        actuals = {f: scope.canon(a) for f, a in zip(fn.input, node.input) if a}
        view = self.plan.functions[key]
        outs = list(node.output)
        while outs and not outs[-1]:
            outs.pop()
        return Draft(key.name, {}, [actuals[f] for f in view.inputs if f in actuals], outs, [node],
                     block=Instance(key, actuals))

    # -- naming and definitions ----------------------------------------------------------------------
    def finish(self, taken_names: set[str]) -> dict[str, dict[str, Any]]:
        """Assemble every body (inner ones first), merge families, name the blocks; returns ``blocks:``."""
        definitions: dict[str, dict[str, Any]] = {}
        done: set[FunctionKey] = set()
        families: dict[str, list[FunctionKey]] = {}
        for key in self.bodies:
            families.setdefault(_family(key.name), []).append(key)
        pending = dict(families)
        while pending:
            progressed = False
            for family, keys in list(pending.items()):
                if any(d.block.key not in done for k in keys for d in self.bodies[k].nested):
                    continue
                for k in keys:
                    self._assemble(self.bodies[k])
                for group in _merge_groups([self.bodies[k] for k in keys]):
                    name = _block_name(family, taken_names | set(definitions))
                    definitions[name] = _definition(group, name)
                done.update(keys)
                del pending[family]
                progressed = True
            if not progressed:  # blocks calling each other in a circle: cannot happen in valid ONNX
                raise ValueError(f"block functions call each other in a cycle: {sorted(pending)}")
        return definitions

    def _assemble(self, body: Body) -> None:
        view = body.scope.view
        for d in body.nested:
            inner = self.bodies[d.block.key]
            d.type, d.params = inner.name, dict(inner.args)
        names = Namer()
        body.input_names = [names.name(identifier(f), "x") for f in view.inputs]
        inputs = dict(zip(view.inputs, body.input_names))
        namer = Namer(body.input_names)
        result = assemble(body.scope, body.drafts, inputs, namer)
        body.layers = result.layers
        body.outputs = [result.refs.get(body.scope.canon(o), o) for o in view.outputs]
        for d in result.order:
            if d.block is not None:
                inner = self.bodies[d.block.key]
                for k, src in inner.sources.items():
                    body.sources[f"{d.id}.{k}"] = _lift_source(body.scope, d.block.actuals, src)
            for param, ws in d.weights.items():
                body.sources[f"{d.id}.{param}"] = _own_source(body.scope, ws)

    def instance_weights(self, draft: Draft, scope: Scope) -> dict[str, np.ndarray]:
        """The weights of a top-level instance, keyed ``<instance id>.<layer id>.<param>``."""
        body = self.bodies[draft.block.key]
        out = {}
        for k, src in body.sources.items():
            resolved = _lift_source(scope, draft.block.actuals, src)
            if isinstance(resolved, np.ndarray):
                out[f"{draft.id}.{k}"] = resolved
        return out


def _own_source(scope: Scope, ws: WeightSource) -> Source:
    k = scope.view.known.get(scope.canon(ws.value))
    if isinstance(k, Placeholder):
        return Formal(k.formal, ws.transform)
    assert isinstance(k, Const)
    return ws.apply(k.array)


def _lift_source(caller: Scope, actuals: dict[str, str], src: Source) -> Source:
    """A body's weight source as seen from the scope that calls it."""
    if not isinstance(src, Formal):
        return src
    value = actuals.get(src.name)
    k = caller.view.known.get(caller.canon(value)) if value else None
    if isinstance(k, Placeholder):
        return Formal(k.formal, src.transform)
    if isinstance(k, Const) and value:
        return WeightSource(value, src.transform).apply(k.array)
    return src  # not passed: the weight is initialised


def _family(name: str) -> str:
    return re.sub(r"_\d+$", "", name)


def _block_name(family: str, taken: set[str]) -> str:
    base = identifier(family, "Block")
    if get_layer(base) is not None or get_block(base) is not None:
        base += "Lifted"  # a block of its own, not the built-in (or layer type) it may have come from
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}_{n}", n + 1
    return candidate


# --------------------------------------------------------------------------------------------------
# one block for bodies that differ only in parameter values
# --------------------------------------------------------------------------------------------------
def _merge_groups(bodies: list[Body]) -> list[list[Body]]:
    groups: list[list[Body]] = []
    for body in bodies:
        for group in groups:
            if _mergeable(group[0], body):
                group.append(body)
                break
        else:
            groups.append([body])
    return groups


def _scalar(v: Any) -> bool:
    return isinstance(v, (int, float, str, bool)) or (
        isinstance(v, list) and all(isinstance(x, (int, float, str, bool)) for x in v))


def _mergeable(a: Body, b: Body) -> bool:
    if a.input_names != b.input_names or a.outputs != b.outputs or len(a.layers) != len(b.layers):
        return False
    for la, lb in zip(a.layers, b.layers):
        if la.keys() != lb.keys():
            return False
        for k in la:
            if k in ("id", "type", "input") or not (_scalar(la[k]) and _scalar(lb[k])):
                if la[k] != lb[k]:
                    return False
    return True


def _definition(group: list[Body], name: str) -> dict[str, Any]:
    first = group[0]
    layers = [dict(layer) for layer in first.layers]
    positions: dict[tuple, list[tuple[int, str]]] = {}
    for i, layer in enumerate(first.layers):
        for k in layer:
            if k in ("id", "type", "input"):
                continue
            values = tuple(json.dumps(b.layers[i][k], sort_keys=True) for b in group)
            if len(set(values)) > 1:
                positions.setdefault(values, []).append((i, k))
    params: dict[str, None] = {}
    args: list[dict[str, Any]] = [{} for _ in group]
    key_uses: dict[str, int] = {}
    for places in positions.values():
        for _, k in places[:1]:
            key_uses[k] = key_uses.get(k, 0) + 1
    for values, places in positions.items():
        i, k = places[0]
        pname = k if key_uses[k] == 1 else f"{first.layers[i]['id']}_{k}"
        pname = identifier(pname)
        while pname in params:
            pname += "_"
        params[pname] = None
        for i2, k2 in places:
            layers[i2][k2] = f"${pname}"
        for m, value in enumerate(values):
            args[m][pname] = json.loads(value)
    for body, a in zip(group, args):
        body.name = name
        body.args = a
    view = first.scope.view
    definition: dict[str, Any] = {}
    if view.doc:
        definition["description"] = view.doc
    if params:
        definition["params"] = params
    definition["inputs"] = list(first.input_names)
    definition["layers"] = layers
    if first.outputs != [layers[-1]["id"]]:
        definition["outputs"] = list(first.outputs)
    return definition

