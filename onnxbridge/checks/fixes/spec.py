"""Spec fixes: edits of the spec document, made only where the right edit is unambiguous."""

from __future__ import annotations

import copy
from typing import Any

from onnxbridge.checks.fixes import FixRefused, fix_pass
from onnxbridge.checks.rules._util import listing, unique_name


@fix_pass("insert-flatten", order=300, scope="spec")
def insert_flatten(data: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Insert a Flatten before each top-level Linear that receives a tensor with spatial dims."""
    from onnxbridge.checks.spec import analyse

    ctx = analyse(data)
    targets = [p.path for p in ctx.layer_problems if p.code == "OB501" and p.top_level
               and p.in_ranks and p.in_ranks[0] > 3]
    if not targets:
        raise FixRefused("no top-level Linear layer receives a tensor with spatial dims")
    out = copy.deepcopy(data)
    layers = out["layers"]
    taken = {layer["id"] for layer in layers} | {i["name"] for i in out.get("inputs", [])}
    for layer_id in targets:
        index = next(i for i, layer in enumerate(layers) if layer["id"] == layer_id)
        layer = layers[index]
        new_id = unique_name(f"{layer_id}_flatten", taken)
        flatten: dict[str, Any] = {"id": new_id, "type": "Flatten"}
        for key in ("input", "inputs"):
            if key in layer:  # the Flatten takes over the Linear's explicit input
                flatten["input"] = layer.pop(key)
        if "input" in flatten:
            layer["input"] = new_id
        layers.insert(index, flatten)
    return out, f"inserted a Flatten before {listing(targets)}"


@fix_pass("remove-unused-layers", order=310, scope="spec")
def remove_unused_layers(data: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Delete top-level layers whose output nothing reads."""
    from onnxbridge.checks.analysis import unused_layers
    from onnxbridge.checks.spec import analyse

    unused = set(unused_layers(analyse(data)))
    if not unused:
        raise FixRefused("every layer is used")
    out = copy.deepcopy(data)
    out["layers"] = [layer for layer in out["layers"] if layer["id"] not in unused]
    return out, f"removed unused layer(s) {listing(sorted(unused))}"
