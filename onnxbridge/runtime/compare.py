"""Native side-by-side runs: the benchmarked ONNX model converted with onnxbridge's bridges and run in
PyTorch (eager, or ``torch.compile``) and TensorFlow (``tf.function``) on the same inputs.

The conversion goes through :func:`onnxbridge.conversion.convert_with_report`; it is not verified there,
because the runner compares every output of every batch with onnxruntime CPU's itself. A conversion
that fails, or a ``torch.compile`` that fails, becomes a result with ``error`` set, not an exception:
the other configurations still get measured.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx

from onnxbridge.errors import MissingDependencyError, OnnxBridgeError
from onnxbridge.testing import as_numpy

if TYPE_CHECKING:
    from onnxbridge.runtime.bench import Measure

ENGINES = ("torch", "torch.compile", "tensorflow")
_ALIASES = {"torch": "torch", "pytorch": "torch", "eager": "torch", "torch-eager": "torch",
            "torch.compile": "torch.compile", "torch-compile": "torch.compile", "compile": "torch.compile",
            "tensorflow": "tensorflow", "tf": "tensorflow", "tf.function": "tensorflow", "keras": "tensorflow"}
_FRAMEWORK = {"torch": "torch", "torch.compile": "torch", "tensorflow": "tensorflow"}
_EXTRA = {"torch": "torch", "tensorflow": "tensorflow"}


def canonical_engine(name: str) -> str | None:
    """'PyTorch' -> 'torch', 'tf' -> 'tensorflow', 'compile' -> 'torch.compile'; None if unknown."""
    return _ALIASES.get(name.strip().lower())


def run_native(engine: str, model: onnx.ModelProto, feeds_by_batch: Mapping[int, Mapping[str, np.ndarray]], *,
               measure: Measure, threads: int | None = None,
               cuda: bool = False) -> Iterator[tuple[Any, list[np.ndarray] | None]]:
    """Convert ``model`` for ``engine``, then measure it at every batch, on the CPU (and on CUDA when
    ``cuda`` and the framework sees a GPU). Yields (BenchResult, outputs or None).

    PyTorch models are converted once per device with the whole model on that device (per-layer
    placements from a spec are overridden, as onnxruntime runs the whole model on one provider too).
    """
    from onnxbridge.runtime.bench import BenchResult

    framework = _FRAMEWORK[engine]
    _require(framework)
    notes: list[str] = []
    if framework == "tensorflow" and threads:
        _tf_threads(threads, notes)  # must happen before TensorFlow runs anything, the conversion included
    devices = ["cpu"]
    if cuda:
        if _has_cuda(framework):
            devices.append("cuda")
        else:
            notes.append(f"{framework} sees no CUDA device: {engine} ran on the CPU only")
    converted: tuple[Any, float] | None = None
    for device in devices:
        memory = _memory_watch()
        if converted is None or framework == "torch":
            if measure.progress:
                measure.progress(f"converting to {framework} ({device})", 0.0, 1.0)
            start = time.perf_counter()
            try:
                converted = (_convert(model, framework, device), time.perf_counter() - start)
            except Exception as exc:  # noqa: BLE001 - a failed conversion is a result row, not the end of the run
                error = f"conversion to {framework} failed: {_describe(exc)}"
                for batch in feeds_by_batch:
                    yield BenchResult(engine=engine, device=device, batch=batch, error=error, notes=list(notes)), None
                converted = None
                continue
            convert_seconds = converted[1]
        else:
            convert_seconds = 0.0
        yield from _measure_device(engine, framework, converted[0], model, feeds_by_batch, device, measure=measure,
                                   threads=threads, notes=notes, setup=convert_seconds, memory=memory)


def _measure_device(engine: str, framework: str, value: Any, model: onnx.ModelProto,
                    feeds_by_batch: Mapping[int, Mapping[str, np.ndarray]], device: str, *, measure: Measure,
                    threads: int | None, notes: list[str], setup: float,
                    memory: Any) -> Iterator[tuple[Any, list[np.ndarray] | None]]:
    """Every batch on one device; the first batch's setup (and memory) includes the conversion."""
    from onnxbridge.runtime.bench import BenchResult, _first_line, _set_figures

    make = _torch_runner if framework == "torch" else _tf_runner
    for i, (batch, feeds) in enumerate(feeds_by_batch.items()):
        result = BenchResult(engine=engine, device=device, batch=batch, warmup=measure.warmup, notes=list(notes))
        if i:
            memory, setup = _memory_watch(), 0.0
        try:
            with _torch_threads(threads if framework == "torch" else None):
                run = make(engine, value, feeds, device, model)
                if engine == "torch.compile" and i == 0:
                    if measure.progress:
                        measure.progress(f"torch.compile {device}: compiling", 0.0, 1.0)
                    start = time.perf_counter()
                    run()  # compilation happens on the first call: report it as setup
                    setup += time.perf_counter() - start
                times = measure(f"{engine} {device} batch {batch}", run)
                outputs = [as_numpy(o) for o in _as_list(run())]
        except Exception as exc:  # noqa: BLE001 - report any framework failure as a result row
            what = "torch.compile" if engine == "torch.compile" else f"{engine} run"
            result.error = f"{what} failed on {device} at batch {batch}: {_first_line(exc)}"
            yield result, None
            continue
        result.iterations = len(times)
        result.setup_seconds = setup
        _set_figures(result, times, batch)
        result.peak_rss_bytes, result.rss_increase_bytes = memory.read()
        yield result, outputs


