"""Training: the spec's ``data:`` section resolved into arrays, then trained in PyTorch or Keras.

This package is the framework-neutral half: options, data, the run's history, checkpoints, metrics, the
export. The loops are ordinary framework code and live behind each framework's bridge
(``frameworks/<name>/training.py``: a PyTorch loop with DDP, Keras ``fit`` under a ``tf.distribute``
strategy), as do their distributed engines (``frameworks/<name>/launch.py``: ``torch.distributed.run``,
``TF_CONFIG``). The entry point is
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
