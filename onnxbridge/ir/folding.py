"""Folding: what a node's outputs are when that is known at conversion time.

Constants fold through the ONNX reference evaluator; shape arithmetic (``Shape``, ``Gather``, ``Concat``,
``Slice``, ``Reshape``, integer math ...) folds symbolically into :class:`SymShape` values, so a
``Shape -> Gather -> Concat -> Reshape`` chain becomes ``x.reshape(x.shape[0], -1)`` in generated code.
Random ops, control flow and results larger than :data:`FOLD_LIMIT` (and than their inputs) stay run-time ops.

Example::

    for node in view.nodes:
        fold_node(node, view)          # fills view.known
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from onnxbridge.ir.conventions import is_onnx_domain
from onnxbridge.ir.dtypes import INT_TYPES, NP_DTYPES
from onnxbridge.ir.nodes import raw_attr
from onnxbridge.ir.symbolic import Const, Elem, SymShape, sym_binop
from onnxbridge.ir.view import GraphView

# ops whose outputs are never folded (random) or would only grow the file when folded
_NO_FOLD = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
                      "Bernoulli", "If", "Loop", "Scan", "SequenceConstruct"})
FOLD_LIMIT = 1 << 16  # elements: a folded result larger than this and than its inputs stays a runtime op


def fold_node(node: onnx.NodeProto, view: GraphView) -> None:
    """Record in ``view.known`` what ``node``'s outputs are, when that is known at conversion time."""
    if not is_onnx_domain(node.domain) or node.op_type in _NO_FOLD:
        return
    if node.op_type == "Constant":
        view.known[node.output[0]] = Const(constant_value(node))
        return
    handler = _SYM_RULES.get(node.op_type)
    if handler is not None:
        result = handler(node, view)
        if result is not None:
            if isinstance(result, SymShape) and all(isinstance(e, int) for e in result.elems):
                dtype = NP_DTYPES.get(result.elem, np.int64)
                view.known[node.output[0]] = Const(np.asarray(result.elems[0] if result.scalar else result.elems,
                                                              dtype=dtype))
            else:
                view.known[node.output[0]] = result
            return
    inputs = [i for i in node.input if i]
    if not inputs or not all(view.const(i) is not None for i in inputs):
        return
    _fold_with_reference(node, view)


def constant_value(node: onnx.NodeProto) -> np.ndarray:
    """The value of a ``Constant`` node, whichever attribute holds it."""
    a = node.attribute[0]
    if a.name in ("value", "sparse_value"):
        return numpy_helper.to_array(a.t) if a.name == "value" else numpy_helper.to_array(a.sparse_tensor.values)
    value = helper.get_attribute_value(a)
    dtype = {"value_float": np.float32, "value_floats": np.float32, "value_int": np.int64,
             "value_ints": np.int64}.get(a.name)
    if dtype is None:
        return np.asarray(value)
    return np.asarray(value, dtype=dtype)


def _fold_with_reference(node: onnx.NodeProto, view: GraphView) -> None:
    from onnx.reference import ReferenceEvaluator

    values = [view.const(i) if i else None for i in node.input]
    # weights rearranged at run time (Transpose, Concat, Slice of initializers) fold; growing ops stay
    budget = max(FOLD_LIMIT, sum(v.size for v in values if v is not None))
    if node.op_type == "ConstantOfShape" and values[0] is not None and np.prod(values[0]) > budget:
        return
    try:
        evaluator = ReferenceEvaluator(node, opsets={"": view.opset})
        outs = evaluator.run(None, {i: v for i, v in zip(node.input, values) if i})
    except Exception:  # noqa: BLE001 - when the reference cannot evaluate it, it stays a runtime op
        return
    for name, out in zip(node.output, outs):
        if not name or out is None:
            continue
        out = np.asarray(out)
        if out.size > budget:
            return
        view.known[name] = Const(out)


def _ints(view: GraphView, value: str) -> list[int] | None:
    c = view.const(value) if value else None
    return None if c is None else [int(v) for v in np.asarray(c).reshape(-1)]


def _elems(view: GraphView, value: str) -> tuple[tuple[Elem, ...], bool] | None:
    """The elements of an integer value known at conversion time (symbolically or not), and if 0-D."""
    k = view.known.get(value)
    if isinstance(k, SymShape):
        return k.elems, k.scalar
    c = view.const(value)
    if c is not None and c.dtype.kind in "iu" and c.ndim <= 1:
        return tuple(int(v) for v in c.reshape(-1)), c.ndim == 0
    return None


