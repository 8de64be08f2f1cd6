"""Gemm and MatMul (-> nn.Linear when the weight is constant, absorbing a following bias Add), Einsum."""

from __future__ import annotations

import numpy as np

from onnxbridge.codegen.writer import Code, fmt, lit
from onnxbridge.frameworks.torch.context import ParamRef, TorchContext, Transform, fn, scalar
from onnxbridge.frameworks.torch.ops._attention import emit_attention, match_attention
from onnxbridge.frameworks.torch.registry import TORCH_OPS
from onnxbridge.ir.symbolic import Const, Placeholder

REG = TORCH_OPS.register


def _linear(ctx: TorchContext, x: Code, in_features: int, out_features: int, weight: tuple[ParamRef, Transform],
            bias: tuple[ParamRef, Transform] | None, hint: str | None = None) -> Code:
    kwargs = {} if bias is not None else {"bias": lit(False)}
    params = {"weight": weight}
    if bias is not None:
        params["bias"] = bias
    module = ctx.add_module(fn("nn.Linear", lit(in_features), lit(out_features), **kwargs), params, hint=hint)
    return fmt("{}({})", module, x)


def _vector_bias(ref: ParamRef | None, n: int, max_rank: int | None) -> bool:
    """Whether a constant broadcasts exactly like a bias of ``n`` features on the last axis."""
    if ref is None:
        return False
    shape = ref.shape
    if int(np.prod(shape)) != n or (max_rank is not None and len(shape) > max_rank):
        return False
    return shape[-1] == n if shape else n == 1


@REG("Gemm", since=7)
def gemm(ctx: TorchContext) -> None:
    """ONNX ``Gemm`` as an ``nn.Linear`` module for a constant weight (alpha, beta and transposes folded in),
    matrix products otherwise."""
    alpha, beta = float(ctx.attr("alpha", 1.0)), float(ctx.attr("beta", 1.0))
    trans_a, trans_b = int(ctx.attr("transA", 0)), int(ctx.attr("transB", 0))
    a = ctx.t(0)
    if trans_a:
        a = fmt("{}.t()", a)
    weight = ctx.param(1)
    if weight is not None and len(weight.shape) == 2:
        out_features, in_features = weight.shape if trans_b else weight.shape[::-1]

        def w_transform(w: np.ndarray, trans_b: int = trans_b, alpha: float = alpha) -> np.ndarray:
            w = w if trans_b else w.T
            return np.ascontiguousarray(w * np.asarray(alpha, dtype=w.dtype) if alpha != 1.0 else w)

        c = ctx.param(2)
        bias = None
        extra: Code | None = None
        if c is not None and _vector_bias(c, out_features, 2):
            bias = (c, lambda b, n=out_features, beta=beta: (np.asarray(b).reshape(n) *
                                                             np.asarray(beta, dtype=np.asarray(b).dtype)))
        elif ctx.has(2) and beta != 0.0:
            extra = ctx.t(2) if beta == 1.0 else fmt("{} * {}", scalar(np.float32(beta)), ctx.t(2))
        y = _linear(ctx, a, int(in_features), int(out_features), (weight, w_transform), bias)
        ctx.emit(fmt("{} + {}", y, extra) if extra is not None else y)
        return
    b = ctx.t(1)
    if trans_b:
        b = fmt("{}.t()", b)
    y = fmt("{} @ {}", a, b)
    if alpha != 1.0:
        y = fmt("{} * ({})", scalar(np.float32(alpha)), y)
    if ctx.has(2) and beta != 0.0:
        c_code = ctx.t(2) if beta == 1.0 else fmt("{} * {}", scalar(np.float32(beta)), ctx.t(2))
        y = fmt("{} + {}", y, c_code)
    ctx.emit(y)


@REG("MatMul")
def matmul(ctx: TorchContext) -> None:
    """ONNX ``MatMul``: attention when it starts a recognised attention pattern, an ``nn.Linear`` for a
    constant 2-D weight, ``torch.matmul`` otherwise."""
    match = match_attention(ctx.view, ctx.node)
    if match is not None:
        emit_attention(ctx, match)
        return
    weight = ctx.param(1)
    if weight is not None and len(weight.shape) == 2 and not _is_param(ctx, 0):
        in_features, out_features = weight.shape
        bias_node, bias_ref = _bias_add(ctx, out_features)
        bias = (bias_ref, lambda b, n=out_features: np.asarray(b).reshape(n)) if bias_ref is not None else None
        y = _linear(ctx, ctx.t(0), int(in_features), int(out_features),
                    (weight, lambda w: np.ascontiguousarray(w.T)), bias)
        if bias_node is not None:
            ctx.absorb(bias_node)
            ctx.define(bias_node.output[0], y)
        else:
            ctx.emit(y)
        return
    ctx.emit(fmt("{} @ {}", ctx.t(0), ctx.t(1)))


def _is_param(ctx: TorchContext, i: int) -> bool:
    return isinstance(ctx.view.known.get(ctx.input_name(i)), (Const, Placeholder))


def _bias_add(ctx: TorchContext, n: int):
    """The Add that adds a constant bias right after this MatMul (to fold into nn.Linear), if any."""
    out = ctx.node.output[0]
    users = ctx.readers(out)
    if len(users) != 1 or ctx.is_output(out):
        return None, None
    add = users[0]
    if add.op_type != "Add" or len(add.input) != 2:
        return None, None
    other = add.input[1] if add.input[0] == out else add.input[0]
    k = ctx.view.known.get(other)
    if other == out or not isinstance(k, (Const, Placeholder)):
        return None, None
    ref = (ParamRef(k.type, formal=k.formal) if isinstance(k, Placeholder)
           else ParamRef(ctx.view.type(other), array=k.array, name=k.name))
    if ref.type.elem is not None and ctx.elem(1) is not None and ref.type.elem != ctx.elem(1):
        return None, None
    out_rank = ctx.out_type().rank
    if not _vector_bias(ref, n, out_rank if out_rank is not None else 1):
        return None, None
    return add, ref


@REG("Einsum", since=12)
def einsum(ctx: TorchContext) -> None:
    """ONNX ``Einsum`` as ``torch.einsum``."""
    operands = [ctx.t(i) for i in range(ctx.n_inputs) if ctx.has(i)]
    ctx.emit(fn("torch.einsum", lit(str(ctx.attr("equation")).replace(" ", "")), *operands))
