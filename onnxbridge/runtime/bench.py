"""Benchmark a model on onnxruntime execution providers, and side by side with PyTorch and TensorFlow.

For every provider and batch size: latency percentiles (warm-up excluded), throughput, session creation
time and peak memory. With ``compare`` the same ONNX model is converted with onnxbridge's own bridges and
run natively on the same inputs in the same process; every result's outputs are compared with
onnxruntime CPU's, so a fast wrong answer is flagged rather than celebrated.

Example::

    report = onnxbridge.bench("models/digits_cnn.yaml", providers=["cpu"], batches=[1, 8],
                              compare=["torch"])
    for r in report.results:
        print(r.label, r.batch, r.latency.p50_ms, r.vs_baseline, r.parity_ok)
    json.dumps(report.to_dict())
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from onnxbridge.errors import OnnxBridgeError
from onnxbridge.runtime.providers import CPU, DEVICE_MEMORY, resolve_providers, session_providers, short_name

SCHEMA_VERSION = 1
OPT_LEVELS = ("disable", "basic", "extended", "all")
DEFAULT_SECONDS = 1.0  # measuring time per configuration when neither iterations nor seconds is given
MIN_ITERATIONS = 10  # ... and at least this many measured runs
DEFAULT_WARMUP = 5
_PROGRESS_EVERY_S = 0.1  # how often the progress callback is called inside a measuring loop

#: ``progress(label, done, total)``: called while measuring; ``done``/``total`` count runs, or seconds
#: when measuring for a fixed time. Keeps the library free of any UI: the CLI draws the bar.
ProgressCallback = Callable[[str, float, float], None]


@dataclass
class Latency:
    """Latency statistics of one configuration, in milliseconds."""

    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float
    std_ms: float

    @classmethod
    def from_seconds(cls, times: Sequence[float]) -> Latency:
        ms = np.asarray(times, dtype=np.float64) * 1e3
        p50, p90, p99 = np.percentile(ms, [50, 90, 99])
        return cls(float(p50), float(p90), float(p99), float(ms.mean()), float(ms.min()), float(ms.max()),
                   float(ms.std()))

    def to_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


@dataclass
class BenchResult:
    """One configuration: an engine on a device at a batch size.

    ``engine`` is ``onnxruntime``, ``torch``, ``torch.compile`` or ``tensorflow``; ``device`` is the
    provider's short name for onnxruntime (``cpu``, ``cuda``) and the framework device otherwise.
    ``setup_seconds`` is the session creation time for onnxruntime, and the conversion (plus the
    compilation, for ``torch.compile``) for the native frameworks. ``vs_baseline`` is this p50 divided by
    the baseline's (onnxruntime CPU) p50 at the same batch: below 1 is faster. ``parity`` compares the
    outputs with the baseline's. ``error`` is set (and the figures are None) when the configuration could
    not run, e.g. ``torch.compile`` failing.
    """

    engine: str
    device: str
    batch: int
    provider: str | None = None
    iterations: int = 0
    warmup: int = 0
    latency: Latency | None = None
    throughput: float | None = None
    setup_seconds: float | None = None
    peak_rss_bytes: int | None = None
    rss_increase_bytes: int | None = None
    gpu_memory_bytes: int | None = None
    vs_baseline: float | None = None
    parity: Any = None  # onnxbridge.testing.ParityReport
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """'onnxruntime cpu', 'torch cuda', 'torch.compile cpu', ..."""
        return f"{self.engine} {self.device}"

    @property
    def parity_ok(self) -> bool | None:
        return None if self.parity is None else bool(self.parity.ok)

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine, "device": self.device, "provider": self.provider, "batch": self.batch,
            "iterations": self.iterations, "warmup": self.warmup,
            "latency_ms": None if self.latency is None else self.latency.to_dict(),
            "throughput": self.throughput, "setup_seconds": self.setup_seconds,
            "peak_rss_bytes": self.peak_rss_bytes, "rss_increase_bytes": self.rss_increase_bytes,
            "gpu_memory_bytes": self.gpu_memory_bytes, "vs_baseline": self.vs_baseline,
            "parity": None if self.parity is None else self.parity.to_dict(),
            "error": self.error, "notes": list(self.notes),
        }


@dataclass
class BenchReport:
    """Everything one benchmark measured; ``to_dict()`` is the documented ``bench --format json`` output
    (see docs/bench-json.md)."""

    model: str
    source: str
    inputs: dict[int, dict[str, list[int]]]  # batch -> input name -> shape fed
    settings: dict[str, Any]
    machine: dict[str, Any]
    results: list[BenchResult] = field(default_factory=list)
    placement: list[Any] = field(default_factory=list)  # onnxbridge.runtime.placement.PlacementReport
    baseline: str | None = None
    notes: list[str] = field(default_factory=list)

    def result(self, engine: str, device: str, batch: int) -> BenchResult | None:
        """The result of one configuration, or None."""
        return next((r for r in self.results if (r.engine, r.device, r.batch) == (engine, device, batch)), None)

    @property
    def wrong(self) -> list[BenchResult]:
        """Configurations whose outputs differ from the baseline's beyond tolerance."""
        return [r for r in self.results if r.parity is not None and not r.parity.ok]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "model": self.model, "source": self.source,
            "inputs": {str(b): shapes for b, shapes in self.inputs.items()},
            "settings": dict(self.settings), "machine": dict(self.machine), "baseline": self.baseline,
            "results": [r.to_dict() for r in self.results],
            "placement": [p.to_dict() for p in self.placement],
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------------------------- the runner


