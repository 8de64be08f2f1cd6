"""ONNX op converters for PyTorch, one module per op family; importing this package registers them all."""

from onnxbridge.frameworks.torch.ops import (  # noqa: F401
    activation,
    attention,
    control,
    conv,
    elementwise,
    indexing,
    linear,
    norm,
    recurrent,
    reduce,
    resize,
    shape,
    transformer,
)
