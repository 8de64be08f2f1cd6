"""Activations: Relu, Sigmoid, Gelu, Softmax, Clip (-> relu6/clamp), PRelu (-> nn.PReLU) ..."""

from __future__ import annotations

import math

import numpy as np

from onnxbridge.codegen.writer import Code, fmt, lit
from onnxbridge.frameworks.torch.context import TorchContext, fn, scalar
from onnxbridge.frameworks.torch.registry import TORCH_OPS

REG = TORCH_OPS.register


def _unary(op: str, api_name: str, since: int = 1) -> None:
    def convert(ctx: TorchContext) -> None:
        ctx.emit(fn(api_name, ctx.t(0)))

    REG(op, since=since)(convert)


for _op, _api, _since in [
    ("Relu", "torch.relu", 1), ("Tanh", "torch.tanh", 1),
    ("Softplus", "F.softplus", 1), ("Softsign", "F.softsign", 1), ("Mish", "F.mish", 18),
    ("HardSwish", "F.hardswish", 14),
]:
    _unary(_op, _api, _since)


@REG("Sigmoid")
def sigmoid(ctx: TorchContext) -> None:
    """ONNX ``Sigmoid`` as ``torch.sigmoid``, or ``F.silu`` when its only reader multiplies it by its input."""
    out = ctx.node.output[0]
    users = ctx.readers(out)
    if len(users) == 1 and users[0].op_type == "Mul" and not ctx.is_output(out) \
            and sorted(users[0].input) == sorted([ctx.input_name(0), out]):
        mul = users[0]  # x * sigmoid(x) is SiLU (exporters decompose it)
        ctx.absorb(mul)
        ctx.define(mul.output[0], fn("F.silu", ctx.t(0)))
        return
    ctx.emit(fn("torch.sigmoid", ctx.t(0)))


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-7)


@REG("Swish", since=24)
def swish(ctx: TorchContext) -> None:
    """ONNX ``Swish``: ``F.silu`` (alpha 1), else ``x * torch.sigmoid(alpha * x)``."""
    alpha = float(ctx.attr("alpha", 1.0))
    x = ctx.t(0)
    if _close(alpha, 1.0):
        ctx.emit(fn("F.silu", x))
    else:
        ctx.emit(fmt("{} * torch.sigmoid({} * {})", x, scalar(np.float32(alpha)), x))


@REG("LeakyRelu")
def leaky_relu(ctx: TorchContext) -> None:
    """ONNX ``LeakyRelu`` as ``F.leaky_relu``."""
    alpha = float(ctx.attr("alpha", 0.01))
    ctx.emit(fn("F.leaky_relu", ctx.t(0)) if _close(alpha, 0.01) else fn("F.leaky_relu", ctx.t(0), scalar(np.float32(alpha))))


@REG("Elu")
def elu(ctx: TorchContext) -> None:
    """ONNX ``Elu`` as ``F.elu``."""
    alpha = float(ctx.attr("alpha", 1.0))
    ctx.emit(fn("F.elu", ctx.t(0)) if _close(alpha, 1.0) else fn("F.elu", ctx.t(0), alpha=scalar(np.float32(alpha))))


@REG("Celu", since=12)
def celu(ctx: TorchContext) -> None:
    """ONNX ``Celu`` as ``F.celu``."""
    alpha = float(ctx.attr("alpha", 1.0))
    ctx.emit(fn("F.celu", ctx.t(0)) if _close(alpha, 1.0) else fn("F.celu", ctx.t(0), alpha=scalar(np.float32(alpha))))


_SELU_ALPHA, _SELU_GAMMA = 1.67326319217681884765625, 1.05070102214813232421875


@REG("Selu")
def selu(ctx: TorchContext) -> None:
    """ONNX ``Selu`` as ``F.selu``, written out for non-default constants."""
    alpha, gamma = float(ctx.attr("alpha", _SELU_ALPHA)), float(ctx.attr("gamma", _SELU_GAMMA))
    if _close(alpha, _SELU_ALPHA) and _close(gamma, _SELU_GAMMA):
        ctx.emit(fn("F.selu", ctx.t(0)))
        return
    x = ctx.t(0)
    ctx.emit(fmt("{} * torch.where({} > 0, {}, {} * torch.expm1({}))", scalar(np.float32(gamma)), x, x,
                 scalar(np.float32(alpha)), x))


@REG("ThresholdedRelu", since=10)
def thresholded_relu(ctx: TorchContext) -> None:
    """ONNX ``ThresholdedRelu`` as ``F.threshold(x, alpha, 0)``."""
    ctx.emit(fn("F.threshold", ctx.t(0), scalar(np.float32(ctx.attr("alpha", 1.0))), lit(0.0)))


@REG("HardSigmoid")
def hard_sigmoid(ctx: TorchContext) -> None:
    """ONNX ``HardSigmoid`` as ``F.hardsigmoid`` for its constants, ``clamp(alpha * x + beta, 0, 1)``
    otherwise."""
    alpha, beta = float(ctx.attr("alpha", 0.2)), float(ctx.attr("beta", 0.5))
    if _close(alpha, 1 / 6) and _close(beta, 0.5):
        ctx.emit(fn("F.hardsigmoid", ctx.t(0)))
        return
    ctx.emit(fn("torch.clamp", fmt("{} * {} + {}", ctx.t(0), scalar(np.float32(alpha)), scalar(np.float32(beta))),
                lit(0.0), lit(1.0)))


