"""The measuring loop every engine shares (warm-up, then timed runs by count or by time) and the memory
watch around it.

Example::

    measure = Measure(warmup=5, iterations=100, seconds=None, progress=None)
    times = measure("onnxruntime cpu batch 8", run)       # seconds per measured run
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

DEFAULT_SECONDS = 1.0  # measuring time per configuration when neither iterations nor seconds is given
MIN_ITERATIONS = 10  # ... and at least this many measured runs
DEFAULT_WARMUP = 5
_PROGRESS_EVERY_S = 0.1  # how often the progress callback is called inside a measuring loop

#: ``progress(label, done, total)``: called while measuring; ``done``/``total`` count runs, or seconds
#: when measuring for a fixed time. Keeps the library free of any UI: the CLI draws the bar.
ProgressCallback = Callable[[str, float, float], None]


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

    def announce(self, label: str) -> None:
        """Tell the progress callback about a step that is not measured (a conversion, a compilation)."""
        if self.progress:
            self.progress(label, 0.0, 1.0)


class MemoryWatch:
    """Peak resident memory of this process from now on (Linux: resets the kernel's high-water mark).

    ``read()`` returns (peak RSS bytes, peak minus the RSS when the watch started); (None, None) where
    the peak cannot be scoped to the watch (no /proc, or resetting it is not allowed).
    """

    def __init__(self) -> None:
        self.scoped = _reset_peak_rss()
        self.start = _proc_status("VmRSS") if self.scoped else None

    def read(self) -> tuple[int | None, int | None]:
        """(peak RSS bytes, its increase since the watch started), or (None, None)."""
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
