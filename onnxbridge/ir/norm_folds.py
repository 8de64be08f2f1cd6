"""Normalisations that an exporter wrote out op by op, folded back into their ONNX op (same values).

:func:`fold_layer_norm`: tf2onnx writes a Keras ``LayerNormalization`` as about ten ops::

    mean = ReduceMean(x)                 var = ReduceMean(Mul(Sub(x, mean), Sub(x, mean)))
    scale = Mul(Reciprocal(Sqrt(Add(var, eps))), gamma)
    y = Add(Mul(x, scale), Sub(beta, Mul(mean, scale)))      # or Add(Mul(Neg(mean), scale), beta)

That is ``LayerNormalization(x, gamma, beta, axis, epsilon)``, which the code generators write as
``nn.LayerNorm`` / ``keras.layers.LayerNormalization``. A zero beta comes back as a zero bias, so the layer
keeps its trainable bias. Graph outputs are never folded away; the importer's parity check runs afterwards.

Example::

    fold_layer_norm(model, layer_names=["layer_normalization"])
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import onnx
from onnx import helper, numpy_helper

from onnxbridge.ir.traversal import consumers, producers

FIRST_OPSET = 17  # LayerNormalization


def fold_layer_norm(model: onnx.ModelProto, layer_names: Iterable[str] = ()) -> int:
    """Replace each op-by-op layer normalisation of ``model`` by one LayerNormalization; returns how many.

    The new node takes the name of the longest of ``layer_names`` that its ops' names start with (the
    Keras layer it came from), so the generated code names the module after the layer.
    """
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < FIRST_OPSET:
        return 0
    names = sorted(layer_names, key=len, reverse=True)
    count = 0
    while (match := _find(model)) is not None:
        _replace(model, match, names)
        count += 1
    return count


class _Match:
    """The ops of one layer normalisation and what the fused op needs."""

    def __init__(self, nodes: list[onnx.NodeProto], x: str, y: str, axis: int, epsilon: float,
                 gamma: np.ndarray, beta: np.ndarray | None, gamma_name: str, beta_name: str | None,
                 shape: tuple[int, ...]):
        self.nodes, self.x, self.y, self.axis, self.epsilon = nodes, x, y, axis, epsilon
        self.gamma, self.beta, self.gamma_name, self.beta_name = gamma, beta, gamma_name, beta_name
        self.shape = shape  # the normalised axes' sizes


def _find(model: onnx.ModelProto) -> _Match | None:
    graph = model.graph
    nodes = list(graph.node)
    made, read = producers(nodes), consumers(nodes)
    consts = _Constants(graph)
    outputs = {o.name for o in graph.output}

    def producer(value: str) -> onnx.NodeProto | None:
        found = made.get(value, [])
        return nodes[found[0]] if len(found) == 1 else None

    def readers(value: str) -> list[onnx.NodeProto]:
        return [nodes[i] for i in dict.fromkeys(read.get(value, []))]

    def other(node: onnx.NodeProto, value: str) -> str | None:
        """The input of a two-input node that is not ``value``."""
        ins = list(node.input)
        if len(ins) != 2 or value not in ins:
            return None
        return ins[1] if ins[0] == value else ins[0]

    for mean_node in nodes:
        if mean_node.op_type != "ReduceMean":
            continue
        x, mean = mean_node.input[0], mean_node.output[0]
        axes = _reduce_axes(mean_node, consts)
        if axes is None:
            continue
        subs = [n for n in readers(mean) if n.op_type == "Sub" and list(n.input) == [x, mean]]
        if len(subs) != 1:
            continue
        sub = subs[0]
        squares = readers(sub.output[0])
        if len(squares) != 1 or squares[0].op_type != "Mul" or list(squares[0].input) != [sub.output[0]] * 2:
            continue
        var_nodes = readers(squares[0].output[0])
        if len(var_nodes) != 1 or var_nodes[0].op_type != "ReduceMean" or \
                _reduce_axes(var_nodes[0], consts) != axes:
            continue
        chain = _single_chain(var_nodes[0], ["Add", "Sqrt", "Reciprocal", "Mul"], readers)
        if chain is None:
            continue
        add_eps, _, recip, scale_mul = chain
        eps_name = other(add_eps, var_nodes[0].output[0])
        gamma_name = other(scale_mul, recip.output[0])
        if eps_name is None or gamma_name is None or eps_name not in consts or gamma_name not in consts or \
                consts[eps_name].size != 1:
            continue
        scale = scale_mul.output[0]
        uses = readers(scale)
        x_mul = next((n for n in uses if n.op_type == "Mul" and other(n, scale) == x), None)
        if x_mul is None or len(uses) != 2:
            continue
        shift_mul = next(n for n in uses if n is not x_mul)
        tail = _shift(shift_mul, mean, scale, x_mul.output[0], readers, producer, consts, other)
        if tail is None:
            continue
        shift_nodes, final, beta_name = tail
        group = [mean_node, sub, squares[0], var_nodes[0], *chain, x_mul, *shift_nodes, final]
        private = [n.output[0] for n in group if n is not final]
        inside = {id(n) for n in group}
        if any(v in outputs for v in private) or \
                any(id(r) not in inside for v in private for r in readers(v)):
            continue
        gamma = consts[gamma_name]
        beta = consts[beta_name] if beta_name is not None else None
        rank = _rank(model, x)
        axis = _leading_axis(axes, rank)
        shape = _normalized_shape(gamma, beta)
        if axis is None or len(shape) != len(axes):  # gamma must span exactly the normalised axes
            continue
        return _Match(group, x, final.output[0], axis, float(consts[eps_name].reshape(-1)[0]), gamma, beta,
                      gamma_name, beta_name, shape)
    return None


def _shift(node: onnx.NodeProto, mean: str, scale: str, scaled_x: str, readers, producer, consts, other):
    """The ``beta - mean * scale`` part (written ``-mean * scale [+ beta]`` or ``beta - mean * scale``) and
    the final Add with ``x * scale``: (its nodes, the Add, beta's name or None when beta was folded away)."""
    if node.op_type != "Mul":
        return None
    first = other(node, scale)
    neg = producer(first) if first is not None else None
    if neg is not None and neg.op_type == "Neg" and list(neg.input) == [mean]:
        part, shifted, beta = [neg, node], node.output[0], None
        after = readers(shifted)
        if len(after) == 1 and after[0].op_type == "Add" and other(after[0], shifted) in consts:
            beta = other(after[0], shifted)
            part.append(after[0])
            shifted = after[0].output[0]
    elif first == mean:
        subs = readers(node.output[0])
        if len(subs) != 1 or subs[0].op_type != "Sub" or subs[0].input[1] != node.output[0] or \
                subs[0].input[0] not in consts:
            return None
        part, shifted, beta = [node, subs[0]], subs[0].output[0], subs[0].input[0]
    else:
        return None
    finals = readers(shifted)
    if len(finals) == 1 and finals[0].op_type == "Add" and other(finals[0], shifted) == scaled_x:
        return part, finals[0], beta
    return None


def _single_chain(start: onnx.NodeProto, ops: list[str], readers) -> list[onnx.NodeProto] | None:
    """The nodes ``ops`` that each read the previous one's output (and are its only reader), or None."""
    chain, current = [], start
    for op in ops:
        nxt = readers(current.output[0])
        if len(nxt) != 1 or nxt[0].op_type != op:
            return None
        chain.append(nxt[0])
        current = nxt[0]
    return chain


def _replace(model: onnx.ModelProto, match: _Match, layer_names: list[str]) -> None:
    graph = model.graph
    first = match.nodes[0].name
    name = next((n for n in layer_names if first.startswith(n)), first)
    shape, dtype = match.shape, match.gamma.dtype

    def fitted(a: np.ndarray) -> np.ndarray:  # [1, 1, C] -> [C]: the leading axes are 1s (see _normalized_shape)
        return np.broadcast_to(a.reshape(a.shape[a.ndim - len(shape):]) if a.ndim > len(shape) else a,
                               shape).astype(dtype)

    gamma_out, beta_out = _fresh(graph, f"{name}_scale"), _fresh(graph, f"{name}_bias")
    beta = match.beta if match.beta is not None else np.zeros(shape, dtype)
    graph.initializer.append(numpy_helper.from_array(fitted(match.gamma), gamma_out))
    graph.initializer.append(numpy_helper.from_array(fitted(beta), beta_out))
    fused = helper.make_node("LayerNormalization", [match.x, gamma_out, beta_out], [match.y], name=name,
                             axis=match.axis, epsilon=match.epsilon)
    nodes = list(graph.node)
    at = min(nodes.index(n) for n in match.nodes)
    gone = {id(n) for n in match.nodes}
    keep = [n for n in nodes if id(n) not in gone]
    keep.insert(at, fused)
    del graph.node[:]
    graph.node.extend(keep)
    private = {n.output[0] for n in match.nodes if n.output[0] != match.y}
    kept_info = [v for v in graph.value_info if v.name not in private]
    del graph.value_info[:]
    graph.value_info.extend(kept_info)
    _drop_unread(graph, {match.gamma_name} | ({match.beta_name} if match.beta_name else set()))


def _normalized_shape(gamma: np.ndarray, beta: np.ndarray | None) -> tuple[int, ...]:
    """gamma's (and beta's) shape without leading 1s: the normalised axes' sizes."""
    dims = list(np.broadcast_shapes(gamma.shape, beta.shape if beta is not None else ()))
    while len(dims) > 1 and dims[0] == 1:
        dims.pop(0)
    return tuple(dims)


def _reduce_axes(node: onnx.NodeProto, consts: _Constants) -> list[int] | None:
    keep = next((a.i for a in node.attribute if a.name == "keepdims"), 1)
    if not keep:
        return None
    axes = next((list(a.ints) for a in node.attribute if a.name == "axes"), None)
    if axes is None and len(node.input) > 1 and node.input[1] in consts:
        axes = [int(v) for v in consts[node.input[1]].reshape(-1)]
    return sorted(axes) if axes else None


def _leading_axis(axes: list[int], rank: int | None) -> int | None:
    """The LayerNormalization axis for reduced ``axes`` if they are the trailing ones, else None."""
    if all(a < 0 for a in axes):
        return axes[0] if axes == list(range(axes[0], 0)) else None
    if rank is None:
        return None
    norm = sorted(a + rank if a < 0 else a for a in axes)
    return norm[0] if norm == list(range(norm[0], rank)) else None


def _rank(model: onnx.ModelProto, value: str) -> int | None:
    for info in (*model.graph.input, *model.graph.value_info, *model.graph.output):
        if info.name == value and info.type.tensor_type.HasField("shape"):
            return len(info.type.tensor_type.shape.dim)
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - no rank, no fold
        return None
    for info in (*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output):
        if info.name == value and info.type.tensor_type.HasField("shape"):
            return len(info.type.tensor_type.shape.dim)
    return None


class _Constants:
    """Initializer and Constant-node values by name, converted to numpy only when asked for."""

    def __init__(self, graph: onnx.GraphProto):
        self.protos = {t.name: t for t in graph.initializer}
        for node in graph.node:
            if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
                self.protos[node.output[0]] = node.attribute[0].t
        self.values: dict[str, np.ndarray] = {}

    def __contains__(self, name: object) -> bool:
        return name in self.protos

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.values:
            self.values[name] = numpy_helper.to_array(self.protos[name])
        return self.values[name]


def _fresh(graph: onnx.GraphProto, base: str) -> str:
    taken = {t.name for t in graph.initializer} | {o for n in graph.node for o in n.output} | \
        {i.name for i in graph.input}
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    return name


def _drop_unread(graph: onnx.GraphProto, names: set[str]) -> None:
    """Remove initializers (and Constant nodes) among ``names`` that nothing reads any more."""
    read = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
    for name in names - read:
        for t in list(graph.initializer):
            if t.name == name:
                graph.initializer.remove(t)
        for n in list(graph.node):
            if n.op_type == "Constant" and list(n.output) == [name]:
                graph.node.remove(n)
