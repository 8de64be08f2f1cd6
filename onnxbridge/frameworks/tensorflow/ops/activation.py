"""Activations: Relu, Sigmoid, Tanh, GELU, Softmax and friends (Keras ``ops`` functions)."""

from __future__ import annotations

from typing import Any

import numpy as np

from onnxbridge.codegen.writer import Code, call, dotted, lit
from onnxbridge.frameworks.tensorflow import layout as L
from onnxbridge.frameworks.tensorflow.context import TensorFlowContext
from onnxbridge.frameworks.tensorflow.registry import TF_OPS


def _ops(name: str) -> Code:
    return dotted("ops", name)


_SIMPLE = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Softplus": "softplus", "Softsign": "softsign",
           "HardSwish": "hard_silu"}


def _simple(fn: str):
    def convert(ctx: TensorFlowContext) -> None:
        x, perm = ctx.x_any(0)
        ctx.emit(call(_ops(fn), x), perm=perm)

    convert.__name__ = f"convert_{fn}"
    return convert


for _op, _fn in _SIMPLE.items():
    TF_OPS.register(_op)(_simple(_fn))


@TF_OPS.register("Swish", since=24)
def swish(ctx: TensorFlowContext) -> None:
    """ONNX ``Swish``: ``ops.silu`` (alpha 1), else ``x * sigmoid(alpha * x)``."""
    x, perm = ctx.x_any(0)
    alpha = float(ctx.attr("alpha", 1.0))
    if alpha == 1.0:
        ctx.emit(call(_ops("silu"), x), perm=perm)
    else:
        scaled = call(_ops("multiply"), x, lit(alpha))
        ctx.emit(call(_ops("multiply"), x, call(_ops("sigmoid"), scaled)), perm=perm)


@TF_OPS.register("LeakyRelu")
def leaky_relu(ctx: TensorFlowContext) -> None:
    """ONNX ``LeakyRelu`` as ``ops.leaky_relu``."""
    x, perm = ctx.x_any(0)
    ctx.emit(call(_ops("leaky_relu"), x, negative_slope=lit(float(ctx.attr("alpha", 0.01)))), perm=perm)


@TF_OPS.register("Elu")
def elu(ctx: TensorFlowContext) -> None:
    """ONNX ``Elu`` as ``ops.elu``."""
    x, perm = ctx.x_any(0)
    ctx.emit(call(_ops("elu"), x, alpha=lit(float(ctx.attr("alpha", 1.0)))), perm=perm)


@TF_OPS.register("Celu", since=12)
def celu(ctx: TensorFlowContext) -> None:
    """ONNX ``Celu`` as ``ops.celu``."""
    x, perm = ctx.x_any(0)
    ctx.emit(call(_ops("celu"), x, alpha=lit(float(ctx.attr("alpha", 1.0)))), perm=perm)


_SELU_ALPHA, _SELU_GAMMA = 1.67326319217681884765625, 1.05070102214813232421875


@TF_OPS.register("Selu")
def selu(ctx: TensorFlowContext) -> None:
    """ONNX ``Selu`` as ``ops.selu``, or ``gamma * elu(x, alpha)`` for non-default constants."""
    x, perm = ctx.x_any(0)
    alpha, gamma = float(ctx.attr("alpha", _SELU_ALPHA)), float(ctx.attr("gamma", _SELU_GAMMA))
    if np.isclose(alpha, _SELU_ALPHA) and np.isclose(gamma, _SELU_GAMMA):
        ctx.emit(call(_ops("selu"), x), perm=perm)
        return
    ctx.emit(call(_ops("multiply"), lit(gamma), call(_ops("elu"), x, alpha=lit(alpha))), perm=perm)


@TF_OPS.register("HardSigmoid")
def hard_sigmoid(ctx: TensorFlowContext) -> None:
    """ONNX ``HardSigmoid`` as ``clip(alpha * x + beta, 0, 1)``."""
    x, perm = ctx.x_any(0)
    alpha, beta = float(ctx.attr("alpha", 0.2)), float(ctx.attr("beta", 0.5))
    expr = call(_ops("clip"), call(_ops("add"), call(_ops("multiply"), x, lit(alpha)), lit(beta)),
                lit(0.0), lit(1.0))
    ctx.emit(expr, perm=perm)


@TF_OPS.register("ThresholdedRelu", since=10)
def thresholded_relu(ctx: TensorFlowContext) -> None:
    """ONNX ``ThresholdedRelu`` as ``where(x > alpha, x, 0)``."""
    x, perm = ctx.x_any(0)
    alpha = float(ctx.attr("alpha", 1.0))
    ctx.emit(call(_ops("where"), call(_ops("greater"), x, lit(alpha)), x, lit(0.0)), perm=perm)


@TF_OPS.register("Mish", since=18)
def mish(ctx: TensorFlowContext) -> None:
    """ONNX ``Mish`` as ``x * tanh(softplus(x))``."""
    x, perm = ctx.x_any(0)
    ctx.emit(call(_ops("multiply"), x, call(_ops("tanh"), call(_ops("softplus"), x))), perm=perm)


@TF_OPS.register("Gelu", since=20)
def gelu(ctx: TensorFlowContext) -> None:
    """ONNX ``Gelu`` as ``ops.gelu``, exact or tanh-approximated."""
    x, perm = ctx.x_any(0)
    approximate = ctx.attr("approximate", "none") == "tanh"
    ctx.emit(call(_ops("gelu"), x, approximate=lit(approximate)), perm=perm)


