"""The layer catalogue, one module per family; importing this package registers every layer."""

from onnxbridge.spec.layers import (  # noqa: F401
    activation,
    attention,
    conv,
    embedding,
    generic,
    linear,
    merge,
    norm,
    pool,
    recurrent,
    reshape,
    upsample,
)
