"""The registry of ONNX-op converters for TensorFlow/Keras (one function per op, in ``ops/<family>.py``).

A converter is called as ``fn(node, ctx)`` with the ONNX node and a
:class:`onnxbridge.frameworks.tensorflow.codegen.NodeContext`, and writes the Keras code for that node.
"""

from __future__ import annotations

from onnxbridge.frameworks.registry import OpRegistry

TF_OPS = OpRegistry("tensorflow")


def load_converters() -> OpRegistry:
    """Import every op family (which registers its converters) and return the registry."""
    import onnxbridge.frameworks.tensorflow.ops  # noqa: F401

    return TF_OPS