@TF_OPS.register("PRelu")
def prelu(ctx: TensorFlowContext) -> None:
    """ONNX ``PRelu`` as ``where(x >= 0, x, x * slope)``, the slope broadcast to the output's layout."""
    (x, slope), perm = ctx.aligned([0, 1], ctx.out_rank())
    ctx.emit(call(_ops("where"), call(_ops("greater_equal"), x, lit(0.0)), x, call(_ops("multiply"), x, slope)), perm=perm)


@TF_OPS.register("Shrink", since=9)
def shrink(ctx: TensorFlowContext) -> None:
    """ONNX ``Shrink``: ``x + bias`` below ``-lambd``, ``x - bias`` above ``lambd``, 0 between."""
    x, perm = ctx.x_any(0)
    lambd, bias = float(ctx.attr("lambd", 0.5)), float(ctx.attr("bias", 0.0))
    expr = call(_ops("where"), call(_ops("less"), x, lit(-lambd)), call(_ops("add"), x, lit(bias)),
                call(_ops("where"), call(_ops("greater"), x, lit(lambd)), call(_ops("subtract"), x, lit(bias)),
                     lit(0.0)))
    ctx.emit(expr, perm=perm)


def _softmax(fn: str, legacy: bool):
    def convert(ctx: TensorFlowContext) -> None:
        node = ctx.node
        rank = ctx.rank(0)
        axis = ctx.axis(ctx.attr("axis", 1 if legacy else -1), rank)
        if legacy and axis != rank - 1:
            # before opset 13 the input is flattened to 2-D at ``axis``: softmax over all trailing axes
            shape = ctx.shape(0)
            tail = shape[axis:]
            if not all(isinstance(d, int) for d in tail):
                ctx.fail(f"{node.op_type} before opset 13 over non-static trailing dims {list(tail)}")
            flat = call(_ops("reshape"), ctx.x(0), lit((-1, int(np.prod(tail)))))
            back = tuple(-1 if not isinstance(d, int) else d for d in shape[:axis]) + tuple(tail)
            ctx.emit(call(_ops("reshape"), call(_ops(fn), flat, axis=lit(-1)), lit(back)))
            return
        x, perm = ctx.x_any(0)
        stored = L.stored_axis(perm, axis)
        ctx.emit(call(_ops(fn), x, axis=lit(stored if stored != rank - 1 else -1)), perm=perm)

    return convert


TF_OPS.register("Softmax")(_softmax("softmax", legacy=True))
TF_OPS.register("Softmax", since=13)(_softmax("softmax", legacy=False))
TF_OPS.register("LogSoftmax")(_softmax("log_softmax", legacy=True))
TF_OPS.register("LogSoftmax", since=13)(_softmax("log_softmax", legacy=False))


@TF_OPS.register("Hardmax", since=13)
def hardmax(ctx: TensorFlowContext) -> None:
    """ONNX ``Hardmax`` as a one-hot of the argmax along the axis."""
    rank = ctx.rank(0)
    axis = ctx.axis(ctx.attr("axis", -1), rank)
    x, perm = ctx.x_any(0)
    stored = L.stored_axis(perm, axis)
    shape = L.stored_shape(ctx.shape(0), perm)
    depth = shape[stored]
    if not isinstance(depth, int):
        ctx.fail("Hardmax over a dim that is not static")
    expr = call(_ops("one_hot"), call(_ops("argmax"), x, axis=lit(stored)), lit(depth),
                axis=lit(stored if stored != rank - 1 else -1), dtype=lit(ctx.dtype(ctx.elem(0))))
    ctx.emit(expr, perm=perm)


def _clip(ctx: TensorFlowContext, lo, hi) -> None:
    x, perm = ctx.x_any(0)
    if lo is not None and hi is not None and float(lo) == 0.0 and float(hi) == 6.0:
        ctx.emit(call(_ops("relu6"), x), perm=perm)
    elif lo is not None and hi is None and float(lo) == 0.0:
        ctx.emit(call(_ops("relu"), x), perm=perm)
    elif lo is not None and hi is not None:
        ctx.emit(call(_ops("clip"), x, _num(lo, ctx), _num(hi, ctx)), perm=perm)
    elif lo is not None:
        ctx.emit(call(_ops("maximum"), x, _num(lo, ctx)), perm=perm)
    elif hi is not None:
        ctx.emit(call(_ops("minimum"), x, _num(hi, ctx)), perm=perm)
    else:
        ctx.alias(0, keep_perm=True)


def _num(v, ctx: TensorFlowContext) -> Code:
    return lit(float(v)) if np.dtype(ctx.dtype(ctx.elem(0))).kind == "f" else lit(int(v))


@TF_OPS.register("Clip", since=6)
def clip_6(ctx: TensorFlowContext) -> None:
    """ONNX ``Clip`` before opset 11, its bounds given as attributes."""
    _clip(ctx, ctx.attr("min", -3.4028234663852886e38), ctx.attr("max", 3.4028234663852886e38))


@TF_OPS.register("Clip", since=11)
def clip_11(ctx: TensorFlowContext) -> None:
    """ONNX ``Clip`` from opset 11, its optional bounds given as constant inputs."""
    bounds: list[Any] = []
    for i in (1, 2):
        if not ctx.has(i):
            bounds.append(None)
            continue
        c = ctx.const(i)
        if c is None or ctx.is_instance_const(i):
            # bounds computed at run time
            x, perm = ctx.x_any(0)
            expr = x
            if ctx.has(1):
                expr = call(_ops("maximum"), expr, ctx.x(1))
            if ctx.has(2):
                expr = call(_ops("minimum"), expr, ctx.x(2))
            ctx.emit(expr, perm=perm)
            return
        bounds.append(c.reshape(-1)[0])
    _clip(ctx, *bounds)
