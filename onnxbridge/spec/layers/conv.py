"""Convolutions (1-D, 2-D, 3-D) and transposed convolutions, channels-first."""

from __future__ import annotations

import math

from pydantic import Field

from onnxbridge.spec.init import fan_in_uniform
from onnxbridge.spec.layers._spatial import conv_out, explicit_pads, same_pads, spatial_rank_check
from onnxbridge.spec.params import LayerParams, NonNegativeInts, Padding, PositiveInts, expand
from onnxbridge.spec.registry import Example, LayerDef, LayerShapeError, register_layer
from onnxbridge.spec.types import TensorInfo, is_static


class ConvParams(LayerParams):
    """Parameters of ``Conv1d``, ``Conv2d`` and ``Conv3d``."""
    out_channels: int = Field(gt=0, description="Number of output channels (filters).")
    kernel_size: PositiveInts = Field(description="Kernel size: one number or one per spatial dim.")
    stride: PositiveInts = Field(1, description="Stride: one number or one per spatial dim.")
    padding: Padding = Field(0, description="Zero padding: a number, one per spatial dim, 'same' or 'valid'.")
    dilation: PositiveInts = Field(1, description="Spacing between kernel elements.")
    groups: int = Field(1, gt=0, description="Blocked connections; groups == in_channels is depthwise.")
    bias: bool = Field(True, description="Add a learnable bias.")


class _Conv(LayerDef):
    family = "conv"
    Params = ConvParams
    n: int = 2

    @classmethod
    def _geometry(cls, p: ConvParams, x: TensorInfo) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], list[int] | None]:
        n = cls.n
        try:
            k = expand(p.kernel_size, n, "kernel_size")
            s = expand(p.stride, n, "stride")
            d = expand(p.dilation, n, "dilation")
        except ValueError as exc:
            raise LayerShapeError(str(exc)) from None
        if p.padding == "valid":
            pads: list[int] | None = [0] * (2 * n)
        elif p.padding == "same":
            pads = same_pads(x.shape[2:], k, s, d)
        else:
            pads = explicit_pads(p.padding, n)
        return k, s, d, pads

    @classmethod
    def output(cls, p: ConvParams, x: TensorInfo) -> TensorInfo:
        spatial_rank_check(x, cls.n, cls.type_name)
        channels = x.shape[1]
        if not is_static(channels):
            raise LayerShapeError("needs a fixed number of input channels", "make dim 1 of the input a number")
        if channels % p.groups or p.out_channels % p.groups:
            raise LayerShapeError(
                f"needs in_channels ({channels}) and out_channels ({p.out_channels}) divisible by groups ({p.groups})",
                "change groups or out_channels")
        k, s, d, pads = cls._geometry(p, x)
        n = cls.n
        if pads is None:  # 'same' with a symbolic size and stride > 1
            spatial = tuple(f"{size}_out" if not is_static(size) else math.ceil(size / st)
                            for size, st in zip(x.shape[2:], s))
        else:
            spatial = tuple(conv_out(size, k[i], s[i], d[i], pads[i], pads[i + n])
                            for i, size in enumerate(x.shape[2:]))
        return x.with_shape((x.shape[0], p.out_channels, *spatial))

    @classmethod
    def weights(cls, p: ConvParams, inputs: list[TensorInfo]) -> dict:
        k = expand(p.kernel_size, cls.n, "kernel_size")
        in_per_group = int(inputs[0].shape[1]) // p.groups
        fan_in = in_per_group * math.prod(k)
        w = {"weight": fan_in_uniform((p.out_channels, in_per_group, *k), fan_in)}
        if p.bias:
            w["bias"] = fan_in_uniform((p.out_channels,), fan_in)
        return w

    @classmethod
    def lower(cls, p, b, inputs, infos, outputs):
        k, s, d, pads = cls._geometry(p, infos[0])
        ws = cls.weights(p, infos)
        args = [inputs[0], b.weight("weight", ws["weight"])]
        if p.bias:
            args.append(b.weight("bias", ws["bias"]))
        attrs = {"kernel_shape": list(k), "strides": list(s), "dilations": list(d), "group": p.groups}
        if pads is None:
            attrs["auto_pad"] = "SAME_UPPER"
        else:
            attrs["pads"] = pads
        b.node("Conv", args, outputs, **attrs)


