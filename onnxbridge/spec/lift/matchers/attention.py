"""Attention subgraphs -> MultiHeadAttention, checked by computing both.

Every exporter writes attention as projections (MatMul + Add, Gemm, or one packed in-projection split
three ways), head reshapes and transposes, ``softmax(Q K^T * scale [+ mask]) V``, a merge of the heads
and an output projection, but each with its own layout plumbing (this project's lowering, and
``torch.onnx`` for ``nn.MultiheadAttention``, batch-first or not). So the match is found from the
Softmax outwards: the score and context MatMuls, back from Q, K and V through layout ops to the
projections and their inputs, forward from the context through the output projection to where the tensor
has the query's shape again. The candidate layer (head count, causal mask, bias, weights taken from the
projections) is then run against the subgraph itself in onnxruntime on random inputs; it replaces the
subgraph only when they agree.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from onnxbridge.spec.lift.draft import Draft, WeightSource
from onnxbridge.spec.lift.matchers import REGION, matcher
from onnxbridge.spec.lift.matchers.common import attr, float32, scalar
from onnxbridge.spec.lift.naming import hint_for
from onnxbridge.spec.lift.scope import Scope

_LAYOUT = frozenset({"Transpose", "Reshape", "Squeeze", "Unsqueeze", "Gather", "Slice", "Split", "Identity", "Cast",
                     "Mul", "Div", "Flatten"})
_TOLERANCE = (1e-5, 1e-4)  # atol, rtol


@dataclass
class Projection:
    """``x @ W (+ b)``: the data input, the weight as [in, out] (a source and its transform), the bias."""

    x: str
    weight: WeightSource
    bias: WeightSource | None
    out: str
    size: int  # output features


def _projection(scope: Scope, value: str) -> Projection | None:
    node = scope.producer(value)
    if node is None:
        return None
    if node.op_type == "Add":
        a, b = scope.inp(node, 0), scope.inp(node, 1)
        y, bias = (a, b) if scope.is_weight(b) else (b, a)
        mm = scope.producer(y) if scope.is_weight(bias) else None
        if mm is not None and mm.op_type == "MatMul":
            p = _projection(scope, y)
            shape = scope.weight_shape(bias)
            if p is not None and p.bias is None and shape is not None and int(np.prod(shape)) == p.size:
                p.bias = WeightSource(bias, lambda a: a.reshape(-1))
                p.out = node.output[0]
                return p
        return None
    if node.op_type == "MatMul":
        x, w = scope.inp(node, 0), scope.inp(node, 1)
        shape = scope.weight_shape(w) if scope.is_weight(w) else None
        if shape is None or len(shape) != 2 or not scope.is_dynamic(x):
            return None
        return Projection(x, WeightSource(w), None, node.output[0], int(shape[1]))
    if node.op_type == "Gemm":
        x, w, c = scope.inp(node, 0), scope.inp(node, 1), scope.inp(node, 2)
        shape = scope.weight_shape(w) if scope.is_weight(w) else None
        if shape is None or len(shape) != 2 or int(attr(node, "transA", 0)) or float(attr(node, "alpha", 1.0)) != 1:
            return None
        trans = bool(int(attr(node, "transB", 0)))
        size = int(shape[0] if trans else shape[1])
        bias_source = None
        if c:
            if not scope.is_weight(c) or float(attr(node, "beta", 1.0)) != 1:
                return None
            bias_source = WeightSource(c, lambda a: a.reshape(-1))
        return Projection(x, WeightSource(w, (lambda a: a.T) if trans else None), bias_source, node.output[0], size)
    return None


def _data_input(scope: Scope, node: onnx.NodeProto) -> str | None:
    if node.op_type in ("Mul", "Div"):
        a, b = scope.inp(node, 0), scope.inp(node, 1)
        if scalar(scope, b) is not None:
            return a
        if node.op_type == "Mul" and scalar(scope, a) is not None:
            return b
        return None
    return scope.inp(node, 0) or None


def _back_to_projection(scope: Scope, value: str) -> Projection | None:
    for _ in range(16):
        p = _projection(scope, value)
        if p is not None:
            return p
        node = scope.producer(value)
        if node is None or node.op_type not in _LAYOUT or node.domain not in ("", "ai.onnx"):
            return None
        data = _data_input(scope, node)
        if data is None:
            return None
        value = data
    return None


def _forward_chain(scope: Scope, value: str) -> list[str]:
    """``value`` and the values after it through single-user layout ops."""
    out = [value]
    for _ in range(8):
        user = scope.only_user(value)
        if user is None or user.op_type not in ("Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten"):
            break
        value = user.output[0]
        out.append(value)
    return out


def _score_matmul(scope: Scope, softmax: onnx.NodeProto) -> tuple[onnx.NodeProto, bool] | None:
    """The Q @ K^T MatMul feeding the Softmax (through a scale and an additive mask), and whether masked."""
    value = scope.inp(softmax, 0)
    masked = False
    for _ in range(4):
        node = scope.producer(value)
        if node is None:
            return None
        if node.op_type == "MatMul" and scope.is_dynamic(scope.inp(node, 0)) and scope.is_dynamic(scope.inp(node, 1)):
            return node, masked
        data: str | None
        if node.op_type in ("Mul", "Div"):
            data = _data_input(scope, node)
        elif node.op_type == "Add":
            a, b = scope.inp(node, 0), scope.inp(node, 1)
            pa = scope.producer(a)
            data = a if pa is not None and pa.op_type in ("MatMul", "Mul", "Div") else b
            masked = True
        else:
            return None
        if data is None:
            return None
        value = data
    return None


def _region(scope: Scope, sources: list[str], y: str) -> list[onnx.NodeProto] | None:
    """The nodes computing ``y`` from ``sources`` and constants, if nothing outside reads their values."""
    found: dict[int, onnx.NodeProto] = {}
    stack = [y]
    seen: set[str] = set()
    while stack:
        v = stack.pop()
        if v in seen or v in sources or scope.is_weight(v):
            continue
        seen.add(v)
        node = scope.producer(v)
        if node is None:
            return None  # reads another input: not this attention alone
        if id(node) in found:
            continue
        found[id(node)] = node
        stack.extend(i for i in scope.ins(node) if i)
    nodes = sorted(found.values(), key=scope.position)
    for n in nodes:
        for o in n.output:
            if o and o != y and (scope.users(o) or scope.is_output(o)) and not scope.private(o, nodes):
                return None
    return nodes


@matcher("Softmax", stage=REGION)
def attention(scope: Scope, softmax: onnx.NodeProto) -> Draft | None:
    """``MultiHeadAttention`` for the written-out attention region around a score ``Softmax`` (projections,
    heads, scores and output projection)."""
    rank = scope.rank(softmax.output[0])
    axis = int(attr(softmax, "axis", -1 if scope.opset >= 13 else 1))
    if rank != 4 or axis % 4 != 3:
        return None
    found = _score_matmul(scope, softmax)
    ctx_mm = scope.only_user(softmax.output[0])
    if found is None or ctx_mm is None or ctx_mm.op_type != "MatMul" or scope.inp(ctx_mm, 0) != scope.canon(softmax.output[0]):
        return None
    score_mm, masked = found
    q_p = _back_to_projection(scope, scope.inp(score_mm, 0))
    k_p = _back_to_projection(scope, scope.inp(score_mm, 1))
    v_p = _back_to_projection(scope, scope.inp(ctx_mm, 1))
    if q_p is None or k_p is None or v_p is None:
        return None
    # forward from the context through the merge of heads to the output projection
    value = ctx_mm.output[0]
    out_p = None
    for _ in range(6):
        user = scope.only_user(value)
        if user is None:
            return None
        p = _projection(scope, user.output[0]) if user.op_type in ("MatMul", "Gemm") else None
        if p is not None and scope.canon(p.x) == scope.canon(value):
            add = scope.only_user(p.out)
            if p.bias is None and add is not None and add.op_type == "Add":
                p2 = _projection(scope, add.output[0])
                if p2 is not None and p2.bias is not None:
                    p = p2
            out_p = p
            break
        if user.op_type not in ("Transpose", "Reshape", "Flatten"):
            return None
        value = user.output[0]
    if out_p is None:
        return None
    embed = out_p.size
    if not float32(scope, q_p.x):
        return None
    ys = _forward_chain(scope, out_p.out)
    variants = _source_variants(scope, q_p.x, k_p.x, v_p.x)
    heads = _head_candidates(scope, embed, softmax)
    for sources, kinds in variants:
        shape_q = scope.shape(sources[0])
        if shape_q is None or len(shape_q) != 3 or shape_q[2] != embed:
            continue
        for y in ys:
            shape_y = scope.shape(y)
            if shape_y is None or len(shape_y) != 3 or not _same_static(shape_y, shape_q):
                continue
            nodes = _region(scope, list(dict.fromkeys(sources)), y)
            if nodes is None or not any(n is softmax for n in nodes):
                continue
            causal_options = (True, False) if masked else (False,)
            draft = _verified(scope, nodes, sources, kinds, y, q_p, k_p, v_p, out_p, heads, causal_options, embed)
            if draft is not None:
                return draft
    return None


def _same_static(a: tuple, b: tuple) -> bool:
    return all(x == y or not (isinstance(x, int) and isinstance(y, int)) for x, y in zip(a, b))


def _source_variants(scope: Scope, q: str, k: str, v: str) -> list[tuple[list[str], int]]:
    """Which values are the layer's inputs: the projections' own inputs, or (batch-first exports) what a
    Transpose(1, 0, 2) in front of them reads."""
    out = []

    def before_transpose(value: str) -> str | None:
        node = scope.producer(value)
        if node is not None and node.op_type == "Transpose" and [int(p) for p in attr(node, "perm", [])] == [1, 0, 2]:
            return scope.inp(node, 0)
        return None

    for mapper in (before_transpose, lambda value: value):
        found = [mapper(scope.canon(x)) for x in (q, k, v)]
        mapped = [m for m in found if m is not None]
        if len(mapped) != len(found):
            continue
        mq, mk, mv = mapped
        if mq == mk == mv:
            out.append(([mq], 1))
        elif mk == mv:
            out.append(([mq, mk], 2))
        else:
            out.append(([mq, mk, mv], 3))
    return out


def _head_candidates(scope: Scope, embed: int, softmax: onnx.NodeProto) -> list[int]:
    divisors = [h for h in range(1, embed + 1) if embed % h == 0]
    seen: list[int] = []
    shape = scope.shape(softmax.output[0])
    if shape is not None and isinstance(shape[1], int) and shape[1] in divisors:
        seen.append(shape[1])
    return seen + [h for h in divisors if h not in seen]


def _weight_value(scope: Scope, src: WeightSource, rng: np.random.Generator, cache: dict) -> np.ndarray:
    """The raw value of a weight's source (random, the same each time, inside a block body)."""
    if src.value not in cache:
        c = scope.const(src.value)
        if c is None:
            shape = scope.weight_shape(src.value)
            c = (rng.standard_normal(shape) * 0.3).astype(np.float32)
        cache[src.value] = np.asarray(c)
    return cache[src.value]


