"""Whole multi-head attention subgraphs -> one ``layers.MultiHeadAttention``.

tf2onnx writes a Keras ``MultiHeadAttention`` as some sixty ops: the query/key/value projections (MatMul,
bias Add, a Reshape to heads), the einsums of the scores and the weighted sum decomposed into Unsqueeze /
Transpose / Reshape / MatMul / Squeeze with run-time shape arithmetic, the scaling, the Softmax and the
output projection. Written back op by op that is a page of reshapes; written as one
``layers.MultiHeadAttention`` with its kernels set, the generated model reads like the original and runs
Keras's own attention (``ops.dot_product_attention``).

How a layer is found, from each Softmax over the last axis: back from its input through layout ops and
scalar scalings to the product of two run-time tensors (the scores), back from each of those to a
projection (a MatMul with a constant 2-D weight, maybe a constant bias Add; a Gemm where tf2onnx writes
the einsums of a run-time sequence length); forward from the Softmax to the product with the third
run-time tensor, back from that to the value projection, forward to the output projection. The whole
subgraph from the three projections' inputs to the output projection must depend on nothing else (no
mask, no other input), have one Softmax and no op other than projections, layout and shape arithmetic.
That gives the candidate layer (heads read from the head reshape, else tried) and its weights; the
candidate is then computed (numpy) against the subgraph itself (onnxruntime, random inputs of two sizes:
every run-time dim, batch and sequence alike, differs between them) and used only when they agree.
Anything else stays op by op.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from onnxbridge.codegen.writer import call
from onnxbridge.frameworks.tensorflow.context import TensorFlowContext
from onnxbridge.frameworks.tensorflow.registry import TF_PATTERNS, PatternMatch
from onnxbridge.ir.nodes import node_attrs
from onnxbridge.ir.symbolic import Const
from onnxbridge.ir.view import GraphView

OP_TYPE = "MultiHeadAttention"  # the op type of the node that stands for a whole matched layer
_TOLERANCE = (1e-5, 1e-4)  # atol, rtol: tighter than parity, so near misses stay op by op
# ops that only move data between the projections and the products (and the shape arithmetic they read)
_LAYOUT = frozenset({"Reshape", "Transpose", "Unsqueeze", "Squeeze", "Identity", "Flatten"})
_SHAPE = frozenset({"Shape", "Gather", "Concat", "ReduceProd", "Max", "Min", "Cast", "Slice", "Squeeze",
                    "Unsqueeze", "Mul", "Div", "Add", "Sub", "Identity", "ConstantOfShape", "Range", "Size"})
_PRODUCTS = frozenset({"MatMul", "Gemm", "Einsum"})
_ALLOWED = _LAYOUT | _SHAPE | _PRODUCTS | {"Softmax"}


@dataclass
class _Projection:
    node: onnx.NodeProto  # the MatMul
    source: str  # what it projects
    weight: np.ndarray  # (in, out)
    bias: np.ndarray | None  # (out,)


@dataclass
class Attention:
    """What a matched subgraph becomes: the layer's arguments, its weights, and its inputs."""

    heads: int
    key_dim: int
    value_dim: int
    query: _Projection
    key: _Projection
    value: _Projection
    output: _Projection

    @property
    def use_bias(self) -> bool:
        """Whether the layer has biases (any of its projections had one)."""
        return any(p.bias is not None for p in (self.query, self.key, self.value, self.output))

    def kernels(self) -> list[np.ndarray]:
        """The layer's weights in Keras's order: the query, key, value and output kernels, each followed by
        its bias when the layer has biases (zeros for a projection that had none)."""
        h, k, v = self.heads, self.key_dim, self.value_dim
        d_out = int(self.output.weight.shape[1])
        out: list[np.ndarray] = []
        for p, shape, bias_shape in ((self.query, (-1, h, k), (h, k)), (self.key, (-1, h, k), (h, k)),
                                     (self.value, (-1, h, v), (h, v)), (self.output, (h, v, -1), (d_out,))):
            out.append(np.ascontiguousarray(p.weight.reshape(shape), dtype=np.float32))
            if self.use_bias:
                bias = p.bias if p.bias is not None else np.zeros(int(np.prod(bias_shape)), np.float32)
                out.append(np.ascontiguousarray(bias.reshape(bias_shape), dtype=np.float32))
        return out

    def compute(self, q_in: np.ndarray, k_in: np.ndarray, v_in: np.ndarray) -> np.ndarray:
        """What ``layers.MultiHeadAttention`` computes (float64 numpy): the reference for the check."""
        def project(p: _Projection, x: np.ndarray, size: int) -> np.ndarray:
            y = x.astype(np.float64) @ p.weight.astype(np.float64)
            if p.bias is not None:
                y = y + p.bias
            return y.reshape(*x.shape[:-1], self.heads, size)

        q = project(self.query, q_in, self.key_dim) / np.sqrt(self.key_dim)
        k = project(self.key, k_in, self.key_dim)
        v = project(self.value, v_in, self.value_dim)
        scores = np.einsum("bqhd,bkhd->bhqk", q, k)
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        probs = scores / scores.sum(axis=-1, keepdims=True)
        o = np.einsum("bhqk,bkhd->bqhd", probs, v).reshape(*q_in.shape[:-1], self.heads * self.value_dim)
        y = o @ self.output.weight.astype(np.float64)
        return y + self.output.bias if self.output.bias is not None else y


