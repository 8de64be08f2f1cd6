"""Normalisation: BatchNormalization, Layer/RMSNormalization, Instance/GroupNormalization, LpNormalization, LRN."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

from onnxbridge.codegen.writer import Code, call, dotted, lit
from onnxbridge.frameworks.tensorflow import layout as L
from onnxbridge.frameworks.tensorflow.context import TensorFlowContext, add_code
from onnxbridge.frameworks.tensorflow.registry import TF_OPS
from onnxbridge.ir.semantics import keeps_shape


def _ops(name: str) -> Code:
    return dotted("ops", name)


@TF_OPS.register("BatchNormalization")
def batch_norm(ctx: TensorFlowContext) -> None:
    """ONNX ``BatchNormalization`` (inference mode) as a Keras ``BatchNormalization`` layer; training mode
    with its running statistics written out."""
    if ctx.attr("training_mode", 0) and ctx.opset >= 14:
        _batch_norm_training(ctx)
        return
    if ctx.attr("training_mode", 0) or any(ctx.has_output(j) for j in range(1, ctx.n_outputs)):
        ctx.fail("training-mode BatchNormalization is not supported (export the model in eval mode)")
    rank = ctx.rank(0)
    eps = float(ctx.attr("epsilon", 1e-5))
    params = [ctx.const(i) for i in (1, 2, 3, 4)]
    # channels-last keeps a CNN in one layout; a tensor that is not permuted yet is normalised in place
    x, perm = ctx.x_any(0)
    if rank >= 3 and L.is_identity(perm) and ctx.value(0).code is not None:
        x, perm = ctx.x_cl(0), L.channels_last(rank)
    axis = L.stored_axis(perm, 1) if rank > 1 else 0
    if any(p is None for p in params):
        # statistics computed at run time: the formula, broadcast along the channel axis
        shape = [1] * rank
        shape[axis] = -1
        scale, bias, mean, var = (call(_ops("reshape"), ctx.x(i), lit(tuple(shape))) for i in (1, 2, 3, 4))
        norm = call(_ops("divide"), call(_ops("subtract"), x, mean), call(_ops("sqrt"), call(_ops("add"), var, lit(eps))))
        ctx.emit(call(_ops("add"), call(_ops("multiply"), norm, scale), bias), perm=perm)
        return
    gamma, beta, moving_mean, moving_var = (np.asarray(p, dtype=np.float32).reshape(-1) for p in params)
    layer = ctx.layer("BatchNormalization", weights=[gamma, beta, moving_mean, moving_var],
                      axis=axis if axis != rank - 1 else -1, epsilon=eps)
    ctx.emit(call(layer, x), perm=perm)


def _batch_norm_training(ctx: TensorFlowContext) -> None:
    """``training_mode=1``: normalised by the batch's own statistics, the running mean and variance outputs
    updated with them by ``momentum``, as the ONNX op computes them (the model keeps no state)."""
    rank = ctx.rank(0)
    eps = float(ctx.attr("epsilon", 1e-5))
    momentum = float(ctx.attr("momentum", 0.9))
    x = ctx.let("batch_norm_input", ctx.x(0))
    axes = lit((0, *range(2, rank)))
    # one moments op: Keras would name a var op "var", like the variance input ONNX graphs call so
    mean, var = ctx.scope.new_var("batch_mean"), ctx.scope.new_var("batch_var")
    ctx.define_raw([mean, var], call(_ops("moments"), x, axes=axes))
    ctx.uses.update((mean, var))
    shape = lit((1, -1) + (1,) * (rank - 2))
    scale, bias, batch_mean, batch_var = (call(_ops("reshape"), v, shape) for v in (ctx.x(1), ctx.x(2), mean, var))
    norm = call(_ops("divide"), call(_ops("subtract"), x, batch_mean),
                call(_ops("sqrt"), call(_ops("add"), batch_var, lit(eps))))
    ctx.emit(call(_ops("add"), call(_ops("multiply"), norm, scale), bias))
    for j, (stat, running) in enumerate(((mean, 3), (var, 4)), start=1):
        if ctx.has_output(j):
            ctx.emit(call(_ops("add"), call(_ops("multiply"), ctx.x(running), lit(momentum)),
                          call(_ops("multiply"), stat, lit(1 - momentum))), j)


@TF_OPS.register("LayerNormalization", since=17)
def layer_norm(ctx: TensorFlowContext) -> None:
    """ONNX ``LayerNormalization`` as a Keras ``LayerNormalization`` over the trailing axes; the statistics
    written out when its Mean/InvStdDev outputs are read."""
    rank = ctx.rank(0)
    axis = ctx.axis(ctx.attr("axis", -1), rank)
    eps = float(ctx.attr("epsilon", 1e-5))
    x, perm = ctx.x_any(0)
    logical_axes = list(range(axis, rank))
    stored_axes = sorted(L.stored_axis(perm, a) for a in logical_axes)
    if ctx.used(1) or ctx.used(2):
        _layer_norm_with_statistics(ctx, x, perm, stored_axes, eps)
        return
    shape = ctx.shape(0)
    norm_shape = tuple(shape[a] for a in logical_axes)
    scale, bias = ctx.const(1), ctx.const(2) if ctx.has(2) else None
    if scale is None or (ctx.has(2) and bias is None) or not all(isinstance(d, int) for d in norm_shape):
        # learnable parameters computed at run time: normalise, then scale and shift by broadcasting
        mean = call(_ops("mean"), x, axis=lit(tuple(stored_axes)), keepdims=lit(True))
        var = call(_ops("var"), x, axis=lit(tuple(stored_axes)), keepdims=lit(True))
        normed = call(_ops("multiply"), call(_ops("subtract"), x, mean), call(_ops("rsqrt"), call(_ops("add"), var, lit(eps))))
        (s,), _ = ctx.aligned([1], rank, perm=perm)
        expr = call(_ops("multiply"), normed, s)
        if ctx.has(2):
            (b,), _ = ctx.aligned([2], rank, perm=perm)
            expr = call(_ops("add"), expr, b)
        ctx.emit(expr, perm=perm)
        return
    # parameters in the stored order of the normalised axes
    sub_perm = [p - axis for p in perm if p >= axis]
    gamma = np.transpose(np.broadcast_to(scale, norm_shape), sub_perm).astype(np.float32)
    weights = [gamma]
    if bias is not None:
        weights.append(np.transpose(np.broadcast_to(bias, norm_shape), sub_perm).astype(np.float32))
    single = stored_axes == [rank - 1]
    layer = ctx.layer("LayerNormalization", weights=weights, axis=-1 if single else tuple(stored_axes),
                      epsilon=eps, center=False if bias is None else None)
    ctx.emit(call(layer, x), perm=perm)


def _layer_norm_with_statistics(ctx: TensorFlowContext, x: Code, perm: L.Perm, axes: list[int], eps: float) -> None:
    """LayerNormalization whose Mean/InvStdDev outputs are read: the statistics written out (in float32 for
    half-precision inputs, as ``stash_type=1`` says), then the normalisation."""
    rank = len(perm)
    stash = int(ctx.attr("stash_type", 1)) == 1 and ctx.elem(0) in (TensorProto.FLOAT16, TensorProto.BFLOAT16)
    source = call(_ops("cast"), x, lit("float32")) if stash else x
    axis = lit(tuple(axes))
    mean = call(_ops("mean"), source, axis=axis, keepdims=lit(True))
    mean = ctx.emit(mean, 1, perm=perm) if ctx.used(1) else ctx.let("mean", mean)
    var = ctx.let("var", call(_ops("var"), source, axis=axis, keepdims=lit(True)))
    inv_std = call(_ops("rsqrt"), call(_ops("add"), var, lit(eps)))
    inv_std = ctx.emit(inv_std, 2, perm=perm) if ctx.used(2) else ctx.let("inv_std_dev", inv_std)
    y = call(_ops("multiply"), call(_ops("subtract"), source, mean), inv_std)
    if stash:
        y = call(_ops("cast"), y, lit(ctx.dtype(ctx.elem(0))))
    (scale,), _ = ctx.aligned([1], rank, perm=perm)
    y = call(_ops("multiply"), y, scale)
    if ctx.has(2):
        (bias,), _ = ctx.aligned([2], rank, perm=perm)
        y = add_code(y, bias, ctx.stored_shape(0, rank, perm), ctx.stored_shape(2, rank, perm))
    ctx.emit(y, perm=perm)


@TF_OPS.register("RMSNormalization", since=23)
def rms_norm(ctx: TensorFlowContext) -> None:
    """ONNX ``RMSNormalization`` as a Keras ``RMSNormalization`` layer for a constant scale, else
    ``ops.rms_normalization``."""
    rank = ctx.rank(0)
    axis = ctx.axis(ctx.attr("axis", -1), rank)
    eps = float(ctx.attr("epsilon", 1e-5))  # always given: Keras's default is another
    if ctx.elem(1) is not None and ctx.elem(1) != ctx.elem(0):
        ctx.fail("X and scale of different element types are not supported")
    x, perm = ctx.x_any(0)
    stored_axes = sorted(L.stored_axis(perm, a) for a in range(axis, rank))
    norm_shape = tuple(ctx.shape(0)[axis:])
    scale, scale_shape = ctx.const(1), tuple(ctx.shape(1))
    fits = len(scale_shape) <= len(norm_shape) and keeps_shape(norm_shape, scale_shape)
    layer_axis = -1 if stored_axes == [rank - 1] else tuple(stored_axes)
    if scale is not None and not ctx.is_instance_const(1) and fits and all(isinstance(d, int) for d in norm_shape):
        # the scale in the stored order of the normalised axes
        sub_perm = [p - axis for p in perm if p >= axis]
        gamma = np.transpose(np.broadcast_to(scale, norm_shape), sub_perm).astype(scale.dtype)
        layer = ctx.layer("RMSNormalization", weights=[gamma], axis=layer_axis, epsilon=eps)
        ctx.emit(call(layer, x), perm=perm)
        return
    (s,), _ = ctx.aligned([1], rank, perm=perm)
    ctx.emit(call(_ops("rms_normalization"), x, scale=s, axis=lit(layer_axis), epsilon=lit(eps)), perm=perm)


@TF_OPS.register("InstanceNormalization", since=6)
def instance_norm(ctx: TensorFlowContext) -> None:
    """ONNX ``InstanceNormalization``, channels-last: Keras ``GroupNormalization`` (one group per channel)
    holding constant scale and bias, the normalisation written out for ones known at run time."""
    rank = ctx.rank(0)
    scale, bias = ctx.const(1), ctx.const(2)
    eps = float(ctx.attr("epsilon", 1e-5))
    x, perm = ctx.x_cl(0), L.channels_last(rank)
    if scale is None or bias is None:
        hint = "instance_norm"
        x = ctx.let(f"{hint}_input", x)
        axes = lit(tuple(range(1, rank - 1)))
        mean = ctx.let(f"{hint}_mean", call(_ops("mean"), x, axis=axes, keepdims=lit(True)))
        var = ctx.let(f"{hint}_var", call(_ops("var"), x, axis=axes, keepdims=lit(True)))
        normed = call(_ops("divide"), call(_ops("subtract"), x, mean), call(_ops("sqrt"), call(_ops("add"), var, lit(eps))))
        ctx.emit(call(_ops("add"), call(_ops("multiply"), normed, ctx.x(1)), ctx.x(2)), perm=perm)
        return
    layer = ctx.layer("GroupNormalization", weights=[scale.astype(np.float32), bias.astype(np.float32)],
                      groups=-1, axis=-1, epsilon=eps)
    ctx.emit(call(layer, x), perm=perm)


@TF_OPS.register("GroupNormalization", since=18)
def group_norm_18(ctx: TensorFlowContext) -> None:
    """ONNX ``GroupNormalization`` opsets 18-20 (scale and bias per group, per channel from opset 21)."""
    _group_norm(ctx, per_group=ctx.opset < 21)


@TF_OPS.register("GroupNormalization", since=21)
def group_norm_21(ctx: TensorFlowContext) -> None:
    """ONNX ``GroupNormalization`` from opset 21 (scale and bias per channel)."""
    _group_norm(ctx, per_group=False)


def _group_norm(ctx: TensorFlowContext, per_group: bool) -> None:
    rank = ctx.rank(0)
    groups = int(ctx.attr("num_groups"))
    scale, bias = ctx.const(1), ctx.const(2)
    channels = ctx.shape(0)[1]
    if not isinstance(channels, int):
        ctx.fail("the channel dim must be static")
    eps = float(ctx.attr("epsilon", 1e-5))
    x, perm = ctx.x_cl(0), L.channels_last(rank)
    if scale is None or bias is None or ctx.is_instance_const(1) or ctx.is_instance_const(2):
        # computed at run time: normalise, then scale and shift along the (last) channel axis
        layer = ctx.layer("GroupNormalization", groups=groups, axis=-1, epsilon=eps, center=False, scale=False)
        gamma, beta = ctx.x(1), ctx.x(2)
        if per_group and ctx.shape(1)[0] == groups and groups != channels:
            gamma, beta = (call(_ops("repeat"), t, lit(channels // groups)) for t in (gamma, beta))
        ctx.emit(call(_ops("add"), call(_ops("multiply"), call(layer, x), gamma), beta), perm=perm)
        return
    if per_group:  # opset 18: one scale per group
        scale, bias = np.repeat(scale, channels // groups), np.repeat(bias, channels // groups)
    layer = ctx.layer("GroupNormalization", weights=[scale.astype(np.float32), bias.astype(np.float32)],
                      groups=groups, axis=-1, epsilon=eps)
    ctx.emit(call(layer, x), perm=perm)


@TF_OPS.register("MeanVarianceNormalization", since=9)
def mean_variance_normalization(ctx: TensorFlowContext) -> None:
    """ONNX ``MeanVarianceNormalization``: ``(x - mean) / (std + 1e-9)`` over ``axes`` (default N, H, W), with
    ``ops.moments`` (the variance of the whole population)."""
    rank = ctx.rank(0)
    x, perm = ctx.x_any(0)
    axes = sorted(L.stored_axis(perm, ctx.axis(a, rank)) for a in ctx.attr("axes", [0, 2, 3]))
    mean, var = ctx.scope.new_var("mean"), ctx.scope.new_var("variance")
    ctx.define_raw([mean, var], call(_ops("moments"), x, axes=lit(axes), keepdims=lit(True)))
    ctx.uses.update({mean, var})
    std = call(_ops("add"), call(_ops("sqrt"), var), lit(1e-9))
    ctx.emit(call(_ops("divide"), call(_ops("subtract"), x, mean), std), perm=perm)


@TF_OPS.register("LpNormalization")
def lp_norm(ctx: TensorFlowContext) -> None:
    """ONNX ``LpNormalization`` (p 1 or 2) along an axis; a zero vector gives zeros."""
    rank = ctx.rank(0)
    axis = ctx.axis(ctx.attr("axis", -1), rank)
    p = int(ctx.attr("p", 2))
    x, perm = ctx.x_any(0)
    a = L.stored_axis(perm, axis)
    if p == 2:
        norm = call(_ops("sqrt"), call(_ops("sum"), call(_ops("square"), x), axis=lit(a), keepdims=lit(True)))
    elif p == 1:
        norm = call(_ops("sum"), call(_ops("abs"), x), axis=lit(a), keepdims=lit(True))
    else:
        ctx.fail(f"p={p} is not supported")
    ctx.emit(call(_ops("divide_no_nan"), x, norm), perm=perm)  # ONNX: a zero vector stays zero


@TF_OPS.register("LRN")
def lrn(ctx: TensorFlowContext) -> None:
    """ONNX ``LRN`` through the generated ``LocalResponseNorm`` helper layer (odd sizes only)."""
    size = int(ctx.attr("size"))
    if size % 2 == 0:
        ctx.fail("an even LRN size is not supported (TensorFlow's window is symmetric)")
    alpha, beta, bias = float(ctx.attr("alpha", 1e-4)), float(ctx.attr("beta", 0.75)), float(ctx.attr("bias", 1.0))
    # ONNX scales alpha by the window size; TensorFlow does not
    layer = ctx.layer(str(ctx.helper("LocalResponseNorm")), module="", radius=(size - 1) // 2, bias=bias,
                      alpha=alpha / size, beta=beta)
    ctx.emit(call(layer, ctx.x_cl(0)), perm=L.channels_last(ctx.rank(0)))
