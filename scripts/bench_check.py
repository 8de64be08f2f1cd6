#!/usr/bin/env python
"""Benchmark ``onnxbridge check`` on a generated 10,000-node model and on a 200-layer spec.

Targets: the model check under 2 s, the spec check under 20 ms. Each figure is also given as a ratio
against a baseline measured in the same process on the same input (the machines are shared and noisy):
``onnx.checker.check_model(full_check=True)`` for the model (the ONNX checker plus strict shape
inference, which stops at the first error), and the spec planner alone (``plan_spec``) for the spec.

    python scripts/bench_check.py [--nodes 10000] [--layers 200] [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import machine, timed  # noqa: E402


def big_model(n_nodes: int, width: int = 16) -> onnx.ModelProto:
    """A residual MLP of ``n_nodes`` nodes: repeated (MatMul, Add bias, Relu, Add residual) blocks."""
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    x = "x"
    for i in range(n_nodes // 4):
        w, b = f"w{i}", f"b{i}"
        inits.append(numpy_helper.from_array((rng.standard_normal((width, width)) * 0.1).astype(np.float32), w))
        inits.append(numpy_helper.from_array((rng.standard_normal(width) * 0.1).astype(np.float32), b))
        nodes += [helper.make_node("MatMul", [x, w], [f"mm{i}"], name=f"mm{i}"),
                  helper.make_node("Add", [f"mm{i}", b], [f"ab{i}"], name=f"bias{i}"),
                  helper.make_node("Relu", [f"ab{i}"], [f"r{i}"], name=f"relu{i}"),
                  helper.make_node("Add", [f"r{i}", x], [f"h{i}"], name=f"res{i}")]
        x = f"h{i}"
    graph = helper.make_graph(nodes, "bench", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", width])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", width])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)


def big_spec(n_layers: int) -> dict:
    """A 200-layer CNN-ish spec: conv/bn/relu triples, then Flatten and Linear."""
    layers = []
    for i in range((n_layers - 2) // 3):
        layers += [{"id": f"conv{i}", "type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1},
                   {"id": f"bn{i}", "type": "BatchNorm2d"},
                   {"id": f"act{i}", "type": "ReLU"}]
    while len(layers) < n_layers - 2:
        layers.append({"id": f"extra{len(layers)}", "type": "ReLU"})
    layers += [{"id": "flat", "type": "Flatten"}, {"id": "fc", "type": "Linear", "out_features": 10}]
    return {"name": "bench_spec", "inputs": [{"name": "image", "shape": ["batch", 3, 8, 8]}], "layers": layers}


def width_of(model: onnx.ModelProto) -> int:
    return model.graph.input[0].type.tensor_type.shape.dim[1].dim_value


def _checker_first_error(model: onnx.ModelProto) -> None:
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--layers", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from onnxbridge.checks import check
    from onnxbridge.spec import spec_from_dict
    from onnxbridge.spec.plan import plan_spec

    model = big_model(args.nodes)
    check(model)  # warm up: imports, rule registry, schema caches
    baseline = timed(lambda: onnx.checker.check_model(model, full_check=True), repeat=args.repeat)
    ours = timed(lambda: check(model), repeat=args.repeat)
    report = check(model)
    print(f"machine: {machine()}")
    print(f"model: {len(model.graph.node)} nodes, {len(model.graph.initializer)} initializers, "
          f"{len(report)} diagnostic(s)")
    print(f"  onnx.checker.check_model(full_check=True): {baseline * 1000:8.1f} ms  (baseline)")
    print(f"  onnxbridge check (all rules):              {ours * 1000:8.1f} ms  "
          f"({ours / baseline:.1f}x baseline; target < 2000 ms)")

    broken = onnx.ModelProto()
    broken.CopyFrom(model)
    # the slow paths: a checker error makes every node be checked one by one, a shape error makes
    # inference run twice (strict, then as far as it gets)
    broken.graph.node[10].attribute.append(helper.make_attribute("alpha", 0.1))  # Relu has no 'alpha'
    broken.graph.initializer[len(broken.graph.initializer) // 2].dims[:] = [width_of(model) + 1, width_of(model)]
    broken.graph.initializer[len(broken.graph.initializer) // 2].ClearField("raw_data")
    broken.graph.initializer[len(broken.graph.initializer) // 2].float_data[:] = [0.0] * (
        (width_of(model) + 1) * width_of(model))
    base_broken = timed(lambda: _checker_first_error(broken), repeat=args.repeat)
    ours_broken = timed(lambda: check(broken), repeat=args.repeat)
    codes = check(broken).codes()
    print(f"broken model (same size, {', '.join(codes)}):")
    print(f"  onnx.checker.check_model(full_check=True): {base_broken * 1000:8.1f} ms  (baseline; stops at the first)")
    print(f"  onnxbridge check (all rules):              {ours_broken * 1000:8.1f} ms  "
          f"({ours_broken / base_broken:.1f}x baseline; target < 2000 ms)")

    data = big_spec(args.layers)
    spec = spec_from_dict(data)
    check(data)
    plan_time = timed(lambda: plan_spec(spec_from_dict(data)), repeat=args.repeat * 4)
    spec_time = timed(lambda: check(data), repeat=args.repeat * 4)
    print(f"spec: {len(data['layers'])} layers, {len(check(data))} diagnostic(s)")
    print(f"  spec planner alone (validate + plan_spec):  {plan_time * 1000:8.2f} ms  (baseline)")
    print(f"  onnxbridge check (spec rules):             {spec_time * 1000:8.2f} ms  "
          f"({spec_time / plan_time:.2f}x baseline; target < 20 ms)")
    del spec


if __name__ == "__main__":
    main()
