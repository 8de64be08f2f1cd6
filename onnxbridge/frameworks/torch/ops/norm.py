"""Normalisations: BatchNormalization -> nn.BatchNorm*d, LayerNormalization -> nn.LayerNorm, GroupNorm, ..."""

from __future__ import annotations

import numpy as np

from onnxbridge.codegen.writer import Code, fmt, lit
from onnxbridge.frameworks.torch.context import TorchContext, fn, scalar
from onnxbridge.frameworks.torch.registry import TORCH_OPS

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
    ``F.batch_norm`` otherwise."""
    if int(ctx.attr("training_mode", 0)):
        ctx.fail("training_mode=1 (batch statistics) is not an inference graph")
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
    otherwise."""
    _extra_outputs_unused(ctx, "the Mean/InvStdDev")
    shape = ctx.type(0).shape
    axis = int(ctx.attr("axis", -1))
    if shape is None:
        ctx.fail("the input rank must be known")
    axis = ctx.axis(axis, len(shape))
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
        ctx.fail("scale and bias must be constants")
    per_group = ctx.opset < 21 and int(np.prod(scale.shape)) == groups and groups != channels

    def expand(v: np.ndarray, per_group: bool = per_group) -> np.ndarray:
        v = np.asarray(v).reshape(-1)
        return np.repeat(v, channels // groups) if per_group else v

    module = ctx.add_module(fn("nn.GroupNorm", lit(groups), lit(channels), **_eps(ctx)),
                            {"weight": (scale, expand), "bias": (bias, expand)})
    ctx.emit(fmt("{}({})", module, ctx.t(0)))


@REG("LpNormalization")
def lp_normalization(ctx: TorchContext) -> None:
    """ONNX ``LpNormalization`` as ``x / vector_norm(x, p, dim, keepdim=True)``."""
    x = ctx.t(0)
    p = int(ctx.attr("p", 2))
    axis = lit(int(ctx.attr("axis", -1)))
    ctx.emit(fmt("{} / torch.linalg.vector_norm({}, {}, dim={}, keepdim=True)", x, x, lit(float(p)), axis))


@REG("LRN")
def lrn(ctx: TorchContext) -> None:
    """ONNX ``LRN`` as ``F.local_response_norm``."""
    ctx.emit(fn("F.local_response_norm", ctx.t(0), lit(int(ctx.attr("size"))),
                alpha=scalar(np.float32(ctx.attr("alpha", 1e-4))), beta=scalar(np.float32(ctx.attr("beta", 0.75))),
                k=scalar(np.float32(ctx.attr("bias", 1.0)))))
