"""Layers written as several element-wise nodes, found by what they compute rather than how they are spelled.

Exporters write GELU as ``x * 0.5 * (1 + erf(x / sqrt 2))`` (or with ``erfc``, or the tanh form), SiLU as
``x * sigmoid(x)``, and LayerNorm (before opset 17, and from Keras) as a dozen ReduceMean / Sub / Pow /
Sqrt / Div / Mul / Add nodes, each in its own order. Here a *region* grows from a value through
element-wise nodes whose other operands are constants; the region's function is then evaluated (ONNX's
reference runtime) on test inputs and compared with each candidate layer. A candidate is taken only when
it computes the same numbers; otherwise the nodes stay as they are.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import onnx
from onnx import helper, numpy_helper

from onnxbridge.spec.lift.draft import Draft, WeightSource
from onnxbridge.spec.lift.matchers import REGION, matcher
from onnxbridge.spec.lift.matchers.common import attr, float32
from onnxbridge.spec.lift.naming import hint_for
from onnxbridge.spec.lift.scope import Scope

_ELEMENTWISE = frozenset({"Mul", "Div", "Add", "Sub", "Neg", "Erf", "Tanh", "Sigmoid", "HardSigmoid", "Pow",
                          "Sqrt", "Reciprocal", "Relu", "Clip", "Max", "Min"})
_NORM_OPS = frozenset({"ReduceMean", "Sub", "Mul", "Pow", "Add", "Sqrt", "Div", "Reciprocal", "Neg"})
MAX_NODES = 16


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


ACTIVATIONS: dict[tuple[str, tuple[tuple[str, str], ...]], Callable[[np.ndarray], np.ndarray]] = {
    ("GELU", ()): lambda x: 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))),
    ("GELU", (("approximate", "tanh"),)): lambda x: 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) *
                                                                            (x + 0.044715 * x ** 3))),
    ("SiLU", ()): lambda x: x * _sigmoid(x),
    ("Hardswish", ()): lambda x: x * np.clip(x + 3.0, 0.0, 6.0) / 6.0,
    ("Sigmoid", ()): _sigmoid,
    ("Tanh", ()): np.tanh,
    ("ReLU", ()): lambda x: np.maximum(x, 0.0),
}


# --------------------------------------------------------------------------------------------------
# regions
# --------------------------------------------------------------------------------------------------
def _grow(scope: Scope, root: str, ops: frozenset[str], const_ok) -> list[onnx.NodeProto]:
    """The nodes computable from ``root`` and constants through ``ops``, in graph order."""
    region: list[onnx.NodeProto] = []
    inside: set[int] = set()
    values = {root}
    frontier = [root]
    while frontier and len(region) < MAX_NODES:
        value = frontier.pop()
        for node in scope.users(value):
            if id(node) in inside or node.op_type not in ops or node.domain not in ("", "ai.onnx"):
                continue
            ins = [i for i in scope.ins(node) if i]
            if not all(i in values or (scope.const(i) is not None and const_ok(scope.const(i))) for i in ins):
                continue
            region.append(node)
            inside.add(id(node))
            for o in node.output:
                if o:
                    values.add(o)
                    frontier.append(o)
    region.sort(key=scope.position)
    return region


def _closed_prefix(scope: Scope, region: list[onnx.NodeProto], root: str, exit_value: str) -> list[onnx.NodeProto] | None:
    """The region's nodes that ``exit_value`` depends on, if nothing else reads their intermediate values."""
    by_output = {o: n for n in region for o in n.output if o}
    needed: dict[int, onnx.NodeProto] = {}
    stack = [exit_value]
    while stack:
        v = stack.pop()
        node = by_output.get(v)
        if node is None or id(node) in needed:
            continue
        needed[id(node)] = node
        stack.extend(i for i in scope.ins(node) if i and i != root)
    nodes = sorted(needed.values(), key=scope.position)
    for n in nodes:
        for o in n.output:
            if o and o != exit_value and not scope.private(o, nodes):
                return None
    return nodes


def _evaluate(scope: Scope, nodes: list[onnx.NodeProto], root: str, output: str, x: np.ndarray) -> np.ndarray | None:
    from onnx.reference import ReferenceEvaluator

    inits, copies = {}, []
    for n in nodes:
        c = onnx.NodeProto()
        c.CopyFrom(n)
        del c.input[:]
        for i in scope.ins(n):
            if i and i != root and scope.const(i) is not None and i not in inits:
                inits[i] = numpy_helper.from_array(np.asarray(scope.const(i)), i)
            c.input.append("region_x" if i == root else i)
        copies.append(c)
    graph = helper.make_graph(copies, "region", [helper.make_tensor_value_info("region_x", 1, list(x.shape))],
                              [helper.make_empty_tensor_value_info(output)], initializer=list(inits.values()))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", scope.opset)], ir_version=10)
    try:
        # run() returns a list unless intermediate=True; its annotation is the union of both
        return np.asarray(ReferenceEvaluator(model).run(None, {"region_x": x})[0],  # type: ignore[index]
                          dtype=np.float64)
    except Exception:  # noqa: BLE001 - what the reference cannot run is not matched
        return None


def _close(a: np.ndarray | None, b: np.ndarray, tol: float = 1e-5) -> bool:
    if a is None:
        return False
    a = np.broadcast_to(a, np.broadcast_shapes(a.shape, b.shape)) if a.shape != b.shape else a
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= tol * (1.0 + np.abs(b))))


