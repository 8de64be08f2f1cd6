"""Attention: ``softmax(Q @ K * scale + mask) @ V`` subgraphs -> ``F.scaled_dot_product_attention``.

Exporters and the spec lowering write attention as MatMul, an optional scale (Mul/Div by a constant),
an optional additive mask, Softmax over the last axis and a second MatMul; some also scale Q and K
separately first. When the whole chain is there, one fused call replaces it (faster and what a person
writes); the MatMul converter asks :func:`match_attention` and the Mul converter :func:`prescale_of`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx

from onnxbridge.codegen.writer import Code, fmt, lit
from onnxbridge.frameworks.torch.context import TorchContext, fn, scalar
from onnxbridge.ir.nodes import node_attrs
from onnxbridge.ir.symbolic import Const
from onnxbridge.ir.view import GraphView


@dataclass
class Attention:
    """A matched chain: the nodes it replaces, the score scale, the mask input and the output node."""

    scale: float
    mask: str | None
    output: onnx.NodeProto
    nodes: list[onnx.NodeProto] = field(default_factory=list)


def _only_user(view: GraphView, value: str) -> onnx.NodeProto | None:
    users = view.runtime_users(value)
    return users[0] if len(users) == 1 and not view.is_output(value) else None


def _scalar_const(view: GraphView, value: str) -> float | None:
    k = view.known.get(value)
    if isinstance(k, Const) and k.array.size == 1 and k.array.dtype.kind == "f":
        return float(k.array.reshape(-1)[0])
    return None


def match_attention(view: GraphView, matmul: onnx.NodeProto) -> Attention | None:
    """The attention chain that starts at ``matmul`` (Q @ K^T), if the graph has exactly that."""
    if matmul.op_type != "MatMul":
        return None
    rank = view.type(matmul.output[0]).rank
    if rank is None or rank < 3:
        return None
    nodes: list[onnx.NodeProto] = []
    scale, mask = 1.0, None
    value = matmul.output[0]
    node = _only_user(view, value)
    if node is not None and node.op_type in ("Mul", "Div") and value in node.input:
        other = node.input[1] if node.input[0] == value else node.input[0]
        s = _scalar_const(view, other)
        if s is None or (node.op_type == "Div" and (node.input[1] != other or s == 0.0)):
            return None
        scale = s if node.op_type == "Mul" else 1.0 / s
        nodes.append(node)
        value = node.output[0]
        node = _only_user(view, value)
    if node is not None and node.op_type == "Add" and value in node.input:
        mask = node.input[1] if node.input[0] == value else node.input[0]
        mask_rank = view.type(mask).rank
        if mask == value or mask_rank is None or mask_rank > rank:
            return None
        nodes.append(node)
        value = node.output[0]
        node = _only_user(view, value)
    if node is None or node.op_type != "Softmax":
        return None
    axis = int(node_attrs(node).get("axis", -1 if view.opset >= 13 else 1))
    if axis not in (-1, rank - 1):
        return None
    nodes.append(node)
    final = _only_user(view, node.output[0])
    if final is None or final.op_type != "MatMul" or final.input[0] != node.output[0]:
        return None
    nodes.append(final)
    return Attention(scale, mask, final, nodes)


def prescale_of(view: GraphView, mul: onnx.NodeProto) -> float | None:
    """The scale when ``mul`` scales Q or K right before an attention MatMul (folded into its scale)."""
    if mul.op_type != "Mul" or len(mul.input) != 2:
        return None
    for i in (0, 1):
        s = _scalar_const(view, mul.input[1 - i])
        if s is None or isinstance(view.known.get(mul.input[i]), Const):
            continue
        user = _only_user(view, mul.output[0])
        if user is not None and user.op_type == "MatMul" and match_attention(view, user) is not None:
            return s
    return None


def emit_attention(ctx: TorchContext, match: Attention) -> None:
    """``out = F.scaled_dot_product_attention(q, k.transpose(-2, -1), v, ...)`` for a matched chain."""
    q, kt, v = ctx.t(0), ctx.t(1), ctx.tensor(match.output.input[1], match.output)
    scale = match.scale
    for name in ctx.node.input[:2]:
        scale *= ctx.prescales.get(name, 1.0)
    kwargs: dict[str, Code] = {}
    if match.mask is not None:
        kwargs["attn_mask"] = ctx.tensor(match.mask, match.nodes[0])
    kwargs["scale"] = scalar(np.float32(scale)) if scale != 1.0 else lit(1.0)
    for node in match.nodes:
        ctx.absorb(node)
    elem = ctx.elem(0)
    if elem in (onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16):
        # summed in float32, as onnxruntime does; torch's half kernel rounds each step
        q, kt, v = (fmt("{}.float()", t) for t in (q, kt, v))
        if "attn_mask" in kwargs:
            kwargs["attn_mask"] = fmt("{}.float()", kwargs["attn_mask"])
        y = fmt("{}.to({})", fn("F.scaled_dot_product_attention", q, fmt("{}.transpose(-2, -1)", kt), v, **kwargs),
                ctx.dtype(elem))
    else:
        y = fn("F.scaled_dot_product_attention", q, fmt("{}.transpose(-2, -1)", kt), v, **kwargs)
    ctx.define(match.output.output[0], y)
