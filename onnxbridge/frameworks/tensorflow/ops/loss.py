"""Losses: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (``ops.log_softmax`` over the class axis, then
the same negative log-likelihood layer), with ONNX's reductions, per-class weights and ``ignore_index``.

Keras' sparse categorical cross-entropy has neither per-class weights nor an ignored class, and wants the
classes last; the helper picks each target's log-probability along ONNX's class axis 1 instead.
"""

from __future__ import annotations

from onnxbridge.codegen.writer import call, dotted, lit
from onnxbridge.frameworks.tensorflow.context import TensorFlowContext
from onnxbridge.frameworks.tensorflow.helpers import define
from onnxbridge.frameworks.tensorflow.registry import TF_OPS

NLL = define("NegativeLogLikelihood", '''
class NegativeLogLikelihood(keras.layers.Layer):
    """Minus the log-probability of each target class (axis 1 of log_prob [N, C, ...]), weighted per class; a
    target equal to ignore_index counts for nothing. Reduced by "mean" (over the summed weights), "sum" or
    "none"."""

    def __init__(self, reduction="mean", ignore_index=None, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.reduction, self.ignore_index = reduction, ignore_index

    def call(self, log_prob, target, weight=None):
        target = tf.cast(target, tf.int64)
        keep = tf.ones_like(target, dtype=tf.bool) if self.ignore_index is None else target != self.ignore_index
        safe = tf.where(keep, target, tf.zeros_like(target))
        picked = tf.experimental.numpy.take_along_axis(log_prob, safe[:, None], axis=1)[:, 0]
        share = tf.ones_like(picked) if weight is None else tf.gather(weight, safe)
        share = share * tf.cast(keep, share.dtype)
        loss = -picked * share
        if self.reduction == "none":
            return loss
        if self.reduction == "sum":
            return tf.reduce_sum(loss)
        return tf.reduce_sum(loss) / tf.reduce_sum(share)
''')

_REDUCTIONS = ("none", "sum", "mean")


def _loss(ctx: TensorFlowContext, log_prob) -> None:
    reduction = ctx.attr("reduction", "mean")
    if reduction not in _REDUCTIONS:
        ctx.fail(f"reduction {reduction!r} is not one of {', '.join(_REDUCTIONS)}")
    ignore = ctx.attr("ignore_index")
    layer = ctx.layer(str(ctx.helper(NLL)), module="", reduction=reduction if reduction != "mean" else None,
                      ignore_index=int(ignore) if ignore is not None else None)
    args = [log_prob, ctx.tensor_arg(1)] + ([ctx.tensor_arg(2)] if ctx.has(2) else [])
    ctx.emit(call(layer, *args))


@TF_OPS.register("NegativeLogLikelihoodLoss", since=12)
def nll_loss(ctx: TensorFlowContext) -> None:
    """ONNX ``NegativeLogLikelihoodLoss`` (see the module docstring)."""
    _loss(ctx, ctx.x(0))


@TF_OPS.register("SoftmaxCrossEntropyLoss", since=12)
def softmax_cross_entropy(ctx: TensorFlowContext) -> None:
    """ONNX ``SoftmaxCrossEntropyLoss`` (see the module docstring)."""
    log_prob = call(dotted("ops", "log_softmax"), ctx.x(0), axis=lit(1))
    if ctx.used(1):
        log_prob = ctx.emit(log_prob, 1)
        ctx.uses.add(log_prob)
    _loss(ctx, log_prob)
