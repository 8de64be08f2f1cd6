#!/usr/bin/env python
"""Benchmark the studio's live check, server side: the analyze round trip after an edit of a 500-layer spec.

A real ``onnxbridge studio --no-browser`` process (uvicorn on 127.0.0.1) gets one ``POST /api/analyze``
per edit over a keep-alive HTTP connection, as the browser sends it after each edit;
each edit changes one layer's parameter, alternating, so no two consecutive requests are the same.
Figures: p50/p95 of the round trip (client send -> JSON parsed), next to baselines measured in the same
run on the same edits: the bare planner (``plan_spec(spec_from_dict(spec))``, what ``onnxbridge summary``
costs), the full analysis called in-process (no HTTP, every layer planned), and the analysis in-process
with a planner memo kept across the edits, as the server keeps one (only what an edit changed is planned).
Target: p95 < 50 ms.

    python scripts/bench_studio.py [--layers 500] [--edits 200] [--markdown]
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import machine  # noqa: E402


def big_spec(n_layers: int) -> dict:
    """A residual CNN of ``n_layers`` layers: (Conv2d 3x3 -> BatchNorm2d -> ReLU -> Add skip) blocks, then
    pooling, Flatten and Linear; every Add takes two inputs, so the edges are not all sequential."""
    layers: list[dict] = [{"id": "stem", "type": "Conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1}]
    skip = "stem"
    i = 0
    while len(layers) < n_layers - 3:
        layers += [{"id": f"conv{i}", "type": "Conv2d", "out_channels": 16, "kernel_size": 3, "padding": "same"},
                   {"id": f"bn{i}", "type": "BatchNorm2d"},
                   {"id": f"act{i}", "type": "ReLU"},
                   {"id": f"add{i}", "type": "Add", "inputs": [f"act{i}", skip]}]
        skip = f"add{i}"
        i += 1
    layers = layers[: n_layers - 3]
    layers += [{"id": "pool", "type": "GlobalAvgPool", "input": layers[-1]["id"]}, {"id": "flat", "type": "Flatten"},
               {"id": "fc", "type": "Linear", "out_features": 10}]
    return {"name": "bench_studio", "inputs": [{"name": "image", "shape": ["batch", 3, 32, 32]}], "layers": layers,
            "outputs": [{"name": "logits", "from": "fc"}]}


def edits(spec: dict, count: int) -> list[dict]:
    """``count`` successive documents, each one parameter edit away from the previous one (a kernel size
    going 3 -> 5 -> 3 on a different convolution each time)."""
    convs = [i for i, layer in enumerate(spec["layers"]) if layer["type"] == "Conv2d" and layer.get("padding") == "same"]
    out, current = [], copy.deepcopy(spec)
    for n in range(count):
        layer = current["layers"][convs[n % len(convs)]]
        layer["kernel_size"] = 5 if layer["kernel_size"] == 3 else 3
        out.append(copy.deepcopy(current))
    return out


def percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def measure(fn: Callable[[dict], object], documents: list[dict]) -> list[float]:
    times = []
    for doc in documents:
        start = time.perf_counter()
        fn(doc)
        times.append((time.perf_counter() - start) * 1000)
    return times


def start_studio(workspace: Path) -> tuple[subprocess.Popen, str, str]:
    """``onnxbridge studio --no-browser`` on ``workspace``; returns the process, its address and token.
    Without a built front end a one-page stand-in is served (only the API is measured)."""
    from onnxbridge.studio.server import STATIC_ENV, has_bundle

    env = dict(os.environ)
    if not has_bundle():
        page = workspace / "page"
        page.mkdir()
        (page / "index.html").write_text("<!doctype html><title>studio</title>")
        env[STATIC_ENV] = str(page)
    proc = subprocess.Popen([sys.executable, "-m", "onnxbridge", "studio", "--no-browser", "--workspace", str(workspace)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    for line in proc.stdout:
        match = re.search(r"(http://127\.0\.0\.1:\d+)/\?token=([\w-]+)", line)
        if match:
            return proc, match.group(1), match.group(2)
    raise SystemExit(f"the studio did not start: {proc.stderr.read()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=500)
    parser.add_argument("--edits", type=int, default=200)
    parser.add_argument("--markdown", action="store_true", help="print a table row for docs/benchmarks.md")
    args = parser.parse_args()

    import httpx

    from onnxbridge.spec import spec_from_dict
    from onnxbridge.spec.analysis import analyse_spec
    from onnxbridge.spec.plan import plan_spec
    from onnxbridge.spec.plan_memo import PlanMemo
    from onnxbridge.studio.server import settle_heap

    spec = big_spec(args.layers)
    documents = edits(spec, args.edits)
    first = analyse_spec(spec)
    assert first.ok and len(first.summary.rows) == args.layers, [d.message for d in first.diagnostics][:3]
    memo = PlanMemo()  # the in-process counterpart of the server's memo

    def cached(doc: dict) -> None:
        analyse_spec(doc, memo=memo)

    with tempfile.TemporaryDirectory() as workspace:
        proc, base, token = start_studio(Path(workspace))
        try:
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
                def round_trip(doc: dict) -> None:
                    r = http.post("/api/analyze", json={"spec": doc})
                    r.raise_for_status()
                    body = r.json()
                    assert body["ok"] and len(body["summary"]["layers"]) == args.layers

                round_trip(spec)  # the document as opened (the server's memo starts from it, as in the studio)
                cached(spec)
                for doc in documents[:10]:  # warm up: imports, connection, caches
                    round_trip(doc)
                    plan_spec(spec_from_dict(doc))
                    cached(doc)
                # the server freezes its heap after start-up (see settle_heap); the planner here, as a
                # plain script runs it, first as it is, then with the same treatment for a like-for-like baseline
                unfrozen = measure(lambda d: plan_spec(spec_from_dict(d)), documents)
                settle_heap()
                # alternate the four measurements in rounds, so load bursts on a shared machine hit all alike
                http_times, planner_times, inproc_times, cached_times = [], [], [], []
                for start in range(0, len(documents), 20):
                    chunk = documents[start:start + 20]
                    http_times += measure(round_trip, chunk)
                    planner_times += measure(lambda d: plan_spec(spec_from_dict(d)), chunk)
                    inproc_times += measure(analyse_spec, chunk)
                    cached_times += measure(cached, chunk)
                size = len(http.post("/api/analyze", json={"spec": spec}).content)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=60)

    http50, http95 = percentiles(http_times)
    plan50, plan95 = percentiles(planner_times)
    in50, in95 = percentiles(inproc_times)
    memo50, memo95 = percentiles(cached_times)
    print(f"machine: {machine()}")
    print(f"spec: {args.layers} layers, {args.edits} edits (one parameter each); analyze answer {size / 1024:.0f} KiB")
    raw50, raw95 = percentiles(unfrozen)
    print(f"  bare planner, a plain process's heap:                p50 {raw50:7.2f} ms  p95 {raw95:7.2f} ms")
    print(f"  baseline: bare planner (spec_from_dict + plan_spec): p50 {plan50:7.2f} ms  p95 {plan95:7.2f} ms")
    print(f"  baseline: full analysis in-process (plan + checks):  p50 {in50:7.2f} ms  p95 {in95:7.2f} ms  "
          f"({in50 / plan50:.2f}x bare planner)")
    print(f"  analysis in-process, planner memo kept across edits: p50 {memo50:7.2f} ms  p95 {memo95:7.2f} ms  "
          f"({memo50 / in50:.2f}x full analysis at p50, {memo95 / in95:.2f}x at p95)")
    print(f"  POST /api/analyze round trip over HTTP (memo):       p50 {http50:7.2f} ms  p95 {http95:7.2f} ms  "
          f"({http50 / in50:.2f}x full analysis at p50, {http95 / in95:.2f}x at p95; target p95 < 50 ms)")
    if args.markdown:
        print("| layers | edits | HTTP p50 | HTTP p95 | memo p50 | memo p95 | full analysis p50 | full analysis p95 "
              "| planner p50 | planner p95 | memo / full p50 | memo / full p95 | HTTP / full p50 | HTTP / full p95 |")
        print(f"| {args.layers} | {args.edits} | {http50:.1f} ms | {http95:.1f} ms | {memo50:.1f} ms | {memo95:.1f} ms "
              f"| {in50:.1f} ms | {in95:.1f} ms | {plan50:.1f} ms | {plan95:.1f} ms | {memo50 / in50:.2f} "
              f"| {memo95 / in95:.2f} | {http50 / in50:.2f} | {http95 / in95:.2f} |")


if __name__ == "__main__":
    main()
