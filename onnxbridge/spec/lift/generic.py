"""Any node as an ``Op`` layer: the fallback that makes every ONNX model liftable."""

from __future__ import annotations

import re

import numpy as np
import onnx
from onnx import AttributeProto, defs

from onnxbridge.ir.symbolic import Const, Placeholder
from onnxbridge.spec.layers.generic import OpConstant, encode_attribute, encode_constant
from onnxbridge.spec.lift.draft import Draft, WeightSource
from onnxbridge.spec.lift.scope import Scope
from onnxbridge.spec.types import dtype_name

#: constants up to this many elements stay readable in the spec; larger ones become weights
INLINE_INTS = 64
INLINE_FLOATS = 16


def op_draft(scope: Scope, node: onnx.NodeProto) -> Draft:
    """``node`` as an ``Op`` layer: dynamic inputs wired, constants inline or as weights, attributes kept."""
    inputs: list[str] = []
    constants: dict[str, OpConstant] = {}
    sources: dict[str, WeightSource] = {}
    names_taken: dict[str, str] = {}  # value -> constant name (a value read twice is one constant)
    formal = _formal_names(node, scope.view.opsets.get(node.domain or "", scope.opset))

    def operand(value: str, slot_name: str) -> int | str:
        if scope.is_weight(value):
            if value not in names_taken:
                name = _unique(slot_name, constants)
                names_taken[value] = name
                constants[name], source = _constant(scope, value)
                if source is not None:
                    sources[name] = source
            return names_taken[value]
        if value not in inputs:
            inputs.append(value)
        return inputs.index(value)

    operands: list[int | str | None] = []
    for k, raw in enumerate(node.input):
        operands.append(operand(scope.canon(raw), formal(k)) if raw else None)
    captures = {}
    for outer in _free_names(node):
        captures[outer] = operand(scope.canon(outer), _ident(outer) or "captured")
    params: dict = {"op_type": node.op_type}
    if node.domain not in ("", "ai.onnx"):
        params["domain"] = node.domain
        params["opset"] = int(scope.view.opsets.get(node.domain, 1))
    attributes = {a.name: encode_attribute(a) for a in node.attribute}
    if attributes:
        params["attributes"] = attributes
    if operands != list(range(len(inputs))):
        params["operands"] = operands
    if constants:
        params["constants"] = {k: v.model_dump(exclude_none=True) for k, v in constants.items()}
    outs = list(node.output)
    while outs and not outs[-1]:
        outs.pop()
    slots = [i for i, o in enumerate(outs) if o]
    if len(slots) != 1:
        params["outputs"] = len(slots)
    if slots != list(range(len(slots))):
        params["output_slots"] = slots
    if captures:
        params["captures"] = captures
    shapes, dtypes = [], []
    for o in outs:
        if not o:
            continue
        t = scope.type(o)
        shapes.append(None if t.shape is None else [d if d is not None else f"d{i}" for i, d in enumerate(t.shape)])
        dtypes.append(dtype_name(t.elem) if t.elem else None)
    if any(s is not None for s in shapes):
        params["output_shapes"] = shapes
    if any(d is not None for d in dtypes):
        params["output_dtypes"] = dtypes
    return Draft("Op", params, inputs, [o for o in outs if o], [node], sources, natural=False)


def constant_draft(scope: Scope, value: str) -> Draft:
    """A layer that produces the constant ``value`` (a graph output that is a constant)."""
    constant, source = _constant(scope, value)
    params = {"op_type": "Identity", "operands": ["value"], "constants": {"value": constant.model_dump(exclude_none=True)}}
    return Draft("Op", params, [], [value], [], {"value": source} if source else {}, natural=False)


def _constant(scope: Scope, value: str) -> tuple[OpConstant, WeightSource | None]:
    k = scope.view.known.get(scope.canon(value))
    if isinstance(k, Placeholder):
        return OpConstant(dtype=dtype_name(k.type.elem or 1), shape=list(k.type.static_shape or ())), \
            WeightSource(scope.canon(value))
    assert isinstance(k, Const) or scope.const(value) is not None
    array = np.asarray(scope.const(value))
    tensor = onnx.numpy_helper.from_array(array)
    small = array.size <= (INLINE_FLOATS if array.dtype.kind in "fc" else INLINE_INTS)
    constant = encode_constant(tensor, inline=small)
    return constant, (WeightSource(scope.canon(value)) if constant.is_weight else None)


def _formal_names(node: onnx.NodeProto, version: int):
    try:
        schema = defs.get_schema(node.op_type, int(version), node.domain or "")
        formals = [f.name for f in schema.inputs]
        variadic = bool(schema.inputs) and schema.inputs[-1].option == defs.OpSchema.FormalParameterOption.Variadic
    except Exception:  # noqa: BLE001 - custom operators have no schema
        formals, variadic = [], False

    def name(k: int) -> str:
        if k < len(formals) and not (variadic and k >= len(formals) - 1):
            return _ident(formals[k]) or f"c{k}"
        if variadic and formals:
            return f"{_ident(formals[-1]) or 'c'}_{k - len(formals) + 1}"
        return f"c{k}"

    return name


def _unique(name: str, taken: dict) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    return candidate


def _ident(text: str) -> str:
    out = re.sub(r"\W+", "_", text).strip("_")
    if out and out[0].isdigit():
        out = "v" + out
    return out


def _free_names(node: onnx.NodeProto) -> list[str]:
    """The outer values a node's subgraph attributes read by name, in order."""
    out: list[str] = []
    for a in node.attribute:
        graphs = [a.g] if a.type == AttributeProto.GRAPH else list(a.graphs) if a.type == AttributeProto.GRAPHS else []
        for g in graphs:
            for name in _outer_refs(g):
                if name not in out:
                    out.append(name)
    return out


def _outer_refs(graph: onnx.GraphProto) -> list[str]:
    defined = {i.name for i in graph.input} | {i.name for i in graph.initializer}
    out: list[str] = []
    for node in graph.node:
        for name in list(node.input) + _free_names(node):
            if name and name not in defined and name not in out:
                out.append(name)
        defined.update(o for o in node.output if o)
    for o in graph.output:
        if o.name not in defined and o.name not in out:
            out.append(o.name)
    return out