_attr = raw_attr


def _rule_shape(node: onnx.NodeProto, view: GraphView) -> SymShape | None:
    dims = view.dims(node.input[0])
    if dims is None:
        return None
    rank = len(dims)
    start = _attr(node, "start", 0)
    end = _attr(node, "end", rank)
    start, end = (max(0, min(rank, s + rank if s < 0 else s)) for s in (start, end))
    return SymShape(tuple(dims[start:end]))


def _rule_size(node: onnx.NodeProto, view: GraphView) -> SymShape | None:
    dims = view.dims(node.input[0])
    if dims is None:
        return None
    total: Elem = 1
    for d in dims:
        total = sym_binop("*", total, d)
    return SymShape((total,), scalar=True)


def _rule_gather(node: onnx.NodeProto, view: GraphView) -> SymShape | None:
    data = _elems(view, node.input[0])
    idx = view.const(node.input[1])
    if data is None or data[1] or idx is None or idx.ndim > 1 or _attr(node, "axis", 0) != 0:
        return None
    n = len(data[0])
    picked = [data[0][int(i) + n if i < 0 else int(i)] for i in idx.reshape(-1)]
    return SymShape(tuple(picked), scalar=idx.ndim == 0, elem=view.type(node.input[0]).elem or TensorProto.INT64)


def _rule_unsqueeze(node: onnx.NodeProto, view: GraphView) -> SymShape | None:
    data = _elems(view, node.input[0])
    axes = _attr(node, "axes") if len(node.input) < 2 else _ints(view, node.input[1])
    if data is None or axes is None:
        return None
    if data[1] and len(axes) == 1 and axes[0] in (0, -1):
        return SymShape(data[0], elem=view.type(node.input[0]).elem or TensorProto.INT64)
    return None


def _rule_squeeze(node: onnx.NodeProto, view: GraphView) -> SymShape | None:
    data = _elems(view, node.input[0])
    if data is None or data[1] or len(data[0]) != 1:
        return None
    return SymShape(data[0], scalar=True, elem=view.type(node.input[0]).elem or TensorProto.INT64)


def _rule_concat(node: onnx.NodeProto, view: GraphView) -> SymShape | None:
    parts = [_elems(view, i) for i in node.input if i]
    if any(p is None or p[1] for p in parts):
        return None
    return SymShape(tuple(e for p in parts if p is not None for e in p[0]),
                    elem=view.type(node.input[0]).elem or TensorProto.INT64)


def _rule_slice(node: onnx.NodeProto, view: GraphView) -> SymShape | None:
    data = _elems(view, node.input[0])
    if data is None or data[1]:
        return None
    if view.opset < 10:
        starts, ends, axes, steps = _attr(node, "starts"), _attr(node, "ends"), _attr(node, "axes", [0]), [1]
    else:
        get = [(_ints(view, node.input[i]) if len(node.input) > i and node.input[i] else None) for i in range(1, 5)]
        starts, ends, axes, steps = get[0], get[1], get[2] or [0], get[3] or [1]
    if starts is None or ends is None or list(axes) not in ([0], [-1]):
        return None
    return SymShape(tuple(data[0][slice(starts[0], ends[0], steps[0])]),
                    elem=view.type(node.input[0]).elem or TensorProto.INT64)


def _rule_identity(node: onnx.NodeProto, view: GraphView) -> SymShape | None:
    k = view.known.get(node.input[0])
    return k if isinstance(k, SymShape) else None


def _rule_cast(node: onnx.NodeProto, view: GraphView) -> SymShape | None:
    k = view.known.get(node.input[0])
    to = _attr(node, "to")
    if isinstance(k, SymShape) and to in INT_TYPES:
        return SymShape(k.elems, k.scalar, to)
    return None


def _rule_reshape(node: onnx.NodeProto, view: GraphView) -> SymShape | None:
    k = view.known.get(node.input[0])
    if not isinstance(k, SymShape):
        _record_reshape_shape(node, view)
        return None
    shape = _ints(view, node.input[1]) if len(node.input) > 1 else None
    if shape is None:
        return None
    if shape == []:
        return SymShape(k.elems, True, k.elem) if len(k.elems) == 1 else None
    if len(shape) == 1 and shape[0] in (-1, len(k.elems)):
        return SymShape(k.elems, False, k.elem)
    return None


