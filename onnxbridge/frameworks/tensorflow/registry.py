"""The registries of the TensorFlow/Keras code generator; ``ops/<family>.py`` fill them when imported.

``TF_OPS`` maps ONNX ops to converters (one function per op): ``convert(ctx)`` with a
:class:`onnxbridge.frameworks.tensorflow.context.TensorFlowContext` writes the Keras code for that node.
``TF_PATTERNS`` holds subgraph patterns: functions that find groups of nodes one Keras layer computes as a
whole (e.g. multi-head attention -> ``layers.MultiHeadAttention``) and write that layer in their place.
"""

from __future__ import annotations

from onnxbridge.frameworks.registry import OpRegistry, PatternMatch, PatternRegistry

__all__ = ["TF_OPS", "TF_PATTERNS", "PatternMatch", "load_ops", "load_patterns"]

TF_OPS = OpRegistry("tensorflow")
TF_PATTERNS = PatternRegistry("tensorflow")


def load_ops() -> OpRegistry:
    """Import every op family (which registers its converters) and return the registry."""
    import onnxbridge.frameworks.tensorflow.ops  # noqa: F401

    return TF_OPS


def load_patterns() -> PatternRegistry:
    """The subgraph patterns, every op family registered."""
    load_ops()
    return TF_PATTERNS
