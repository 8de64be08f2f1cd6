"""Layers that combine several inputs: Add, Multiply, Concat."""

from __future__ import annotations

from pydantic import Field

from onnxbridge.spec.params import LayerParams
from onnxbridge.spec.registry import Example, LayerDef, LayerShapeError, register_layer
from onnxbridge.spec.types import Dim, TensorInfo, format_shape


def _broadcast(a: Dim, b: Dim) -> Dim | None:
    if a == b:
        return a
    if a == 1:
        return b
    if b == 1:
        return a
    return None


class _Elementwise(LayerDef):
    family = "merge"
    min_inputs = 2
    max_inputs = None
    onnx_op = "Add"

    @classmethod
    def infer(cls, p, inputs: list[TensorInfo]) -> list[TensorInfo]:
        if len({i.dtype for i in inputs}) > 1:
            raise LayerShapeError("needs inputs of one dtype", "cast the inputs to the same dtype", code="OB507")
        rank = max(i.rank for i in inputs)
        shape: list[Dim] = []
        padded = [(1,) * (rank - i.rank) + tuple(i.shape) for i in inputs]
        for axis in range(rank):
            d: Dim | None = padded[0][axis]
            for other in padded[1:]:
                d = _broadcast(d, other[axis]) if d is not None else None
            if d is None:
                sizes = [s[axis] for s in padded]
                hint = ("project the shortcut with a 1x1 Conv (or use a ResidualBlock, which does it)"
                        if axis == 1 and rank >= 3 else "make the shapes equal, e.g. with a Linear or Reshape")
                raise LayerShapeError(f"needs equal (or broadcastable) shapes; dim {axis} differs: {sizes}", hint,
                                      code="OB502")
            shape.append(d)
        return [TensorInfo(tuple(shape), inputs[0].dtype)]

    @classmethod
    def lower(cls, p, b, inputs, infos, outputs):
        acc = inputs[0]
        for i, other in enumerate(inputs[1:]):
            last = i == len(inputs) - 2
            acc = b.node(cls.onnx_op, [acc, other], outputs if last else 1)[0]

    @classmethod
    def examples(cls):
        return [Example({}, (TensorInfo(("batch", 4, 5, 5)),) * 2),
                Example({}, (TensorInfo((2, 3)), TensorInfo((2, 3)), TensorInfo((2, 3)))),
                Example({}, (TensorInfo(("batch", 4, 5, 5)), TensorInfo(("batch", 4, 1, 1))))]


@register_layer
class Add(_Elementwise):
    """Element-wise sum of two or more inputs (residual connections)."""

    onnx_op = "Add"


@register_layer
class Multiply(_Elementwise):
    """Element-wise product of two or more inputs (gating, attention masks)."""

    onnx_op = "Mul"


class ConcatParams(LayerParams):
    """Parameters of ``Concat``."""
    dim: int = Field(1, description="Dimension to join along (1 = channels/features).")


@register_layer
class Concat(LayerDef):
    """Join inputs along ``dim`` (channels by default); the other dims must match."""

    family = "merge"
    Params = ConcatParams
    min_inputs = 2
    max_inputs = None

    @classmethod
    def infer(cls, p: ConcatParams, inputs: list[TensorInfo]) -> list[TensorInfo]:
        """The joined tensor; inputs of one rank that agree on every dimension but ``dim`` (never the batch)."""
        rank = inputs[0].rank
        if any(i.rank != rank for i in inputs):
            raise LayerShapeError("needs inputs of the same rank", "reshape or flatten the inputs first")
        axis = p.dim % rank if -rank <= p.dim < rank else None
        if axis is None or axis == 0:
            raise LayerShapeError(f"needs dim between 1 and {rank - 1}, got {p.dim}", "concatenate along features")
        total: Dim = 0
        for axis_i in range(rank):
            if axis_i == axis:
                continue
            sizes = {i.shape[axis_i] for i in inputs}
            if len(sizes) > 1:
                raise LayerShapeError(f"needs equal sizes except along dim {axis}; dim {axis_i} differs: "
                                      f"{', '.join(format_shape(i.shape) for i in inputs)}",
                                      "resize or pool the inputs to the same size first")
        along = [i.shape[axis] for i in inputs]
        fixed = [s for s in along if isinstance(s, int)]
        total = sum(fixed) if len(fixed) == len(along) else "+".join(str(s) for s in along)
        shape = list(inputs[0].shape)
        shape[axis] = total
        return [TensorInfo(tuple(shape), inputs[0].dtype)]

    @classmethod
    def lower(cls, p, b, inputs, infos, outputs):
        """Emit one ONNX ``Concat`` along ``dim``."""
        b.node("Concat", inputs, outputs, axis=p.dim)

    @classmethod
    def examples(cls):
        """Two feature maps joined on channels, and three tensors joined on the last dimension."""
        return [Example({}, (TensorInfo(("batch", 4, 5, 5)), TensorInfo(("batch", 2, 5, 5)))),
                Example({"dim": -1}, (TensorInfo((2, 3, 4)), TensorInfo((2, 3, 1)), TensorInfo((2, 3, 2))))]
