"""Native side-by-side runs: the benchmarked ONNX model converted by a framework bridge and run with one of
its native engines (PyTorch eager or ``torch.compile``, TensorFlow ``tf.function``) on the same inputs.

The conversion goes through the bridge (:meth:`Bridge.native_model
<onnxbridge.frameworks.base.Bridge.native_model>`); it is not verified there, because the benchmark compares
every output of every batch with onnxruntime CPU's itself. A conversion that fails, or a compilation that
fails, becomes a result with ``error`` set, not an exception: the other configurations still get measured.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import onnx

from onnxbridge.errors import OnnxBridgeError
from onnxbridge.frameworks.base import Bridge
from onnxbridge.runtime.measure import Measure, MemoryWatch
from onnxbridge.runtime.results import BenchResult, error_line
from onnxbridge.testing import as_numpy, graph_inputs


def engines() -> tuple[str, ...]:
    """Every native engine the bridges offer: ``('torch', 'torch.compile', 'tensorflow')``."""
    from onnxbridge.frameworks.bridges import engines as bridge_engines

    return tuple(bridge_engines())


def canonical_engine(name: str) -> str | None:
    """'PyTorch' -> 'torch', 'tf' -> 'tensorflow', 'compile' -> 'torch.compile'; None if unknown."""
    from onnxbridge.frameworks.bridges import engine_named

    return engine_named(name)


def run_native(engine: str, model: onnx.ModelProto, feeds_by_batch: Mapping[int, Mapping[str, np.ndarray]], *,
               measure: Measure, threads: int | None = None,
               cuda: bool = False) -> Iterator[tuple[BenchResult, list[np.ndarray] | None]]:
    """Convert ``model`` for ``engine``, then measure it at every batch, on the CPU (and on CUDA when
    ``cuda`` and the framework sees a GPU). Yields (BenchResult, outputs or None).

    A bridge whose live objects are bound to a device converts once per device; the others convert once.
    """
    from onnxbridge.frameworks.bridges import engines as bridge_engines

    bridge = bridge_engines()[engine]
    bridge.require()
    # the thread setting must be in place before the framework runs anything, the conversion included
    with bridge.native_threads(threads) as thread_notes:
        notes = list(thread_notes)
        devices = ["cpu"]
        if cuda:
            if bridge.has_cuda():
                devices.append("cuda")
            else:
                notes.append(f"{bridge.name} sees no CUDA device: {engine} ran on the CPU only")
        converted: tuple[Any, float] | None = None
        for device in devices:
            memory = MemoryWatch()
            if converted is None or bridge.converts_per_device:
                measure.announce(f"converting to {bridge.name} ({device})")
                start = time.perf_counter()
                try:
                    converted = (bridge.native_model(model, device), time.perf_counter() - start)
                except Exception as exc:  # noqa: BLE001 - a failed conversion is a result row, not the end of the run
                    error = f"conversion to {bridge.name} failed: {_describe(exc)}"
                    for batch in feeds_by_batch:
                        yield BenchResult(engine=engine, device=device, batch=batch, error=error, notes=list(notes)), None
                    converted = None
                    continue
                convert_seconds = converted[1]
            else:
                convert_seconds = 0.0
            yield from _measure_device(bridge, engine, converted[0], model, feeds_by_batch, device, measure=measure,
                                       notes=notes, setup=convert_seconds, memory=memory)


def _measure_device(bridge: Bridge, engine: str, value: Any, model: onnx.ModelProto,
                    feeds_by_batch: Mapping[int, Mapping[str, np.ndarray]], device: str, *, measure: Measure,
                    notes: list[str], setup: float,
                    memory: MemoryWatch) -> Iterator[tuple[BenchResult, list[np.ndarray] | None]]:
    """Every batch on one device; the first batch's setup (and memory) includes the conversion."""
    compiles = engine in bridge.compiling_engines
    for i, (batch, feeds) in enumerate(feeds_by_batch.items()):
        result = BenchResult(engine=engine, device=device, batch=batch, warmup=measure.warmup, notes=list(notes))
        if i:
            memory, setup = MemoryWatch(), 0.0
        try:
            run = bridge.native_runner(engine, value, _ordered(model, feeds), device)
            if compiles and i == 0:
                measure.announce(f"{engine} {device}: compiling")
                start = time.perf_counter()
                run()  # compilation happens on the first call: report it as setup
                setup += time.perf_counter() - start
            times = measure(f"{engine} {device} batch {batch}", run)
            outputs = [as_numpy(o) for o in _as_list(run())]
        except Exception as exc:  # noqa: BLE001 - report any framework failure as a result row
            what = engine if compiles else f"{engine} run"
            result.error = f"{what} failed on {device} at batch {batch}: {error_line(exc)}"
            yield result, None
            continue
        result.setup_seconds = setup
        result.record(times, batch)
        result.peak_rss_bytes, result.rss_increase_bytes = memory.read()
        yield result, outputs


def _describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, OnnxBridgeError) else f"{type(exc).__name__}: {error_line(exc)}"


def _ordered(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    return [np.require(feeds[vi.name], requirements="C") for vi in graph_inputs(model)]


def _as_list(result: Any) -> list[Any]:
    if isinstance(result, dict):
        return list(result.values())
    if isinstance(result, (list, tuple)):
        return list(result)
    return [result]
