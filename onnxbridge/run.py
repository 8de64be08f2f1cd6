"""Run a model (ONNX file or spec) once on onnxruntime with generated inputs."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx

from onnxbridge.errors import OnnxBridgeError


@dataclass
class RunResult:
    """Inputs fed, outputs produced, and how long the run took."""

    inputs: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]
    session_seconds: float
    run_seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The run as JSON data: shape, dtype and (for numbers) min, max and mean of every input and output."""
        def describe(a: np.ndarray) -> dict[str, Any]:
            d: dict[str, Any] = {"shape": list(a.shape), "dtype": str(a.dtype)}
            if a.size and np.issubdtype(a.dtype, np.number):
                d.update(min=float(a.min()), max=float(a.max()), mean=float(a.mean()))
            return d

        return {"inputs": {k: describe(v) for k, v in self.inputs.items()},
                "outputs": {k: describe(v) for k, v in self.outputs.items()},
                "session_seconds": self.session_seconds, "run_seconds": self.run_seconds}


def load_any(source: str | os.PathLike | onnx.ModelProto, *, seed: int = 0) -> onnx.ModelProto:
    """An ONNX model from an ONNX file, a spec file (built), or a ``ModelProto``."""
    if isinstance(source, onnx.ModelProto):
        return source
    text = str(source)
    if text.lower().endswith((".yaml", ".yml", ".json")):
        from onnxbridge.spec import build

        return build(text, seed=seed)
    from onnxbridge.ir import load_model

    return load_model(text)


def run_model(source: str | os.PathLike | onnx.ModelProto, *, batch: int = 2, seed: int = 0) -> RunResult:
    """Run ``source`` once on onnxruntime's CPU provider with seeded random inputs."""
    import onnxruntime as ort

    from onnxbridge.testing import onnxruntime_session, random_inputs

    if batch < 1:
        raise OnnxBridgeError(f"batch must be at least 1, got {batch}")
    model = load_any(source, seed=seed)
    feeds = random_inputs(model, batch=batch, seed=seed)
    start = time.perf_counter()
    options = ort.SessionOptions()
    options.log_severity_level = 4  # its failures become our one-line error; keep its log off stderr
    try:
        session = onnxruntime_session(model, options)
    except OnnxBridgeError:
        raise
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises several types for invalid models
        raise OnnxBridgeError(f"onnxruntime cannot load the model: {str(exc).splitlines()[0][:300]}",
                              hint="run 'onnxbridge check' on it") from None
    created = time.perf_counter()
    try:
        values = session.run(None, feeds)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises several types for models it cannot run
        raise OnnxBridgeError(f"onnxruntime cannot run the model: {str(exc).strip().splitlines()[0][:300]}",
                              hint="run 'onnxbridge check' on it") from None
    done = time.perf_counter()
    names = [o.name for o in session.get_outputs()]
    return RunResult(feeds, dict(zip(names, values)), created - start, done - created)
