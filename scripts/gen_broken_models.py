#!/usr/bin/env python
"""Generate the corpus of small broken (and clean) models under models/broken/, with its manifest.

Each ONNX model is built with onnx.helper so it is broken in exactly the way its name says; the
manifest lists the diagnostic codes ``onnxbridge check`` must report for it (and nothing else), the
targets and options to check it with, and whether ``--fix`` should leave a model that passes the full
ONNX checker and runs in onnxruntime. Clean models say which rules they are a near miss for. Broken
specs live beside them as YAML.

    python scripts/gen_broken_models.py            # (re)write models/broken/
    python scripts/gen_broken_models.py --check    # exit 1 if the committed files are stale
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

OUT = Path(__file__).resolve().parent.parent / "models" / "broken"
OPSET = 18
FLOAT = T.FLOAT


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def w(name: str, *shape: int, seed: int = 0, dtype=np.float32) -> onnx.TensorProto:
    return nh.from_array((_rng(seed).standard_normal(shape) * 0.5).astype(dtype), name)


def vi(name: str, shape, elem=FLOAT) -> onnx.ValueInfoProto:
    return h.make_tensor_value_info(name, elem, shape)


def model(nodes, inputs, outputs, inits=(), *, opset: int = OPSET, name: str = "g", **kw) -> onnx.ModelProto:
    graph = h.make_graph(nodes, name, inputs, outputs, list(inits))
    m = h.make_model(graph, opset_imports=kw.pop("opsets", [h.make_opsetid("", opset)]),
                     producer_name="gen_broken_models", ir_version=kw.pop("ir_version", 8), **kw)
    return m


def mlp_nodes(x: str = "x", out: str = "y") -> tuple[list, list]:
    nodes = [h.make_node("Gemm", [x, "fc1.w", "fc1.b"], ["h1"], name="fc1", transB=1),
             h.make_node("Relu", ["h1"], ["a1"], name="act1"),
             h.make_node("Gemm", ["a1", "fc2.w", "fc2.b"], [out], name="fc2", transB=1)]
    inits = [w("fc1.w", 8, 4, seed=1), w("fc1.b", 8, seed=2), w("fc2.w", 3, 8, seed=3), w("fc2.b", 3, seed=4)]
    return nodes, inits


# ---- clean models ------------------------------------------------------------------------------------

def clean_mlp() -> onnx.ModelProto:
    nodes, inits = mlp_nodes()
    return model(nodes, [vi("x", ["batch", 4])], [vi("y", ["batch", 3])], inits)


def clean_cnn() -> onnx.ModelProto:
    nodes = [h.make_node("Conv", ["image", "conv.w", "conv.b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             h.make_node("Relu", ["c"], ["r"], name="relu"),
             h.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
             h.make_node("Flatten", ["p"], ["f"], name="flatten", axis=1),
             h.make_node("Gemm", ["f", "fc.w", "fc.b"], ["logits"], name="fc", transB=1)]
    inits = [w("conv.w", 4, 1, 3, 3, seed=1), w("conv.b", 4, seed=2), w("fc.w", 10, 16, seed=3),
             w("fc.b", 10, seed=4)]
    return model(nodes, [vi("image", ["batch", 1, 4, 4])], [vi("logits", ["batch", 10])], inits)


def clean_bn_after_relu() -> onnx.ModelProto:
    """BatchNormalization after a Relu cannot be folded into a Conv: no OB407."""
    nodes = [h.make_node("Conv", ["image", "conv.w"], ["c"], name="conv"),
             h.make_node("Relu", ["c"], ["r"], name="relu"),
             h.make_node("BatchNormalization", ["r", "bn.s", "bn.b", "bn.m", "bn.v"], ["y"], name="bn")]
    inits = [w("conv.w", 2, 1, 1, 1, seed=1), w("bn.s", 2, seed=2), w("bn.b", 2, seed=3), w("bn.m", 2, seed=4),
             nh.from_array(np.array([0.5, 2.0], np.float32), "bn.v")]
    return model(nodes, [vi("image", ["batch", 1, 3, 3])], [vi("y", ["batch", 2, 3, 3])], inits)


def clean_two_inputs() -> onnx.ModelProto:
    """Two real data inputs with a symbolic batch: not captured state (no OB409)."""
    nodes = [h.make_node("Add", ["a", "b"], ["s"], name="add"), h.make_node("Relu", ["s"], ["y"], name="relu")]
    return model(nodes, [vi("a", ["batch", 4]), vi("b", ["batch", 4])], [vi("y", ["batch", 4])])


def clean_identity_io() -> onnx.ModelProto:
    """An Identity between a graph input and a graph output is required by ONNX (no OB404)."""
    nodes = [h.make_node("Identity", ["x"], ["passthrough"], name="copy"),
             h.make_node("Neg", ["x"], ["y"], name="neg")]
    return model(nodes, [vi("x", ["batch", 2])], [vi("passthrough", ["batch", 2]), vi("y", ["batch", 2])])


def clean_gelu_opset20() -> onnx.ModelProto:
    """Gelu imported at opset 20, where it exists (no OB112)."""
    nodes = [h.make_node("Gelu", ["x"], ["y"], name="gelu")]
    return model(nodes, [vi("x", ["batch", 4])], [vi("y", ["batch", 4])], opset=20, ir_version=9)


def clean_function() -> onnx.ModelProto:
    """A local function imported with the model's opset (no OB113/OB114)."""
    fn = h.make_function("local", "Swish", ["x"], ["y"],
                         [h.make_node("Sigmoid", ["x"], ["s"]), h.make_node("Mul", ["x", "s"], ["y"])],
                         [h.make_opsetid("", OPSET)])
    nodes = [h.make_node("Swish", ["x"], ["y"], name="swish", domain="local")]
    return model(nodes, [vi("x", ["batch", 4])], [vi("y", ["batch", 4])],
                 opsets=[h.make_opsetid("", OPSET), h.make_opsetid("local", 1)], functions=[fn])


