"""Edits on spec data that the studio (and scripts) use: make a block from layers, put a block's layers back.

Both are pure functions from spec data (what the YAML holds) to new spec data; the input is never changed.
The network computes the same before and after. Weights move with the layers — a layer ``conv2`` put
into block instance ``features`` has its weights at ``features.conv2.weight`` afterwards — and
:func:`weight_moves` / :func:`move_weights` carry a weights file over.

Example::

    from onnxbridge.spec.edit import extract_block, inline_block

    data = yaml.safe_load(open("models/digits_cnn.yaml"))
    data = extract_block(data, ["conv2", "relu2", "pool"], "Features")   # blocks.Features + one instance
    data = inline_block(data, "features")                                # back to the layers
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from onnxbridge.errors import SpecError
from onnxbridge.spec.blocks import get_block
from onnxbridge.spec.io import spec_from_dict
from onnxbridge.spec.registry import get_layer

Ref = tuple[str, int]


def _parse(text: str) -> Ref:
    producer, _, index = text.partition(":")
    return producer, int(index) if index else 0


def _text(ref: Ref) -> str:
    return ref[0] if ref[1] == 0 else f"{ref[0]}:{ref[1]}"


def _refs(layer: dict[str, Any]) -> list[str] | None:
    value = layer.get("input", layer.get("inputs"))
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def _resolved(layers: list[dict[str, Any]], first_input: str | None) -> list[list[Ref]]:
    """Every layer's inputs, the sequential rule applied (no input: the previous layer, or the first input)."""
    out = []
    previous = (first_input, 0) if first_input is not None else None
    for layer in layers:
        refs = _refs(layer)
        if refs is None:
            out.append([previous] if previous is not None else [])
        else:
            out.append([_parse(r) for r in refs])
        previous = (layer["id"], 0)
    return out


def _write_inputs(layers: list[dict[str, Any]], wiring: list[list[Ref]], first_input: str | None,
                  keep: dict[str, Any] | None = None) -> None:
    """Set each layer's ``input`` to ``wiring``, omitted where the sequential rule gives the same."""
    previous = (first_input, 0) if first_input is not None else None
    for layer, refs in zip(layers, wiring):
        original = (keep or {}).get(layer["id"])
        layer.pop("inputs", None)
        layer.pop("input", None)
        if original is not None and [_parse(r) for r in ([original] if isinstance(original, str) else original)] == refs:
            layer["input"] = original  # untouched wiring stays as the user wrote it
        elif not (len(refs) == 1 and refs[0] == previous):
            layer["input"] = _text(refs[0]) if len(refs) == 1 else [_text(r) for r in refs]
        previous = (layer["id"], 0)
    _move_input_first(layers)


def _move_input_first(layers: list[dict[str, Any]]) -> None:
    for i, layer in enumerate(layers):
        if "input" in layer:
            ordered: dict[str, Any] = {k: layer[k] for k in ("id", "type", "input") if k in layer}
            ordered.update({k: v for k, v in layer.items() if k not in ordered})
            layers[i] = ordered


def _outputs(data: dict[str, Any]) -> list[dict[str, str]]:
    outs = data.get("outputs")
    if not outs:
        last = data["layers"][-1]["id"]
        return [{"name": last, "from": last}]
    return [o if isinstance(o, dict) else {"name": o.split(":")[0], "from": o} for o in outs]


def _input_names(data: dict[str, Any]) -> list[str]:
    return [i["name"] for i in data.get("inputs", [])]


def _unique(base: str, taken: set[str]) -> str:
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}_{n}", n + 1
    return candidate


def _check(data: dict[str, Any], what: str) -> None:
    spec_from_dict(data, source=what)  # raises SpecError with the field path