@register_layer
class Conv1d(_Conv):
    """1-D convolution over [batch, channels, length]."""

    n = 1

    @classmethod
    def examples(cls):
        """Plain, ``same``-padded without bias, and strided, dilated and grouped 1-D convolutions."""
        return [Example({"out_channels": 6, "kernel_size": 3}, (TensorInfo(("batch", 4, 10)),)),
                Example({"out_channels": 4, "kernel_size": 5, "padding": "same", "bias": False},
                        (TensorInfo(("batch", 2, 9)),)),
                Example({"out_channels": 8, "kernel_size": 3, "stride": 2, "dilation": 2, "groups": 4},
                        (TensorInfo((2, 4, 16)),))]


@register_layer
class Conv2d(_Conv):
    """2-D convolution over [batch, channels, height, width]."""

    n = 2

    @classmethod
    def examples(cls):
        """Plain, ``same``-padded and strided, depthwise, and dilated 2-D convolutions."""
        return [Example({"out_channels": 8, "kernel_size": 3}, (TensorInfo(("batch", 3, 10, 10)),)),
                Example({"out_channels": 4, "kernel_size": [3, 5], "padding": "same", "stride": 2},
                        (TensorInfo(("batch", 2, 9, 11)),)),
                Example({"out_channels": 6, "kernel_size": 3, "padding": 1, "groups": 6, "bias": False},
                        (TensorInfo((2, 6, 7, 7)),)),
                Example({"out_channels": 4, "kernel_size": 3, "dilation": 2, "padding": [1, 2]},
                        (TensorInfo(("batch", 4, 12, 12)),)),
                Example({"out_channels": 5, "kernel_size": 1, "padding": "valid"}, (TensorInfo(("batch", 3, "h", "w")),))]


@register_layer
class Conv3d(_Conv):
    """3-D convolution over [batch, channels, depth, height, width]."""

    n = 3

    @classmethod
    def examples(cls):
        """A plain and a ``same``-padded, strided 3-D convolution."""
        return [Example({"out_channels": 4, "kernel_size": 3}, (TensorInfo(("batch", 2, 6, 6, 6)),)),
                Example({"out_channels": 2, "kernel_size": [1, 3, 3], "padding": "same", "stride": [1, 2, 2]},
                        (TensorInfo((1, 3, 4, 8, 8)),))]


class ConvTransposeParams(LayerParams):
    """Parameters of ``ConvTranspose1d`` and ``ConvTranspose2d``."""
    out_channels: int = Field(gt=0, description="Number of output channels.")
    kernel_size: PositiveInts = Field(description="Kernel size: one number or one per spatial dim.")
    stride: PositiveInts = Field(1, description="Stride (the upsampling factor).")
    padding: NonNegativeInts = Field(0, description="Implicit padding removed from both sides of the output.")
    output_padding: NonNegativeInts = Field(0, description="Extra size added to one side of the output.")
    dilation: PositiveInts = Field(1, description="Spacing between kernel elements.")
    groups: int = Field(1, gt=0, description="Blocked connections from input to output channels.")
    bias: bool = Field(True, description="Add a learnable bias.")


