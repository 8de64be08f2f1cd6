"""ONNX-op converters for TensorFlow/Keras, one module per op family; importing this registers them all."""

from onnxbridge.frameworks.tensorflow.ops import (  # noqa: F401
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
)
