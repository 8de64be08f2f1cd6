"""The harness adds little: its p50 sits within 10% of a plain onnxruntime loop over the same session.

Timing on a shared machine is noisy, so the two loops alternate in many short rounds (which one goes first
alternates too), each round giving one ratio of p50s, and the median ratio is compared: a burst of load
then hits both sides of a round alike. The model is big enough (about a millisecond per run) for the
comparison to be about the harness and not about timer resolution.
"""

from __future__ import annotations

import statistics
import time

from onnxbridge.runtime.measure import Measure
from onnxbridge.runtime.providers import CPU
from onnxbridge.runtime.session import create_session, session_runner
from onnxbridge.testing import random_inputs
from tests.runtime.conftest import slow_model


def plain_p50(session, feeds, n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def test_harness_p50_within_ten_percent_of_a_plain_loop():
    model = slow_model(512)
    feeds = random_inputs(model, batch=32)
    session = create_session(model.SerializeToString(), CPU)
    run, _ = session_runner(session, CPU, feeds)
    calls = []
    harness = Measure(warmup=0, iterations=15, seconds=None, progress=lambda *a: calls.append(a))
    plain_p50(session, feeds, 30)  # warm-up for both
    ratios = []
    for i in range(40):
        if i % 2:
            ours = statistics.median(harness("harness", run))
            theirs = plain_p50(session, feeds, 15)
        else:
            theirs = plain_p50(session, feeds, 15)
            ours = statistics.median(harness("harness", run))
        ratios.append(ours / theirs)
    ratio = statistics.median(ratios)
    assert 0.9 <= ratio <= 1.1, f"harness p50 / plain loop p50 = {ratio:.3f} (rounds: {sorted(ratios)})"
    assert calls  # the progress callback was live during the measurement
