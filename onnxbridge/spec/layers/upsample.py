"""Fixed (non-learned) upsampling."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from onnxbridge.spec.params import LayerParams, PositiveInts, expand
from onnxbridge.spec.registry import Example, LayerDef, LayerShapeError, register_layer
from onnxbridge.spec.types import TensorInfo, dim_mul


class UpsampleParams(LayerParams):
    """Parameters of ``Upsample``."""
    scale_factor: PositiveInts = Field(2, description="Integer scale per spatial dim (one number or one per dim).")
    mode: Literal["nearest", "linear"] = Field("nearest", description="'nearest' or 'linear' (bilinear for 2-D).")


@register_layer
class Upsample(LayerDef):
    """Scale spatial dims by an integer factor: [batch, C, H, W] -> [batch, C, H*s, W*s]."""

    family = "upsample"
    Params = UpsampleParams

    @classmethod
    def output(cls, p: UpsampleParams, x: TensorInfo) -> TensorInfo:
        """Every spatial dimension multiplied by its scale factor."""
        if x.rank < 3:
            raise LayerShapeError("needs [batch, channels, spatial...]")
        try:
            scale = expand(p.scale_factor, x.rank - 2, "scale_factor")
        except ValueError as exc:
            raise LayerShapeError(str(exc)) from None
        return x.with_shape((*x.shape[:2], *(dim_mul(d, s) for d, s in zip(x.shape[2:], scale))))

    @classmethod
    def lower(cls, p, b, inputs, infos, outputs):
        """Emit ONNX ``Resize`` with constant scales (nearest with floor rounding, or half-pixel linear)."""
        scale = expand(p.scale_factor, infos[0].rank - 2, "scale_factor")
        scales = b.const([1.0, 1.0, *map(float, scale)], "scales")
        if p.mode == "nearest":
            attrs = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
        else:
            attrs = {"mode": "linear", "coordinate_transformation_mode": "half_pixel"}
        b.node("Resize", [inputs[0], "", scales], outputs, **attrs)

    @classmethod
    def examples(cls):
        """Nearest 2-D, linear with a scale per dimension, and 1-D."""
        return [Example({}, (TensorInfo(("batch", 3, 4, 4)),)),
                Example({"scale_factor": [2, 3], "mode": "linear"}, (TensorInfo((1, 2, 3, 5)),)),
                Example({"scale_factor": 3}, (TensorInfo(("batch", 2, 5)),))]
