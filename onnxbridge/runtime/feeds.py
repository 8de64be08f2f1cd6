"""What a benchmark feeds the model: batch sizes, input overrides (symbolic dims or whole shapes) and the
random inputs built from them.

Example::

    parse_batches([1, "8,32"])                              # [1, 8, 32]
    dims, shapes = resolve_inputs(model, ["seq=32"])        # ({"seq": 32}, {})
    feeds = make_feeds(model, 8, dims, shapes, seed=0)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import onnx

from onnxbridge.errors import OnnxBridgeError


def parse_batches(batches: Iterable[int | str]) -> list[int]:
    """[1, "8,32"] -> [1, 8, 32]; every batch must be a whole number of at least 1."""
    if isinstance(batches, (int, str)):
        batches = [batches]
    out: list[int] = []
    for item in batches:
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            try:
                value = int(part)
            except ValueError:
                raise OnnxBridgeError(f"batch size {part!r} is not a whole number",
                                      hint="give sizes like --batch 1,8,32") from None
            if value < 1:
                raise OnnxBridgeError(f"batch size must be at least 1, got {value}",
                                      hint="give sizes like --batch 1,8,32")
            if value not in out:
                out.append(value)
    if not out:
        raise OnnxBridgeError("no batch size given", hint="give sizes like --batch 1,8,32")
    return out


def resolve_inputs(model: onnx.ModelProto, inputs: Mapping[str, Any] | Iterable[str] | None
                   ) -> tuple[dict[str, int], dict[str, list[int | str]]]:
    """Split input overrides into symbolic dims ({"seq": 32}) and whole shapes ({"tokens": [batch, 16]}).

    Accepts a mapping or "name=value" strings. A name that is a graph input sets its shape ("8x16",
    "batchx16", [8, 16]); any other name must be a symbolic dim of some input ("seq=32").
    """
    from onnxbridge.testing import graph_inputs

    if inputs is None:
        return {}, {}
    pairs: list[tuple[str, Any]] = []
    if isinstance(inputs, Mapping):
        pairs = list(inputs.items())
    else:
        for item in ([inputs] if isinstance(inputs, str) else inputs):
            name, sep, value = str(item).partition("=")
            if not sep or not name.strip() or not value.strip():
                raise OnnxBridgeError(f"input override {item!r} is not NAME=VALUE",
                                      hint="e.g. --input seq=32 or --input tokens=batchx16")
            pairs.append((name.strip(), value.strip()))
    input_names = [vi.name for vi in graph_inputs(model)]
    symbolic = sorted({d.dim_param for vi in graph_inputs(model) for d in vi.type.tensor_type.shape.dim
                       if d.dim_param})
    dims: dict[str, int] = {}
    shapes: dict[str, list[int | str]] = {}
    for name, value in pairs:
        if name in input_names:
            shapes[name] = _parse_shape(name, value)
        elif name in symbolic:
            dims[name] = _positive(name, value)
        else:
            raise OnnxBridgeError(
                f"--input {name}: not an input or a symbolic dimension of the model",
                hint=f"inputs: {', '.join(input_names) or '(none)'}; symbolic dims: {', '.join(symbolic) or '(none)'}")
    return dims, shapes


def _parse_shape(name: str, value: Any) -> list[int | str]:
    parts = list(value) if isinstance(value, (list, tuple)) else re.split(r"[x,]", str(value).strip("[]() "))
    shape: list[int | str] = []
    for p in parts:
        p = str(p).strip()
        if p == "batch":
            shape.append("batch")
        else:
            shape.append(_positive(name, p))
    return shape


def _positive(name: str, value: Any) -> int:
    try:
        n = int(str(value))
    except ValueError:
        raise OnnxBridgeError(f"--input {name}: {value!r} is not a whole number",
                              hint="e.g. --input seq=32 or --input tokens=batchx16") from None
    if n < 1:
        raise OnnxBridgeError(f"--input {name}: sizes must be at least 1, got {n}")
    return n


def make_feeds(model: onnx.ModelProto, batch: int, dims: dict[str, int],
                shapes: dict[str, list[int | str]], seed: int) -> dict[str, np.ndarray]:
    """Random inputs for one batch size: the whole shapes given (``batch`` replaced) and the symbolic dims."""
    from onnxbridge.testing import random_inputs

    concrete = {k: [batch if d == "batch" else int(d) for d in v] for k, v in shapes.items()}
    try:
        return random_inputs(model, batch=batch, dims=dims, shapes=concrete, seed=seed)
    except ValueError as exc:
        raise OnnxBridgeError(f"cannot generate inputs for the model: {exc}") from None


def effective_batch(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray], batch: int,
                     shapes: Mapping[str, list[int | str]]) -> int:
    """The batch actually fed: ``batch`` unless every input's first dimension is fixed to another size
    (by the model, or by an input shape given without ``batch``)."""
    from onnxbridge.testing import graph_inputs

    firsts = []
    for vi in graph_inputs(model):
        dim = vi.type.tensor_type.shape.dim
        if vi.name in shapes:
            if not shapes[vi.name] or shapes[vi.name][0] == "batch":
                return batch
        elif not dim:
            continue
        elif not (dim[0].HasField("dim_value") and dim[0].dim_value > 0):
            return batch
        firsts.append(int(feeds[vi.name].shape[0]))
    return firsts[0] if firsts and all(f == firsts[0] for f in firsts) else batch
