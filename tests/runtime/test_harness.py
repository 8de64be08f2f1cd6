"""The measuring loop and the session it measures: what runs, how often, what is reported.

How much the harness adds over a plain onnxruntime loop is a timing question, answered by
``scripts/bench_harness.py --check`` (target: within 10%), not by a test.
"""

from __future__ import annotations

import time

import numpy as np

from onnxbridge.runtime.measure import MIN_ITERATIONS, Measure
from onnxbridge.runtime.providers import CPU
from onnxbridge.runtime.session import create_session, session_runner
from onnxbridge.testing import random_inputs, run_onnxruntime
from tests.runtime.conftest import slow_model


def test_harness_runs_the_warmup_then_exactly_the_measured_runs():
    """Warm-up runs are not measured; every measured run is timed once, and the progress callback is live."""
    model = slow_model(64, depth=2)
    feeds = random_inputs(model, batch=4)
    session = create_session(model.SerializeToString(), CPU)
    run, fetch = session_runner(session, CPU, feeds)
    calls: list[int] = []

    def counted() -> object:
        calls.append(1)
        return run()

    progress: list[tuple[str, float, float]] = []
    harness = Measure(warmup=3, iterations=15, seconds=None, progress=lambda *a: progress.append(a))
    before = time.perf_counter()
    times = harness("harness", counted)
    elapsed = time.perf_counter() - before
    assert len(calls) == 3 + 15 and len(times) == 15
    assert all(t > 0 for t in times) and sum(times) <= elapsed
    assert progress[0] == ("harness", 0.0, 15.0) and progress[-1] == ("harness", 15.0, 15.0)
    # what was timed is the model: the session's outputs are onnxruntime's for these inputs
    for got, want in zip(fetch(), run_onnxruntime(model, feeds)):
        np.testing.assert_array_equal(got, want)


def test_harness_measuring_for_a_time_keeps_a_minimum_of_runs():
    calls: list[int] = []
    by_time = Measure(warmup=0, iterations=None, seconds=1e-6, progress=None)
    assert len(by_time("short", lambda: calls.append(1))) == len(calls) >= 3
    calls.clear()
    default = Measure(warmup=0, iterations=None, seconds=None, progress=None)  # 1 s, at least 10 runs
    assert default.seconds == 1.0
    assert len(default("default", lambda: (calls.append(1), time.sleep(0.12)))) == len(calls) >= MIN_ITERATIONS
