#!/usr/bin/env python
"""Benchmark the studio's ``POST /api/open``: a 500-layer spec, and a ResNet-style ``.onnx`` of a few MB.

A real ``onnxbridge studio --no-browser`` process (uvicorn on 127.0.0.1) opens each file several times over
one keep-alive connection, measured from sending the request to the parsed JSON answer. Baselines from the
same run, in the benchmark's own process: for the spec, reading and parsing its YAML as the studio does
(libyaml's parser where PyYAML has it) and with PyYAML's pure-Python ``yaml.safe_load`` (what the studio
used before); for the model, ``onnx.load`` + ``onnxbridge.lift`` (the lift alone, with no checks), next to the
full import-lift-verify that the route runs (``onnxbridge.spec.document.open_model``).

    python scripts/bench_studio_open.py [--layers 500] [--repeat 5] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_studio import big_spec, start_studio  # noqa: E402
from benchlib import machine  # noqa: E402

WIDTHS = (24, 48, 96, 192)  # a ResNet-18 layout (2 basic blocks per stage) at 3/8 of its width


def resnet_onnx(path: Path) -> int:
    """Export a ResNet-style CNN (stem, 4 stages of 2 basic blocks, pooling, classifier) to ``path``;
    returns its parameter count."""
    import torch
    from torch import nn

    from onnxbridge.frameworks.torch.importer import import_to_onnx

    class Basic(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                                      nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
            self.skip = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                         if stride != 1 or cin != cout else nn.Identity())

        def forward(self, x):
            return torch.relu(self.body(x) + self.skip(x))

    layers: list[nn.Module] = [nn.Conv2d(3, WIDTHS[0], 3, 1, 1, bias=False), nn.BatchNorm2d(WIDTHS[0]), nn.ReLU()]
    cin = WIDTHS[0]
    for i, width in enumerate(WIDTHS):
        layers += [Basic(cin, width, 1 if i == 0 else 2), Basic(width, width, 1)]
        cin = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10)]
    torch.manual_seed(0)
    model = nn.Sequential(*layers).eval()
    result = import_to_onnx(model, example_inputs=(torch.randn(2, 3, 32, 32),))
    import onnx

    onnx.save(result.onnx_model, path)
    return sum(p.numel() for p in model.parameters())


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def summary(times: list[float]) -> str:
    return f"median {statistics.median(times) * 1000:7.0f} ms  (min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="also profile both openings in-process")
    args = parser.parse_args()

    import httpx
    import onnx
    import yaml

    from onnxbridge.checks.spec import read_spec_document
    from onnxbridge.spec.document import open_model
    from onnxbridge.spec.lift import lift
    from onnxbridge.studio.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp)
        spec_file = ws / "big.yaml"
        spec_file.write_text(yaml.safe_dump(big_spec(args.layers), sort_keys=False))
        model_file = ws / "resnet.onnx"
        params = resnet_onnx(model_file)
        print(f"machine: {machine()}; libyaml: {yaml.__with_libyaml__}; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} (1, 5, 15 min)")
        print(f"files: {spec_file.name} {args.layers} layers, {spec_file.stat().st_size / 1024:.0f} KiB; "
              f"{model_file.name} {params:,} parameters, {model_file.stat().st_size / 2**20:.1f} MiB, "
              f"{len(onnx.load(model_file).graph.node)} nodes")

        proc, base, token = start_studio(ws)
        try:
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=600) as http:
                def open_(path: str) -> dict:
                    r = http.post("/api/open", json={"path": path})
                    r.raise_for_status()
                    return r.json()

                # the address is printed once the port is bound, before the server has warmed up (see
                # settle_heap): a first request waits for that; then the first opening of each kind
                warm_up = seconds(lambda: http.get("/api/files").raise_for_status())
                cold_spec = seconds(lambda: open_("big.yaml"))
                cold = {}
                cold_model = seconds(lambda: cold.update(open_("resnet.onnx")))
                assert cold["ok"], cold["notes"]
                spec_http, model_http, spec_parse, spec_pure, model_lift, model_full = [], [], [], [], [], []
                for _ in range(args.repeat):  # alternate, so load bursts on a shared machine hit all alike
                    spec_http.append(seconds(lambda: open_("big.yaml")))
                    spec_parse.append(seconds(lambda: read_spec_document(spec_file)))
                    spec_pure.append(seconds(lambda: yaml.safe_load(spec_file.read_text())))
                    model_http.append(seconds(lambda: open_("resnet.onnx")))
                    model_lift.append(seconds(lambda: lift(onnx.load(model_file))))
                    model_full.append(seconds(lambda: open_model(model_file, ws / "inproc.safetensors")))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=60)

        print(f"first request after the address is printed (the server's warm-up): {warm_up * 1000:.0f} ms; "
              f"then the first opening: spec {cold_spec * 1000:.0f} ms, model {cold_model * 1000:.0f} ms")
        print(f"spec  POST /api/open over HTTP:              {summary(spec_http)}")
        print(f"      baseline: read + parse the YAML:       {summary(spec_parse)}  "
              f"({statistics.median(spec_http) / statistics.median(spec_parse):.2f}x)")
        print(f"      the pure-Python yaml.safe_load of it:  {summary(spec_pure)}  "
              f"({statistics.median(spec_http) / statistics.median(spec_pure):.2f}x)")
        print(f"model POST /api/open over HTTP:              {summary(model_http)}")
        print(f"      in-process open_model (same work):     {summary(model_full)}")
        print(f"      baseline: onnx.load + lift, no checks: {summary(model_lift)}  "
              f"({statistics.median(model_http) / statistics.median(model_lift):.2f}x)")

        if args.profile:
            workspace = Workspace(ws)
            for name in ("big.yaml", "resnet.onnx"):
                prof = cProfile.Profile()
                prof.runcall(workspace.open, name)
                out = io.StringIO()
                pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(30)
                print(f"---- profile of Workspace.open({name!r})\n{out.getvalue()}")


if __name__ == "__main__":
    main()
