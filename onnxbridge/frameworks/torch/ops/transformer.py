"""Whole encoder layers: self-attention + residual + LayerNorm + feed-forward + residual + LayerNorm
subgraphs -> ``nn.TransformerEncoderLayer``.

Exporters write ``nn.TransformerEncoderLayer`` as some forty ops (projections, head reshapes, the
attention chain, norms, the feed-forward), and their layout plumbing differs from one exporter to the
next. Written back as one ``nn.TransformerEncoderLayer``, the generated module reads like the original
and gets PyTorch's fused inference kernel for the whole layer (the "fast path" of eval mode).

How a layer is found: the graph shape of the residual structure (post-norm
``LN2(h + FF(h)), h = LN1(x + SA(x))`` or pre-norm ``h + FF(LN2(h)), h = x + SA(LN1(x))``) with each
branch depending on nothing but its input and constants, nothing inside read from outside, and exactly
the projections, norms and activation such a layer has. Those give the candidate module and its weights;
the candidate is then run against the subgraph itself (onnxruntime, random inputs of two sizes) and used
only when they agree. Anything else (masks, other activations, other scalings, shared intermediate
values) stays op-by-op.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from onnxbridge.codegen.writer import Code, fmt, lit
from onnxbridge.frameworks.torch.context import TorchContext, fn, scalar
from onnxbridge.frameworks.torch.registry import TORCH_PATTERNS, PatternMatch
from onnxbridge.ir.naming import module_path
from onnxbridge.ir.nodes import node_attrs
from onnxbridge.ir.symbolic import Const
from onnxbridge.ir.view import GraphView

OP_TYPE = "TransformerEncoderLayer"  # the op type of the node that stands for a whole matched layer
_TOLERANCE = (1e-5, 1e-4)  # atol, rtol: tighter than parity, so near misses (tanh GELU) stay out


@dataclass
class _Linear:
    weight: np.ndarray  # (out, in), as nn.Linear holds it
    bias: np.ndarray | None


@dataclass
class EncoderLayer:
    """What a matched layer becomes: the module's arguments and its state dict."""

    d_model: int
    nhead: int
    dim_feedforward: int
    activation: str
    eps: float
    norm_first: bool
    batch_first: bool
    state: dict[str, np.ndarray]


# --------------------------------------------------------------------------------------------------
# graph helpers
# --------------------------------------------------------------------------------------------------
def _const(view: GraphView, value: str) -> np.ndarray | None:
    k = view.known.get(value)
    return k.array if isinstance(k, Const) else None


def _branch(view: GraphView, live: set[int], value: str, source: str) -> list[onnx.NodeProto] | None:
    """The live nodes ``value`` is computed by from ``source`` and constants, or None when it reads any
    other runtime value (another input, a mask, a block weight) or does not read ``source`` at all."""
    seen: set[str] = set()
    found: dict[int, onnx.NodeProto] = {}
    reads_source = False
    stack = [value]
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        if v == source:
            reads_source = True
            continue
        if isinstance(view.known.get(v), Const):
            continue
        node = view.producer.get(v)
        if node is None:
            return None  # a graph input or block weight other than the source
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
            return None
        if id(node) in live:
            found[id(node)] = node
        stack.extend(i for i in node.input if i)
    return list(found.values()) if reads_source else None


def _linear(view: GraphView, node: onnx.NodeProto, region: dict[int, onnx.NodeProto]) -> _Linear | None:
    """A MatMul with a constant 2-D weight (and the constant bias Add after it) or a plain Gemm."""
    if node.op_type == "MatMul":
        w = _const(view, node.input[1])
        if w is None or w.ndim != 2:
            return None
        bias = None
        users = view.runtime_users(node.output[0])
        if len(users) == 1 and users[0].op_type == "Add" and id(users[0]) in region:
            add = users[0]
            other = add.input[1] if add.input[0] == node.output[0] else add.input[0]
            b = _const(view, other)
            if b is not None and b.size == w.shape[1]:
                bias = b.reshape(-1)
        return _Linear(np.ascontiguousarray(w.T), bias)
    if node.op_type == "Gemm":
        a = node_attrs(node)
        w = _const(view, node.input[1])
        if w is None or w.ndim != 2 or int(a.get("transA", 0)) or float(a.get("alpha", 1.0)) != 1.0:
            return None
        c = _const(view, node.input[2]) if len(node.input) > 2 and node.input[2] else None
        if len(node.input) > 2 and node.input[2] and (c is None or float(a.get("beta", 1.0)) != 1.0):
            return None
        weight = w if int(a.get("transB", 0)) else w.T
        return _Linear(np.ascontiguousarray(weight), None if c is None else c.reshape(-1))
    return None