def clean_float64() -> onnx.ModelProto:
    """A float64 model with float64 weights is consistent (no OB402)."""
    nodes = [h.make_node("MatMul", ["x", "w"], ["y"], name="mm")]
    return model(nodes, [vi("x", ["batch", 3], T.DOUBLE)], [vi("y", ["batch", 2], T.DOUBLE)],
                 [w("w", 3, 2, dtype=np.float64)])


# ---- structure ---------------------------------------------------------------------------------------

def checker_errors() -> onnx.ModelProto:
    """Two nodes the ONNX checker rejects: an unknown attribute, and a missing required attribute."""
    nodes = [h.make_node("Relu", ["x"], ["r"], name="relu", alpha=0.1),
             h.make_node("Cast", ["r"], ["y"], name="cast")]
    return model(nodes, [vi("x", ["batch", 4])], [vi("y", ["batch", 4])])


def unsorted() -> onnx.ModelProto:
    nodes, inits = mlp_nodes()
    return model([nodes[2], nodes[0], nodes[1]], [vi("x", ["batch", 4])], [vi("y", ["batch", 3])], inits)


def cycle() -> onnx.ModelProto:
    nodes = [h.make_node("Add", ["x", "c"], ["a"], name="add"),
             h.make_node("Relu", ["a"], ["b"], name="relu"),
             h.make_node("Neg", ["b"], ["c"], name="neg"),
             h.make_node("Abs", ["b"], ["y"], name="abs")]
    return model(nodes, [vi("x", ["batch", 4])], [vi("y", ["batch", 4])])


def dead_cycle() -> onnx.ModelProto:
    """A cycle left over from an edit: it reads the hidden layer but feeds no output (safe to remove)."""
    nodes, inits = mlp_nodes()
    nodes += [h.make_node("Add", ["h1", "feedback"], ["acc"], name="loop_add"),
              h.make_node("Neg", ["acc"], ["feedback"], name="loop_neg")]
    return model(nodes, [vi("x", ["batch", 4])], [vi("y", ["batch", 3])], inits)


def defined_twice() -> onnx.ModelProto:
    """Two nodes write 't'; 'mul' reads the first value, 'add' the second (as the nodes are ordered)."""
    nodes = [h.make_node("Relu", ["x"], ["t"], name="relu"),
             h.make_node("Mul", ["t", "x"], ["u"], name="mul"),
             h.make_node("Neg", ["x"], ["t"], name="neg"),
             h.make_node("Add", ["t", "u"], ["y"], name="add")]
    return model(nodes, [vi("x", ["batch", 4])], [vi("y", ["batch", 4])])


def unnamed_nodes() -> onnx.ModelProto:
    nodes, inits = mlp_nodes()
    for n in nodes[1:]:
        n.name = ""
    return model(nodes, [vi("x", ["batch", 4])], [vi("y", ["batch", 3])], inits)


