"""``diff``: what changed between two ONNX models, structurally and numerically.

Structure: opsets, graph inputs/outputs (names, types, shapes), op counts, nodes added/removed/changed
(matched by name), initializers added/removed/changed (dtype, shape, values). Numbers: both models run
in onnxruntime on the same random inputs (made from the first model), compared output by output.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from onnxbridge.testing import DEFAULT_ATOL, DEFAULT_RTOL


@dataclass
class ModelDiff:
    """The differences between model ``a`` and model ``b`` (empty lists mean "the same")."""

    a: str
    b: str
    opsets: list[dict[str, Any]] = field(default_factory=list)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    op_counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # only ops whose count changed
    nodes_added: list[str] = field(default_factory=list)
    nodes_removed: list[str] = field(default_factory=list)
    nodes_changed: list[dict[str, Any]] = field(default_factory=list)
    initializers: list[dict[str, Any]] = field(default_factory=list)
    node_count: tuple[int, int] = (0, 0)
    parity: Any = None  # ParityReport when both ran
    parity_note: str = ""

    @property
    def structurally_equal(self) -> bool:
        """Whether the two models have the same opsets, inputs, outputs, nodes and initializers."""
        return not (self.opsets or self.inputs or self.outputs or self.op_counts or self.nodes_added
                    or self.nodes_removed or self.nodes_changed or self.initializers)

    @property
    def numerically_equal(self) -> bool | None:
        """True/False when the outputs were compared, None when they could not be."""
        return None if self.parity is None else bool(self.parity.ok)

    def to_dict(self) -> dict[str, Any]:
        """The difference as JSON data (schema ``onnxbridge.diff/1``)."""
        return {
            "schema": "onnxbridge.diff/1", "a": self.a, "b": self.b,
            "structurally_equal": self.structurally_equal, "numerically_equal": self.numerically_equal,
            "node_count": list(self.node_count), "opsets": self.opsets, "inputs": self.inputs,
            "outputs": self.outputs,
            "op_counts": {op: {"a": a, "b": b} for op, (a, b) in self.op_counts.items()},
            "nodes_added": self.nodes_added, "nodes_removed": self.nodes_removed,
            "nodes_changed": self.nodes_changed, "initializers": self.initializers,
            "parity": None if self.parity is None else self.parity.to_dict(), "parity_note": self.parity_note,
        }


def _load(x: onnx.ModelProto | str | os.PathLike) -> tuple[onnx.ModelProto, str]:
    if isinstance(x, onnx.ModelProto):
        return x, x.graph.name or "<model>"
    from onnxbridge.checks.engine import load_onnx_for_check

    return load_onnx_for_check(x)[0], str(x)


def diff(a: onnx.ModelProto | str | os.PathLike, b: onnx.ModelProto | str | os.PathLike, *, seed: int = 0,
         numeric: bool = True, atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL) -> ModelDiff:
    """Compare two ONNX models (objects or paths) structurally and, unless ``numeric=False``, numerically.

    Example::

        d = onnxbridge.diff("model.onnx", "model.fixed.onnx")
        print(d.op_counts, d.parity.summary())
    """
    ma, name_a = _load(a)
    mb, name_b = _load(b)
    out = ModelDiff(name_a, name_b, node_count=(len(ma.graph.node), len(mb.graph.node)))
    out.opsets = _opsets(ma, mb)
    out.inputs = _value_infos(_real_inputs(ma), _real_inputs(mb))
    out.outputs = _value_infos(list(ma.graph.output), list(mb.graph.output))
    ca, cb = Counter(_op(n) for n in ma.graph.node), Counter(_op(n) for n in mb.graph.node)
    out.op_counts = {op: (ca[op], cb[op]) for op in sorted(set(ca) | set(cb)) if ca[op] != cb[op]}
    _nodes(ma, mb, out)
    out.initializers = _initializers(ma, mb)
    if numeric:
        from onnxbridge.checks.verify import compare_models

        out.parity, out.parity_note = compare_models(ma, mb, seed=seed, atol=atol, rtol=rtol)
        if out.parity is None:
            out.parity_note = out.parity_note.replace("the original model", "model A").replace(
                "the repaired model", "model B")
    return out


def _op(node: onnx.NodeProto) -> str:
    return node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}::{node.op_type}"


def _real_inputs(m: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    inits = {t.name for t in m.graph.initializer}
    return [i for i in m.graph.input if i.name not in inits]


def _opsets(ma: onnx.ModelProto, mb: onnx.ModelProto) -> list[dict[str, Any]]:
    oa = {o.domain or "ai.onnx": o.version for o in ma.opset_import}
    ob = {o.domain or "ai.onnx": o.version for o in mb.opset_import}
    return [{"domain": d, "a": oa.get(d), "b": ob.get(d)} for d in sorted(set(oa) | set(ob)) if oa.get(d) != ob.get(d)]


def _type_text(vi: onnx.ValueInfoProto) -> str:
    tt = vi.type.tensor_type
    dtype = onnx.TensorProto.DataType.Name(tt.elem_type).lower() if tt.elem_type else "?"
    if not tt.HasField("shape"):
        return f"{dtype}[?]"
    dims = [str(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?") for d in tt.shape.dim]
    return f"{dtype}[{', '.join(dims)}]"


def _value_infos(a: list[onnx.ValueInfoProto], b: list[onnx.ValueInfoProto]) -> list[dict[str, Any]]:
    ta, tb = {v.name: _type_text(v) for v in a}, {v.name: _type_text(v) for v in b}
    changes = []
    for name in list(ta) + [n for n in tb if n not in ta]:
        if ta.get(name) != tb.get(name):
            changes.append({"name": name, "a": ta.get(name), "b": tb.get(name)})
    return changes


def _signature(node: onnx.NodeProto) -> tuple:
    attrs = tuple(sorted((a.name, a.SerializeToString()) for a in node.attribute))
    return (_op(node), tuple(node.input), tuple(node.output), attrs)


def _nodes(ma: onnx.ModelProto, mb: onnx.ModelProto, out: ModelDiff) -> None:
    def keyed(m: onnx.ModelProto) -> dict[str, onnx.NodeProto]:
        # unnamed nodes are keyed by what they compute, so an unchanged unnamed node matches itself
        return {n.name or f"<{_op(n)} -> {', '.join(n.output)}>": n for n in m.graph.node}

    na, nb = keyed(ma), keyed(mb)
    out.nodes_removed = [k for k in na if k not in nb]
    out.nodes_added = [k for k in nb if k not in na]
    for k in na:
        if k in nb and _signature(na[k]) != _signature(nb[k]):
            x, y = na[k], nb[k]
            what = []
            if _op(x) != _op(y):
                what.append(f"op {_op(x)} -> {_op(y)}")
            if list(x.input) != list(y.input):
                what.append(f"inputs {list(x.input)} -> {list(y.input)}")
            if list(x.output) != list(y.output):
                what.append(f"outputs {list(x.output)} -> {list(y.output)}")
            if _signature(x)[3] != _signature(y)[3]:
                what.append("attributes")
            out.nodes_changed.append({"node": k, "changes": what})


def _initializers(ma: onnx.ModelProto, mb: onnx.ModelProto) -> list[dict[str, Any]]:
    ia = {t.name: t for t in ma.graph.initializer}
    ib = {t.name: t for t in mb.graph.initializer}
    changes: list[dict[str, Any]] = []
    for name in sorted(set(ia) | set(ib)):
        x, y = ia.get(name), ib.get(name)
        if x is None or y is None:
            t = x if x is not None else y
            assert t is not None  # the name comes from one of the two models
            changes.append({"name": name, "change": "removed" if y is None else "added",
                            "dtype": onnx.TensorProto.DataType.Name(t.data_type).lower(), "shape": list(t.dims)})
            continue
        if x.data_type != y.data_type or list(x.dims) != list(y.dims):
            changes.append({"name": name, "change": "type/shape",
                            "a": f"{onnx.TensorProto.DataType.Name(x.data_type).lower()}{list(x.dims)}",
                            "b": f"{onnx.TensorProto.DataType.Name(y.data_type).lower()}{list(y.dims)}"})
            continue
        if x.SerializeToString() == y.SerializeToString():
            continue
        va, vb = numpy_helper.to_array(x), numpy_helper.to_array(y)
        if va.dtype.kind in "fc":
            delta = float(np.max(np.abs(va.astype(np.float64) - vb.astype(np.float64)))) if va.size else 0.0
        else:
            delta = float(np.count_nonzero(va != vb))
        if delta:
            changes.append({"name": name, "change": "values",
                            "max_abs_diff" if va.dtype.kind in "fc" else "elements_changed": delta})
    return changes


def format_diff(d: ModelDiff, *, limit: int = 20) -> str:
    """The diff as plain text (what ``onnxbridge diff`` prints)."""
    lines = [f"A: {d.a}", f"B: {d.b}", f"nodes: {d.node_count[0]} -> {d.node_count[1]}"]
    if d.structurally_equal:
        lines.append("structure: identical")
    for o in d.opsets:
        lines.append(f"opset {o['domain']}: {o['a']} -> {o['b']}")
    for kind, items in (("input", d.inputs), ("output", d.outputs)):
        for c in items:
            lines.append(f"{kind} {c['name']}: {c['a'] or '(absent)'} -> {c['b'] or '(absent)'}")
    for op, (a, b) in d.op_counts.items():
        lines.append(f"op {op}: {a} -> {b}")
    for title, names in (("removed nodes", d.nodes_removed), ("added nodes", d.nodes_added)):
        if names:
            more = f" ... ({len(names)} in all)" if len(names) > limit else ""
            lines.append(f"{title}: {', '.join(names[:limit])}{more}")
    for c in d.nodes_changed[:limit]:
        lines.append(f"changed node {c['node']}: {'; '.join(c['changes'])}")
    for c in d.initializers[:limit]:
        if c["change"] in ("added", "removed"):
            detail = f"{c['dtype']}{c['shape']}"
        elif c["change"] == "type/shape":
            detail = f"{c['a']} -> {c['b']}"
        elif "max_abs_diff" in c:
            detail = f"max abs difference {c['max_abs_diff']:.3g}"
        else:
            detail = f"{c['elements_changed']:.0f} element(s) differ"
        lines.append(f"initializer {c['name']}: {c['change']} ({detail})")
    if len(d.initializers) > limit:
        lines.append(f"... {len(d.initializers) - limit} more initializer change(s)")
    if d.parity is not None:
        lines.append("outputs (same random inputs, onnxruntime):")
        for o in d.parity.outputs:
            state = "same" if o.ok else "DIFFERENT"
            lines.append(f"  {o.name}: {state} (max abs {o.max_abs:.3g}, max rel {o.max_rel:.3g})"
                         + (f" {o.note}" if o.note else ""))
        lines.append(d.parity.summary())
    elif d.parity_note:
        lines.append(f"outputs: {d.parity_note}")
    return "\n".join(lines)
