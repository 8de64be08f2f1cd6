"""A model this project built carries its spec (metadata ``onnxbridge.spec``): when the graph is still
exactly what that spec lowers to, lifting gives the spec back as written, with the model's weights."""

from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import numpy_helper

from onnxbridge.spec.schema import Spec

SPEC_PROP = "onnxbridge.spec"
SEED_PROP = "onnxbridge.seed"


def embedded_spec(model: onnx.ModelProto) -> tuple[Spec, list[str]] | None:
    """The spec the model was built from, holding the model's weights; None unless the graph is unchanged."""
    props = {p.key: p.value for p in model.metadata_props}
    if SPEC_PROP not in props:
        return None
    from onnxbridge.spec.io import spec_from_dict
    from onnxbridge.spec.pipeline import build_with_report

    try:
        data = json.loads(props[SPEC_PROP])
        data.pop("weights", None)
        spec = spec_from_dict(data)
        seed = int(props.get(SEED_PROP, "0"))
        opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
        built = build_with_report(spec, seed=seed, opset=opset)
    except Exception:  # noqa: BLE001 - metadata that no longer builds: lift the graph itself
        return None
    weight_names = {n for n, _ in built.weights.initialised}
    if not _same_structure(model, built.model, weight_names):
        return None
    spec._weights = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer if i.name in weight_names}
    return spec, ["the model carries the spec it was built from; it comes back unchanged, with the model's weights"]


def _same_structure(model: onnx.ModelProto, rebuilt: onnx.ModelProto, weights: set[str]) -> bool:
    g, r = model.graph, rebuilt.graph
    if [_bytes(n) for n in g.node] != [_bytes(n) for n in r.node]:
        return False
    if sorted(_bytes(f) for f in model.functions) != sorted(_bytes(f) for f in rebuilt.functions):
        return False
    if [_bytes(v) for v in g.input] != [_bytes(v) for v in r.input]:
        return False
    if [_bytes(v) for v in g.output] != [_bytes(v) for v in r.output]:
        return False
    mine = {i.name: i for i in g.initializer}
    theirs = {i.name: i for i in r.initializer}
    if mine.keys() != theirs.keys():
        return False
    for name, t in theirs.items():
        m = mine[name]
        if m.data_type != t.data_type or list(m.dims) != list(t.dims):
            return False
        if name not in weights and not np.array_equal(numpy_helper.to_array(m), numpy_helper.to_array(t)):
            return False  # a constant (a shape, a scale) changed: the spec no longer describes the graph
    return True


def _bytes(message) -> bytes:
    return message.SerializeToString(deterministic=True)
