"""ONNX -> a live TensorFlow object, a SavedModel and ``model.py``, each verified against onnxruntime.

The live object is built by the generated ``model.py`` itself (imported from the file just written), so
the file a user gets and the object the converter returns are one code path.

Example::

    result = export_from_onnx(onnx_model, output_dir="out/digits_tf")
    module = result.value                      # tf.Module; module(x) like onnxruntime on x
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from onnxbridge.errors import OnnxBridgeError
from onnxbridge.frameworks.base import ConversionResult
from onnxbridge.frameworks.tensorflow.codegen import WEIGHTS_FILE, Generated, generate
from onnxbridge.frameworks.tensorflow.lazy import import_tensorflow
from onnxbridge.ir.io import atomic_output_dir
from onnxbridge.testing import DEFAULT_ATOL, DEFAULT_RTOL, ParityReport, check_parity

SOURCE_FILE = "model.py"
HOP_LIVE = "ONNX -> TensorFlow (live, from model.py)"
HOP_SAVED = "ONNX -> TensorFlow (SavedModel, reloaded)"
SAVED_MODEL_DIR = "saved_model"
_counter = itertools.count()


def export_from_onnx(model: onnx.ModelProto, *, output_dir: str | os.PathLike | None = None, verify: bool = True,
                     atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL, channels_last: bool = False,
                     **options: Any) -> ConversionResult:
    """Convert ``model`` to a callable ``tf.Module``; with ``output_dir`` also write ``model.py``, its
    weights and ``saved_model/``. Every artifact is checked against onnxruntime when ``verify``.

    ``channels_last=True`` gives the object (and the files) an NHWC interface for 4-D/5-D inputs and
    outputs instead of the ONNX layout.
    """
    unknown = set(options) - {"seed"}
    if unknown:
        raise OnnxBridgeError(f"unknown TensorFlow export option(s): {', '.join(sorted(unknown))}")
    tf = import_tensorflow()
    gen = generate(model, channels_last=channels_last)
    notes = [f"generated Keras source: {len(gen.source.splitlines())} lines; {gen.transposes} layout "
             "transpose(s) left in the graph (NCHW <-> NHWC)"]
    checks: list[tuple[str, ParityReport]] = []
    files: list[Path] = []
    layout = _layout_adapters(model) if channels_last else {}
    with _workspace(output_dir) as work:
        (work / SOURCE_FILE).write_text(gen.source, encoding="utf-8")
        module = _import_source(work / SOURCE_FILE)
        keras_model = module.build_model(gen.constants)
        _assign_weights(keras_model, gen)
        weights = _weights_file_contents(keras_model, gen)
        np.savez(work / WEIGHTS_FILE, **weights)  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle
        live = getattr(module, gen.class_name)(keras_model)
        if verify:
            checks.append((HOP_LIVE, check_parity(model, live, atol=atol, rtol=rtol,
                                                                                   **layout)))
        if output_dir is not None:
            saved = work / SAVED_MODEL_DIR
            tf.saved_model.save(live, str(saved), signatures={"serving_default": live.serve})
            if verify:
                reloaded = tf.saved_model.load(str(saved))
                checks.append((HOP_SAVED,
                               check_parity(model, reloaded, atol=atol, rtol=rtol, **layout)))
            out = Path(output_dir)
            files = [out / SOURCE_FILE, out / WEIGHTS_FILE, out / SAVED_MODEL_DIR]
    return ConversionResult("tensorflow", live, model, files=files, checks=checks, notes=notes)


@contextmanager
def _workspace(output_dir: str | os.PathLike | None) -> Iterator[Path]:
    """Where files are written: the (atomic) output directory, or a scratch directory."""
    if output_dir is not None:
        with atomic_output_dir(output_dir) as tmp:
            yield Path(tmp)
        return
    with tempfile.TemporaryDirectory(prefix="onnxbridge-tf-") as tmp:
        yield Path(tmp)


def _import_source(path: Path) -> Any:
    """Import a generated ``model.py`` as a fresh module (never cached under a reused name)."""
    name = f"onnxbridge_generated_tf_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # keras/tf look classes up by module when tracing
    spec.loader.exec_module(module)
    return module


def _resolve(model: Any, accessor: tuple[str, ...]) -> Any:
    obj = model.get_layer(accessor[0])
    for attr in accessor[1:]:
        obj = getattr(obj, attr)
    return obj


def _assign_weights(keras_model: Any, gen: Generated) -> None:
    for accessor, kind, arrays in gen.weights:
        target = _resolve(keras_model, accessor)
        if kind == "variable":
            target.assign(arrays[0])
        else:
            target.set_weights(arrays)


def _weights_file_contents(keras_model: Any, gen: Generated) -> dict[str, np.ndarray]:
    """Every variable by its Keras path, plus the constants ``build_model`` reads: what ``load()`` needs."""
    out: dict[str, np.ndarray] = {}
    for v in keras_model.weights:
        if v.path in out:
            raise RuntimeError(f"two variables share the path {v.path!r}; the weights file would be ambiguous")
        out[v.path] = np.asarray(v.numpy())
    for key, value in gen.constants.items():
        out[key] = np.asarray(value)
    return out


def _layout_adapters(model: onnx.ModelProto) -> dict[str, Any]:
    """Parity adapters for a channels-last interface: NCHW arrays in, NHWC given to the candidate."""

    def to_last(arrays: list[np.ndarray]) -> list[np.ndarray]:
        return [np.transpose(a, (0, *range(2, a.ndim), 1)) if a.ndim in (4, 5) else a for a in arrays]

    def to_first(arrays: list[np.ndarray]) -> list[np.ndarray]:
        return [np.transpose(a, (0, a.ndim - 1, *range(1, a.ndim - 1))) if a.ndim in (4, 5) else a for a in arrays]

    return {"input_transform": to_last, "output_transform": to_first}
