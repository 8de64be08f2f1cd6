"""ONNX-op converters for TensorFlow/Keras, one module per op family; importing this registers them all."""

from onnxbridge.frameworks.tensorflow.ops import (  # noqa: F401
    activation,
    attention,
    control,
    conv,
    elementwise,
    indexing,
    linear,
    loss,
    ml,
    norm,
    numeric,
    quantize,
    recurrent,
    reduce,
    resize,
    sampling,
    selection,
    shape,
    signal,
    text,
)