def bench(model: str | os.PathLike | onnx.ModelProto, *, providers: Iterable[str] = ("cpu",),
          batches: Iterable[int | str] = (1,), inputs: Mapping[str, Any] | Iterable[str] | None = None,
          threads: int | None = None, warmup: int = DEFAULT_WARMUP, iterations: int | None = None,
          seconds: float | None = None, opt_level: str = "all", compare: Iterable[str] = (),
          explain: bool = False, seed: int = 0, atol: float | None = None, rtol: float | None = None,
          progress: ProgressCallback | None = None) -> BenchReport:
    """Benchmark ``model`` (an ONNX file, a spec, or a ``ModelProto``) and return the results as data.

    ``providers``: execution provider names, matched partially and case-insensitively ("cuda").
    ``batches``: batch sizes (ints, or comma-separated strings like "1,8,32"); the first dimension of
    each input takes the batch. ``inputs``: other symbolic dims (``{"seq": 32}`` or ``["seq=32"]``) or
    whole input shapes (``{"tokens": "batchx16"}``; ``batch`` stands for each batch size).
    ``iterations`` runs exactly that many measured runs; ``seconds`` measures for that long; neither
    measures for 1 s (at least 10 runs). ``warmup`` runs are not measured. ``opt_level``: onnxruntime
    graph optimizations (disable, basic, extended, all). ``compare``: native frameworks to run the same
    model in ("torch", "torch.compile", "tensorflow"). ``explain``: also report which nodes each
    provider ran (see :mod:`onnxbridge.runtime.placement`).
    """
    from onnxbridge.testing import DEFAULT_ATOL, DEFAULT_RTOL

    batch_list = parse_batches(batches)
    _check_counts(threads=threads, warmup=warmup, iterations=iterations, seconds=seconds)
    if opt_level not in OPT_LEVELS:
        raise OnnxBridgeError(f"unknown optimization level {opt_level!r}", hint=f"choose one of: {', '.join(OPT_LEVELS)}")
    engines = parse_compare(compare)
    provider_list = resolve_providers(providers)
    atol = DEFAULT_ATOL if atol is None else atol
    rtol = DEFAULT_RTOL if rtol is None else rtol

    from onnxbridge.run import load_any
    from onnxbridge.runtime.devices import cpu_info, runtime_info

    onnx_model = load_any(model, seed=seed)
    dims, shapes = resolve_inputs(onnx_model, inputs)
    measure = Measure(warmup=warmup, iterations=iterations, seconds=seconds, progress=progress)
    cpu, rt = cpu_info(), runtime_info()
    report = BenchReport(
        model=onnx_model.graph.name or Path(str(model)).stem,
        source=str(model) if not isinstance(model, onnx.ModelProto) else "<ModelProto>",
        inputs={},
        settings={"providers": provider_list, "batches": batch_list, "threads": threads, "warmup": warmup,
                  "iterations": iterations, "seconds": seconds if iterations is None else None,
                  "opt_level": opt_level, "compare": engines, "seed": seed, "atol": atol, "rtol": rtol},
        machine={"cpu": cpu.model, "cores": cpu.usable_cores, "arch": cpu.arch,
                 "onnxruntime": rt.version, "available_providers": rt.providers},
    )
    if iterations is None and seconds is None:
        report.settings["seconds"] = DEFAULT_SECONDS

    model_bytes = onnx_model.SerializeToString()
    feeds_by_batch = {}
    for batch in batch_list:
        feeds = _make_feeds(onnx_model, batch, dims, shapes, seed)
        actual = _effective_batch(onnx_model, feeds, batch, shapes)
        if actual != batch:
            note = f"batch {batch} ignored: the inputs have a fixed first dimension of {actual}"
            if note not in report.notes:
                report.notes.append(note)
        feeds_by_batch.setdefault(actual, feeds)
    report.inputs = {b: {k: list(v.shape) for k, v in f.items()} for b, f in feeds_by_batch.items()}
    output_names = [o.name for o in onnx_model.graph.output]

    references: dict[int, list[np.ndarray]] = {}
    for batch, feeds in feeds_by_batch.items():
        for provider in provider_list:
            result, outputs = run_onnxruntime_config(model_bytes, provider, feeds, batch, measure=measure,
                                                     threads=threads, opt_level=opt_level)
            report.results.append(result)
            if provider == CPU:
                references[batch] = outputs
            elif batch not in references:
                references[batch] = _reference_outputs(model_bytes, feeds, opt_level)
            if provider != CPU:
                _set_parity(result, references[batch], outputs, output_names, atol, rtol)

    if engines:
        from onnxbridge.runtime.compare import run_native

        want_cuda = any(DEVICE_MEMORY.get(p) == "cuda" for p in provider_list)
        for engine in engines:
            for result, outputs in run_native(engine, onnx_model, feeds_by_batch, measure=measure,
                                              threads=threads, cuda=want_cuda):
                report.results.append(result)
                if outputs is not None:
                    _set_parity(result, references[result.batch], outputs, output_names, atol, rtol)
                report.notes.extend(n for n in result.notes if n not in report.notes)

    _set_baseline(report)
    if explain:
        from onnxbridge.runtime.placement import explain as explain_placement

        first = next(iter(feeds_by_batch.values()))
        report.placement = [explain_placement(model_bytes, p, first, threads=threads, opt_level=opt_level)
                            for p in provider_list]
    return report