class _ConvTranspose(LayerDef):
    family = "conv"
    Params = ConvTransposeParams
    n: int = 2

    @classmethod
    def _geometry(cls, p: ConvTransposeParams):
        n = cls.n
        try:
            return (expand(p.kernel_size, n, "kernel_size"), expand(p.stride, n, "stride"),
                    expand(p.padding, n, "padding"), expand(p.output_padding, n, "output_padding"),
                    expand(p.dilation, n, "dilation"))
        except ValueError as exc:
            raise LayerShapeError(str(exc)) from None

    @classmethod
    def output(cls, p: ConvTransposeParams, x: TensorInfo) -> TensorInfo:
        spatial_rank_check(x, cls.n, cls.type_name)
        channels = x.shape[1]
        if not is_static(channels):
            raise LayerShapeError("needs a fixed number of input channels", "make dim 1 of the input a number")
        if channels % p.groups or p.out_channels % p.groups:
            raise LayerShapeError(f"needs in_channels ({channels}) and out_channels ({p.out_channels}) "
                                  f"divisible by groups ({p.groups})", "change groups or out_channels")
        k, s, pad, opad, d = cls._geometry(p)
        for i in range(cls.n):
            if opad[i] >= max(s[i], d[i]):
                raise LayerShapeError(f"needs output_padding ({opad[i]}) smaller than stride or dilation",
                                      "lower output_padding")
        spatial = []
        for i, size in enumerate(x.shape[2:]):
            if not is_static(size):
                spatial.append(f"{size}_up")
                continue
            out = (size - 1) * s[i] - 2 * pad[i] + d[i] * (k[i] - 1) + opad[i] + 1
            if out < 1:
                raise LayerShapeError("would produce an empty output: padding is too large", "reduce padding")
            spatial.append(out)
        return x.with_shape((x.shape[0], p.out_channels, *spatial))

    @classmethod
    def weights(cls, p: ConvTransposeParams, inputs: list[TensorInfo]) -> dict:
        k = cls._geometry(p)[0]
        in_channels = int(inputs[0].shape[1])
        out_per_group = p.out_channels // p.groups
        fan_in = out_per_group * math.prod(k)  # as PyTorch computes it for transposed convolutions
        w = {"weight": fan_in_uniform((in_channels, out_per_group, *k), fan_in)}
        if p.bias:
            w["bias"] = fan_in_uniform((p.out_channels,), fan_in)
        return w

    @classmethod
    def lower(cls, p, b, inputs, infos, outputs):
        k, s, pad, opad, d = cls._geometry(p)
        ws = cls.weights(p, infos)
        args = [inputs[0], b.weight("weight", ws["weight"])]
        if p.bias:
            args.append(b.weight("bias", ws["bias"]))
        b.node("ConvTranspose", args, outputs, kernel_shape=list(k), strides=list(s), pads=list(pad) * 2,
               output_padding=list(opad), dilations=list(d), group=p.groups)


@register_layer
class ConvTranspose1d(_ConvTranspose):
    """1-D transposed convolution (learned upsampling) over [batch, channels, length]."""

    n = 1

    @classmethod
    def examples(cls):
        """A strided 1-D transposed convolution, and one with padding, output padding and no bias."""
        return [Example({"out_channels": 4, "kernel_size": 3, "stride": 2}, (TensorInfo(("batch", 6, 7)),)),
                Example({"out_channels": 2, "kernel_size": 4, "stride": 2, "padding": 1, "output_padding": 1,
                         "bias": False}, (TensorInfo((2, 3, 5)),))]


@register_layer
class ConvTranspose2d(_ConvTranspose):
    """2-D transposed convolution (learned upsampling) over [batch, channels, height, width]."""

    n = 2

    @classmethod
    def examples(cls):
        """Strided, padded with output padding, and grouped dilated 2-D transposed convolutions."""
        return [Example({"out_channels": 4, "kernel_size": 2, "stride": 2}, (TensorInfo(("batch", 8, 5, 5)),)),
                Example({"out_channels": 3, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1},
                        (TensorInfo(("batch", 4, 4, 6)),)),
                Example({"out_channels": 4, "kernel_size": 3, "groups": 2, "dilation": 2}, (TensorInfo((1, 4, 5, 5)),))]

