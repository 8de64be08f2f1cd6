"""Pooling: max and average over windows, and global pooling."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from onnxbridge.spec.layers._spatial import conv_out, explicit_pads, spatial_rank_check
from onnxbridge.spec.params import LayerParams, NonNegativeInts, PositiveInts, expand
from onnxbridge.spec.registry import Example, LayerDef, LayerShapeError, register_layer
from onnxbridge.spec.types import TensorInfo


class PoolParams(LayerParams):
    """Parameters of the max and average pooling layers."""
    kernel_size: PositiveInts = Field(description="Window size: one number or one per spatial dim.")
    stride: PositiveInts | None = Field(None, description="Stride (default: the window size).")
    padding: NonNegativeInts = Field(0, description="Implicit padding on both sides.")
    ceil_mode: bool = Field(False, description="Round output sizes up instead of down.")


class AvgPoolParams(PoolParams):
    """Parameters of the average pooling layers."""
    count_include_pad: bool = Field(True, description="Count padded zeros in the average (PyTorch's default).")


class _Pool(LayerDef):
    family = "pool"
    Params: ClassVar[type[PoolParams]] = PoolParams
    n: int = 2
    onnx_op = "MaxPool"

    @classmethod
    def _geometry(cls, p: PoolParams):
        try:
            k = expand(p.kernel_size, cls.n, "kernel_size")
            s = expand(p.stride, cls.n, "stride") if p.stride is not None else k
        except ValueError as exc:
            raise LayerShapeError(str(exc)) from None
        pads = explicit_pads(p.padding, cls.n)
        for i in range(cls.n):
            if max(pads[i], pads[i + cls.n]) * 2 > k[i]:
                raise LayerShapeError(f"needs padding at most half the window ({k[i]})", "reduce padding")
        return k, s, pads

    @classmethod
    def output(cls, p: PoolParams, x: TensorInfo) -> TensorInfo:
        spatial_rank_check(x, cls.n, cls.type_name)
        k, s, pads = cls._geometry(p)
        n = cls.n
        spatial = []
        for i, size in enumerate(x.shape[2:]):
            if isinstance(size, int) and size + pads[i] + pads[i + n] < k[i]:
                raise LayerShapeError(f"shrinks spatial dim {i} ({size}) to zero with a window of {k[i]}",
                                      "remove this pooling (or an earlier downsampling) or use a smaller kernel_size",
                                      code="OB504")
            spatial.append(conv_out(size, k[i], s[i], 1, pads[i], pads[i + n], ceil=p.ceil_mode, what="kernel"))
        return x.with_shape((x.shape[0], x.shape[1], *spatial))

    @classmethod
    def lower(cls, p, b, inputs, infos, outputs):
        k, s, pads = cls._geometry(p)
        attrs = {"kernel_shape": list(k), "strides": list(s), "pads": pads, "ceil_mode": int(p.ceil_mode)}
        if cls.onnx_op == "AveragePool":
            attrs["count_include_pad"] = int(p.count_include_pad)
        b.node(cls.onnx_op, inputs, outputs, **attrs)


_EX1 = [Example({"kernel_size": 2}, (TensorInfo(("batch", 3, 10)),)),
        Example({"kernel_size": 3, "stride": 2, "padding": 1}, (TensorInfo((2, 4, 9)),)),
        Example({"kernel_size": 3, "stride": 2, "ceil_mode": True}, (TensorInfo(("batch", 2, 10)),))]
_EX2 = [Example({"kernel_size": 2}, (TensorInfo(("batch", 3, 8, 8)),)),
        Example({"kernel_size": 3, "stride": 2, "padding": 1}, (TensorInfo((2, 4, 9, 7)),)),
        Example({"kernel_size": [2, 3], "stride": 1, "ceil_mode": True}, (TensorInfo(("batch", 2, 6, 6)),))]


@register_layer
class MaxPool1d(_Pool):
    """Max over sliding windows of [batch, channels, length]."""

    n = 1

    @classmethod
    def examples(cls):
        """The shared 1-D pooling examples."""
        return _EX1


@register_layer
class MaxPool2d(_Pool):
    """Max over sliding windows of [batch, channels, height, width]."""

    n = 2

    @classmethod
    def examples(cls):
        """The shared 2-D pooling examples."""
        return _EX2


@register_layer
class AvgPool1d(_Pool):
    """Average over sliding windows of [batch, channels, length]."""

    n = 1
    onnx_op = "AveragePool"
    Params = AvgPoolParams

    @classmethod
    def examples(cls):
        """The shared 1-D pooling examples plus padding left out of the average."""
        return _EX1 + [Example({"kernel_size": 3, "padding": 1, "count_include_pad": False}, (TensorInfo((1, 2, 7)),))]


@register_layer
class AvgPool2d(_Pool):
    """Average over sliding windows of [batch, channels, height, width]."""

    n = 2
    onnx_op = "AveragePool"
    Params = AvgPoolParams

    @classmethod
    def examples(cls):
        """The shared 2-D pooling examples plus padding left out of the average."""
        return _EX2 + [Example({"kernel_size": 3, "padding": 1, "count_include_pad": False},
                               (TensorInfo((1, 2, 5, 5)),))]


class _GlobalPool(LayerDef):
    """Base: reduce every spatial dim to 1, keeping [batch, channels, 1, ...]."""

    family = "pool"
    onnx_op = "GlobalAveragePool"

    @classmethod
    def output(cls, p, x: TensorInfo) -> TensorInfo:
        if x.rank < 3:
            raise LayerShapeError("needs [batch, channels, spatial...] (at least 3 dims)",
                                  "global pooling reduces spatial dims; this input has none")
        return x.with_shape((x.shape[0], x.shape[1], *([1] * (x.rank - 2))))

    @classmethod
    def lower(cls, p, b, inputs, infos, outputs):
        b.node(cls.onnx_op, inputs, outputs)

    @classmethod
    def examples(cls):
        return [Example({}, (TensorInfo(("batch", 8, 5, 5)),)), Example({}, (TensorInfo((2, 3, 7)),))]


@register_layer
class GlobalAvgPool(_GlobalPool):
    """Average over all spatial positions: [batch, C, H, W] -> [batch, C, 1, 1]."""

    onnx_op = "GlobalAveragePool"


@register_layer
class GlobalMaxPool(_GlobalPool):
    """Max over all spatial positions: [batch, C, H, W] -> [batch, C, 1, 1]."""

    onnx_op = "GlobalMaxPool"