def run_onnxruntime_config(model_bytes: bytes, provider: str, feeds: Mapping[str, np.ndarray], batch: int, *,
                           measure: Measure, threads: int | None = None,
                           opt_level: str = "all") -> tuple[BenchResult, list[np.ndarray]]:
    """Create a session on ``provider``, warm it up, measure it; returns the result and its outputs."""
    memory = MemoryWatch()
    start = time.perf_counter()
    session = create_session(model_bytes, provider, threads=threads, opt_level=opt_level)
    setup = time.perf_counter() - start
    run, fetch = session_runner(session, provider, feeds)
    label = f"onnxruntime {short_name(provider)} batch {batch}"
    try:
        times = measure(label, run)
        outputs = fetch()
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises several types when a run fails
        raise OnnxBridgeError(f"onnxruntime failed to run the model on {provider} at batch {batch}: "
                              f"{_first_line(exc)}") from None
    result = BenchResult(engine="onnxruntime", device=short_name(provider), provider=provider, batch=batch,
                         iterations=len(times), warmup=measure.warmup, setup_seconds=setup)
    _set_figures(result, times, batch)
    result.peak_rss_bytes, result.rss_increase_bytes = memory.read()
    if provider in DEVICE_MEMORY:
        from onnxbridge.runtime.devices import process_gpu_memory

        result.gpu_memory_bytes = process_gpu_memory()
    return result, outputs