def _record_reshape_shape(node: onnx.NodeProto, view: GraphView) -> None:
    """Remember a Reshape's output dims from its target (``[x.shape[0], 4, 10, 8]``)."""
    target = _elems(view, node.input[1]) if len(node.input) > 1 else None
    if target is None or target[1]:
        return
    allowzero = _attr(node, "allowzero", 0)
    in_dims = view.dims(node.input[0])
    out: list[Elem | None] = []
    for i, e in enumerate(target[0]):
        if e == 0 and not allowzero:
            out.append(in_dims[i] if in_dims is not None and i < len(in_dims) else None)
        else:
            out.append(None if e == -1 else e)
    view.sym_shapes[node.output[0]] = tuple(out)


_BIN = {"Add": "+", "Sub": "-", "Mul": "*", "Div": "//", "Mod": "%", "Max": "max", "Min": "min"}


def _rule_binary(node: onnx.NodeProto, view: GraphView) -> SymShape | None:
    if len(node.input) != 2 or not any(isinstance(view.known.get(i), SymShape) for i in node.input):
        return None
    a, b = _elems(view, node.input[0]), _elems(view, node.input[1])
    if a is None or b is None:
        return None
    if node.op_type == "Mod" and _attr(node, "fmod", 0):
        return None
    (ea, sa), (eb, sb) = a, b
    if len(ea) != len(eb) and 1 not in (len(ea), len(eb)):
        return None
    n = max(len(ea), len(eb))
    ea, eb = (ea * n if len(ea) == 1 else ea), (eb * n if len(eb) == 1 else eb)
    op = _BIN[node.op_type]
    return SymShape(tuple(sym_binop(op, x, y) for x, y in zip(ea, eb)), scalar=sa and sb,
                    elem=view.type(node.input[0]).elem or TensorProto.INT64)


def _rule_where(node: onnx.NodeProto, view: GraphView) -> SymShape | None:
    cond = view.const(node.input[0])
    a, b = _elems(view, node.input[1]), _elems(view, node.input[2])
    if cond is None or a is None or b is None or cond.ndim > 1:
        return None
    n = max(cond.size, len(a[0]), len(b[0]))
    c = list(cond.reshape(-1)) * (n if cond.size == 1 else 1)
    ea, eb = (a[0] * n if len(a[0]) == 1 else a[0]), (b[0] * n if len(b[0]) == 1 else b[0])
    if len(c) != n or len(ea) != n or len(eb) != n:
        return None
    return SymShape(tuple(x if bool(k) else y for k, x, y in zip(c, ea, eb)), scalar=a[1] and b[1] and cond.ndim == 0,
                    elem=view.type(node.input[1]).elem or TensorProto.INT64)


def _rule_reduce_prod(node: onnx.NodeProto, view: GraphView) -> SymShape | None:
    """The product of a 1-D shape-like value's elements (tf2onnx's einsums multiply gathered sizes)."""
    data = _elems(view, node.input[0])
    if data is None or data[1]:
        return None
    axes = _attr(node, "axes") if view.opset < 18 else (_ints(view, node.input[1]) if len(node.input) > 1 and
                                                          node.input[1] else None)
    if (axes is None and view.opset >= 18 and len(node.input) > 1 and node.input[1]) or \
            (axes is not None and [int(a) for a in axes] not in ([0], [-1], [])) or \
            (axes == [] and _attr(node, "noop_with_empty_axes", 0)):
        return None
    total: Elem = 1
    for e in data[0]:
        total = sym_binop("*", total, e)
    return SymShape((total,), scalar=not _attr(node, "keepdims", 1),
                    elem=view.type(node.input[0]).elem or TensorProto.INT64)


_SYM_RULES = {
    "Shape": _rule_shape, "Size": _rule_size, "Gather": _rule_gather, "Unsqueeze": _rule_unsqueeze,
    "Squeeze": _rule_squeeze, "Concat": _rule_concat, "Slice": _rule_slice, "Identity": _rule_identity,
    "Cast": _rule_cast, "Reshape": _rule_reshape, "Where": _rule_where, "ReduceProd": _rule_reduce_prod,
    **{op: _rule_binary for op in _BIN},
}


