"""What a matcher proposes: a layer (type and parameters), the ONNX values it reads and writes, the nodes it
replaces, and where each of its weights comes from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx

Transform = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class WeightSource:
    """A layer weight taken from the ONNX value ``value`` (a constant or a block weight), transformed."""

    value: str
    transform: Transform | None = None

    def apply(self, array: np.ndarray) -> np.ndarray:
        """The stored weight as the layer wants it: transformed when a transform is set, always contiguous."""
        return np.ascontiguousarray(self.transform(array) if self.transform else array)


@dataclass
class Draft:
    """One layer of the lifted spec, before it has an id.

    ``inputs`` and ``outputs`` are ONNX value names (the layer's k-th output is ``outputs[k]``);
    ``weights`` maps the layer's weight names (as its lowering names them) to their sources;
    ``fixed`` holds weight values known outright (block instances, where a source sits one level up).
    """

    type: str
    params: dict[str, Any]
    inputs: list[str]
    outputs: list[str]
    nodes: list[onnx.NodeProto]
    weights: dict[str, WeightSource] = field(default_factory=dict)
    hint: str | None = None
    natural: bool = True
    id: str = ""
    #: a block instance: the block's name and how its weights map to the call's actuals
    block: Any = None

    @property
    def anchor(self) -> onnx.NodeProto | None:
        """The first node the draft covers, or None."""
        return self.nodes[0] if self.nodes else None
