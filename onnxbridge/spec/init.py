"""Deterministic, seeded weight initialisation following the usual framework schemes.

Each weight draws from its own generator seeded with ``(seed, crc32(full name))``, so a weight's values
depend only on the seed and its name, not on the order layers are built in or on other layers.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from onnxbridge.spec.registry import Weight
from onnxbridge.spec.types import NUMPY_DTYPES


def init_weight(weight: Weight, full_name: str, seed: int, dtype: type | None = None) -> np.ndarray:
    """Values for ``weight`` (named ``full_name`` in the model) under ``seed``."""
    rng = np.random.default_rng([seed, zlib.crc32(full_name.encode())])
    shape = weight.shape
    dtype = dtype or NUMPY_DTYPES.get(weight.dtype, np.float32)
    if np.dtype(dtype).kind not in "fc":  # integer and boolean tensors have no random scheme
        return np.zeros(shape, dtype) if weight.init != "ones" else np.ones(shape, dtype)
    if weight.init == "zeros":
        return np.zeros(shape, dtype)
    if weight.init == "ones":
        return np.ones(shape, dtype)
    if weight.init == "normal":
        return (rng.standard_normal(shape) * weight.std).astype(dtype)
    if weight.init == "uniform":
        return rng.uniform(-weight.bound, weight.bound, shape).astype(dtype)
    if weight.init == "xavier_uniform":
        fan_out, fan_in = shape[0], int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
        bound = float(np.sqrt(6.0 / (fan_in + fan_out)))
        return rng.uniform(-bound, bound, shape).astype(dtype)
    raise ValueError(f"unknown init scheme {weight.init!r}")


def fan_in_uniform(shape: tuple[int, ...], fan_in: int, **kw: Any) -> Weight:
    """PyTorch's default for Linear/Conv weights and biases: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    return Weight(tuple(shape), "uniform", bound=1.0 / float(np.sqrt(max(fan_in, 1))), **kw)