def duplicate_names() -> onnx.ModelProto:
    nodes, inits = mlp_nodes()
    nodes[2].name = "fc1"
    return model(nodes, [vi("x", ["batch", 4])], [vi("y", ["batch", 3])], inits)


def dangling_output() -> onnx.ModelProto:
    """Output 'scores' is produced by nothing and no unread tensor has its type and shape: it can only go."""
    nodes, inits = mlp_nodes()
    return model(nodes, [vi("x", ["batch", 4])], [vi("y", ["batch", 3]), vi("scores", ["batch", 3])], inits)


def renamed_output() -> onnx.ModelProto:
    """The exporter renamed the result of 'fc2' to 'logits_raw': output 'logits' is produced by nothing."""
    nodes, inits = mlp_nodes(out="logits_raw")
    return model(nodes, [vi("x", ["batch", 4])], [vi("logits", ["batch", 3]), vi("a1", ["batch", 8])], inits)


def undefined_input() -> onnx.ModelProto:
    nodes = [h.make_node("Add", ["x", "bias"], ["s"], name="add_bias"), h.make_node("Relu", ["s"], ["y"], name="relu")]
    return model(nodes, [vi("x", ["batch", 4])], [vi("y", ["batch", 4])])


def dead_nodes() -> onnx.ModelProto:
    nodes, inits = mlp_nodes()
    nodes += [h.make_node("Sigmoid", ["h1"], ["gate"], name="old_gate"),
              h.make_node("Mul", ["gate", "scale"], ["gated"], name="old_scale")]
    return model(nodes, [vi("x", ["batch", 4])], [vi("y", ["batch", 3])],
                 inits + [w("scale", 8, seed=9)])


def unused_initializer() -> onnx.ModelProto:
    nodes, inits = mlp_nodes()
    return model(nodes, [vi("x", ["batch", 4])], [vi("y", ["batch", 3])], inits + [w("fc0.w", 16, 4, seed=7)])


def unused_input() -> onnx.ModelProto:
    nodes, inits = mlp_nodes()
    return model(nodes, [vi("x", ["batch", 4]), vi("mask", ["batch", 4])], [vi("y", ["batch", 3])], inits)


def initializer_as_input() -> onnx.ModelProto:
    nodes, inits = mlp_nodes()
    inputs = [vi("x", ["batch", 4])] + [vi(t.name, list(t.dims)) for t in inits]
    return model(nodes, inputs, [vi("y", ["batch", 3])], inits)


def op_not_in_opset() -> onnx.ModelProto:
    """Gelu was added in opset 20; the model imports 18."""
    nodes, inits = mlp_nodes()
    nodes[1] = h.make_node("Gelu", ["h1"], ["a1"], name="act1")
    return model(nodes, [vi("x", ["batch", 4])], [vi("y", ["batch", 3])], inits, ir_version=9)


def op_newer_than_opset() -> onnx.ModelProto:
    """LayerNormalization (opset 17) in an opset-13 model, beside Relu, Add and Reshape, which changed in 14."""
    nodes = [h.make_node("MatMul", ["x", "proj.w"], ["p"], name="proj"),
             h.make_node("LayerNormalization", ["p", "norm.g", "norm.b"], ["n"], name="norm", axis=-1),
             h.make_node("Relu", ["n"], ["r"], name="act"),
             h.make_node("Add", ["r", "p"], ["s"], name="residual"),
             h.make_node("Reshape", ["s", "grid"], ["y"], name="to_grid")]
    inits = [w("proj.w", 4, 8, seed=1), w("norm.g", 8, seed=2), w("norm.b", 8, seed=3),
             nh.from_array(np.array([0, 2, 4], np.int64), "grid")]
    return model(nodes, [vi("x", ["batch", 4])], [vi("y", ["batch", 2, 4])], inits, opset=13, ir_version=7)


def unknown_domain() -> onnx.ModelProto:
    """An op from a custom domain nothing here implements (com.acme::FancyRelu)."""
    nodes, inits = mlp_nodes()
    nodes[1] = h.make_node("FancyRelu", ["h1"], ["a1"], name="act1", domain="com.acme")
    return model(nodes, [vi("x", ["batch", 4])], [vi("y", ["batch", 3])], inits,
                 opsets=[h.make_opsetid("", OPSET), h.make_opsetid("com.acme", 1)])