def _norm(view: GraphView, node: onnx.NodeProto, d_model: int | None = None) -> tuple[np.ndarray, np.ndarray, float] | None:
    if node.op_type != "LayerNormalization" or any(o for o in node.output[1:]):
        return None
    rank = view.type(node.input[0]).rank
    axis = int(node_attrs(node).get("axis", -1))
    if rank is None or axis not in (-1, rank - 1):
        return None
    scale = _const(view, node.input[1])
    bias = _const(view, node.input[2]) if len(node.input) > 2 and node.input[2] else None
    if scale is None or scale.ndim != 1 or (bias is None and len(node.input) > 2 and node.input[2]):
        return None
    bias = np.zeros_like(scale) if bias is None else bias.reshape(-1)
    if bias.shape != scale.shape or (d_model is not None and scale.shape[0] != d_model):
        return None
    return scale, bias, float(np.float32(node_attrs(node).get("epsilon", 1e-5)))


def _residual(view: GraphView, live: set[int], node: onnx.NodeProto | None):
    """``(source, branch nodes)`` for an ``Add(source, f(source))``, trying both operand orders."""
    if node is None or node.op_type != "Add" or len(node.input) != 2 or id(node) not in live:
        return None
    for a, b in ((0, 1), (1, 0)):
        branch = _branch(view, live, node.input[b], node.input[a])
        if branch is not None:
            return node.input[a], branch
    return None


