"""Which ops a model uses that its opset does not have.

onnxruntime rejects such an op in the main graph, but crashes (a segmentation fault, not an exception)
on one inside a local function, so every session is created only after :func:`missing_ops` is empty.

Example::

    for where, op, opset, since in missing_ops(model):
        print(f"{where} uses {op}, which opset {opset} does not have (it exists from opset {since})")
"""

from __future__ import annotations

import functools

import onnx

STANDARD_DOMAINS = ("", "ai.onnx")


def missing_ops(model: onnx.ModelProto) -> list[tuple[str, str, int, int]]:
    """(where, op, opset, first opset that has it) for each standard op its graph or function lacks.

    ``where`` is ``node NAME`` for the main graph and ``function NAME (called by ...)`` for local
    functions, which use their own opset imports when they have them. One entry per op and place.
    """
    model_opset = _standard_version(model.opset_import)
    callers: dict[str, list[str]] = {}
    for node in model.graph.node:
        callers.setdefault(node.op_type, []).append(node.name or node.op_type)
    found: dict[tuple[str, str], tuple[str, str, int, int]] = {}
    scopes = [(f"node {n.name or n.op_type}", model_opset, [n]) for n in model.graph.node]
    for fn in model.functions:
        used_by = ", ".join(callers.get(fn.name, [])[:3]) or "no node"
        scopes.append((f"function {fn.name} (called by {used_by})",
                       _standard_version(fn.opset_import) or model_opset, list(fn.node)))
    for where, opset, nodes in scopes:
        if opset is None:
            continue
        for node in nodes:
            if node.domain not in STANDARD_DOMAINS or (where, node.op_type) in found:
                continue
            try:
                onnx.defs.get_schema(node.op_type, max_inclusive_version=opset, domain="")
            except onnx.defs.SchemaError:
                found[(where, node.op_type)] = (where, node.op_type, opset, first_version(node.op_type))
    return list(found.values())


def _standard_version(imports) -> int | None:
    return next((o.version for o in imports if o.domain in STANDARD_DOMAINS), None)


@functools.cache
def first_version(op_type: str) -> int:
    """The first opset with ``op_type`` (0 when ONNX has no such op)."""
    versions = [s.since_version for s in onnx.defs.get_all_schemas_with_history()
                if s.name == op_type and s.domain in STANDARD_DOMAINS]
    return min(versions, default=0)