def create_session(model_bytes: bytes, provider: str, *, threads: int | None = None, opt_level: str = "all",
                   profile_prefix: str | None = None):
    """An onnxruntime session preferring ``provider`` (CPU for the rest), or a clear error.

    Raises when the provider is compiled in but could not be initialised (onnxruntime then silently
    falls back to the CPU, which would make every figure a CPU figure).
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.graph_optimization_level = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[opt_level]
    if threads:
        opts.intra_op_num_threads = threads
    if profile_prefix:
        opts.enable_profiling = True
        opts.profile_file_prefix = profile_prefix
    try:
        session = ort.InferenceSession(model_bytes, opts, providers=session_providers(provider))
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises several types for invalid models
        raise OnnxBridgeError(f"onnxruntime cannot load the model with {provider}: {_first_line(exc)}",
                              hint="run 'onnxbridge check' on it") from None
    if provider not in session.get_providers():
        raise OnnxBridgeError(f"{provider} is built into onnxruntime but could not be initialised "
                              f"(the session runs on {', '.join(session.get_providers())})",
                              hint="check the GPU driver and the CUDA/cuDNN libraries onnxruntime needs")
    return session


def session_runner(session, provider: str, feeds: Mapping[str, np.ndarray]
                   ) -> tuple[Callable[[], object], Callable[[], list[np.ndarray]]]:
    """(run, fetch): ``run()`` is what gets timed; ``fetch()`` returns host copies of the outputs.

    On device-memory providers (CUDA, TensorRT) inputs are copied to the device once and outputs stay
    there (I/O binding), so the timing is the model's, as it is for the native frameworks on the GPU.
    """
    feeds = {i.name: feeds[i.name] for i in session.get_inputs()}
    device = DEVICE_MEMORY.get(provider)
    if device is None:
        return (lambda: session.run(None, feeds)), (lambda: session.run(None, feeds))
    import onnxruntime as ort

    binding = session.io_binding()
    for name, array in feeds.items():
        binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array), device, 0))
    for out in session.get_outputs():
        binding.bind_output(out.name, device)
    return (lambda: session.run_with_iobinding(binding)), (lambda: session.run(None, feeds))


class Measure:
    """The measuring loop shared by every engine: warm-up, then timed runs (by count or by time)."""

    def __init__(self, *, warmup: int, iterations: int | None, seconds: float | None,
                 progress: ProgressCallback | None):
        self.warmup = warmup
        self.iterations = iterations
        self.seconds = DEFAULT_SECONDS if iterations is None and seconds is None else seconds
        self.progress = progress

    def __call__(self, label: str, run: Callable[[], object]) -> list[float]:
        """Warm up, then time ``run()``; returns the measured durations in seconds."""
        clock = time.perf_counter
        progress = self.progress
        for _ in range(self.warmup):
            run()
        times: list[float] = []
        if self.iterations is not None:
            total = float(self.iterations)
            last = clock()
            if progress:
                progress(label, 0.0, total)
            for i in range(self.iterations):
                t0 = clock()
                run()
                t1 = clock()
                times.append(t1 - t0)
                if progress and t1 - last >= _PROGRESS_EVERY_S:
                    progress(label, float(i + 1), total)
                    last = t1
        else:
            assert self.seconds is not None
            total = float(self.seconds)
            minimum = MIN_ITERATIONS if self.iterations is None and self.seconds == DEFAULT_SECONDS else 3
            begin = last = clock()
            deadline = begin + self.seconds
            if progress:
                progress(label, 0.0, total)
            t1 = begin
            while t1 < deadline or len(times) < minimum:
                t0 = clock()
                run()
                t1 = clock()
                times.append(t1 - t0)
                if progress and t1 - last >= _PROGRESS_EVERY_S:
                    progress(label, min(t1 - begin, total), total)
                    last = t1
        if progress:
            progress(label, total, total)
        return times


class MemoryWatch:
    """Peak resident memory of this process from now on (Linux: resets the kernel's high-water mark).

    ``read()`` returns (peak RSS bytes, peak minus the RSS when the watch started); (None, None) where
    the peak cannot be scoped to the watch (no /proc, or resetting it is not allowed).
    """

    def __init__(self) -> None:
        self.scoped = _reset_peak_rss()
        self.start = _proc_status("VmRSS") if self.scoped else None

    def read(self) -> tuple[int | None, int | None]:
        if not self.scoped:
            return None, None
        peak = _proc_status("VmHWM")
        if peak is None or self.start is None:
            return peak, None
        return peak, max(peak - self.start, 0)


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")  # "5" resets the peak RSS (VmHWM) to the current RSS; see proc(5)
        return True
    except OSError:
        return False


def _proc_status(key: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            text = f.read()
    except OSError:
        return None
    m = re.search(rf"^{key}:\s+(\d+)\s*kB", text, re.MULTILINE)
    return int(m.group(1)) * 1024 if m else None


# ------------------------------------------------------------------------------------------ input handling


def parse_batches(batches: Iterable[int | str]) -> list[int]:
    """[1, "8,32"] -> [1, 8, 32]; every batch must be a whole number of at least 1."""
    if isinstance(batches, (int, str)):
        batches = [batches]
    out: list[int] = []
    for item in batches:
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            try:
                value = int(part)
            except ValueError:
                raise OnnxBridgeError(f"batch size {part!r} is not a whole number",
                                      hint="give sizes like --batch 1,8,32") from None
            if value < 1:
                raise OnnxBridgeError(f"batch size must be at least 1, got {value}",
                                      hint="give sizes like --batch 1,8,32")
            if value not in out:
                out.append(value)
    if not out:
        raise OnnxBridgeError("no batch size given", hint="give sizes like --batch 1,8,32")
    return out


def parse_compare(compare: Iterable[str]) -> list[str]:
    """Native engines to compare with: "torch" (eager), "torch.compile", "tensorflow" (tf.function)."""
    from onnxbridge.runtime.compare import ENGINES, canonical_engine

    if isinstance(compare, str):
        compare = [compare]
    engines: list[str] = []
    for item in compare:
        for part in str(item).split(","):
            if part.strip():
                engine = canonical_engine(part)
                if engine is None:
                    raise OnnxBridgeError(f"unknown framework to compare with: {part.strip()!r}",
                                          hint=f"choose from: {', '.join(ENGINES)}")
                if engine not in engines:
                    engines.append(engine)
    return engines


def resolve_inputs(model: onnx.ModelProto, inputs: Mapping[str, Any] | Iterable[str] | None
                   ) -> tuple[dict[str, int], dict[str, list[int | str]]]:
    """Split input overrides into symbolic dims ({"seq": 32}) and whole shapes ({"tokens": [batch, 16]}).

    Accepts a mapping or "name=value" strings. A name that is a graph input sets its shape ("8x16",
    "batchx16", [8, 16]); any other name must be a symbolic dim of some input ("seq=32").
    """
    from onnxbridge.testing import graph_inputs

    if inputs is None:
        return {}, {}
    pairs: list[tuple[str, Any]] = []
    if isinstance(inputs, Mapping):
        pairs = list(inputs.items())
    else:
        for item in ([inputs] if isinstance(inputs, str) else inputs):
            name, sep, value = str(item).partition("=")
            if not sep or not name.strip() or not value.strip():
                raise OnnxBridgeError(f"input override {item!r} is not NAME=VALUE",
                                      hint="e.g. --input seq=32 or --input tokens=batchx16")
            pairs.append((name.strip(), value.strip()))
    input_names = [vi.name for vi in graph_inputs(model)]
    symbolic = sorted({d.dim_param for vi in graph_inputs(model) for d in vi.type.tensor_type.shape.dim
                       if d.dim_param})
    dims: dict[str, int] = {}
    shapes: dict[str, list[int | str]] = {}
    for name, value in pairs:
        if name in input_names:
            shapes[name] = _parse_shape(name, value)
        elif name in symbolic:
            dims[name] = _positive(name, value)
        else:
            raise OnnxBridgeError(
                f"--input {name}: not an input or a symbolic dimension of the model",
                hint=f"inputs: {', '.join(input_names) or '(none)'}; symbolic dims: {', '.join(symbolic) or '(none)'}")
    return dims, shapes


def _parse_shape(name: str, value: Any) -> list[int | str]:
    parts = list(value) if isinstance(value, (list, tuple)) else re.split(r"[x,]", str(value).strip("[]() "))
    shape: list[int | str] = []
    for p in parts:
        p = str(p).strip()
        if p == "batch":
            shape.append("batch")
        else:
            shape.append(_positive(name, p))
    return shape


def _positive(name: str, value: Any) -> int:
    try:
        n = int(str(value))
    except ValueError:
        raise OnnxBridgeError(f"--input {name}: {value!r} is not a whole number",
                              hint="e.g. --input seq=32 or --input tokens=batchx16") from None
    if n < 1:
        raise OnnxBridgeError(f"--input {name}: sizes must be at least 1, got {n}")
    return n


def _make_feeds(model: onnx.ModelProto, batch: int, dims: dict[str, int],
                shapes: dict[str, list[int | str]], seed: int) -> dict[str, np.ndarray]:
    from onnxbridge.testing import random_inputs

    concrete = {k: [batch if d == "batch" else int(d) for d in v] for k, v in shapes.items()}
    try:
        return random_inputs(model, batch=batch, dims=dims, shapes=concrete, seed=seed)
    except ValueError as exc:
        raise OnnxBridgeError(f"cannot generate inputs for the model: {exc}") from None


def _effective_batch(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray], batch: int,
                     shapes: Mapping[str, list[int | str]]) -> int:
    """The batch actually fed: ``batch`` unless every input's first dimension is fixed to another size
    (by the model, or by an input shape given without ``batch``)."""
    from onnxbridge.testing import graph_inputs

    firsts = []
    for vi in graph_inputs(model):
        dim = vi.type.tensor_type.shape.dim
        if vi.name in shapes:
            if not shapes[vi.name] or shapes[vi.name][0] == "batch":
                return batch
        elif not dim:
            continue
        elif not (dim[0].HasField("dim_value") and dim[0].dim_value > 0):
            return batch
        firsts.append(int(feeds[vi.name].shape[0]))
    return firsts[0] if firsts and all(f == firsts[0] for f in firsts) else batch


# ------------------------------------------------------------------------------------------------ figures


def _set_figures(result: BenchResult, times: Sequence[float], batch: int) -> None:
    result.latency = Latency.from_seconds(times)
    total = float(np.sum(times))
    result.throughput = batch * len(times) / total if total > 0 else None


def _set_parity(result: BenchResult, expected: list[np.ndarray], actual: list[np.ndarray], names: list[str],
                atol: float, rtol: float) -> None:
    from onnxbridge.testing import compare_outputs

    result.parity = compare_outputs(expected, actual, names, atol=atol, rtol=rtol)


def _set_baseline(report: BenchReport) -> None:
    """Ratios against onnxruntime CPU at the same batch (or the first onnxruntime provider measured)."""
    ort_results = [r for r in report.results if r.engine == "onnxruntime" and r.latency is not None]
    if not ort_results:
        return
    device = "cpu" if any(r.device == "cpu" for r in ort_results) else ort_results[0].device
    report.baseline = f"onnxruntime {device}"
    for r in report.results:
        base = report.result("onnxruntime", device, r.batch)
        if r.latency is not None and base is not None and base.latency is not None and base.latency.p50_ms > 0:
            r.vs_baseline = r.latency.p50_ms / base.latency.p50_ms


def _reference_outputs(model_bytes: bytes, feeds: Mapping[str, np.ndarray], opt_level: str) -> list[np.ndarray]:
    session = create_session(model_bytes, CPU, opt_level=opt_level)
    return session.run(None, {i.name: feeds[i.name] for i in session.get_inputs()})


def _check_counts(*, threads: int | None, warmup: int, iterations: int | None, seconds: float | None) -> None:
    if threads is not None and threads < 1:
        raise OnnxBridgeError(f"--threads must be at least 1, got {threads}")
    if warmup < 0:
        raise OnnxBridgeError(f"--warmup must be 0 or more, got {warmup}")
    if iterations is not None and seconds is not None:
        raise OnnxBridgeError("give --iterations or --seconds, not both")
    if iterations is not None and iterations < 1:
        raise OnnxBridgeError(f"--iterations must be at least 1, got {iterations}")
    if seconds is not None and not seconds > 0:
        raise OnnxBridgeError(f"--seconds must be more than 0, got {seconds}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
