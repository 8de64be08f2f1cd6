"""Model input descriptions for exporting framework models: ``NAME:1x3x224x224[:dtype]``.

Framework-neutral: the PyTorch and TensorFlow importers and the ``convert`` command share them.

Example::

    spec = parse_input_spec("image:1x3x32x32")      # InputSpec('image', (1, 3, 32, 32), 'float32')
    spec = parse_input_spec("tokens:batchx16:int64") # a symbolic first dim
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from onnxbridge.errors import OnnxBridgeError
from onnxbridge.testing import DEFAULT_BATCH, DEFAULT_DIM


@dataclass(frozen=True)
class InputSpec:
    """One model input for export: a name, a shape (``None`` or a str = symbolic) and a dtype name."""

    name: str
    shape: tuple[int | str | None, ...]
    dtype: str = "float32"

    def example_shape(self, batch: int = DEFAULT_BATCH) -> tuple[int, ...]:
        """Concrete sizes for an example tensor: symbolic dims take ``batch`` (dim 0) or 5."""
        return tuple(d if isinstance(d, int) and d > 0 else (batch if i == 0 else DEFAULT_DIM)
                     for i, d in enumerate(self.shape))


_DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool")


def parse_input_spec(text: str) -> InputSpec:
    """Parse ``NAME:1x3x224x224[:dtype]`` (a dim may be a name such as ``batch`` for a symbolic size)."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise OnnxBridgeError(f"--input {text!r}: expected NAME:SHAPE[:DTYPE], e.g. image:1x3x224x224:float32")
    name, shape_text = parts[0], parts[1]
    dtype = parts[2] if len(parts) == 3 else "float32"
    if dtype not in _DTYPES:
        raise OnnxBridgeError(f"--input {text!r}: unknown dtype {dtype!r}", hint=f"use one of {', '.join(_DTYPES)}")
    dims: list[int | str] = []
    for d in shape_text.lower().split("x"):
        if d.isdigit():
            dims.append(int(d))
        elif re.fullmatch(r"[a-z_]\w*", d):
            dims.append(d)
        else:
            raise OnnxBridgeError(f"--input {text!r}: bad dimension {d!r}",
                                  hint="dims are sizes or names, e.g. 1x3x32x32")
    return InputSpec(name, tuple(dims), dtype)


def as_specs(input_shapes: Mapping[str, Any] | Sequence[Any] | None) -> list[InputSpec]:
    """Input specs from ``{name: shape}``, ``{name: (shape, dtype)}``, specs, or ``NAME:SHAPE`` strings."""
    if not input_shapes:
        return []
    if isinstance(input_shapes, Mapping):
        out = []
        for name, value in input_shapes.items():
            if isinstance(value, InputSpec):
                out.append(value)
            elif isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], str) \
                    and isinstance(value[0], (tuple, list)):
                out.append(InputSpec(name, tuple(value[0]), value[1]))
            else:
                out.append(InputSpec(name, tuple(value)))
        return out
    return [s if isinstance(s, InputSpec) else parse_input_spec(str(s)) for s in input_shapes]