def missing_opset_import() -> onnx.ModelProto:
    nodes, inits = mlp_nodes()
    return model(nodes, [vi("x", ["batch", 4])], [vi("y", ["batch", 3])], inits,
                 opsets=[h.make_opsetid("ai.onnx.ml", 3)])


def mixed_opsets() -> onnx.ModelProto:
    """A local function importing opset 17 inside a model importing 18."""
    fn = h.make_function("local", "Swish", ["x"], ["y"],
                         [h.make_node("Sigmoid", ["x"], ["s"]), h.make_node("Mul", ["x", "s"], ["y"])],
                         [h.make_opsetid("", 17)])
    nodes = [h.make_node("Swish", ["x"], ["y"], name="swish", domain="local")]
    return model(nodes, [vi("x", ["batch", 4])], [vi("y", ["batch", 4])],
                 opsets=[h.make_opsetid("", OPSET), h.make_opsetid("local", 1)], functions=[fn])


# ---- shapes and types --------------------------------------------------------------------------------

def shape_errors() -> onnx.ModelProto:
    """Two independent shape errors (a MatMul and a broadcast Add), and a node downstream of the first."""
    nodes = [h.make_node("MatMul", ["x", "w"], ["m"], name="project"),
             h.make_node("Relu", ["m"], ["r"], name="relu"),
             h.make_node("Add", ["x", "bias"], ["y2"], name="add_bias")]
    return model(nodes, [vi("x", ["batch", 4])], [vi("r", ["batch", 3]), vi("y2", ["batch", 4])],
                 [w("w", 5, 3, seed=1), w("bias", 3, seed=2)])


def type_mismatch_constant() -> onnx.ModelProto:
    """A float64 bias added to float32 data."""
    nodes, inits = mlp_nodes()
    inits[1] = w("fc1.b", 8, seed=2, dtype=np.float64)
    nodes[0] = h.make_node("MatMul", ["x", "fc1.wt"], ["mm"], name="fc1")
    nodes.insert(1, h.make_node("Add", ["mm", "fc1.b"], ["h1"], name="fc1_bias"))
    inits[0] = w("fc1.wt", 4, 8, seed=1)
    return model(nodes, [vi("x", ["batch", 4])], [vi("y", ["batch", 3])], inits)


def type_mismatch_dynamic() -> onnx.ModelProto:
    """Two inputs of different float types into one Mul: a Cast must be inserted."""
    nodes = [h.make_node("Mul", ["x", "scale"], ["m"], name="mul"), h.make_node("Relu", ["m"], ["y"], name="relu")]
    return model(nodes, [vi("x", ["batch", 4]), vi("scale", ["batch", 4], T.DOUBLE)], [vi("y", ["batch", 4])])


def fixed_batch() -> onnx.ModelProto:
    """Batch fixed to 1 on the input and output, and baked into a Reshape target."""
    nodes = [h.make_node("Gemm", ["x", "fc.w", "fc.b"], ["h"], name="fc", transB=1),
             h.make_node("Reshape", ["h", "shape"], ["y"], name="to_grid")]
    inits = [w("fc.w", 6, 4, seed=1), w("fc.b", 6, seed=2), nh.from_array(np.array([1, 2, 3], np.int64), "shape")]
    return model(nodes, [vi("x", [1, 4])], [vi("y", [1, 2, 3])], inits)


# ---- targets -----------------------------------------------------------------------------------------

def converter_unsupported() -> onnx.ModelProto:
    """Multinomial (random sampling) and ai.onnx.ml's Normalizer, which no framework converter handles: listed at once."""
    nodes = [h.make_node("MatMul", ["x", "w"], ["m"], name="mm"),
             h.make_node("Multinomial", ["m"], ["d"], name="draw", sample_size=2),
             h.make_node("Relu", ["v"], ["r"], name="relu"),
             h.make_node("Normalizer", ["r"], ["y"], name="l2norm", domain="ai.onnx.ml", norm="L2")]
    return model(nodes, [vi("x", ["batch", 3]), vi("v", ["batch", 3])], [vi("d", ["batch", 2], T.INT32), vi("y", ["batch", 3])],
                 [w("w", 3, 3, seed=1)], opsets=[h.make_opsetid("", OPSET), h.make_opsetid("ai.onnx.ml", 3)])


