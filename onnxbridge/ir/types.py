"""Tensor types as the code generators see them, read from value infos, initializers and shape inference.

Example::

    types = graph_types(model.graph)       # {"x": TensorType(FLOAT, ("batch", 3, 32, 32)), ...}
    types["x"].rank, types["x"].static_shape
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx
from onnx import helper


@dataclass(frozen=True)
class TensorType:
    """Element type (``TensorProto`` enum, or None) and shape (ints, dim names, None; or None if unknown)."""

    elem: int | None
    shape: tuple[int | str | None, ...] | None

    @property
    def rank(self) -> int | None:
        """The number of dims, or None when the shape is unknown."""
        return None if self.shape is None else len(self.shape)

    @property
    def static_shape(self) -> tuple[int, ...] | None:
        """The shape when every dim is a known integer."""
        if self.shape is None or not all(isinstance(d, int) for d in self.shape):
            return None
        return tuple(int(d) for d in self.shape)  # type: ignore[arg-type]


UNKNOWN = TensorType(None, None)


def type_of(vi: onnx.ValueInfoProto | onnx.TypeProto) -> TensorType:
    """The :class:`TensorType` of a value info (or type proto)."""
    tp = vi.type if isinstance(vi, onnx.ValueInfoProto) else vi
    if not tp.HasField("tensor_type"):
        return UNKNOWN
    tt = tp.tensor_type
    elem = tt.elem_type or None
    if not tt.HasField("shape"):
        return TensorType(elem, None)
    dims: list[int | str | None] = []
    for d in tt.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param") and d.dim_param:
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return TensorType(elem, tuple(dims))


def value_info(name: str, t: TensorType) -> onnx.ValueInfoProto:
    """A value info named ``name`` with type ``t``."""
    return helper.make_tensor_value_info(name, t.elem or 0, None if t.shape is None else list(t.shape))


def graph_types(graph: onnx.GraphProto) -> dict[str, TensorType]:
    """Types of every value a graph describes (inputs, outputs, value_info, initializers)."""
    types: dict[str, TensorType] = {}
    for vi in list(graph.input) + list(graph.value_info) + list(graph.output):
        t = type_of(vi)
        if vi.name not in types or (t.shape is not None and types[vi.name].shape is None):
            types[vi.name] = t
    for init in graph.initializer:
        types[init.name] = TensorType(init.data_type, tuple(int(d) for d in init.dims))
    return types


def infer_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """ONNX shape inference with data propagation; the model is returned unchanged when it fails."""
    try:
        return onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception:  # noqa: BLE001 - inference is a help, never a requirement
        try:
            return onnx.shape_inference.infer_shapes(model, strict_mode=False)
        except Exception:  # noqa: BLE001
            return model
