#!/usr/bin/env python
"""Benchmark: spec validation + shape inference, and lowering to ONNX, for generated specs.

Generated CNN-style specs of N layers (Conv2d 3x3 'same' -> BatchNorm2d -> ReLU, repeated, then a head).
Baseline, measured in the same run: ONNX's own shape inference (onnx.shape_inference.infer_shapes) on
the built model of the same network. Targets: shape inference of a 200-layer spec under 20 ms; lowering
a 1,000-layer spec under 1 s.

    python scripts/bench_spec.py [--sizes 10,100,200,1000] [--repeat 7] [--markdown]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import onnx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import machine, timed  # noqa: E402

from onnxbridge.spec import build, infer_shapes  # noqa: E402
from onnxbridge.spec.io import spec_from_dict  # noqa: E402


def generated_spec(n_layers: int) -> dict:
    layers = []
    kinds = ["Conv2d", "BatchNorm2d", "ReLU"]
    for i in range(max(n_layers - 3, 1)):
        kind = kinds[i % 3]
        layer = {"id": f"l{i}", "type": kind}
        if kind == "Conv2d":
            layer.update(out_channels=16, kernel_size=3, padding="same")
        layers.append(layer)
    layers += [{"id": "pool", "type": "GlobalAvgPool"}, {"id": "flat", "type": "Flatten"},
               {"id": "fc", "type": "Linear", "out_features": 10}]
    return {"name": f"gen{n_layers}", "inputs": [{"name": "x", "shape": ["batch", 3, 16, 16]}], "layers": layers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,200,1000")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table for docs/benchmarks.md")
    args = parser.parse_args()
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        data = generated_spec(n)
        infer = timed(lambda data=data: infer_shapes(spec_from_dict(data)), args.repeat)
        lower = timed(lambda data=data: build(spec_from_dict(data)), max(3, args.repeat // 2))
        model = build(spec_from_dict(data))
        baseline = timed(lambda model=model: onnx.shape_inference.infer_shapes(model), args.repeat)
        rows.append((n, len(model.graph.node), infer, lower, baseline))
    if args.markdown:
        print(f"Machine: {machine()}\n")
        print("| layers | ONNX nodes | validate + infer shapes | lower to ONNX | baseline: onnx shape inference "
              "| infer / baseline | lower / baseline |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for n, nodes, infer, lower, base in rows:
            print(f"| {n} | {nodes} | {infer * 1e3:.2f} ms | {lower * 1e3:.1f} ms | {base * 1e3:.2f} ms "
                  f"| {infer / base:.2f} | {lower / base:.2f} |")
    else:
        print(machine())
        for n, nodes, infer, lower, base in rows:
            print(f"{n:5d} layers ({nodes} nodes): infer {infer * 1e3:8.2f} ms   lower {lower * 1e3:8.1f} ms   "
                  f"onnx shape inference {base * 1e3:8.2f} ms")


if __name__ == "__main__":
    main()