# --------------------------------------------------------------------------------------------------
# extract
# --------------------------------------------------------------------------------------------------
def extract_block(spec_dict: dict[str, Any], layer_ids: Iterable[str], name: str) -> dict[str, Any]:
    """Make the top-level layers ``layer_ids`` a block ``name``, used once in their place.

    The block's inputs are the tensors that cross into the selection, its outputs those that leave it
    (to other layers or to the graph outputs); the instance (id: the block name in lower case) is wired
    like the layers were. Raises :class:`SpecError` when the selection is empty, names unknown layers, or
    is not a closed sub-graph (a layer outside it is computed from it and feeds it again).
    """
    _check(spec_dict, "spec")
    data = copy.deepcopy(spec_dict)
    layers: list[dict[str, Any]] = data["layers"]
    ids = [layer["id"] for layer in layers]
    selected = list(dict.fromkeys(layer_ids))
    if not selected:
        raise SpecError("select at least one layer to make a block of")
    missing = [i for i in selected if i not in ids]
    if missing:
        raise SpecError(f"no top-level layer {missing[0]!r} to put into block {name!r}",
                        hint="select layers of the network itself (open a block to edit its own layers)")
    if not name.isidentifier():
        raise SpecError(f"block name {name!r} must be an identifier (it becomes a class name)")
    if name in data.get("blocks", {}) or get_layer(name) is not None or get_block(name) is not None:
        raise SpecError(f"{name!r} is already a layer type or block", hint="choose another block name")
    chosen = set(selected)
    inputs = _input_names(data)
    first = inputs[0] if inputs else None
    wiring = _resolved(layers, first)
    _require_convex(ids, wiring, chosen)

    inside = [i for i, lid in enumerate(ids) if lid in chosen]
    crossing: list[Ref] = []  # tensors from outside that the selection reads
    for i in inside:
        for ref in wiring[i]:
            if ref[0] not in chosen and ref not in crossing:
                crossing.append(ref)
    leaving: list[Ref] = []  # tensors of the selection read outside it
    for i, lid in enumerate(ids):
        if lid not in chosen:
            leaving += [r for r in wiring[i] if r[0] in chosen and r not in leaving]
    for o in _outputs(data):
        ref = _parse(o["from"])
        if ref[0] in chosen and ref not in leaving:
            leaving.append(ref)
    if not leaving:
        raise SpecError("nothing outside the selection uses it, so a block of it would compute nothing",
                        hint="include the layers that use its result, or delete the selection")

    taken_inside = set(chosen)
    block_inputs: list[str] = []
    for ref in crossing:
        base = "x" if len(crossing) == 1 else _text(ref).replace(":", "_")
        block_inputs.append(_unique(base, taken_inside | set(block_inputs)))
    rename_in = dict(zip(crossing, block_inputs))

    body = [copy.deepcopy(layers[i]) for i in inside]
    body_wiring = [[(rename_in[r], 0) if r in rename_in else r for r in wiring[i]] for i in inside]
    originals = {layers[i]["id"]: layers[i].get("input", layers[i].get("inputs")) for i in inside}
    _write_inputs(body, body_wiring, block_inputs[0] if block_inputs else None,
                  {k: v for k, v in originals.items() if v is not None and not _reads_outside(v, chosen)})
    block: dict[str, Any] = {"inputs": block_inputs, "layers": body}
    out_refs = [_text(r) for r in leaving]
    if out_refs != [body[-1]["id"]]:
        block["outputs"] = out_refs

    instance_id = _unique(name[0].lower() + name[1:] if name[0].isupper() else f"{name}_1",
                          (set(ids) - chosen) | set(inputs) | {o["name"] for o in _outputs(data)})
    instance_ref = {r: (instance_id, k) for k, r in enumerate(leaving)}
    instance: dict[str, Any] = {"id": instance_id, "type": name}
    devices = {layers[i].get("device") for i in inside}
    if len(devices) == 1 and None not in devices:
        instance["device"] = devices.pop()
        for layer in body:
            layer.pop("device", None)

    new_layers, new_wiring, keep = [], [], {}
    placed = False
    last_inside = inside[-1]
    for i, layer in enumerate(layers):
        if layer["id"] in chosen:
            if i == last_inside and not placed:
                new_layers.append(instance)
                new_wiring.append(list(crossing))
                placed = True
            continue
        new_layers.append(layer)
        new_wiring.append([instance_ref.get(r, r) for r in wiring[i]])
        if layer.get("input", layer.get("inputs")) is not None:
            keep[layer["id"]] = layer.get("input", layer.get("inputs"))
    order = _topological(new_layers, new_wiring)
    new_layers = [new_layers[k] for k in order]
    new_wiring = [new_wiring[k] for k in order]
    _write_inputs(new_layers, new_wiring, first, {k: v for k, v in keep.items() if not _reads_outside(v, chosen)})
    data["layers"] = new_layers
    _set_outputs(data, spec_dict, instance_ref)
    data.setdefault("blocks", {})[name] = block
    _check(data, "the spec with the new block")
    return data