def _roots(scope: Scope, anchor: onnx.NodeProto, ops: frozenset[str]) -> list[str]:
    """Values the region may start from, walking back from the anchor (deepest first)."""
    found: list[str] = []
    value = next((i for i in scope.ins(anchor) if i and scope.is_dynamic(i)), None)
    while value is not None and len(found) < MAX_NODES:
        found.append(value)
        node = scope.producer(value)
        if node is None or node.op_type not in ops:
            break
        dyn = [i for i in scope.ins(node) if i and scope.is_dynamic(i)]
        value = dyn[0] if len(set(dyn)) == 1 else None
    return list(reversed(found))


# --------------------------------------------------------------------------------------------------
# activations
# --------------------------------------------------------------------------------------------------
_TEST = np.concatenate([np.linspace(-6.0, 6.0, 97), [-0.1, 0.05, 0.7, 2.5]]).astype(np.float32)


@matcher("Erf", "Tanh", "Sigmoid", "HardSigmoid", stage=REGION)
def activation_region(scope: Scope, anchor: onnx.NodeProto) -> Draft | None:
    """An activation layer for a written-out elementwise region that computes it (checked by evaluating the
    region on sample values)."""
    for root in _roots(scope, anchor, _ELEMENTWISE):
        if not float32(scope, root) or scope.shape(root) is None:
            continue
        region = _grow(scope, root, _ELEMENTWISE, lambda c: c.size == 1)
        if not any(n is anchor for n in region):
            continue
        for node in reversed(region):  # the largest region that is one known activation
            for out in node.output:
                nodes = _closed_prefix(scope, region, root, out)
                if nodes is None or len(nodes) < 2 or not any(n is anchor for n in nodes):
                    continue
                y = _evaluate(scope, nodes, root, out, _TEST)
                for (layer, params), fn in ACTIVATIONS.items():
                    if _close(y, fn(_TEST.astype(np.float64))):
                        return Draft(layer, dict(params), [root], [out], nodes, hint=hint_for(nodes))
    return None


# --------------------------------------------------------------------------------------------------
# LayerNorm written out
# --------------------------------------------------------------------------------------------------
@matcher("ReduceMean", stage=REGION)
def layer_norm_region(scope: Scope, anchor: onnx.NodeProto) -> Draft | None:
    """``LayerNorm`` for LayerNorm written out in elementary ops over the last axis (two ``ReduceMean`` and
    their arithmetic, with its affine), checked by evaluating the region."""
    x = scope.inp(anchor, 0)
    rank = scope.rank(x)
    if not rank or rank < 2 or not float32(scope, x) or not int(attr(anchor, "keepdims", 1)):
        return None
    axes = attr(anchor, "axes")
    if axes is None and len(anchor.input) > 1:
        c = scope.const(anchor.input[1])
        axes = None if c is None else c.reshape(-1).tolist()
    if axes is None or [int(a) % rank for a in axes] != [rank - 1]:
        return None
    features = scope.dims(x)[-1]
    if not isinstance(features, int):
        return None
    region = _grow(scope, x, _NORM_OPS, lambda c: c.size in (1, features))
    means = [n for n in region if n.op_type == "ReduceMean"]
    if len(means) < 2:
        return None
    vectors = []
    for n in region:
        for i in scope.ins(n):
            c = scope.const(i)
            if c is not None and c.size == features and c.size > 1 and i not in vectors:
                vectors.append(i)
    scalars = [float(c.reshape(-1)[0]) for n in region for i in scope.ins(n)
               if (c := scope.const(i)) is not None and c.size == 1]
    eps_candidates = sorted({s for s in scalars if 0 < s < 1e-1}) or []
    if len(vectors) > 2 or not eps_candidates:
        return None
    rng = np.random.default_rng(0)
    test = rng.standard_normal((4,) + (2,) * (rank - 2) + (features,))
    test[0] *= 0.01  # a row of small variance, where eps matters
    test = test.astype(np.float32)
    for node in reversed(region):
        out = node.output[0]
        nodes = _closed_prefix(scope, region, x, out)
        if nodes is None or sum(1 for n in nodes if n.op_type == "ReduceMean") < 2:
            continue
        y = _evaluate(scope, nodes, x, out, test)
        if y is None:
            continue
        for eps in eps_candidates:
            for gamma, beta in _assignments(vectors):
                expected = _layer_norm(test.astype(np.float64), eps,
                                       None if gamma is None else np.asarray(scope.const(gamma)).reshape(-1),
                                       None if beta is None else np.asarray(scope.const(beta)).reshape(-1))
                if _close(y, expected, 1e-4):
                    return _layer_norm_draft(scope, x, out, nodes, eps, gamma, beta, features)
    return None


def _assignments(vectors: list[str]):
    if len(vectors) == 2:
        yield vectors[0], vectors[1]
        yield vectors[1], vectors[0]
    for v in vectors:
        yield v, None
        yield None, v
    yield None, None


def _layer_norm(x: np.ndarray, eps: float, gamma, beta) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y


def _layer_norm_draft(scope: Scope, x: str, out: str, nodes: list[onnx.NodeProto], eps: float, gamma, beta,
                      features: int) -> Draft:
    from onnxbridge.spec.layers.generic import clean_float

    params: dict = {}
    eps = clean_float(eps)
    if eps != 1e-5:
        params["eps"] = eps
    if gamma is None and beta is None:
        params["elementwise_affine"] = False
        weights: dict = {}
    else:
        def flat(a):
            return a.reshape(-1)

        def ones(a):
            return np.ones((features,), np.float32)

        def zeros(a):
            return np.zeros((features,), np.float32)

        anyv = gamma or beta
        weights = {"weight": WeightSource(gamma, flat) if gamma else WeightSource(anyv, ones),
                   "bias": WeightSource(beta, flat) if beta else WeightSource(anyv, zeros)}
    return Draft("LayerNorm", params, [x], [out], nodes, weights, hint=hint_for(nodes))