@REG("Gelu", since=20)
def gelu(ctx: TorchContext) -> None:
    """ONNX ``Gelu`` as ``F.gelu``, exact or tanh-approximated."""
    approximate = ctx.attr("approximate", "none")
    if approximate == "tanh":
        ctx.emit(fn("F.gelu", ctx.t(0), approximate=lit("tanh")))
    else:
        ctx.emit(fn("F.gelu", ctx.t(0)))


@REG("PRelu", since=7)
def prelu(ctx: TorchContext) -> None:
    """ONNX ``PRelu`` as an ``nn.PReLU`` module for a per-channel constant slope, written out otherwise."""
    slope = ctx.param(1)
    rank = ctx.type(0).rank
    if slope is not None and rank is not None and rank >= 1:
        shape = slope.shape
        aligned = (1,) * (rank - len(shape)) + tuple(shape)
        non_one = [i for i, d in enumerate(aligned) if d != 1]
        size = int(np.prod(shape)) if shape else 1
        if len(shape) <= rank and (size == 1 or (rank >= 2 and non_one == [1])):
            module = ctx.add_module(fn("nn.PReLU", lit(size)) if size > 1 else Code("nn.PReLU()"),
                                    {"weight": (slope, lambda w: np.asarray(w).reshape(-1))})
            ctx.emit(fmt("{}({})", module, ctx.t(0)))
            return
    x = ctx.t(0)
    ctx.emit(fn("torch.where", fmt("{} >= 0", x), x, fmt("{} * {}", x, ctx.t(1))))


def _softmax(api_name: str):
    def convert(ctx: TorchContext) -> None:
        rank = ctx.type(0).rank
        if ctx.opset >= 13:
            ctx.emit(fn(api_name, ctx.t(0), lit(int(ctx.attr("axis", -1)))))
            return
        axis = int(ctx.attr("axis", 1))
        if rank is not None:
            axis = ctx.axis(axis, rank)
        x = ctx.t(0)
        if rank is not None and axis == rank - 1:
            ctx.emit(fn(api_name, x, lit(-1)))
        else:  # before opset 13 the input is coerced to 2-D at ``axis``
            ctx.emit(fmt("{}.reshape({}.shape)", fn(api_name, fmt("{}.flatten({})", x, lit(axis)), lit(-1)), x))

    return convert


REG("Softmax")(_softmax("torch.softmax"))
REG("LogSoftmax")(_softmax("torch.log_softmax"))


@REG("Hardmax", since=13)
def hardmax(ctx: TorchContext) -> None:
    """ONNX ``Hardmax`` as a one-hot of the argmax along the axis."""
    axis = lit(int(ctx.attr("axis", -1)))
    x = ctx.t(0)
    ctx.emit(fmt("torch.zeros_like({}).scatter_({}, {}.argmax({}, keepdim=True), 1.0)", x, axis, x, axis))


@REG("Clip")
def clip(ctx: TorchContext) -> None:
    """ONNX ``Clip`` (bounds as attributes before opset 11, as optional inputs from 11) as ``torch.clamp``, or
    ``F.relu6`` / ``torch.relu`` where the bounds match."""
    x = ctx.t(0)
    if ctx.opset < 11:
        lo, hi = ctx.attr("min"), ctx.attr("max")
        lo_code = None if lo is None or lo <= -3.4e38 else scalar(np.float32(lo))
        hi_code = None if hi is None or hi >= 3.4e38 else scalar(np.float32(hi))
        lo_val, hi_val = lo, hi
    else:
        lo_val = None if (lo_const := ctx.const(1)) is None else float(lo_const)
        hi_val = None if (hi_const := ctx.const(2)) is None else float(hi_const)
        lo_code = (scalar(ctx.const(1)) if lo_val is not None else ctx.t(1)) if ctx.has(1) else None
        hi_code = (scalar(ctx.const(2)) if hi_val is not None else ctx.t(2)) if ctx.has(2) else None
    if lo_val == 0 and hi_val == 6 and lo_code is not None and hi_code is not None:
        ctx.emit(fn("F.relu6", x))
    elif lo_val == 0 and lo_code is not None and hi_code is None:
        ctx.emit(fn("torch.relu", x))
    elif lo_code is None and hi_code is None:
        ctx.alias(x)
    else:
        kwargs = {k: v for k, v in (("min", lo_code), ("max", hi_code)) if v is not None}
        ctx.emit(fn("torch.clamp", x, **kwargs))


@REG("Shrink", since=9)
def shrink(ctx: TorchContext) -> None:
    """ONNX ``Shrink`` as ``F.hardshrink`` or ``F.softshrink`` where they match, written out otherwise."""
    lambd, bias = float(ctx.attr("lambd", 0.5)), float(ctx.attr("bias", 0.0))
    x = ctx.t(0)
    if bias == 0.0:
        ctx.emit(fn("F.hardshrink", x, scalar(np.float32(lambd))))
    elif _close(bias, lambd):
        ctx.emit(fn("F.softshrink", x, scalar(np.float32(lambd))))
    else:
        lam, b = scalar(np.float32(lambd)), scalar(np.float32(bias))
        ctx.emit(fmt("torch.where({} > {}, {} - {}, torch.where({} < -{}, {} + {}, torch.zeros_like({})))",
                     x, lam, x, b, x, lam, x, b, x))
