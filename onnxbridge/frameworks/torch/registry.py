"""The registry of ONNX-op converters for PyTorch; ``ops/<family>.py`` fill it when imported."""

from __future__ import annotations

from onnxbridge.frameworks.registry import OpRegistry

TORCH_OPS = OpRegistry("torch")


def load_ops() -> OpRegistry:
    """The registry with every op family registered."""
    from onnxbridge.frameworks.torch import ops  # noqa: F401  (registers the converters)

    return TORCH_OPS
