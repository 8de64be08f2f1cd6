"""ONNX op converters for PyTorch, one module per op family; importing this package registers them all.

``<family>.py`` files register converters (and ``transformer.py`` a subgraph pattern); ``_<name>.py`` files hold
what several families share (``_attention.py``: recognising attention chains for MatMul and Mul).
"""

from onnxbridge.frameworks.torch.ops import (  # noqa: F401
    activation,
    attention,
    control,
    conv,
    decoding,
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
    sequence,
    shape,
    signal,
    text,
    transformer,
)
