"""Drafts -> spec layers: order, ids, wiring (``input`` only where the sequential rule would not give it)."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

from onnxbridge.spec.lift.draft import Draft
from onnxbridge.spec.lift.naming import Namer, hint_for
from onnxbridge.spec.lift.scope import Scope


class UnwiredValue(Exception):
    """A layer reads a value nothing produces (a broken graph)."""

    def __init__(self, value: str):
        super().__init__(value)
        self.value = value


@dataclass
class Assembled:
    """Layers as spec data, and where each ONNX value ended up (a layer ref or an input name)."""

    layers: list[dict[str, Any]]
    refs: dict[str, str]
    order: list[Draft] = field(default_factory=list)


def order_drafts(scope: Scope, drafts: list[Draft]) -> list[Draft]:
    """Drafts in dependency order, keeping the graph's own order where it allows."""
    producer: dict[str, int] = {}
    for i, d in enumerate(drafts):
        for o in d.outputs:
            producer[o] = i
    deps: list[set[int]] = []
    for i, d in enumerate(drafts):
        deps.append({producer[v] for v in d.inputs if v in producer} - {i})
    users: dict[int, list[int]] = {}
    for i, ds in enumerate(deps):
        for j in ds:
            users.setdefault(j, []).append(i)

    def key(i: int) -> tuple[int, int]:
        d = drafts[i]
        return (min((scope.position(n) for n in d.nodes), default=-1), i)

    waiting = [len(ds) for ds in deps]
    ready = [key(i) for i, w in enumerate(waiting) if w == 0]
    heapq.heapify(ready)
    out: list[Draft] = []
    while ready:
        _, i = heapq.heappop(ready)
        out.append(drafts[i])
        for u in users.get(i, []):
            waiting[u] -= 1
            if waiting[u] == 0:
                heapq.heappush(ready, key(u))
    if len(out) != len(drafts):  # a cycle: keep the rest in graph order (the plan reports it)
        seen = {id(d) for d in out}
        out += [d for d in drafts if id(d) not in seen]
    return out


def assemble(scope: Scope, drafts: list[Draft], inputs: dict[str, str], namer: Namer,
             output_names: dict[str, str] | None = None) -> Assembled:
    """Spec layers for ``drafts``; ``inputs`` maps the scope's input values to their spec names.

    ``output_names`` maps graph output values to their names: a layer whose name would be the name of
    the output it produces keeps it.
    """
    ordered = order_drafts(scope, drafts)
    hints = [d.hint or hint_for(d.nodes) or d.type.lower() for d in ordered]
    namer.learn_prefix(hints)
    claims = output_names or {}
    for d, hint in zip(ordered, hints):
        own = claims.get(d.outputs[0]) if d.outputs else None
        if own is not None and own in {claims.get(o) for o in d.outputs[1:]}:
            own = None
        d.id = namer.name(hint, fallback=d.type.lower(), allowed=own)
        if own is not None and d.id == own:
            claims = {k: v for k, v in claims.items() if v != own}
    refs: dict[str, str] = {scope.canon(v): name for v, name in inputs.items()}
    for d in ordered:
        for k, o in enumerate(d.outputs):
            refs.setdefault(o, d.id if k == 0 else f"{d.id}:{k}")
    first_input = next(iter(inputs.values()), None)
    layers: list[dict[str, Any]] = []
    previous: str | None = first_input
    for d in ordered:
        wired = []
        for v in d.inputs:
            if v not in refs:
                raise UnwiredValue(v)
            wired.append(refs[v])
        layer: dict[str, Any] = {"id": d.id, "type": d.type}
        if len(wired) != 1:
            layer["input"] = wired  # several, or none (a layer that only reads constants)
        elif wired[0] != previous:
            layer["input"] = wired[0]
        layer.update(d.params)
        layers.append(layer)
        previous = d.id
    return Assembled(layers, refs, ordered)
