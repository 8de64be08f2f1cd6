"""Layers that only rearrange data: Flatten, Reshape, Permute."""

from __future__ import annotations

import math

from pydantic import Field, field_validator

from onnxbridge.spec.params import LayerParams
from onnxbridge.spec.registry import Example, LayerDef, LayerShapeError, register_layer
from onnxbridge.spec.types import TensorInfo, is_static, numel


class FlattenParams(LayerParams):
    """Parameters of ``Flatten``."""
    start_dim: int = Field(1, ge=1, description="First dim to flatten (the batch, dim 0, is kept).")


@register_layer
class Flatten(LayerDef):
    """Merge dims start_dim.. into one: [batch, C, H, W] -> [batch, C*H*W]."""

    family = "reshape"
    Params = FlattenParams

    @classmethod
    def output(cls, p: FlattenParams, x: TensorInfo) -> TensorInfo:
        """The dimensions from ``start_dim`` on merged into one."""
        if p.start_dim >= x.rank:
            raise LayerShapeError(f"needs more than {p.start_dim} dims to flatten from dim {p.start_dim}",
                                  "remove the Flatten or lower start_dim")
        return x.with_shape((*x.shape[:p.start_dim], numel(x.shape[p.start_dim:])))

    @classmethod
    def lower(cls, p, b, inputs, infos, outputs):
        """Emit ONNX ``Flatten`` from dim 1, or a ``Reshape`` keeping the leading dims otherwise."""
        if p.start_dim == 1:
            b.node("Flatten", inputs, outputs, axis=1)
        else:
            b.node("Reshape", [inputs[0], b.ints([0] * p.start_dim + [-1])], outputs)

    @classmethod
    def examples(cls):
        """A feature map, flattening from dim 2, and an input that is already flat."""
        return [Example({}, (TensorInfo(("batch", 4, 3, 3)),)), Example({"start_dim": 2}, (TensorInfo((2, 3, 4, 5)),)),
                Example({}, (TensorInfo(("batch", 6)),))]


class ReshapeParams(LayerParams):
    """Parameters of ``Reshape``."""
    shape: list[int] = Field(min_length=1,
                             description="New shape of each sample (the batch dim is kept); one entry may be -1.")

    @field_validator("shape")
    @classmethod
    def _one_minus_one(cls, shape: list[int]) -> list[int]:
        if shape.count(-1) > 1 or any(d == 0 or d < -1 for d in shape):
            raise ValueError("expected positive sizes and at most one -1")
        return shape


@register_layer
class Reshape(LayerDef):
    """Give each sample a new shape: [batch, 64] with shape [4, 4, 4] -> [batch, 4, 4, 4]."""

    family = "reshape"
    Params = ReshapeParams

    @classmethod
    def output(cls, p: ReshapeParams, x: TensorInfo) -> TensorInfo:
        """The batch dimension followed by ``shape`` (a -1 resolved when the sample size is known)."""
        sample = x.shape[1:]
        if not all(is_static(d) for d in sample):
            if -1 in p.shape:
                raise LayerShapeError("needs fixed sample dims to infer a -1 size")
            fixed = math.prod(int(d) for d in sample if is_static(d))
            known = math.prod(p.shape)
            if known % fixed:  # the named dims multiply the fixed ones: no value of them gives `known`
                named = " * ".join(str(d) for d in sample)
                raise LayerShapeError(f"needs {known} elements per sample for shape {p.shape}; a sample has "
                                      f"{named}, a multiple of {fixed}, never {known}",
                                      f"use a shape whose product is a multiple of {fixed}")
            return x.with_shape((x.shape[0], *p.shape))
        total = math.prod(int(d) for d in sample)
        known = math.prod(d for d in p.shape if d != -1)
        if -1 in p.shape:
            if total % known:
                raise LayerShapeError(f"needs the sample size {total} divisible by {known}", "fix 'shape'")
            shape = [total // known if d == -1 else d for d in p.shape]
        else:
            shape = list(p.shape)
            if known != total:
                raise LayerShapeError(f"needs {known} elements per sample for shape {p.shape}, but has {total}",
                                      f"use a shape whose product is {total}, or -1 for one dim")
        return x.with_shape((x.shape[0], *shape))

    @classmethod
    def lower(cls, p, b, inputs, infos, outputs):
        """Emit ONNX ``Reshape`` to ``[0, *shape]`` (0 keeps the batch)."""
        b.node("Reshape", [inputs[0], b.ints([0, *p.shape])], outputs)

    @classmethod
    def examples(cls):
        """A fixed target shape, and one with a -1."""
        return [Example({"shape": [4, 4, 4]}, (TensorInfo(("batch", 64)),)),
                Example({"shape": [-1, 2]}, (TensorInfo((3, 4, 5)),))]


class PermuteParams(LayerParams):
    """Parameters of ``Permute``."""
    dims: list[int] = Field(min_length=2, description="New order of all dims, batch included (e.g. [0, 2, 1]).")


@register_layer
class Permute(LayerDef):
    """Reorder dims, e.g. [batch, seq, features] -> [batch, features, seq] with dims [0, 2, 1]."""

    family = "reshape"
    Params = PermuteParams

    @classmethod
    def output(cls, p: PermuteParams, x: TensorInfo) -> TensorInfo:
        """The input's dimensions in the order ``dims``, which must list each of them once."""
        if sorted(p.dims) != list(range(x.rank)):
            raise LayerShapeError(f"needs dims to be a permutation of 0..{x.rank - 1}, got {p.dims}",
                                  "list every dim exactly once")
        return x.with_shape(tuple(x.shape[d] for d in p.dims))

    @classmethod
    def lower(cls, p, b, inputs, infos, outputs):
        """Emit ONNX ``Transpose`` with ``perm`` = ``dims``."""
        b.node("Transpose", inputs, outputs, perm=list(p.dims))

    @classmethod
    def examples(cls):
        """Swapping the last two dims, and channels-first to channels-last."""
        return [Example({"dims": [0, 2, 1]}, (TensorInfo(("batch", 5, 3)),)),
                Example({"dims": [0, 2, 3, 1]}, (TensorInfo((2, 3, 4, 5)),))]
