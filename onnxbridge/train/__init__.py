"""Training: the spec's ``data:`` section resolved into arrays, then trained in PyTorch or Keras.

The loops are ordinary framework code (a PyTorch loop with DDP, Keras ``fit`` under a ``tf.distribute``
strategy); distributed runs go through ``torch.distributed.run`` and ``TF_CONFIG``. Example::

    result = onnxbridge.train("models/digits_cnn.yaml", framework="torch", output="out/run")
    result.metrics["val_accuracy"][-1]

Nothing heavy is imported until it is used (the spec schema imports :mod:`.dataspec` from here).
"""

from __future__ import annotations

import sys
import types
from typing import Any

_LAZY = {
    "train": ("onnxbridge.train.api", "train"),
    "TrainOptions": ("onnxbridge.train.options", "TrainOptions"),
    "TrainResult": ("onnxbridge.train.api", "TrainResult"),
    "load_data": ("onnxbridge.train.data", "load_data"),
    "DataSpec": ("onnxbridge.train.dataspec", "DataSpec"),
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'onnxbridge.train' has no attribute {name!r}")


class _CallablePackage(types.ModuleType):
    """``onnxbridge.train`` names both this package and the function: importing a submodule makes the
    attribute the package, so the package calls the function, and ``onnxbridge.train(...)`` always works."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from onnxbridge.train.api import train

        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