# --------------------------------------------------------------------------------------------------
# matching
# --------------------------------------------------------------------------------------------------
def _match(view: GraphView, live: set[int], last: onnx.NodeProto):
    """``(x, region nodes, EncoderLayer candidates)`` for the layer whose output ``last`` computes."""
    post = last.op_type == "LayerNormalization"
    res2 = view.producer.get(last.input[0]) if post else last
    found2 = _residual(view, live, res2)
    if found2 is None:
        return None
    h, ff = found2
    ln1 = view.producer.get(h) if post else None
    res1 = view.producer.get(ln1.input[0]) if post and ln1 is not None else view.producer.get(h)
    found1 = _residual(view, live, res1)
    if found1 is None:
        return None
    x, sa = found1
    if post:
        if ln1 is None or id(ln1) not in live:
            return None
        norms = [ln1, last]
        if any(n.op_type == "LayerNormalization" for n in sa + ff):
            return None
    else:
        sa_norms = [n for n in sa if n.op_type == "LayerNormalization"]
        ff_norms = [n for n in ff if n.op_type == "LayerNormalization"]
        if len(sa_norms) != 1 or len(ff_norms) != 1 or sa_norms[0].input[0] != x or ff_norms[0].input[0] != h:
            return None
        norms = [sa_norms[0], ff_norms[0]]
    nodes = {id(n): n for n in [*sa, *ff, *norms, res1, res2, last]}
    x_type = view.type(x)
    if x_type.elem != TensorProto.FLOAT or x_type.rank != 3 or not isinstance(x_type.shape[-1], int):  # type: ignore[index]
        return None
    d_model = int(x_type.shape[-1])  # type: ignore[index]
    # the region is closed: nothing but the layer's output is read outside it
    for n in nodes.values():
        for o in n.output:
            if not o or o == last.output[0]:
                continue
            if view.is_output(o) or any(id(u) not in nodes for u in view.runtime_users(o)):
                return None
    n1, n2 = _norm(view, norms[0], d_model), _norm(view, norms[1], d_model)
    if n1 is None or n2 is None or n1[2] != n2[2]:
        return None
    sa_found = [(n, _linear(view, n, nodes)) for n in sa if n.op_type in ("MatMul", "Gemm")]
    sa_lin = [(n, lin) for n, lin in sa_found if lin is not None]
    ff_found = [(n, _linear(view, n, nodes)) for n in ff if n.op_type in ("MatMul", "Gemm")]
    ff_lin = [(n, lin) for n, lin in ff_found if lin is not None]
    if len(sa_lin) != 2 or len(ff_lin) != 2 or len(ff_lin) != len(ff_found):
        return None
    order = {id(n): i for i, n in enumerate(view.nodes)}
    (_, in_proj), (_, out_proj) = sorted(sa_lin, key=lambda p: order[id(p[0])])
    (_, lin1), (_, lin2) = sorted(ff_lin, key=lambda p: order[id(p[0])])
    if in_proj.weight.shape != (3 * d_model, d_model) or out_proj.weight.shape != (d_model, d_model):
        return None
    dim_ff = lin1.weight.shape[0]
    if lin1.weight.shape != (dim_ff, d_model) or lin2.weight.shape != (d_model, dim_ff):
        return None
    activation = _activation(ff)
    if activation is None:
        return None
    softmax = [n for n in sa if n.op_type == "Softmax"]
    if len(softmax) != 1:
        return None
    head_dims = _head_dims(view, softmax[0], d_model)
    zeros = np.zeros
    state = {
        "self_attn.in_proj_weight": in_proj.weight,
        "self_attn.in_proj_bias": in_proj.bias if in_proj.bias is not None else zeros(3 * d_model, np.float32),
        "self_attn.out_proj.weight": out_proj.weight,
        "self_attn.out_proj.bias": out_proj.bias if out_proj.bias is not None else zeros(d_model, np.float32),
        "linear1.weight": lin1.weight, "linear1.bias": lin1.bias if lin1.bias is not None else zeros(dim_ff, np.float32),
        "linear2.weight": lin2.weight, "linear2.bias": lin2.bias if lin2.bias is not None else zeros(d_model, np.float32),
        "norm1.weight": n1[0], "norm1.bias": n1[1], "norm2.weight": n2[0], "norm2.bias": n2[1],
    }
    state = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()}
    candidates = [EncoderLayer(d_model, d_model // hd, int(dim_ff), activation, n1[2], not post, bf, state)
                  for hd in head_dims for bf in (True, False)]
    return x, nodes, norms, candidates


_FF_OPS = frozenset({"MatMul", "Gemm", "Add", "LayerNormalization"})
_GELU_ERF_OPS = frozenset({"Div", "Mul", "Erf"})  # x * 0.5 * (1 + erf(x / sqrt(2))), older exports


def _activation(ff: list[onnx.NodeProto]) -> str | None:
    """``relu`` or ``gelu`` (exact, not tanh-approximated) when the feed-forward has that and nothing else."""
    ops = {n.op_type for n in ff} - _FF_OPS
    if ops == {"Relu"}:
        return "relu"
    gelus = [n for n in ff if n.op_type == "Gelu"]
    if ops == {"Gelu"} and all(node_attrs(n).get("approximate", "none") == "none" for n in gelus):
        return "gelu"
    if ops == _GELU_ERF_OPS:
        return "gelu"
    return None


def _head_dims(view: GraphView, softmax: onnx.NodeProto, d_model: int) -> list[int]:
    """The head size read from the attention's types (``softmax(..) @ V``), else every divisor of d_model
    (the check against the subgraph tells them apart)."""
    for u in view.runtime_users(softmax.output[0]):
        if u.op_type != "MatMul":
            continue
        for value in (u.output[0], u.input[1]):
            shape = view.type(value).shape
            if shape and isinstance(shape[-1], int) and shape[-1] > 0 and d_model % shape[-1] == 0:
                return [int(shape[-1])]
    return [d for d in range(1, d_model + 1) if d_model % d == 0]


# --------------------------------------------------------------------------------------------------
# checking a candidate against the subgraph
# --------------------------------------------------------------------------------------------------
def _subgraph(view: GraphView, x: str, y: str) -> onnx.ModelProto | None:
    """The nodes that compute ``y`` from ``x`` and constants, as a model of their own."""
    keep: dict[int, onnx.NodeProto] = {}
    consts: dict[str, np.ndarray] = {}
    stack, seen = [y], set()
    while stack:
        v = stack.pop()
        if v in seen or v == x or not v:
            continue
        seen.add(v)
        c = _const(view, v)
        if c is not None:
            consts[v] = c
            continue
        node = view.producer.get(v)
        if node is None or node.domain not in ("", "ai.onnx"):
            return None
        keep[id(node)] = node
        stack.extend(node.input)
    nodes = [n for n in view.nodes if id(n) in keep]
    t = view.type(x)
    graph = helper.make_graph(
        nodes, "layer", [helper.make_tensor_value_info(x, TensorProto.FLOAT, list(t.shape))],  # type: ignore[arg-type]
        [helper.make_tensor_value_info(y, TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.asarray(a), name) for name, a in consts.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", view.opset)])
    model.ir_version = 8 if view.opset <= 18 else 9
    return model


def _sample_shapes(shape) -> list[tuple[int, ...]]:
    return [tuple(d if isinstance(d, int) else size for d in shape) for size in (2, 3)]


def _verified(view: GraphView, x: str, y: str, candidates: list[EncoderLayer]) -> EncoderLayer | None:
    """The first candidate that computes what the subgraph computes, on random inputs of two sizes."""
    import onnxruntime as ort
    import torch

    model = _subgraph(view, x, y)
    if model is None:
        return None
    try:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(0)
        samples = [rng.standard_normal(s).astype(np.float32) for s in _sample_shapes(view.type(x).shape)]
        expected = [session.run(None, {x: s})[0] for s in samples]
    except Exception:  # noqa: BLE001 - a subgraph onnxruntime cannot run on its own is simply not matched
        return None
    atol, rtol = _TOLERANCE
    for cand in candidates:
        layer = build_layer(cand)
        with torch.no_grad():
            got = [layer(torch.from_numpy(s)).numpy() for s in samples]
        if all(g.shape == e.shape and np.allclose(g, e, atol=atol, rtol=rtol) for g, e in zip(got, expected)):
            return cand
    return None


def build_layer(cand: EncoderLayer):
    """The ``nn.TransformerEncoderLayer`` a candidate describes, with its weights, in eval mode."""
    import torch
    from torch import nn

    layer = nn.TransformerEncoderLayer(cand.d_model, cand.nhead, cand.dim_feedforward, dropout=0.0,
                                       activation=cand.activation, layer_norm_eps=cand.eps,
                                       batch_first=cand.batch_first, norm_first=cand.norm_first)
    layer.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in cand.state.items()})
    return layer.eval()


# --------------------------------------------------------------------------------------------------
# the pattern
# --------------------------------------------------------------------------------------------------
@TORCH_PATTERNS.register
def encoder_layers(view: GraphView, nodes: list[onnx.NodeProto]) -> list[PatternMatch]:
    """Every encoder layer among ``nodes`` that ``nn.TransformerEncoderLayer`` computes exactly."""
    if not any(n.op_type == "Softmax" for n in nodes):
        return []
    live = {id(n) for n in nodes}
    taken: set[int] = set()
    matches: list[PatternMatch] = []
    for last in nodes:
        if last.op_type not in ("LayerNormalization", "Add") or id(last) in taken:
            continue
        found = _match(view, live, last)
        if found is None:
            continue
        x, region, norms, candidates = found
        if taken & set(region):
            continue
        layer = _verified(view, x, last.output[0], candidates)
        if layer is None:
            continue
        taken.update(region)
        hint = _hint(view, norms, region.values())
        node = helper.make_node(OP_TYPE, [x], [last.output[0]], name=last.name)
        matches.append(PatternMatch(node, set(region), _emitter(layer, hint)))
    return matches


_SUBLAYER = re.compile(r"^(.+)\.(self_attn|linear1|linear2|norm1|norm2)\.")


def _hint(view: GraphView, norms: list[onnx.NodeProto], region) -> str:
    """The layer's name: the module path its norms share, else the prefix most of its weight names share
    (``encoder.layers.0.linear1.bias`` -> ``encoder.layers.0``); a weight several nodes read is left out:
    exporters share identical weights between layers, so its name can point at another layer."""
    paths = [".".join(module_path(n)).split(".") for n in norms]
    prefix = []
    for parts in zip(*paths):
        if len(set(parts)) != 1 or not parts[0]:
            break
        prefix.append(parts[0])
    if prefix:
        return ".".join(prefix)
    names: list[str] = []
    for node in region:
        for i in node.input:
            k = view.known.get(i)
            shared = len(view.users(i)) > 1
            m = _SUBLAYER.match(k.name) if isinstance(k, Const) and k.name and not shared else None
            if m:
                names.append(m.group(1))
    return Counter(names).most_common(1)[0][0] if names else "encoder_layer"


def _emitter(layer: EncoderLayer, hint: str):
    def emit(ctx: TorchContext) -> None:
        kwargs: dict[str, Code] = {"dropout": lit(0.0)}
        if layer.activation != "relu":
            kwargs["activation"] = lit(layer.activation)
        if abs(layer.eps - float(np.float32(1e-5))) > 1e-12:
            kwargs["layer_norm_eps"] = scalar(np.float32(layer.eps))
        if layer.batch_first:
            kwargs["batch_first"] = lit(True)
        if layer.norm_first:
            kwargs["norm_first"] = lit(True)
        ctor = fn("nn.TransformerEncoderLayer", lit(layer.d_model), lit(layer.nhead), lit(layer.dim_feedforward),
                  **kwargs)
        module = ctx.add_module(ctor, dict(layer.state), hint=hint, weight=None)
        ctx.emit(fmt("{}({})", module, ctx.t(0)))

    return emit