def _slices(p: Projection, embed: int, order: int) -> WeightSource | None:
    """The [in, embed] block ``order`` of a (possibly packed) projection weight."""
    if p.size == embed:
        return p.weight
    if p.size % embed:
        return None
    t = p.weight.transform

    def take(a, t=t, k=order):
        a = t(a) if t else a
        return a[:, k * embed:(k + 1) * embed]

    return WeightSource(p.weight.value, take)


def _bias_slice(p: Projection, embed: int, order: int) -> WeightSource | None:
    if p.bias is None:
        return None
    if p.size == embed:
        return p.bias
    t = p.bias.transform

    def take(a, t=t, k=order):
        a = (t(a) if t else a).reshape(-1)
        return a[k * embed:(k + 1) * embed]

    return WeightSource(p.bias.value, take)


def _verified(scope, nodes, sources, kinds, y, q_p, k_p, v_p, out_p, heads, causal_options, embed) -> Draft | None:
    # which block of a packed projection each of Q, K, V is: q k v in order, as exporters pack them
    order = {"q": 0, "k": 1 if k_p.out == q_p.out else 0, "v": 2 if v_p.out == q_p.out else (1 if v_p.out == k_p.out else 0)}
    weights = {
        "q_proj.weight": _slices(q_p, embed, order["q"]), "k_proj.weight": _slices(k_p, embed, order["k"]),
        "v_proj.weight": _slices(v_p, embed, order["v"]), "out_proj.weight": out_p.weight,
    }
    if any(w is None for w in weights.values()):
        return None
    biases = {"q_proj.bias": _bias_slice(q_p, embed, order["q"]), "k_proj.bias": _bias_slice(k_p, embed, order["k"]),
              "v_proj.bias": _bias_slice(v_p, embed, order["v"]), "out_proj.bias": out_p.bias}
    has_bias = any(b is not None for b in biases.values())
    if has_bias:
        any_w = weights["out_proj.weight"]
        for k, b in biases.items():
            weights[k] = b if b is not None else WeightSource(any_w.value, lambda a: np.zeros((embed,), np.float32))
    rng = np.random.default_rng(0)
    cache: dict = {}
    values = {k: np.ascontiguousarray(w.apply(_weight_value(scope, w, rng, cache)), dtype=np.float32)
              for k, w in weights.items()}
    if any(v.shape != ((embed,) if k.endswith("bias") else (embed, embed)) for k, v in values.items()):
        return None
    reference = _region_model(scope, nodes, list(dict.fromkeys(sources)), y, rng, cache)
    feeds_list = [_feeds(scope, list(dict.fromkeys(sources)), rng, b) for b in (2, 3)]
    try:
        expected = [_run(reference, feeds) for feeds in feeds_list]
    except Exception:  # noqa: BLE001 - the subgraph does not run on its own: not matched
        return None
    for h, causal in itertools.product(heads, causal_options):
        params = {"num_heads": h}
        if not has_bias:
            params["bias"] = False
        if causal:
            params["causal"] = True
        candidate = _candidate_model(scope, list(dict.fromkeys(sources)), kinds, params, values)
        if candidate is None:
            continue
        try:
            ok = all(_agree(_run(candidate, feeds), exp) for feeds, exp in zip(feeds_list, expected))
        except Exception:  # noqa: BLE001
            ok = False
        if ok:
            return Draft("MultiHeadAttention", params, list(dict.fromkeys(sources)), [y], nodes, weights,
                         hint=hint_for(nodes))
    return None


