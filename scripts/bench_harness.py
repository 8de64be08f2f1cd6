#!/usr/bin/env python
"""Benchmark: how much the `bench` harness adds over a plain onnxruntime loop. Target: within 10%.

For each model, three p50 latencies measured in the same run. The machine is shared and noisy, so the
loops alternate in many short rounds (which one goes first alternates too) and each figure is the median
over the rounds; the ratios are medians of the per-round ratios, so a burst of load hits both sides alike:

- plain: ``t0 = perf_counter(); session.run(None, feeds); perf_counter() - t0`` in a loop (the baseline);
- harness: onnxbridge's measuring loop (with a live progress callback) over the same session and inputs;
- bench(): the whole public entry point, ``onnxbridge.bench(...)``, with its own session.

The target is checked here, not in the test suite (tests never assert on time): with ``--check`` the script
exits 1 when a model's harness / plain ratio falls outside 0.9-1.1.

    python scripts/bench_harness.py [--rounds 40] [--iterations 25] [--markdown] [--check]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))
from benchlib import machine  # noqa: E402

import onnxbridge  # noqa: E402
from onnxbridge.runtime.measure import Measure  # noqa: E402
from onnxbridge.runtime.providers import CPU  # noqa: E402
from onnxbridge.runtime.session import create_session, session_runner  # noqa: E402
from onnxbridge.testing import random_inputs  # noqa: E402
from tests.runtime.conftest import slow_model  # noqa: E402

TARGET = (0.9, 1.1)  # harness p50 / plain loop p50: within 10%
MODELS = [("digits_cnn (spec)", "models/digits_cnn.yaml", 8), ("tabular_mlp (spec)", "models/mlp.yaml", 32),
          ("transformer_tiny (spec)", "models/transformer_tiny.yaml", 8),
          ("MatMul chain 512x8", None, 32)]


def plain(session, feeds, n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--iterations", type=int, default=25)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--check", action="store_true", help="exit 1 when the harness misses the 10%% target")
    args = parser.parse_args()
    rows = []
    for label, path, batch in MODELS:
        model = onnxbridge.build(ROOT / path) if path else slow_model(512)
        feeds = random_inputs(model, batch=batch)
        session = create_session(model.SerializeToString(), CPU)
        run, _ = session_runner(session, CPU, feeds)
        measure = Measure(warmup=0, iterations=args.iterations, seconds=None, progress=lambda *a: None)
        plain(session, feeds, 50)  # warm-up
        p_plain, p_harness, p_bench = [], [], []
        for i in range(args.rounds):
            if i % 2:
                p_harness.append(statistics.median(measure("harness", run)))
                p_plain.append(plain(session, feeds, args.iterations))
            else:
                p_plain.append(plain(session, feeds, args.iterations))
                p_harness.append(statistics.median(measure("harness", run)))
            if i % 4 == 0:  # the whole entry point (a new session each time) in fewer rounds: it is slower
                report = onnxbridge.bench(model, batches=[batch], iterations=args.iterations * 4, warmup=10)
                p_bench.append((report.results[0].latency.p50_ms / 1e3, plain(session, feeds, args.iterations * 4)))
        rows.append((label, batch, statistics.median(p_plain), statistics.median(p_harness),
                     statistics.median(h / p for h, p in zip(p_harness, p_plain)),
                     statistics.median(b for b, _ in p_bench), statistics.median(b / p for b, p in p_bench)))
    if args.markdown:
        print(f"Machine: {machine()}; {args.rounds} alternating rounds of {args.iterations} runs, medians.\n")
        print("| model | batch | plain loop p50 | harness p50 (same session) | bench() p50 (own session) "
              "| harness / plain | bench() / plain |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for label, batch, base, harness, h_ratio, whole, w_ratio in rows:
            print(f"| {label} | {batch} | {base * 1e3:.4f} ms | {harness * 1e3:.4f} ms | {whole * 1e3:.4f} ms "
                  f"| {h_ratio:.3f} | {w_ratio:.3f} |")
    else:
        print(machine())
        for label, batch, base, harness, h_ratio, whole, w_ratio in rows:
            print(f"{label:26s} batch {batch:3d}: plain {base * 1e3:8.4f} ms  harness {harness * 1e3:8.4f} ms "
                  f"({h_ratio:.3f})  bench() {whole * 1e3:8.4f} ms ({w_ratio:.3f})")

    missed = [(label, h_ratio) for label, _, _, _, h_ratio, _, _ in rows if not TARGET[0] <= h_ratio <= TARGET[1]]
    for label, ratio in missed:
        print(f"target missed: {label}: harness / plain = {ratio:.3f} (want {TARGET[0]}-{TARGET[1]})")
    if not missed:
        print(f"target met: harness / plain within {TARGET[0]}-{TARGET[1]} for every model")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