# --------------------------------------------------------------------------------------------------
# walking the graph
# --------------------------------------------------------------------------------------------------
def _const(view: GraphView, value: str) -> np.ndarray | None:
    k = view.known.get(value)
    return k.array if isinstance(k, Const) else None


def _scalar(view: GraphView, node: onnx.NodeProto) -> int | None:
    """For a Mul/Div by a constant scalar: the index of the other (run-time) input."""
    if node.op_type not in ("Mul", "Div") or len(node.input) != 2:
        return None
    for data, other in ((0, 1), (1, 0)):
        c = _const(view, node.input[other])
        if c is not None and c.size == 1 and _const(view, node.input[data]) is None:
            return data if node.op_type == "Mul" or other == 1 else None
    return None


def _through_layout(view: GraphView, value: str) -> tuple[str, list[onnx.NodeProto]]:
    """Back from ``value`` through layout ops and scalar scalings: the value they start from."""
    path: list[onnx.NodeProto] = []
    while True:
        node = view.producer.get(value)
        if node is None:
            return value, path
        if node.op_type in _LAYOUT:
            value = node.input[0]
        elif (i := _scalar(view, node)) is not None:
            value = node.input[i]
        else:
            return value, path
        path.append(node)


def _dense(view: GraphView, node: onnx.NodeProto | None) -> tuple[np.ndarray, np.ndarray | None] | None:
    """A MatMul by a constant 2-D float weight, or a Gemm by one (tf2onnx's einsum of a run-time length;
    its scale and constant ``C`` folded in): the (in, out) weight and the bias, None for anything else."""
    if node is None or node.op_type not in ("MatMul", "Gemm") or _const(view, node.input[0]) is not None:
        return None
    weight = _const(view, node.input[1])
    if weight is None or weight.ndim != 2 or weight.dtype != np.float32:
        return None
    if node.op_type == "MatMul":
        return weight, None
    attrs = node_attrs(node)
    if int(attrs.get("transA", 0)):
        return None
    weight = weight.T if int(attrs.get("transB", 0)) else weight
    alpha, beta = float(attrs.get("alpha", 1.0)), float(attrs.get("beta", 1.0))
    bias = None
    if len(node.input) > 2 and node.input[2]:
        c = _const(view, node.input[2])
        if c is None or c.size != weight.shape[1] or c.shape[-1:] != (weight.shape[1],):
            return None
        bias = (c.reshape(-1) * np.float32(beta)).astype(np.float32)
    return (weight * np.float32(alpha)).astype(np.float32) if alpha != 1.0 else weight, bias


def _projection(view: GraphView, value: str) -> _Projection | None:
    """The projection ``value`` is a reshaped/scaled view of: a MatMul or Gemm by a constant 2-D weight, and
    at most one constant bias Add after it."""
    bias = None
    value, _ = _through_layout(view, value)
    node = view.producer.get(value)
    if node is not None and node.op_type == "Add" and len(node.input) == 2:
        for data, other in ((0, 1), (1, 0)):
            c = _const(view, node.input[other])
            if c is not None and _const(view, node.input[data]) is None:
                bias, value = c.reshape(-1), node.input[data]
                break
        else:
            return None
        value, _ = _through_layout(view, value)
        node = view.producer.get(value)
    dense = _dense(view, node)
    if dense is None or node is None:
        return None
    weight, own_bias = dense
    if bias is not None and (bias.shape != (weight.shape[1],) or own_bias is not None):
        return None
    return _Projection(node, _unflattened(view, node.input[0], weight.shape[0]), weight,
                       bias if own_bias is None else own_bias)