def cpu_unsupported() -> onnx.ModelProto:
    """Relu on int64 and Det on float64: valid ONNX, but onnxruntime's CPU provider has no kernels."""
    nodes = [h.make_node("Relu", ["ids"], ["pos"], name="relu_ids"),
             h.make_node("Det", ["m"], ["det"], name="det64")]
    return model(nodes, [vi("ids", ["batch", 4], T.INT64), vi("m", ["batch", 2, 2], T.DOUBLE)],
                 [vi("pos", ["batch", 4], T.INT64), vi("det", ["batch"], T.DOUBLE)])


def cuda_fallback() -> onnx.ModelProto:
    """Det, which onnxruntime's CUDA provider has no kernel for: it would run on the CPU."""
    nodes = [h.make_node("MatMul", ["x", "w"], ["m"], name="mm"), h.make_node("Det", ["m"], ["d"], name="det")]
    return model(nodes, [vi("x", ["batch", 3, 3])], [vi("d", ["batch"])], [w("w", 3, 3, seed=1)])


# ---- hygiene and numerics ----------------------------------------------------------------------------

def nan_weights() -> onnx.ModelProto:
    nodes, inits = mlp_nodes()
    bad = nh.to_array(inits[2]).copy()
    bad[0, 0], bad[1, 3] = np.nan, np.inf
    inits[2] = nh.from_array(bad, "fc2.w")
    return model(nodes, [vi("x", ["batch", 4])], [vi("y", ["batch", 3])], inits)


def float64_weights() -> onnx.ModelProto:
    """float64 weights cast to float32 at run time (an exporter running in double)."""
    nodes, inits = mlp_nodes()
    inits[0] = w("fc1.w64", 8, 4, seed=1, dtype=np.float64)
    nodes.insert(0, h.make_node("Cast", ["fc1.w64"], ["fc1.w"], name="fc1_w_cast", to=FLOAT))
    return model(nodes, [vi("x", ["batch", 4])], [vi("y", ["batch", 3])], inits)


def duplicate_initializers() -> onnx.ModelProto:
    nodes = [h.make_node("Mul", ["x", "scale_a"], ["a"], name="scale1"),
             h.make_node("Mul", ["a", "scale_b"], ["y"], name="scale2")]
    same = (_rng(5).standard_normal(64) * 0.5).astype(np.float32)
    return model(nodes, [vi("x", ["batch", 64])], [vi("y", ["batch", 64])],
                 [nh.from_array(same, "scale_a"), nh.from_array(same.copy(), "scale_b")])


def identity_chain() -> onnx.ModelProto:
    nodes, inits = mlp_nodes(out="logits")
    nodes += [h.make_node("Identity", ["logits"], ["id1"], name="identity_1"),
              h.make_node("Identity", ["id1"], ["y"], name="identity_2")]
    return model(nodes, [vi("x", ["batch", 4])], [vi("y", ["batch", 3])], inits)


def dropout() -> onnx.ModelProto:
    nodes, inits = mlp_nodes()
    nodes[1:2] = [h.make_node("Relu", ["h1"], ["r1"], name="act1"),
                  h.make_node("Dropout", ["r1"], ["a1"], name="drop1")]
    return model(nodes, [vi("x", ["batch", 4])], [vi("y", ["batch", 3])], inits)


def foldable_constants() -> onnx.ModelProto:
    """A scale computed from constants at every run: (w * 2) + 1 and its square root."""
    nodes = [h.make_node("Constant", [], ["two"], name="const_two", value=nh.from_array(np.array(2.0, np.float32))),
             h.make_node("Mul", ["w", "two"], ["w2"], name="double_w"),
             h.make_node("Add", ["w2", "one"], ["w3"], name="shift_w"),
             h.make_node("Sqrt", ["w3"], ["scale"], name="sqrt_w"),
             h.make_node("Mul", ["x", "scale"], ["y"], name="apply_scale")]
    inits = [nh.from_array(np.abs(_rng(1).standard_normal(4)).astype(np.float32), "w"),
             nh.from_array(np.array(1.0, np.float32), "one")]
    return model(nodes, [vi("x", ["batch", 4])], [vi("y", ["batch", 4])], inits)