def _set_outputs(data: dict[str, Any], original: dict[str, Any], moved: dict[Ref, Ref]) -> None:
    """Outputs pointing at moved tensors follow them; the outputs keep their names."""
    if original.get("outputs"):
        data["outputs"] = [_rewire_output(o, moved) for o in original["outputs"]]
        return
    wanted = [{"name": o["name"], "from": _text(moved.get(_parse(o["from"]), _parse(o["from"])))}
              for o in _outputs(original)]
    last = data["layers"][-1]["id"]
    if wanted == [{"name": last, "from": last}]:
        data.pop("outputs", None)
    else:
        data["outputs"] = wanted


def _reads_outside(value: Any, chosen: set[str]) -> bool:
    refs = [value] if isinstance(value, str) else list(value)
    return any(_parse(r)[0] in chosen for r in refs)


def _rewire_output(o: Any, moved: dict[Ref, Ref]) -> Any:
    if isinstance(o, dict):
        ref = _parse(o["from"])
        return {**o, "from": _text(moved.get(ref, ref))}
    ref = _parse(o)
    if ref in moved:
        return {"name": ref[0], "from": _text(moved[ref])}
    return o


def _require_convex(ids: list[str], wiring: list[list[Ref]], chosen: set[str]) -> None:
    users: dict[str, set[str]] = {i: set() for i in ids}
    for lid, refs in zip(ids, wiring):
        for producer, _ in refs:
            if producer in users:
                users[producer].add(lid)
    # what the selection feeds, outside it
    reached: set[str] = set()
    stack = [u for c in chosen for u in users[c] if u not in chosen]
    while stack:
        v = stack.pop()
        if v in reached:
            continue
        reached.add(v)
        stack.extend(users[v])
    back = sorted(v for v in reached if any(u in chosen for u in users[v]) and v not in chosen)
    if back or any(v in chosen for v in reached):
        culprit = back[0] if back else sorted(reached & chosen)[0]
        raise SpecError(f"the selection is not a closed sub-graph: layer {culprit!r} is computed from it and "
                        "feeds it again", hint=f"add {culprit!r} to the selection, or select fewer layers")


def _topological(layers: list[dict[str, Any]], wiring: list[list[Ref]]) -> list[int]:
    """Layer positions in dependency order, the list's own order kept where it allows."""
    index = {layer["id"]: k for k, layer in enumerate(layers)}
    done: set[int] = set()
    order: list[int] = []
    for start in range(len(layers)):
        stack = [(start, False)]
        while stack:
            k, expanded = stack.pop()
            if k in done:
                continue
            if expanded:
                done.add(k)
                order.append(k)
                continue
            stack.append((k, True))
            for producer, _ in reversed(wiring[k]):
                j = index.get(producer)
                if j is not None and j not in done:
                    stack.append((j, False))
    return order


# --------------------------------------------------------------------------------------------------
# inline
# --------------------------------------------------------------------------------------------------
def inline_block(spec_dict: dict[str, Any], layer_id: str) -> dict[str, Any]:
    """Replace the block instance ``layer_id`` by the block's layers (a built-in block's too).

    The layers keep their ids where those are free at the top level, else become ``<instance>_<id>``;
    ``$param`` values take the instance's arguments. The block definition stays (other instances may use it).
    """
    spec = spec_from_dict(spec_dict, source="spec")
    data = copy.deepcopy(spec_dict)
    layers: list[dict[str, Any]] = data["layers"]
    ids = [layer["id"] for layer in layers]
    if layer_id not in ids:
        raise SpecError(f"no top-level layer {layer_id!r}", hint="inline a block instance of the network itself")
    position = ids.index(layer_id)
    instance = layers[position]
    body = _block_body(spec, spec.layers[position])
    inputs = _input_names(data)
    first = inputs[0] if inputs else None
    wiring = _resolved(layers, first)
    actual = wiring[position]
    if len(actual) != len(body.inputs):
        raise SpecError(f"layer {layer_id!r} passes {len(actual)} input(s) to block {instance['type']!r}, "
                        f"which takes {len(body.inputs)}")
    formal = dict(zip(body.inputs, actual))
    taken = (set(ids) - {layer_id}) | set(inputs) | {o["name"] for o in _outputs(data)}
    new_ids: dict[str, str] = {}
    for layer in body.layers:
        new_ids[layer.id] = layer.id if layer.id not in taken else _unique(f"{layer_id}_{layer.id}", taken)
        taken.add(new_ids[layer.id])
    inner = [layer.model_dump(by_alias=True, exclude_none=True) for layer in body.layers]
    inner_wiring = []
    previous: Ref | None = actual[0] if actual else None
    for layer in inner:
        refs = _refs(layer)
        resolved = ([previous] if previous is not None else []) if refs is None else [_parse(r) for r in refs]
        mapped = []
        for producer, k in resolved:
            mapped.append(formal[producer] if producer in formal else (new_ids.get(producer, producer), k))
        inner_wiring.append(mapped)
        previous = (new_ids[layer["id"]], 0)
        layer["id"] = new_ids[layer["id"]]
        if instance.get("device") and "device" not in layer:
            layer["device"] = instance["device"]
    outs = body.outputs or [body.layers[-1].id]
    out_refs = []
    for text in outs:
        producer, k = _parse(text)
        out_refs.append(formal[producer] if producer in formal else (new_ids[producer], k))
    moved = {(layer_id, k): ref for k, ref in enumerate(out_refs)}

    keep = {layer["id"]: layer.get("input", layer.get("inputs")) for layer in layers
            if layer["id"] != layer_id and layer.get("input", layer.get("inputs")) is not None
            and not _reads_outside(layer.get("input", layer.get("inputs")), {layer_id})}
    new_layers = layers[:position] + inner + layers[position + 1:]
    new_wiring = [[moved.get(r, r) for r in w] for w in wiring[:position]] + inner_wiring + \
        [[moved.get(r, r) for r in w] for w in wiring[position + 1:]]
    _write_inputs(new_layers, new_wiring, first, keep)
    data["layers"] = new_layers
    _set_outputs(data, spec_dict, moved)
    _check(data, "the spec with the block inlined")
    return data