def _memory_watch() -> Any:
    from onnxbridge.runtime.bench import MemoryWatch

    return MemoryWatch()


def _describe(exc: BaseException) -> str:
    from onnxbridge.runtime.bench import _first_line

    return str(exc) if isinstance(exc, OnnxBridgeError) else f"{type(exc).__name__}: {_first_line(exc)}"


def _require(framework: str) -> None:
    import importlib.util
    import os

    try:
        found = importlib.util.find_spec(framework) is not None
    except ValueError:  # a module entry set to None: treated as not installed
        found = False
    if not found:
        raise MissingDependencyError(framework, _EXTRA[framework])
    if framework == "tensorflow":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter on stderr


def _convert(model: onnx.ModelProto, framework: str, device: str) -> Any:
    from onnxbridge.conversion import convert_with_report

    options = {"device": device} if framework == "torch" else {}
    return convert_with_report(model, framework, verify=False, **options).value


def _has_cuda(framework: str) -> bool:
    if framework == "torch":
        import torch

        return bool(torch.cuda.is_available())
    from onnxbridge.frameworks.tensorflow.lazy import import_tensorflow

    tf = import_tensorflow()

    return bool(tf.config.list_physical_devices("GPU"))


class _torch_threads:
    """Use ``threads`` intra-op threads in PyTorch for the duration of a run, then restore the setting."""

    def __init__(self, threads: int | None):
        self.threads, self.saved = threads, None

    def __enter__(self) -> None:
        if self.threads:
            import torch

            self.saved = torch.get_num_threads()
            torch.set_num_threads(self.threads)

    def __exit__(self, *exc: object) -> None:
        if self.saved is not None:
            import torch

            torch.set_num_threads(self.saved)


def _tf_threads(threads: int, notes: list[str]) -> None:
    from onnxbridge.frameworks.tensorflow.lazy import import_tensorflow

    tf = import_tensorflow()

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow fixes its thread pools when it first runs anything
        notes.append("TensorFlow was already initialised in this process: --threads does not apply to it")


def _ordered(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    from onnxbridge.testing import graph_inputs

    return [np.ascontiguousarray(feeds[vi.name]) for vi in graph_inputs(model)]


def _as_list(result: Any) -> list[Any]:
    if isinstance(result, dict):
        return list(result.values())
    if isinstance(result, (list, tuple)):
        return list(result)
    return [result]


def _torch_runner(engine: str, module: Any, feeds: Mapping[str, np.ndarray], device: str, model: onnx.ModelProto):
    """A no-argument ``run`` of a converted torch module, eager or compiled, on ``device``."""
    import torch

    module = module.eval()  # converted for ``device`` already
    args = [torch.from_numpy(a).to(device) for a in _ordered(model, feeds)]
    fn = torch.compile(module) if engine == "torch.compile" else module
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def run() -> object:
        with torch.inference_mode():
            out = fn(*args)
        sync()
        return out

    return run


def _tf_runner(engine: str, module: Any, feeds: Mapping[str, np.ndarray], device: str, model: onnx.ModelProto):
    """A no-argument ``run`` of a converted TensorFlow module wrapped in ``tf.function``."""
    from onnxbridge.frameworks.tensorflow.lazy import import_tensorflow

    tf = import_tensorflow()
    tf_device = "/GPU:0" if device == "cuda" else "/CPU:0"
    with tf.device(tf_device):
        args = [tf.constant(a) for a in _ordered(model, feeds)]
    fn = tf.function(module)
    sync = tf.test.experimental.sync_devices if device == "cuda" else (lambda: None)

    def run() -> object:
        with tf.device(tf_device):
            out = fn(*args)
        sync()
        return out

    return run
