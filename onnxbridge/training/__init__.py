"""Training: the spec's ``data:`` section resolved into arrays, then trained in PyTorch or Keras.

The loops are ordinary framework code (a PyTorch loop with DDP, Keras ``fit`` under a ``tf.distribute``
strategy); distributed runs go through ``torch.distributed.run`` and ``TF_CONFIG``. The entry point is
``onnxbridge.train`` (:func:`onnxbridge.training.api.train`). Example::

    result = onnxbridge.train("models/digits_cnn.yaml", framework="torch", output="out/run")
    result.metrics["val_accuracy"][-1]

Nothing heavy is imported until it is used.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "train": ("onnxbridge.training.api", "train"),
    "TrainOptions": ("onnxbridge.training.options", "TrainOptions"),
    "TrainResult": ("onnxbridge.training.api", "TrainResult"),
    "load_data": ("onnxbridge.training.data", "load_data"),
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'onnxbridge.training' has no attribute {name!r}")
