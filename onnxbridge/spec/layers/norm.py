"""Normalisation layers (inference form: running statistics for BatchNorm) and Dropout."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from onnxbridge.spec.params import LayerParams, Probability
from onnxbridge.spec.registry import Example, LayerDef, LayerShapeError, Weight, register_layer
from onnxbridge.spec.types import TensorInfo, is_static


class BatchNormParams(LayerParams):
    """Parameters of ``BatchNorm1d`` and ``BatchNorm2d``."""
    eps: float = Field(1e-5, gt=0, description="Added to the variance for numerical stability.")
    momentum: float = Field(0.1, ge=0, le=1, description="Running-statistics momentum (used when training).")


class _BatchNorm(LayerDef):
    family = "norm"
    Params = BatchNormParams
    ranks: tuple[int, ...] = (4,)
    layout = "[batch, channels, height, width]"

    @classmethod
    def output(cls, p, x: TensorInfo) -> TensorInfo:
        if x.rank not in cls.ranks:
            other = "BatchNorm2d" if x.rank == 4 else "BatchNorm1d"
            raise LayerShapeError(f"needs {cls.layout}", f"use {other} for this input")
        if not is_static(x.shape[1]):
            raise LayerShapeError("needs a fixed number of channels (dim 1)")
        return x

    @classmethod
    def weights(cls, p, inputs):
        c = int(inputs[0].shape[1])
        return {"weight": Weight((c,), "ones"), "bias": Weight((c,), "zeros"),
                "running_mean": Weight((c,), "zeros", trainable=False),
                "running_var": Weight((c,), "ones", trainable=False)}

    @classmethod
    def lower(cls, p, b, inputs, infos, outputs):
        ws = cls.weights(p, infos)
        args = [inputs[0]] + [b.weight(k, ws[k]) for k in ("weight", "bias", "running_mean", "running_var")]
        b.node("BatchNormalization", args, outputs, epsilon=float(p.eps), momentum=float(1 - p.momentum))


@register_layer
class BatchNorm1d(_BatchNorm):
    """Batch normalisation over [batch, features] or [batch, channels, length]."""

    ranks = (2, 3)
    layout = "[batch, features] or [batch, channels, length]"

    @classmethod
    def examples(cls):
        """Rank-2 and rank-3 inputs, the second with another ``eps``."""
        return [Example({}, (TensorInfo(("batch", 6)),)), Example({"eps": 1e-3}, (TensorInfo((2, 4, 7)),))]


@register_layer
class BatchNorm2d(_BatchNorm):
    """Batch normalisation over [batch, channels, height, width]."""

    @classmethod
    def examples(cls):
        """Two feature maps, the second with another ``eps``."""
        return [Example({}, (TensorInfo(("batch", 4, 5, 5)),)), Example({"eps": 1e-3}, (TensorInfo((1, 3, 2, 6)),))]


class LayerNormParams(LayerParams):
    """Parameters of ``LayerNorm``."""
    normalized_dims: int = Field(1, ge=1, description="How many trailing dims to normalise over.")
    eps: float = Field(1e-5, gt=0, description="Added to the variance for numerical stability.")
    elementwise_affine: bool = Field(True, description="Learnable scale and shift.")


@register_layer
class LayerNorm(LayerDef):
    """Normalise over the last ``normalized_dims`` dims, then scale and shift."""

    family = "norm"
    Params = LayerNormParams

    @classmethod
    def output(cls, p: LayerNormParams, x: TensorInfo) -> TensorInfo:
        """The input unchanged; the normalised trailing dimensions must be fixed and leave the batch out."""
        if p.normalized_dims >= x.rank:
            raise LayerShapeError(f"needs more than {p.normalized_dims} dims (the batch is not normalised)",
                                  "lower normalized_dims")
        if not all(is_static(d) for d in x.shape[-p.normalized_dims:]):
            raise LayerShapeError("needs fixed sizes for the normalised dims")
        return x

    @classmethod
    def weights(cls, p, inputs):
        """Scale (ones) and shift (zeros) over the normalised trailing dimensions."""
        shape = tuple(int(d) for d in inputs[0].shape[-p.normalized_dims:])
        return {"weight": Weight(shape, "ones"), "bias": Weight(shape, "zeros")}

    @classmethod
    def lower(cls, p, b, inputs, infos, outputs):
        """Emit one ONNX ``LayerNormalization`` (a fixed scale of ones when it is not affine)."""
        ws = cls.weights(p, infos)
        if b.opset < 17:  # no LayerNormalization before opset 17: written out as the exporters write it
            cls._lower_written_out(p, b, inputs[0], ws, outputs)
            return
        if p.elementwise_affine:
            scale, bias = b.weight("weight", ws["weight"]), b.weight("bias", ws["bias"])
        else:  # LayerNormalization needs a scale input: fixed ones, no bias
            scale, bias = b.const(np.ones(ws["weight"].shape, np.float32), "ones"), None
        args = [inputs[0], scale] + ([bias] if bias else [])
        b.node("LayerNormalization", args, outputs, axis=-p.normalized_dims, epsilon=float(p.eps))

    @staticmethod
    def _lower_written_out(p, b, x, ws, outputs):
        """(x - mean) / sqrt(var + eps) * weight + bias, the mean and variance over the normalised dims."""
        axes = list(range(-p.normalized_dims, 0))
        centred = b.op("Sub", x, b.op("ReduceMean", x, axes=axes, keepdims=1))
        variance = b.op("ReduceMean", b.op("Pow", centred, b.const(np.float32(2.0), "two")), axes=axes, keepdims=1)
        eps = b.const(np.float32(p.eps), "eps")
        if not p.elementwise_affine:
            b.node("Div", [centred, b.op("Sqrt", b.op("Add", variance, eps))], outputs)
            return
        normed = b.op("Div", centred, b.op("Sqrt", b.op("Add", variance, eps)))
        scaled = b.op("Mul", normed, b.weight("weight", ws["weight"]))
        b.node("Add", [scaled, b.weight("bias", ws["bias"])], outputs)

    @classmethod
    def examples(cls):
        """One and two normalised dimensions, and no learnable scale and shift."""
        return [Example({}, (TensorInfo(("batch", "seq", 8)),)),
                Example({"normalized_dims": 2, "eps": 1e-6}, (TensorInfo((2, 3, 4)),)),
                Example({"elementwise_affine": False}, (TensorInfo(("batch", 6)),))]


class GroupNormParams(LayerParams):
    """Parameters of ``GroupNorm``."""
    num_groups: int = Field(gt=0, description="Number of channel groups; must divide the channels.")
    eps: float = Field(1e-5, gt=0, description="Added to the variance for numerical stability.")


@register_layer
class GroupNorm(LayerDef):
    """Normalise each group of channels over the group's channels and all spatial positions."""

    family = "norm"
    Params = GroupNormParams

    @classmethod
    def output(cls, p: GroupNormParams, x: TensorInfo) -> TensorInfo:
        """The input unchanged; the channel count must be fixed and divisible by ``num_groups``."""
        if x.rank < 3:
            raise LayerShapeError("needs [batch, channels, spatial...]")
        c = x.shape[1]
        if not is_static(c) or c % p.num_groups:
            raise LayerShapeError(f"needs channels ({c}) divisible by num_groups ({p.num_groups})",
                                  "pick num_groups that divides the channel count")
        return x

    @classmethod
    def weights(cls, p, inputs):
        """Per-channel scale (ones) and shift (zeros)."""
        c = int(inputs[0].shape[1])
        return {"weight": Weight((c,), "ones"), "bias": Weight((c,), "zeros")}

    @classmethod
    def lower(cls, p, b, inputs, infos, outputs):
        """Emit a reshape to groups, ``InstanceNormalization`` per group, the reshape back and the per-channel
        affine."""
        x, info = inputs[0], infos[0]
        ws = cls.weights(p, infos)
        g = p.num_groups
        # [N, C, *] -> [N, G, C/G * prod(*)]; instance-normalise each group; back to [N, C, *]; affine
        grouped = b.op("Reshape", x, b.ints([0, g, -1], "group_shape"))
        normed = b.op("InstanceNormalization", grouped, b.const(np.ones(g, np.float32), "ones"),
                      b.const(np.zeros(g, np.float32), "zeros"), epsilon=float(p.eps))
        restored = b.op("Reshape", normed, b.op("Shape", x))
        bshape = [int(info.shape[1])] + [1] * (info.rank - 2)
        weight = b.op("Reshape", b.weight("weight", ws["weight"]), b.ints(bshape, "affine_shape"))
        bias = b.op("Reshape", b.weight("bias", ws["bias"]), b.ints(bshape, "affine_shape"))
        b.node("Add", [b.op("Mul", restored, weight), bias], outputs)

    @classmethod
    def examples(cls):
        """A 2-D feature map and a 1-D sequence with another ``eps``."""
        return [Example({"num_groups": 2}, (TensorInfo(("batch", 4, 5, 5)),)),
                Example({"num_groups": 3, "eps": 1e-3}, (TensorInfo((2, 6, 7)),))]


class DropoutParams(LayerParams):
    """Parameters of ``Dropout``."""
    p: Probability = Field(0.5, description="Probability of zeroing an element while training.")


@register_layer
class Dropout(LayerDef):
    """Randomly zeroes elements while training; the identity at inference."""

    family = "norm"
    Params = DropoutParams

    @classmethod
    def lower(cls, p, b, inputs, infos, outputs):
        """Emit one ONNX ``Dropout`` with the ratio as a constant input."""
        b.node("Dropout", [inputs[0], b.const(float(p.p), "ratio")], outputs)

    @classmethod
    def examples(cls):
        """The default rate on features and a low rate on a feature map."""
        return [Example({}, (TensorInfo(("batch", 8)),)), Example({"p": 0.1}, (TensorInfo((2, 3, 4, 4)),))]
