"""Importing TensorFlow on demand, quietly, with a clear error when it is missing."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from onnxbridge.errors import MissingDependencyError


def import_tensorflow(*, with_tf2onnx: bool = False) -> Any:
    """The ``tensorflow`` module (and tf2onnx importable), or :class:`MissingDependencyError`.

    TensorFlow's C++ runtime prints start-up lines (oneDNN, CUDA probing) on stderr while it is imported,
    whatever ``TF_CPP_MIN_LOG_LEVEL`` says; they are silenced so a command's output stays readable.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        with _stderr_silenced(enabled="tensorflow" not in sys.modules):
            import tensorflow as tf

            if with_tf2onnx:
                import tf2onnx  # noqa: F401
    except ImportError:
        raise MissingDependencyError("tensorflow and tf2onnx" if with_tf2onnx else "tensorflow",
                                     "tensorflow") from None
    return tf


@contextlib.contextmanager
def _stderr_silenced(enabled: bool = True) -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the duration (C++ code writes there directly)."""
    if not enabled:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (embedded interpreters, some test runners)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
