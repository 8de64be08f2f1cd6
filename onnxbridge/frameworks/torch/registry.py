"""The registries of the PyTorch code generator; ``ops/<family>.py`` fill them when imported.

``TORCH_OPS`` maps ONNX ops to converters (one node -> code): ``convert(ctx)`` with a
:class:`onnxbridge.frameworks.torch.context.TorchContext`. ``TORCH_PATTERNS`` holds subgraph patterns:
functions that find groups of nodes one PyTorch module computes as a whole (e.g. a Transformer encoder
layer -> ``nn.TransformerEncoderLayer``) and write that module in their place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from onnxbridge.frameworks.registry import OpRegistry

TORCH_OPS = OpRegistry("torch")


@dataclass
class PatternMatch:
    """A matched subgraph: ``node`` (inputs and output of the whole group) stands for the nodes in ``ids``
    (by ``id``) at the position of the last of them, and ``emit(ctx)`` writes its code (a converter)."""

    node: Any  # onnx.NodeProto
    ids: set[int]
    emit: Callable[[Any], None]


class PatternRegistry:
    """Subgraph patterns, tried in registration order: ``pattern(view, live nodes) -> [PatternMatch]``."""

    def __init__(self) -> None:
        self._patterns: dict[str, Callable] = {}

    def register(self, pattern: Callable) -> Callable:
        """Decorator: register a pattern; registering the same name twice is an error."""
        key = f"{pattern.__module__}.{pattern.__qualname__}"
        if key in self._patterns:
            raise ValueError(f"torch: pattern {key} is already registered")
        self._patterns[key] = pattern
        return pattern

    def __iter__(self) -> Iterator[Callable]:
        return iter(list(self._patterns.values()))


TORCH_PATTERNS = PatternRegistry()


def load_ops() -> OpRegistry:
    """The registry with every op family registered."""
    from onnxbridge.frameworks.torch import ops  # noqa: F401  (registers the converters)

    return TORCH_OPS


def load_patterns() -> PatternRegistry:
    """The subgraph patterns, every op family registered."""
    load_ops()
    return TORCH_PATTERNS
