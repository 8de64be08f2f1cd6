"""Arithmetic shared by convolution and pooling layers: padding and output sizes per spatial dim."""

from __future__ import annotations

import math

from onnxbridge.spec.registry import LayerShapeError
from onnxbridge.spec.types import Dim, TensorInfo


def spatial_rank_check(x: TensorInfo, n: int, type_name: str) -> None:
    """Raise unless ``x`` is [batch, channels, *n spatial dims]."""
    if x.rank != n + 2:
        dims = ", ".join(["length"] if n == 1 else ["height", "width"] if n == 2 else ["depth", "height", "width"])
        suggestion = None
        if x.rank == n + 1:
            suggestion = "add a channels dimension to the input (e.g. [batch, 1, ...])"
        elif x.rank == 2:
            suggestion = f"reshape the features to [batch, channels, {dims}] with a Reshape layer"
        raise LayerShapeError(f"needs [batch, channels, {dims}] for {type_name}", suggestion, code="OB506")


def explicit_pads(padding: object, n: int) -> list[int]:
    """ONNX pads [begin_1..begin_n, end_1..end_n] from an int, one per dim, or 2n numbers."""
    if isinstance(padding, int):
        return [padding] * (2 * n)
    values = list(padding)  # type: ignore[call-overload]
    if len(values) == n:
        return values + values
    if len(values) == 2 * n:
        return values
    raise LayerShapeError(f"padding needs 1, {n} or {2 * n} numbers, got {values}")


def same_pads(sizes: tuple[Dim, ...], kernel: tuple[int, ...], stride: tuple[int, ...],
              dilation: tuple[int, ...]) -> list[int] | None:
    """Explicit pads giving out = ceil(in / stride) (TF 'same'); None when a dim is symbolic and stride > 1."""
    begins, ends = [], []
    for size, k, s, d in zip(sizes, kernel, stride, dilation):
        effective = d * (k - 1) + 1
        if s == 1:
            total = effective - 1
        elif isinstance(size, int):
            out = math.ceil(size / s)
            total = max((out - 1) * s + effective - size, 0)
        else:
            return None
        begins.append(total // 2)
        ends.append(total - total // 2)
    return begins + ends


def conv_out(size: Dim, k: int, s: int, d: int, pad_begin: int, pad_end: int, *, ceil: bool = False,
             what: str = "kernel") -> Dim:
    """Output size of a convolution or pooling along one dim; symbolic in, symbolic out."""
    if not isinstance(size, int):
        if k == 1 and s == 1 and pad_begin == pad_end == 0:
            return size
        return f"{size}_out"
    span = size + pad_begin + pad_end - d * (k - 1) - 1
    if span < 0:
        raise LayerShapeError(
            f"needs each spatial dim >= {d * (k - 1) + 1 - pad_begin - pad_end} for a {what} of {k}"
            f"{f' with dilation {d}' if d > 1 else ''}, which is larger than the input",
            f"use a smaller {what}_size, add padding, or remove a downsampling layer before it", code="OB503")
    out = (math.ceil(span / s) if ceil else span // s) + 1
    return out