def _block_body(spec, layer):
    """The instance's block with its parameters filled in (a built-in block built for its input shapes)."""
    from onnxbridge.spec.plan import _Context, _substitute_block, plan_spec

    user = spec.blocks.get(layer.type)
    if user is not None:
        args = {**user.params, **layer.params}
        missing = [k for k, v in args.items() if v is None]
        if missing:
            raise SpecError(f"layer {layer.id!r}: missing required parameter {missing[0]!r} of block {layer.type}")
        return _substitute_block(_Context(spec), user, args, f"layer {layer.id}")  # the spec's size limits
    builtin = get_block(layer.type)
    if builtin is None:
        raise SpecError(f"layer {layer.id!r} is a {layer.type}, not a block instance",
                        hint="only block instances can be inlined")
    plan, report = plan_spec(spec)
    node = next(n for n in plan.nodes if n.id == layer.id)
    if node.in_infos is None or len(node.in_infos) != len(node.inputs):
        raise SpecError(f"layer {layer.id!r}: its input shapes are not known", hint="fix the shape errors first")
    return builtin.build(node.params, list(node.in_infos))


# --------------------------------------------------------------------------------------------------
# weights follow the layers
# --------------------------------------------------------------------------------------------------
def weight_moves(before: dict[str, Any], after: dict[str, Any]) -> dict[str, str]:
    """Weight-name prefixes an edit changed: ``{"conv2.": "features.conv2.", ...}``."""
    b_ids = {layer["id"]: layer for layer in before["layers"]}
    a_ids = {layer["id"]: layer for layer in after["layers"]}
    moves: dict[str, str] = {}
    blocks_after = after.get("blocks", {})
    for lid, layer in a_ids.items():
        if lid not in b_ids and layer["type"] in blocks_after:  # a new instance: its layers moved in
            for inner in blocks_after[layer["type"]]["layers"]:
                if inner["id"] in b_ids and inner["id"] not in a_ids:
                    moves[f"{inner['id']}."] = f"{lid}.{inner['id']}."
    for lid, layer in b_ids.items():
        if lid in a_ids:
            continue
        body = before.get("blocks", {}).get(layer["type"])
        inner_ids = [inner["id"] for inner in body["layers"]] if body else []
        if body is None and get_block(layer["type"]) is not None:
            inner_ids = [k for k in a_ids if k not in b_ids]
            for new in inner_ids:
                old = new[len(lid) + 1:] if new.startswith(f"{lid}_") else new
                moves[f"{lid}.{old}."] = f"{new}."
            continue
        for old in inner_ids:
            new = old if old in a_ids and old not in b_ids else f"{lid}_{old}"
            if new in a_ids:
                moves[f"{lid}.{old}."] = f"{new}."
    return moves


def move_weights(weights: Mapping[str, np.ndarray], moves: Mapping[str, str]) -> dict[str, np.ndarray]:
    """``weights`` with each name under a moved prefix renamed (longest prefix first)."""
    ordered = sorted(moves.items(), key=lambda kv: -len(kv[0]))
    out = {}
    for name, value in weights.items():
        for old, new in ordered:
            if name.startswith(old):
                name = new + name[len(old):]
                break
        out[name] = value
    return out
