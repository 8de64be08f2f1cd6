"""Benchmark results as data: latency statistics, one result per configuration, the whole report.

``BenchReport.to_dict()`` is the documented ``onnxbridge bench --format json`` output (docs/bench-json.md).

Example::

    result = BenchResult(engine="onnxruntime", device="cpu", batch=8)
    result.record(times_in_seconds, batch=8)        # latency percentiles and throughput
    result.latency.p50_ms, result.throughput
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SCHEMA_VERSION = 1


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
        """Statistics of measured durations given in seconds."""
        ms = np.asarray(times, dtype=np.float64) * 1e3
        p50, p90, p99 = np.percentile(ms, [50, 90, 99])
        return cls(float(p50), float(p90), float(p99), float(ms.mean()), float(ms.min()), float(ms.max()),
                   float(ms.std()))

    def to_dict(self) -> dict[str, float]:
        """The ``latency_ms`` object of the JSON output."""
        return dict(self.__dict__)


@dataclass
class BenchResult:
    """One configuration: an engine on a device at a batch size.

    ``engine`` is ``onnxruntime`` or a native engine of a framework bridge (``torch``, ``torch.compile``,
    ``tensorflow``); ``device`` is the provider's short name for onnxruntime (``cpu``, ``cuda``) and the
    framework device otherwise. ``setup_seconds`` is the session creation time for onnxruntime, and the
    conversion (plus the compilation, for ``torch.compile``) for the native frameworks. ``vs_baseline`` is
    this p50 divided by the baseline's (onnxruntime CPU) p50 at the same batch: below 1 is faster.
    ``parity`` compares the outputs with the baseline's. ``error`` is set (and the figures are None) when the
    configuration could not run, e.g. ``torch.compile`` failing.
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
        """Whether the outputs matched the baseline's (None for the baseline itself)."""
        return None if self.parity is None else bool(self.parity.ok)

    def record(self, times: Sequence[float], batch: int) -> None:
        """Set the measured runs' count, latency and throughput from their durations in seconds."""
        self.iterations = len(times)
        self.latency = Latency.from_seconds(times)
        total = float(np.sum(times))
        self.throughput = batch * len(times) / total if total > 0 else None

    def compare(self, expected: list[np.ndarray], actual: list[np.ndarray], names: list[str], *,
                atol: float, rtol: float) -> None:
        """Set ``parity``: these outputs (``actual``) against the baseline's (``expected``)."""
        from onnxbridge.testing import compare_outputs

        self.parity = compare_outputs(expected, actual, names, atol=atol, rtol=rtol)

    def to_dict(self) -> dict[str, Any]:
        """One entry of ``results`` in the JSON output."""
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

    def set_baseline(self) -> None:
        """Ratios against onnxruntime CPU at the same batch (or the first onnxruntime provider measured)."""
        ort_results = [r for r in self.results if r.engine == "onnxruntime" and r.latency is not None]
        if not ort_results:
            return
        device = "cpu" if any(r.device == "cpu" for r in ort_results) else ort_results[0].device
        self.baseline = f"onnxruntime {device}"
        for r in self.results:
            base = self.result("onnxruntime", device, r.batch)
            if r.latency is not None and base is not None and base.latency is not None and base.latency.p50_ms > 0:
                r.vs_baseline = r.latency.p50_ms / base.latency.p50_ms

    def to_dict(self) -> dict[str, Any]:
        """The JSON output (docs/bench-json.md)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "model": self.model, "source": self.source,
            "inputs": {str(b): shapes for b, shapes in self.inputs.items()},
            "settings": dict(self.settings), "machine": dict(self.machine), "baseline": self.baseline,
            "results": [r.to_dict() for r in self.results],
            "placement": [p.to_dict() for p in self.placement],
            "notes": list(self.notes),
        }


def error_line(exc: BaseException) -> str:
    """The first line of an error (at most 300 characters), as a result's ``error`` quotes it."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
