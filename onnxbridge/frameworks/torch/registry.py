"""The registries of the PyTorch code generator; ``ops/<family>.py`` fill them when imported.

``TORCH_OPS`` maps ONNX ops to converters (one node -> code): ``convert(ctx)`` with a
:class:`onnxbridge.frameworks.torch.context.TorchContext`. ``TORCH_PATTERNS`` holds subgraph patterns:
functions that find groups of nodes one PyTorch module computes as a whole (e.g. a Transformer encoder
layer -> ``nn.TransformerEncoderLayer``) and write that module in their place.
"""

from __future__ import annotations

from onnxbridge.frameworks.registry import OpRegistry, PatternMatch, PatternRegistry

__all__ = ["TORCH_OPS", "TORCH_PATTERNS", "PatternMatch", "load_ops", "load_patterns"]

TORCH_OPS = OpRegistry("torch")
TORCH_PATTERNS = PatternRegistry("torch")


def load_ops() -> OpRegistry:
    """The registry with every op family registered."""
    from onnxbridge.frameworks.torch import ops  # noqa: F401  (registers the converters)

    return TORCH_OPS


def load_patterns() -> PatternRegistry:
    """The subgraph patterns, every op family registered."""
    load_ops()
    return TORCH_PATTERNS
