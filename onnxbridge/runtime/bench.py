"""Benchmark a model on onnxruntime execution providers, and side by side with the frameworks' bridges.

For every provider and batch size: latency percentiles (warm-up excluded), throughput, session creation
time and peak memory. With ``compare`` the same ONNX model is converted with onnxbridge's own bridges and
run natively on the same inputs in the same process; every result's outputs are compared with
onnxruntime CPU's, so a fast wrong answer is flagged rather than celebrated.

This module only orchestrates. The pieces, as a tool like Polygraphy separates loaders, runners and
comparators: :mod:`~onnxbridge.runtime.session` (the onnxruntime session: the loader),
:mod:`~onnxbridge.runtime.measure` (the measuring loop: the runner), :mod:`~onnxbridge.runtime.compare`
(native runs through the bridges), :mod:`~onnxbridge.runtime.results` (the data, with the output
comparison), :mod:`~onnxbridge.runtime.feeds` (batches and inputs) and :mod:`~onnxbridge.runtime.placement`
(which provider ran which node, from :mod:`~onnxbridge.runtime.profile`).

Example::

    report = onnxbridge.bench("models/digits_cnn.yaml", providers=["cpu"], batches=[1, 8],
                              compare=["torch"])
    for r in report.results:
        print(r.label, r.batch, r.latency.p50_ms, r.vs_baseline, r.parity_ok)
    json.dumps(report.to_dict())
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from onnxbridge.errors import OnnxBridgeError
from onnxbridge.runtime.feeds import effective_batch, make_feeds, parse_batches, resolve_inputs
from onnxbridge.runtime.measure import DEFAULT_SECONDS, DEFAULT_WARMUP, Measure, MemoryWatch, ProgressCallback
from onnxbridge.runtime.providers import CPU, DEVICE_MEMORY, resolve_providers, short_name
from onnxbridge.runtime.results import BenchReport, BenchResult, error_line
from onnxbridge.runtime.session import OPT_LEVELS, create_session, reference_outputs, session_runner

__all__ = ["BenchReport", "BenchResult", "bench", "parse_batches", "parse_compare", "resolve_inputs",
           "run_onnxruntime_config"]


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
    graph optimizations (disable, basic, extended, all). ``compare``: native engines of the framework
    bridges to run the same model in ("torch", "torch.compile", "tensorflow"). ``explain``: also report
    which nodes each provider ran (see :mod:`onnxbridge.runtime.placement`).
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
    feeds_by_batch: dict[int, Any] = {}
    for batch in batch_list:
        feeds = make_feeds(onnx_model, batch, dims, shapes, seed)
        actual = effective_batch(onnx_model, feeds, batch, shapes)
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
                references[batch] = reference_outputs(model_bytes, feeds, opt_level)
            if provider != CPU:
                result.compare(references[batch], outputs, output_names, atol=atol, rtol=rtol)

    if engines:
        from onnxbridge.runtime.compare import run_native

        want_cuda = any(DEVICE_MEMORY.get(p) == "cuda" for p in provider_list)
        for engine in engines:
            for result, native_outputs in run_native(engine, onnx_model, feeds_by_batch, measure=measure,
                                                     threads=threads, cuda=want_cuda):
                report.results.append(result)
                if native_outputs is not None:
                    result.compare(references[result.batch], native_outputs, output_names, atol=atol, rtol=rtol)
                report.notes.extend(n for n in result.notes if n not in report.notes)

    report.set_baseline()
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
                              f"{error_line(exc)}") from None
    result = BenchResult(engine="onnxruntime", device=short_name(provider), provider=provider, batch=batch,
                         warmup=measure.warmup, setup_seconds=setup)
    result.record(times, batch)
    result.peak_rss_bytes, result.rss_increase_bytes = memory.read()
    if provider in DEVICE_MEMORY:
        from onnxbridge.runtime.devices import process_gpu_memory

        result.gpu_memory_bytes = process_gpu_memory()
    return result, outputs


def parse_compare(compare: Iterable[str]) -> list[str]:
    """Native engines to compare with, from the framework bridges: "torch" (eager), "torch.compile",
    "tensorflow" (tf.function), or an alias of one ("pytorch", "tf")."""
    from onnxbridge.runtime.compare import canonical_engine, engines

    if isinstance(compare, str):
        compare = [compare]
    chosen: list[str] = []
    for item in compare:
        for part in str(item).split(","):
            if part.strip():
                engine = canonical_engine(part)
                if engine is None:
                    raise OnnxBridgeError(f"unknown framework to compare with: {part.strip()!r}",
                                          hint=f"choose from: {', '.join(engines())}")
                if engine not in chosen:
                    chosen.append(engine)
    return chosen


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