def batchnorm_after_conv() -> onnx.ModelProto:
    nodes = [h.make_node("Conv", ["image", "conv.w", "conv.b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             h.make_node("BatchNormalization", ["c", "bn.s", "bn.b", "bn.m", "bn.v"], ["n"], name="bn", epsilon=1e-5),
             h.make_node("Relu", ["n"], ["y"], name="relu")]
    inits = [w("conv.w", 4, 2, 3, 3, seed=1), w("conv.b", 4, seed=2), w("bn.s", 4, seed=3), w("bn.b", 4, seed=4),
             w("bn.m", 4, seed=5), nh.from_array(np.abs(_rng(6).standard_normal(4)).astype(np.float32) + 0.5, "bn.v")]
    return model(nodes, [vi("image", ["batch", 2, 5, 5])], [vi("y", ["batch", 4, 5, 5])], inits)


def needs_external_data() -> onnx.ModelProto:
    """Checked with a 4 KiB size limit standing in for protobuf's 2 GiB (see docs/checks.md, OB408)."""
    nodes = [h.make_node("MatMul", ["x", "big"], ["y"], name="project")]
    return model(nodes, [vi("x", ["batch", 64])], [vi("y", ["batch", 32])], [w("big", 64, 32, seed=1)])


def captured_state() -> onnx.ModelProto:
    """A TensorFlow variable left as a graph input ('dense/kernel:0') instead of being frozen."""
    nodes = [h.make_node("MatMul", ["input:0", "dense/kernel:0"], ["mm"], name="dense/MatMul"),
             h.make_node("Add", ["mm", "dense/bias"], ["logits:0"], name="dense/BiasAdd")]
    return model(nodes, [vi("input:0", ["batch", 4]), vi("dense/kernel:0", [4, 3])], [vi("logits:0", ["batch", 3])],
                 [w("dense/bias", 3, seed=2)])


def exporter_noise() -> onnx.ModelProto:
    """What a careless export looks like: unnamed nodes, Dropout, Identity, an unfolded BatchNorm,
    a constant subgraph computed at every run. Everything here can be fixed without changing outputs."""
    nodes = [h.make_node("Conv", ["image", "conv.w", "conv.b"], ["c"], pads=[1, 1, 1, 1]),
             h.make_node("BatchNormalization", ["c", "bn.s", "bn.b", "bn.m", "bn.v"], ["n"], name="bn"),
             h.make_node("Relu", ["n"], ["r"], name="relu"),
             h.make_node("Dropout", ["r"], ["d"], name="dropout"),
             h.make_node("Flatten", ["d"], ["f"], name="flatten"),
             h.make_node("Transpose", ["fc.w_t"], ["fc.w"], name="transpose_w", perm=[1, 0]),
             h.make_node("Gemm", ["f", "fc.w", "fc.b"], ["g"], name="fc", transB=1),
             h.make_node("Identity", ["g"], ["logits"])]
    inits = [w("conv.w", 4, 1, 3, 3, seed=1), w("conv.b", 4, seed=2), w("bn.s", 4, seed=3), w("bn.b", 4, seed=4),
             w("bn.m", 4, seed=5), nh.from_array(np.abs(_rng(6).standard_normal(4)).astype(np.float32) + 0.5, "bn.v"),
             w("fc.w_t", 64, 10, seed=7), w("fc.b", 10, seed=8)]
    return model(nodes, [vi("image", ["batch", 1, 4, 4])], [vi("logits", ["batch", 10])], inits)


# ---- the manifest ------------------------------------------------------------------------------------

Entry = dict
ONNX_CORPUS: list[tuple[str, Callable[[], onnx.ModelProto], Entry]] = [
    ("checker_errors", checker_errors, {"expect": ["OB100", "OB100"], "fixable": False}),
    ("unsorted", unsorted, {"expect": ["OB101"]}),
    ("cycle", cycle, {"expect": ["OB102"], "fixable": False}),
    ("dead_cycle", dead_cycle, {"expect": ["OB102", "OB108"]}),
    ("defined_twice", defined_twice, {"expect": ["OB103"]}),
    ("unnamed_nodes", unnamed_nodes, {"expect": ["OB104"]}),
    ("duplicate_names", duplicate_names, {"expect": ["OB105"]}),
    ("dangling_output", dangling_output, {"expect": ["OB106"]}),
    ("renamed_output", renamed_output, {"expect": ["OB106", "OB108"]}),
    ("undefined_input", undefined_input, {"expect": ["OB107"], "fixable": False}),
    ("dead_nodes", dead_nodes, {"expect": ["OB108"]}),
    ("unused_initializer", unused_initializer, {"expect": ["OB109"]}),
    ("unused_input", unused_input, {"expect": ["OB110"]}),
    ("initializer_as_input", initializer_as_input, {"expect": ["OB111"]}),
    ("op_not_in_opset", op_not_in_opset, {"expect": ["OB112"]}),
    ("op_newer_than_opset", op_newer_than_opset, {"expect": ["OB112"]}),
    ("unknown_domain", unknown_domain, {"expect": ["OB115", "OB303"], "targets": ["cpu"], "fixable": False}),
    ("missing_opset_import", missing_opset_import, {"expect": ["OB113"]}),
    ("mixed_opsets", mixed_opsets, {"expect": ["OB114"], "fixable": False}),
    ("shape_errors", shape_errors, {"expect": ["OB200", "OB200"], "fixable": False}),
    ("type_mismatch_constant", type_mismatch_constant, {"expect": ["OB201"]}),
    ("type_mismatch_dynamic", type_mismatch_dynamic, {"expect": ["OB201"]}),
    ("fixed_batch", fixed_batch, {"expect": ["OB202"]}),
    ("converter_unsupported", converter_unsupported,
     {"expect": ["OB301", "OB301", "OB302", "OB302"], "targets": ["torch", "tensorflow"], "fixable": False}),
    ("cpu_unsupported", cpu_unsupported, {"expect": ["OB303", "OB303"], "targets": ["cpu"], "fixable": False}),
    ("cuda_fallback", cuda_fallback, {"expect": ["OB304"], "targets": ["cuda"], "fixable": False}),
    ("nan_weights", nan_weights, {"expect": ["OB401"], "fixable": False}),
    ("float64_weights", float64_weights, {"expect": ["OB402"]}),
    ("duplicate_initializers", duplicate_initializers, {"expect": ["OB403"]}),
    ("identity_chain", identity_chain, {"expect": ["OB404"]}),
    ("dropout", dropout, {"expect": ["OB405"]}),
    ("foldable_constants", foldable_constants, {"expect": ["OB406"]}),
    ("batchnorm_after_conv", batchnorm_after_conv, {"expect": ["OB407"]}),
    ("needs_external_data", needs_external_data, {"expect": ["OB408"], "options": {"size_limit": 4096}}),
    ("captured_state", captured_state, {"expect": ["OB409"], "fixable": False}),
    ("exporter_noise", exporter_noise, {"expect": ["OB104", "OB404", "OB405", "OB406", "OB407"]}),
    # clean models: no diagnostic at all, with the targets given; "clean_for" names the near misses
    ("clean_mlp", clean_mlp, {"expect": [], "targets": ["torch", "tensorflow", "cpu"],
                              "clean_for": ["OB1", "OB2", "OB3", "OB4"]}),
    ("clean_cnn", clean_cnn, {"expect": [], "targets": ["torch", "tensorflow", "cpu"],
                              "clean_for": ["OB200", "OB406", "OB407"]}),
    ("clean_bn_after_relu", clean_bn_after_relu, {"expect": [], "clean_for": ["OB407"]}),
    ("clean_two_inputs", clean_two_inputs, {"expect": [], "clean_for": ["OB409", "OB201"]}),
    ("clean_identity_io", clean_identity_io, {"expect": [], "clean_for": ["OB404"]}),
    ("clean_gelu_opset20", clean_gelu_opset20, {"expect": [], "targets": ["cpu"], "clean_for": ["OB112", "OB303"]}),
    ("clean_function", clean_function, {"expect": [], "clean_for": ["OB113", "OB114"]}),
    ("clean_float64", clean_float64, {"expect": [], "clean_for": ["OB402", "OB201"]}),
]

SPEC_CORPUS: list[tuple[str, str, Entry]] = [
    ("linear_after_conv", """\
name: linear_after_conv
inputs:
  - {name: image, shape: [batch, 1, 8, 8]}
layers:
  - {id: conv1, type: Conv2d, out_channels: 4, kernel_size: 3, padding: same}
  - {id: act1, type: ReLU}
  - {id: fc, type: Linear, out_features: 10}
""", {"expect": ["OB501"]}),
    ("shortcut_channels", """\
name: shortcut_channels
inputs:
  - {name: image, shape: [batch, 3, 8, 8]}
layers:
  - {id: conv1, type: Conv2d, out_channels: 8, kernel_size: 3, padding: 1}
  - {id: add, type: Add, inputs: [conv1, image]}
""", {"expect": ["OB502"], "fixable": False}),
    ("kernel_too_large", """\
name: kernel_too_large
inputs:
  - {name: image, shape: [batch, 1, 4, 4]}
layers:
  - {id: conv1, type: Conv2d, out_channels: 4, kernel_size: 7}
""", {"expect": ["OB503"], "fixable": False}),
    ("pool_to_zero", """\
name: pool_to_zero
inputs:
  - {name: image, shape: [batch, 1, 8, 8]}
layers:
  - {id: pool1, type: MaxPool2d, kernel_size: 2}
  - {id: pool2, type: MaxPool2d, kernel_size: 2}
  - {id: pool3, type: MaxPool2d, kernel_size: 2}
  - {id: pool4, type: MaxPool2d, kernel_size: 2}
""", {"expect": ["OB504"], "fixable": False}),
    ("rnn_on_images", """\
name: rnn_on_images
inputs:
  - {name: image, shape: [batch, 1, 8, 8]}
layers:
  - {id: lstm, type: LSTM, hidden_size: 16}
""", {"expect": ["OB505"], "fixable": False}),
    ("conv_on_vectors", """\
name: conv_on_vectors
inputs:
  - {name: features, shape: [batch, 20]}
layers:
  - {id: conv1, type: Conv2d, out_channels: 4, kernel_size: 3}
""", {"expect": ["OB506"], "fixable": False}),
    ("tokens_into_linear", """\
name: tokens_into_linear
inputs:
  - {name: tokens, shape: [batch, 12], dtype: int64}
layers:
  - {id: fc, type: Linear, out_features: 4}
""", {"expect": ["OB507"], "fixable": False}),
    ("bad_groups", """\
name: bad_groups
inputs:
  - {name: image, shape: [batch, 6, 8, 8]}
layers:
  - {id: conv1, type: Conv2d, out_channels: 8, kernel_size: 3, groups: 4}
""", {"expect": ["OB509"], "fixable": False}),
    ("structure", """\
name: structure
inputs:
  - {name: image, shape: [batch, 1, 8, 8]}
layers:
  - {id: conv1, type: Conv2D, out_channels: 4, kernel_size: 3}
  - {id: fc, type: Linear, out_features: 10, input: conv_1}
""", {"expect": ["OB500", "OB500"], "fixable": False}),
    ("unused_layer", """\
name: unused_layer
inputs:
  - {name: features, shape: [batch, 20]}
layers:
  - {id: fc1, type: Linear, out_features: 16}
  - {id: side, type: ReLU}
  - {id: fc2, type: Linear, out_features: 4, input: fc1}
outputs:
  - {name: logits, from: fc2}
""", {"expect": ["OB520"]}),
]


def build_corpus() -> dict[str, bytes]:
    """Every file of models/broken/ (name -> bytes), the manifest included."""
    files: dict[str, bytes] = {}
    manifest: dict[str, list] = {"onnx": [], "specs": []}
    for name, make, entry in ONNX_CORPUS:
        m = make()
        files[f"{name}.onnx"] = m.SerializeToString()
        doc = (make.__doc__ or "").strip().splitlines()
        manifest["onnx"].append({"file": f"{name}.onnx", "expect": entry["expect"],
                                 "targets": entry.get("targets", []), "options": entry.get("options", {}),
                                 "fixable": entry.get("fixable", bool(entry["expect"])),
                                 "clean_for": entry.get("clean_for", []),
                                 "description": doc[0] if doc else name.replace("_", " ")})
    for name, text, entry in SPEC_CORPUS:
        files[f"specs/{name}.yaml"] = text.encode()
        manifest["specs"].append({"file": f"specs/{name}.yaml", "expect": entry["expect"],
                                  "fixable": entry.get("fixable", True)})
    files["manifest.json"] = (json.dumps(manifest, indent=1) + "\n").encode()
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed corpus is stale")
    args = parser.parse_args()
    files = build_corpus()
    stale = [n for n, data in files.items() if not (OUT / n).exists() or (OUT / n).read_bytes() != data]
    if args.check:
        for n in stale:
            print(f"stale: models/broken/{n}")
        return 1 if stale else 0
    for n, data in files.items():
        path = OUT / n
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    print(f"wrote {len(files)} files to {OUT} ({len(stale)} changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