def _region_model(scope, nodes, sources, y, rng, cache) -> onnx.ModelProto:
    inits: dict[str, onnx.TensorProto] = {}
    copies = []
    for n in nodes:
        c = onnx.NodeProto()
        c.CopyFrom(n)
        del c.input[:]
        for i in scope.ins(n):
            if i and scope.is_weight(i) and i not in inits:
                if scope.const(i) is not None:
                    inits[i] = numpy_helper.from_array(np.asarray(scope.const(i)), i)
                else:
                    inits[i] = numpy_helper.from_array(_weight_value(scope, WeightSource(i), rng, cache), i)
            c.input.append(i)
        copies.append(c)
    inputs = [helper.make_tensor_value_info(s, 1, [d if isinstance(d, int) else None for d in scope.shape(s)])
              for s in sources]
    graph = helper.make_graph(copies, "attention", inputs, [helper.make_tensor_value_info(y, 1, None)],
                              initializer=list(inits.values()))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", scope.opset)], ir_version=10)


def _candidate_model(scope, sources, kinds, params, values) -> onnx.ModelProto | None:
    from onnxbridge.spec.pipeline import build

    names = [f"in{k}" for k in range(len(sources))]
    shapes = [[d if isinstance(d, int) else f"d{k}_{a}" for a, d in enumerate(scope.shape(s))]
              for k, s in enumerate(sources)]
    data = {"name": "candidate", "inputs": [{"name": n, "shape": s} for n, s in zip(names, shapes)],
            "layers": [{"id": "attn", "type": "MultiHeadAttention", "input": names if len(names) > 1 else names[0],
                        **params}]}
    try:
        return build(data, weights={f"attn.{k}": v for k, v in values.items()})
    except Exception:  # noqa: BLE001 - a candidate the spec refuses is no candidate
        return None


def _feeds(scope, sources, rng, batch: int) -> list[np.ndarray]:
    out = []
    for k, s in enumerate(sources):
        shape = [d if isinstance(d, int) else (batch if a == 0 else 4 + batch + k) for a, d in enumerate(scope.shape(s))]
        out.append(rng.standard_normal(shape).astype(np.float32))
    return out


def _run(model: onnx.ModelProto, feeds: list[np.ndarray]) -> np.ndarray:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, dict(zip(names, feeds)))[0]


def _agree(a: np.ndarray, b: np.ndarray) -> bool:
    atol, rtol = _TOLERANCE
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= atol + rtol * np.abs(b)))
