"""Per-layer summaries of specs and ONNX models: what each layer/node outputs and how many parameters it holds."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from onnxbridge.errors import OnnxBridgeError
from onnxbridge.spec.types import format_shape


@dataclass
class SummaryRow:
    """One layer (spec) or node (ONNX)."""

    name: str
    op: str
    shapes: list[list[int | str] | None]  # one per output; None when unknown
    params: int
    depth: int = 0
    status: str = "ok"
    error: str | None = None


@dataclass
class Summary:
    """A model's summary: rows, totals, inputs/outputs, and any shape errors (specs)."""

    name: str
    kind: str  # "spec" or "onnx"
    rows: list[SummaryRow] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    total_params: int = 0
    errors: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON data: totals, inputs, outputs, notes and one row per layer or node."""
        return {"name": self.name, "kind": self.kind, "total_params": self.total_params, "inputs": self.inputs,
                "outputs": self.outputs, "errors": self.errors, **self.notes,
                "rows": [{"name": r.name, "op": r.op, "shapes": r.shapes, "params": r.params, "depth": r.depth,
                          "status": r.status, "error": r.error} for r in self.rows]}


def summarize(source: str | os.PathLike | onnx.ModelProto) -> Summary:
    """Summarise a spec file or an ONNX model (file or ``ModelProto``)."""
    if isinstance(source, onnx.ModelProto):
        return summarize_onnx(source)
    path = Path(source)
    if path.suffix.lower() in (".yaml", ".yml", ".json"):
        return summarize_spec(path)
    if path.suffix.lower() == ".onnx":
        from onnxbridge.ir import load_model

        return summarize_onnx(load_model(path), name=path.stem)
    if not path.exists():
        raise OnnxBridgeError(f"{path}: no such file", hint="check the path")
    raise OnnxBridgeError(f"{path}: cannot summarise a {path.suffix or 'extensionless'} file",
                          hint="give a spec (.yaml/.json) or an ONNX model (.onnx)")


def summarize_spec(spec: Any) -> Summary:
    """Per-layer output shapes and parameters of a spec (blocks expanded, indented by depth)."""
    from onnxbridge.spec import infer_shapes

    report = infer_shapes(spec)
    s = Summary(report.name, "spec", total_params=report.total_params, errors=list(report.errors))
    s.inputs = {k: f"{format_shape(v.shape)} {v.dtype}" for k, v in report.inputs.items()}
    s.outputs = {k: (f"{format_shape(v.shape)} {v.dtype}" if v else "not inferred") for k, v in report.outputs.items()}
    for r in report.rows:
        shapes: list[list[int | str] | None] = [list(o.shape) for o in r.outputs] if r.outputs else []
        s.rows.append(SummaryRow(r.id, r.type, shapes, r.params, r.depth, r.status, r.error))
    return s


def summarize_onnx(model: onnx.ModelProto, name: str | None = None) -> Summary:
    """Per-node output shapes (from ONNX shape inference) and the initializer elements each node reads."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception:  # noqa: BLE001 - a summary should still show what it can
        inferred = model
    graph = inferred.graph
    values = [*graph.input, *graph.value_info, *graph.output]
    shapes = {vi.name: _vi_shape(vi) for vi in values}
    described = {vi.name: _describe(vi) for vi in values}
    sizes = {i.name: int(np.prod(i.dims)) for i in graph.initializer}
    inits = set(sizes)
    counted: set[str] = set()
    s = Summary(name or graph.name or "model", "onnx")
    s.inputs = {i.name: described.get(i.name, "?") for i in graph.input if i.name not in inits}
    s.outputs = {o.name: described.get(o.name, "?") for o in graph.output}
    for node in graph.node:
        params = 0
        for i in node.input:
            if i in sizes and i not in counted:
                params += sizes[i]
                counted.add(i)
        op = node.op_type if node.domain in ("", "ai.onnx") else f"{node.op_type} ({node.domain})"
        s.rows.append(SummaryRow(node.name or "<unnamed>", op, [shapes.get(o) for o in node.output], params))
    s.total_params = sum(sizes.values())
    s.notes = {"opset": {o.domain or "ai.onnx": o.version for o in model.opset_import},
               "nodes": len(graph.node), "functions": [f.name for f in model.functions],
               "producer": f"{model.producer_name} {model.producer_version}".strip()}
    return s


def _vi_shape(vi: onnx.ValueInfoProto) -> list[int | str] | None:
    t = vi.type.tensor_type
    if not t.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in t.shape.dim]


def _describe(vi: onnx.ValueInfoProto) -> str:
    shape = _vi_shape(vi)
    elem = vi.type.tensor_type.elem_type
    dtype = onnx.helper.tensor_dtype_to_np_dtype(elem).name if elem else ""
    return f"{format_shape(tuple(shape)) if shape is not None else '?'} {dtype}".strip()