def _unflattened(view: GraphView, value: str, width: int) -> str:
    """The 3-D tensor a Dense input ``value`` flattens to ``(-1, width)`` (Keras's ``Dense`` on a sequence
    exports as Reshape -> MatMul -> Reshape; tf2onnx's einsum of a run-time length unsqueezes it first),
    else ``value``."""
    node = view.producer.get(value)
    if node is None or node.op_type != "Reshape" or view.type(value).rank != 2:
        return value
    source = node.input[0]
    while (p := view.producer.get(source)) is not None and p.op_type == "Unsqueeze" and \
            view.type(source).shape and view.type(source).shape[-1] == width:  # type: ignore[index]
        source = p.input[0]  # only size-1 axes before the features
    t = view.type(source)
    if t.rank == 3 and t.shape[-1] == width:  # type: ignore[index]
        return source
    return value


def _product(view: GraphView, value: str) -> onnx.NodeProto | None:
    """The MatMul of two run-time tensors ``value`` is a reshaped/scaled view of."""
    value, _ = _through_layout(view, value)
    node = view.producer.get(value)
    if node is None or node.op_type != "MatMul" or any(_const(view, i) is not None for i in node.input):
        return None
    return node


def _forward(view: GraphView, value: str) -> tuple[onnx.NodeProto, str] | None:
    """Forward from ``value`` through layout ops (shape reads aside) to the next other node and the input
    of it that comes from ``value``."""
    while True:
        users = [u for u in view.users(value) if u.op_type != "Shape"]
        if len(users) != 1 or view.is_output(value):
            return None
        node = users[0]
        if node.op_type in _LAYOUT and node.input[0] == value:
            value = node.output[0]
            continue
        return node, value


def _output_projection(view: GraphView, weighted: onnx.NodeProto) -> tuple[_Projection, str] | None:
    """The output projection after the weighted sum, and the tensor the whole layer computes."""
    found = _forward(view, weighted.output[0])
    if found is None:
        return None
    node, _ = found
    dense = _dense(view, node)
    if dense is None:
        return None
    weight, bias = dense
    out = node.output[0]
    users = view.users(out)
    if bias is None and len(users) == 1 and users[0].op_type == "Add" and not view.is_output(out):
        add = users[0]
        other = add.input[1] if add.input[0] == out else add.input[0]
        c = _const(view, other)
        if c is not None and c.size == weight.shape[1] and c.shape[-1:] == (weight.shape[1],):
            bias, out = c.reshape(-1), add.output[0]
    users = view.users(out)
    if len(users) == 1 and users[0].op_type == "Reshape" and users[0].input[0] == out and not view.is_output(out):
        # a Dense on a sequence: the flat (batch * seq, features) result back to (batch, seq, features), maybe
        # through size-1 axes squeezed after (tf2onnx's einsum of a run-time length)
        back = users[0].output[0]
        after = [u for u in view.users(back) if u.op_type != "Shape"]
        if view.type(back).rank != 3 and len(after) == 1 and after[0].op_type == "Squeeze" and \
                after[0].input[0] == back and not view.is_output(back):
            back = after[0].output[0]
        t = view.type(back)
        if t.rank == 3 and view.type(out).rank == 2 and t.shape[-1] == weight.shape[1]:  # type: ignore[index]
            out = back
    return _Projection(node, _unflattened(view, node.input[0], weight.shape[0]), weight, bias), out


def _region(view: GraphView, y: str, sources: set[str]) -> dict[int, onnx.NodeProto] | None:
    """Every node ``y`` is computed by from ``sources`` and constants, or None when it reads anything else."""
    found: dict[int, onnx.NodeProto] = {}
    seen: set[str] = set()
    stack = [y]
    while stack:
        v = stack.pop()
        if v in seen or not v:
            continue
        seen.add(v)
        if v in sources or isinstance(view.known.get(v), Const):
            continue
        node = view.producer.get(v)
        if node is None or node.domain not in ("", "ai.onnx") or node.op_type not in _ALLOWED:
            return None
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
            return None
        found[id(node)] = node
        stack.extend(node.input)
    return found


