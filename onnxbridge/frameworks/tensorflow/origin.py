"""Where a TensorFlow import came from, in words for the ONNX graph's doc string (and so for generated code).

tf2onnx writes the traced function's name there (``converted from b'__inference_fn_180'``), which tells a
reader of the generated class nothing; this says which file or model it was.

Example::

    origin_doc("models/net.keras", keras_model)   # "Converted from net.keras (Keras)."
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def origin_doc(source: Any, loaded: Any) -> str:
    """One sentence naming the source: the file or SavedModel folder, or the live Keras model's name."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        kind = "SavedModel" if path.is_dir() else "Keras"
        return f"Converted from {path.name or path} ({kind})."
    name = getattr(loaded, "name", None)
    if isinstance(name, str) and name:
        return f"Converted from the Keras model {name!r}."
    return f"Converted from a TensorFlow {type(loaded).__name__}."
