"""The registry of ONNX-op converters for TensorFlow/Keras (one function per op, in ``ops/<family>.py``).

A converter is called as ``convert(ctx)`` with a :class:`onnxbridge.frameworks.tensorflow.context.TensorFlowContext`
and writes the Keras code for that node.
"""

from __future__ import annotations

from onnxbridge.frameworks.registry import OpRegistry

TF_OPS = OpRegistry("tensorflow")


def load_ops() -> OpRegistry:
    """Import every op family (which registers its converters) and return the registry."""
    import onnxbridge.frameworks.tensorflow.ops  # noqa: F401

    return TF_OPS
