"""Losses: NegativeLogLikelihoodLoss -> ``F.nll_loss``, SoftmaxCrossEntropyLoss -> ``F.cross_entropy`` (or
``F.log_softmax`` then ``F.nll_loss`` when the log-probabilities are an output too).

ONNX and torch agree on every reduction (``mean`` divides by the summed weights of the targets that count),
on per-class weights and on ``ignore_index``; torch wants int64 targets.
"""

from __future__ import annotations

import onnx

from onnxbridge.codegen.writer import Code, fmt, lit
from onnxbridge.frameworks.torch.context import TorchContext, fn
from onnxbridge.frameworks.torch.registry import TORCH_OPS

REG = TORCH_OPS.register

_REDUCTIONS = ("none", "sum", "mean")


def _loss_options(ctx: TorchContext) -> dict[str, Code]:
    reduction = ctx.attr("reduction", "mean")
    if reduction not in _REDUCTIONS:
        ctx.fail(f"reduction {reduction!r} is not one of {', '.join(_REDUCTIONS)}")
    options: dict[str, Code] = {}
    if ctx.has(2):
        options["weight"] = ctx.t(2)
    if ctx.attr("ignore_index") is not None:
        options["ignore_index"] = lit(int(ctx.attr("ignore_index")))
    if reduction != "mean":
        options["reduction"] = lit(reduction)
    return options


def _target(ctx: TorchContext) -> Code:
    target = ctx.t(1)
    return target if ctx.elem(1) == onnx.TensorProto.INT64 else fmt("{}.long()", target)


@REG("NegativeLogLikelihoodLoss", since=12)
def nll_loss(ctx: TorchContext) -> None:
    """ONNX ``NegativeLogLikelihoodLoss`` (see the module docstring)."""
    ctx.emit(fn("F.nll_loss", ctx.t(0), _target(ctx), **_loss_options(ctx)))


@REG("SoftmaxCrossEntropyLoss", since=12)
def softmax_cross_entropy(ctx: TorchContext) -> None:
    """ONNX ``SoftmaxCrossEntropyLoss`` (see the module docstring)."""
    options = _loss_options(ctx)
    if ctx.used(1):
        log_prob = ctx.emit(fn("F.log_softmax", ctx.t(0), lit(1)), 1)
        ctx.emit(fn("F.nll_loss", log_prob, _target(ctx), **options))
    else:
        ctx.emit(fn("F.cross_entropy", ctx.t(0), _target(ctx), **options))
