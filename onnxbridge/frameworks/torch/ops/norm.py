"""Normalisations: BatchNormalization -> nn.BatchNorm*d, LayerNormalization -> nn.LayerNorm (its statistics
written out when they are outputs), RMSNormalization -> nn.RMSNorm, GroupNormalization -> nn.GroupNorm, ..."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

from onnxbridge.codegen.writer import Code, fmt, lit
from onnxbridge.frameworks.torch.context import TorchContext, fn, scalar
from onnxbridge.frameworks.torch.registry import TORCH_OPS
from onnxbridge.ir import semantics

REG = TORCH_OPS.register


def _eps(ctx: TorchContext, default: float = 1e-5) -> dict[str, Code]:
    eps = float(np.float32(ctx.attr("epsilon", default)))
    return {} if abs(eps - default) < 1e-12 else {"eps": scalar(np.float32(eps))}


def _extra_outputs_unused(ctx: TorchContext, what: str) -> None:
    if any(ctx.used(j) for j in range(1, len(ctx.node.output))):
        ctx.fail(f"{what} outputs (training statistics) have no inference equivalent")


@REG("BatchNormalization", since=7)
def batch_norm(ctx: TorchContext) -> None:
    """ONNX ``BatchNormalization`` (inference mode) as an ``nn.BatchNorm*d`` module for constant parameters,
    ``F.batch_norm`` otherwise; training mode with its running statistics written out."""
    if int(ctx.attr("training_mode", 0)):
        _batch_norm_training(ctx)
        return
    _extra_outputs_unused(ctx, "the mean/variance")
    params = [ctx.param(i) for i in range(1, 5)]
    rank = ctx.type(0).rank
    eps = _eps(ctx)
    present = [p for p in params if p is not None]
    if len(present) == len(params) and rank in (2, 3, 4, 5):
        scale, bias, mean, var = present
        channels = int(np.prod(scale.shape))
        dims = {2: 1, 3: 1, 4: 2, 5: 3}[rank]
        flat = lambda v: np.asarray(v).reshape(-1)  # noqa: E731
        module = ctx.add_module(fn(f"nn.BatchNorm{dims}d", lit(channels), **eps), {
            "weight": (scale, flat), "bias": (bias, flat), "running_mean": (mean, flat),
            "running_var": (var, flat), "num_batches_tracked": np.asarray(0, dtype=np.int64),
        })
        ctx.emit(fmt("{}({})", module, ctx.t(0)))
        return
    ctx.emit(fn("F.batch_norm", ctx.t(0), ctx.t(3), ctx.t(4), ctx.t(1), ctx.t(2),
                eps=scalar(np.float32(ctx.attr("epsilon", 1e-5)))))


def _batch_norm_training(ctx: TorchContext) -> None:
    """``training_mode=1``: normalised by the batch's own statistics (``F.batch_norm(training=True)``), the
    running mean and variance outputs updated with them by ``momentum``, as the ONNX op computes them (the
    module keeps no state)."""
    if ctx.opset < 14:
        ctx.fail("training mode before opset 14 has other outputs (saved mean and variance)")
    x = ctx.t(0)
    momentum = scalar(np.float32(ctx.attr("momentum", 0.9)))
    eps = scalar(np.float32(ctx.attr("epsilon", 1e-5)))
    dims = fmt("[0, *range(2, {}.dim())]", x)
    updated = []  # computed before any output takes the name of an input this node reads
    for j, (stat, running) in enumerate(((fmt("{}.mean({})", x, dims), 3),
                                         (fmt("{}.var({}, unbiased=False)", x, dims), 4)), start=1):
        if ctx.used(j):
            var = ctx.temp("running_mean" if j == 1 else "running_var")
            ctx.line("{} = {}", var, fmt("{} * {} + {} * (1 - {})", ctx.t(running), momentum, stat, momentum))
            updated.append((j, var))
    ctx.emit(fn("F.batch_norm", x, Code("None"), Code("None"), ctx.t(1), ctx.t(2), training=lit(True), eps=eps))
    for j, var in updated:
        ctx.alias(var, j)


@REG("InstanceNormalization", since=6)
def instance_norm(ctx: TorchContext) -> None:
    """ONNX ``InstanceNormalization`` as an affine ``nn.InstanceNorm*d`` module for constant parameters,
    ``F.instance_norm`` otherwise."""
    scale, bias = ctx.param(1), ctx.param(2)
    rank = ctx.type(0).rank
    eps = _eps(ctx)
    if scale is not None and bias is not None and rank in (3, 4, 5):
        channels = int(np.prod(scale.shape))
        module = ctx.add_module(fn(f"nn.InstanceNorm{rank - 2}d", lit(channels), **eps, affine=lit(True)),
                                {"weight": scale, "bias": bias})
        ctx.emit(fmt("{}({})", module, ctx.t(0)))
        return
    ctx.emit(fn("F.instance_norm", ctx.t(0), weight=ctx.t(1), bias=ctx.t(2),
                eps=scalar(np.float32(ctx.attr("epsilon", 1e-5)))))


@REG("LayerNormalization", since=17)
def layer_norm(ctx: TorchContext) -> None:
    """ONNX ``LayerNormalization`` as an ``nn.LayerNorm`` module over the trailing dims, ``F.layer_norm``
    otherwise; the statistics written out when its Mean/InvStdDev outputs are read."""
    shape = ctx.type(0).shape
    axis = int(ctx.attr("axis", -1))
    if shape is None:
        ctx.fail("the input rank must be known")
    axis = ctx.axis(axis, len(shape))
    if ctx.used(1) or ctx.used(2):
        _layer_norm_with_statistics(ctx, axis, len(shape))
        return
    normalized = shape[axis:]
    if not all(isinstance(d, int) for d in normalized):
        ctx.fail("the normalised dims must have static sizes")
    normalized = tuple(int(d) for d in normalized)  # type: ignore[arg-type]
    scale, bias = ctx.param(1), ctx.param(2)
    eps = _eps(ctx)
    size = lit(normalized[0]) if len(normalized) == 1 else lit(normalized)
    if scale is not None and tuple(scale.shape) == normalized and (not ctx.has(2) or (
            bias is not None and tuple(bias.shape) == normalized)):
        kwargs = dict(eps)
        params = {"weight": scale}
        if bias is not None:
            params["bias"] = bias
        else:
            kwargs["bias"] = lit(False)
        module = ctx.add_module(fn("nn.LayerNorm", size, **kwargs), params)
        ctx.emit(fmt("{}({})", module, ctx.t(0)))
        return
    ctx.emit(fn("F.layer_norm", ctx.t(0), lit(normalized), ctx.t(1), ctx.t(2) if ctx.has(2) else Code("None"),
                eps=scalar(np.float32(ctx.attr("epsilon", 1e-5)))))


def _layer_norm_with_statistics(ctx: TorchContext, axis: int, rank: int) -> None:
    """LayerNormalization whose Mean/InvStdDev outputs are read: the statistics written out (in float32 for
    half-precision inputs, as ``stash_type=1`` says), then the normalisation."""
    dims = lit(tuple(range(axis - rank, 0)))
    x = ctx.t(0)
    stash = int(ctx.attr("stash_type", 1)) == 1 and ctx.elem(0) in (TensorProto.FLOAT16, TensorProto.BFLOAT16)
    source = fmt("{}.float()", x) if stash else x
    var = ctx.temp("var")
    mean = ctx.output_var(1) if ctx.used(1) else ctx.temp("mean")
    ctx.line("{}, {} = {}", var, mean, fn("torch.var_mean", source, dim=dims, keepdim=lit(True), correction=lit(0)))
    inv_std = ctx.output_var(2) if ctx.used(2) else ctx.temp("inv_std_dev")
    ctx.line("{} = {}", inv_std, fn("torch.rsqrt", fmt("{} + {}", var, scalar(np.float32(ctx.attr("epsilon", 1e-5))))))
    y = fmt("({} - {}) * {}", source, mean, inv_std)
    if stash:
        y = fmt("({}).to({}.dtype)", y, x)
    y = fmt("{} * {}", y, ctx.t(1))
    if ctx.has(2):
        y = fmt("{} + {}", y, ctx.t(2))
    ctx.emit(y)


@REG("RMSNormalization", since=23)
def rms_norm(ctx: TorchContext) -> None:
    """ONNX ``RMSNormalization`` as an ``nn.RMSNorm`` module for a constant scale, else ``F.rms_norm``."""
    shape = ctx.shape(0)
    axis = ctx.axis(int(ctx.attr("axis", -1)), len(shape))
    normalized = shape[axis:]
    if not all(isinstance(d, int) for d in normalized):
        ctx.fail("the normalised dims must have static sizes")
    if ctx.elem(1) is not None and ctx.elem(1) != ctx.elem(0):
        ctx.fail("X and scale of different element types are not supported")
    normalized = tuple(int(d) for d in normalized)
    size = lit(normalized[0]) if len(normalized) == 1 else lit(normalized)
    eps = scalar(np.float32(ctx.attr("epsilon", 1e-5)))  # always given: torch's default is the dtype's epsilon
    scale, scale_shape = ctx.param(1), ctx.shape(1)
    fits = len(scale_shape) <= len(normalized) and semantics.keeps_shape(normalized, scale_shape)
    if scale is not None and fits:
        module = ctx.add_module(fn("nn.RMSNorm", size, eps=eps),
                                {"weight": (scale, lambda v: np.ascontiguousarray(np.broadcast_to(v, normalized)))})
        ctx.emit(fmt("{}({})", module, ctx.t(0)))
    elif tuple(scale_shape) == normalized:
        ctx.emit(fn("F.rms_norm", ctx.t(0), lit(normalized), weight=ctx.t(1), eps=eps))
    else:  # a scale that broadcasts over more than the normalised dims
        ctx.emit(fmt("{} * {}", fn("F.rms_norm", ctx.t(0), lit(normalized), eps=eps), ctx.t(1)))


@REG("GroupNormalization", since=18)
def group_norm(ctx: TorchContext) -> None:
    """ONNX ``GroupNormalization`` as ``nn.GroupNorm`` / ``F.group_norm`` (a static channel count needed)."""
    groups = int(ctx.attr("num_groups"))
    shape = ctx.type(0).shape
    channels = shape[1] if shape is not None and len(shape) > 1 else None
    if not isinstance(channels, int):
        ctx.fail("the channel count must be static")
    scale, bias = ctx.param(1), ctx.param(2)
    if scale is None or bias is None:
        # computed at run time: the functional form takes them as tensors
        weight, shift = ctx.t(1), ctx.t(2)
        sizes = ctx.shape(1)
        if ctx.opset < 21 and len(sizes) == 1 and sizes[0] == groups and groups != channels:
            weight, shift = (fmt("{}.repeat_interleave({})", t, lit(channels // groups)) for t in (weight, shift))
        ctx.emit(fn("F.group_norm", ctx.t(0), lit(groups), weight, shift,
                    eps=scalar(np.float32(ctx.attr("epsilon", 1e-5)))))
        return
    per_group = ctx.opset < 21 and int(np.prod(scale.shape)) == groups and groups != channels

    def expand(v: np.ndarray, per_group: bool = per_group) -> np.ndarray:
        v = np.asarray(v).reshape(-1)
        return np.repeat(v, channels // groups) if per_group else v

    module = ctx.add_module(fn("nn.GroupNorm", lit(groups), lit(channels), **_eps(ctx)),
                            {"weight": (scale, expand), "bias": (bias, expand)})
    ctx.emit(fmt("{}({})", module, ctx.t(0)))


@REG("MeanVarianceNormalization", since=9)
def mean_variance_normalization(ctx: TorchContext) -> None:
    """ONNX ``MeanVarianceNormalization``: ``(x - mean) / (std + 1e-9)`` over ``axes`` (default N, H, W), the
    deviation of the whole population (no Bessel correction)."""
    rank = ctx.rank(0)
    axes = sorted(ctx.axis(a, rank) for a in ctx.attr("axes", [0, 2, 3]))
    x = ctx.t(0)
    var, mean = ctx.temp("var"), ctx.temp("mean")
    ctx.line("{}, {} = torch.var_mean({}, {}, correction=0, keepdim=True)", var, mean, x, lit(tuple(axes)))
    ctx.emit(fmt("({} - {}) / ({}.sqrt() + {})", x, mean, var, lit(1e-9)))


@REG("LpNormalization")
def lp_normalization(ctx: TorchContext) -> None:
    """ONNX ``LpNormalization`` as ``F.normalize`` (a zero vector gives zeros, as ONNX asks)."""
    p = int(ctx.attr("p", 2))
    axis = lit(int(ctx.attr("axis", -1)))
    # ONNX gives a zero vector zeros (not 0/0): a floor of the smallest positive value moves no other norm
    eps = _SMALLEST_POSITIVE.get(ctx.elem(0), 2.0**-149)
    ctx.emit(fn("F.normalize", ctx.t(0), p=lit(float(p)), dim=axis, eps=lit(eps)))


#: the smallest positive (subnormal) value of each float type; float32's is 2**-149
_SMALLEST_POSITIVE: dict[int | None, float] = {TensorProto.FLOAT16: 2.0**-24, TensorProto.BFLOAT16: 2.0**-133, TensorProto.DOUBLE: 2.0**-1074}


@REG("LRN")
def lrn(ctx: TorchContext) -> None:
    """ONNX ``LRN`` as ``F.local_response_norm``."""
    ctx.emit(fn("F.local_response_norm", ctx.t(0), lit(int(ctx.attr("size"))),
                alpha=scalar(np.float32(ctx.attr("alpha", 1e-4))), beta=scalar(np.float32(ctx.attr("beta", 0.75))),
                k=scalar(np.float32(ctx.attr("bias", 1.0)))))