def _match(view: GraphView, softmax: onnx.NodeProto):
    """``(region, candidate layers, the tensor the layer computes)`` for the attention around ``softmax``,
    or None when the structure is not that of a multi-head attention."""
    rank = view.type(softmax.input[0]).rank
    axis = int(node_attrs(softmax).get("axis", -1))
    if rank is None or axis not in (-1, rank - 1) or view.opset < 13:
        return None
    scores = _product(view, softmax.input[0])
    found = _forward(view, softmax.output[0])
    if scores is None or found is None:
        return None
    weighted, probs_in = found
    if weighted.op_type != "MatMul" or weighted.input[0] != probs_in or probs_in == weighted.input[1]:
        return None
    first, second = (_projection(view, i) for i in scores.input)
    value = _projection(view, weighted.input[1])
    out = _output_projection(view, weighted)
    if first is None or second is None or value is None or out is None:
        return None
    output, y = out
    sources = {first.source, second.source, value.source}
    for s in sources:
        t = view.type(s)
        if t.elem != TensorProto.FLOAT or t.rank != 3 or not isinstance(t.shape[-1], int):  # type: ignore[index]
            return None
    if view.type(y).elem != TensorProto.FLOAT or view.type(y).rank != 3:
        return None
    if len({id(first.node), id(second.node), id(value.node), id(output.node)}) != 4:
        return None
    region = _region(view, y, sources)
    if region is None or sum(n.op_type == "Softmax" for n in region.values()) != 1:
        return None
    if sum(n.op_type in _PRODUCTS for n in region.values()) != 6:
        return None
    width, v_width = first.weight.shape[1], value.weight.shape[1]
    if second.weight.shape[1] != width or output.weight.shape[0] != v_width:
        return None
    candidates = []
    for heads in _head_counts(view, region, width, v_width):
        for q, k in ((first, second), (second, first)):  # the scores' operand order is checked below
            candidates.append(Attention(heads, width // heads, v_width // heads, q, k, value, output))
    return region, candidates, y


def _head_counts(view: GraphView, region: dict[int, onnx.NodeProto], width: int, v_width: int) -> list[int]:
    """The head count read from the head reshapes ((batch, seq, heads, size) after a projection), else
    every common divisor of the projection widths (the check tells them apart)."""
    for node in region.values():
        if node.op_type != "Reshape":
            continue
        shape = view.type(node.output[0]).shape
        if shape and len(shape) == 4 and all(isinstance(d, int) for d in shape[2:]):
            heads, size = int(shape[2]), int(shape[3])  # type: ignore[arg-type]
            if heads * size == width and v_width % heads == 0:
                return [heads]
    return [h for h in range(1, width + 1) if width % h == 0 and v_width % h == 0]


# --------------------------------------------------------------------------------------------------
# checking a candidate against the subgraph
# --------------------------------------------------------------------------------------------------
def _subgraph(view: GraphView, region: dict[int, onnx.NodeProto], sources: list[str], y: str) -> onnx.ModelProto:
    """The region's nodes as a model of their own, reading ``sources``."""
    nodes = [n for n in view.nodes if id(n) in region]
    consts = {}
    for n in nodes:
        for i in n.input:
            c = _const(view, i)
            if c is not None and i not in consts:
                consts[i] = c
    inputs = [helper.make_tensor_value_info(s, TensorProto.FLOAT, list(view.type(s).shape)) for s in sources]  # type: ignore[arg-type]
    graph = helper.make_graph(nodes, "attention", inputs, [helper.make_tensor_value_info(y, TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(np.asarray(a), name) for name, a in consts.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", view.opset)])
    model.ir_version = 8 if view.opset <= 18 else 9
    return model


def _samples(view: GraphView, sources: list[str]) -> list[dict[str, np.ndarray]]:
    """Random inputs of two sizes: symbolic dims shared by name, so self-attention's sources agree."""
    rng = np.random.default_rng(0)
    out = []
    for size in (2, 3):
        named: dict[str, int] = {}
        feed = {}
        for s in sources:
            dims = []
            for d in view.type(s).shape:  # type: ignore[union-attr]
                if isinstance(d, int):
                    dims.append(d)
                else:
                    key = d if isinstance(d, str) else f"{s}:{len(dims)}"
                    dims.append(named.setdefault(key, size + len(named)))
            feed[s] = rng.standard_normal(dims).astype(np.float32)
        out.append(feed)
    return out


def _verified(view: GraphView, region, candidates: list[Attention], y: str) -> Attention | None:
    """The first candidate that computes what the subgraph computes, on random inputs of two sizes."""
    import onnxruntime as ort

    sources = list(dict.fromkeys(p.source for p in (candidates[0].query, candidates[0].key, candidates[0].value)))
    try:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        session = ort.InferenceSession(_subgraph(view, region, sources, y).SerializeToString(), opts,
                                       providers=["CPUExecutionProvider"])
        samples = _samples(view, sources)
        expected = [session.run(None, feed)[0] for feed in samples]
    except Exception:  # noqa: BLE001 - a subgraph onnxruntime cannot run on its own is simply not matched
        return None
    atol, rtol = _TOLERANCE
    for cand in candidates:
        try:
            got = [cand.compute(f[cand.query.source], f[cand.key.source], f[cand.value.source]) for f in samples]
        except ValueError:  # shapes that do not fit this candidate
            continue
        if all(g.shape == e.shape and np.allclose(g, e, atol=atol, rtol=rtol) for g, e in zip(got, expected)):
            return cand
    return None


def _absorbed(view: GraphView, region: dict[int, onnx.NodeProto], y: str, live: set[int]) -> set[int]:
    """The region's nodes the layer replaces: all but those whose results a converted node outside still
    reads (shape arithmetic an exporter shares, say), and what those read. Readers that write no code
    (dead, or folded at conversion time) do not count, except through the sizes their results read."""
    kept: set[int] = set()
    region_values = {o: n for n in region.values() for o in n.output if o}

    def read_outside(value: str) -> bool:
        return view.is_output(value) or any(id(u) not in region and id(u) in live for u in view.users(value))

    for o, n in region_values.items():
        if o != y and read_outside(o):
            kept.add(id(n))
    for name, k in view.known.items():  # shape arithmetic outside reading a region tensor's sizes
        producer = view.producer.get(name)
        if isinstance(k, Const) or not hasattr(k, "refs") or (producer is not None and id(producer) in region):
            continue
        if read_outside(name):
            kept.update(id(region_values[r]) for r in k.refs() if r in region_values and r != y)
    stack = [n for n in region.values() if id(n) in kept]
    while stack:
        node = stack.pop()
        for i in node.input:
            p = view.producer.get(i)
            if p is not None and id(p) in region and id(p) not in kept:
                kept.add(id(p))
                stack.append(p)
    return set(region) - kept


# --------------------------------------------------------------------------------------------------
# the pattern
# --------------------------------------------------------------------------------------------------
@TF_PATTERNS.register
def multi_head_attention(view: GraphView, nodes: list[onnx.NodeProto]) -> list[PatternMatch]:
    """Every multi-head attention among ``nodes`` that ``layers.MultiHeadAttention`` computes exactly."""
    live = {id(n) for n in nodes}
    taken: set[int] = set()
    matches: list[PatternMatch] = []
    for softmax in nodes:
        if softmax.op_type != "Softmax" or id(softmax) in taken:
            continue
        found = _match(view, softmax)
        if found is None:
            continue
        region, candidates, y = found
        if taken & set(region) or id(view.producer[y]) not in live:
            continue
        layer = _verified(view, region, candidates, y)
        if layer is None:
            continue
        absorbed = _absorbed(view, region, y, live) & live
        if id(view.producer[y]) not in absorbed:
            continue
        taken.update(region)
        inputs = [layer.query.source, layer.value.source]
        if layer.key.source != layer.value.source:
            inputs.append(layer.key.source)
        hint = _hint(layer)
        node = helper.make_node(OP_TYPE, inputs, [y], name=f"{hint}/{OP_TYPE}")  # the output is named after it
        matches.append(PatternMatch(node, absorbed, _emitter(layer, hint)))
    return matches


def _hint(layer: Attention) -> str:
    """The layer's name: the scope the projections' node names share (``multi_head_attention/query/MatMul``
    -> ``multi_head_attention``), else ``multi_head_attention``."""
    names = [p.node.name.split("/") for p in (layer.query, layer.key, layer.value, layer.output)]
    prefix = []
    for parts in zip(*names):
        if len(set(parts)) != 1:
            break
        prefix.append(parts[0])
    return "_".join(prefix) if prefix and prefix[0] else "multi_head_attention"


def _emitter(layer: Attention, hint: str):
    def emit(ctx: TensorFlowContext) -> None:
        kwargs: dict = {"num_heads": layer.heads, "key_dim": layer.key_dim}
        if layer.value_dim != layer.key_dim:
            kwargs["value_dim"] = layer.value_dim
        if not layer.use_bias:
            kwargs["use_bias"] = False
        out_dim = int(layer.output.weight.shape[1])
        if out_dim != int(layer.query.weight.shape[0]):
            kwargs["output_shape"] = out_dim
        mha = ctx.layer("MultiHeadAttention", hint=hint, weights=layer.kernels(), **kwargs)
        extra = {"key": ctx.x(2)} if ctx.n_inputs > 2 else {}
        ctx.emit(call(mha, ctx.x(0), ctx.x(1), **extra))

    return emit

