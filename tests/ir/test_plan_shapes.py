"""onnxbridge.ir.plan: static sizes that an exporter's run-time shape arithmetic fixes (``Max`` or
``ReduceProd`` of gathered sizes, which ONNX shape inference does not follow) reach the types of the
reshaped tensor and of the nodes after it."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from onnxbridge.ir.plan import plan_model

FLOAT, INT64 = TensorProto.FLOAT, TensorProto.INT64


def _ints(name, values):
    return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


def _model(nodes, inits, out="y"):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", FLOAT, ["batch", "seq", 2, 8])],
                              [helper.make_tensor_value_info(out, FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_a_reshape_to_minus_one_and_a_product_of_sizes_knows_its_width():
    nodes = [helper.make_node("Shape", ["x"], ["shape"]),
             helper.make_node("Gather", ["shape", "last_two"], ["sizes"]),
             helper.make_node("ReduceProd", ["sizes"], ["width"], keepdims=1),
             helper.make_node("Concat", ["minus_one", "width"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["flat"]),
             helper.make_node("Relu", ["flat"], ["y"])]
    view = plan_model(_model(nodes, [_ints("last_two", [2, 3]), _ints("minus_one", [-1])])).main
    assert view.type("flat").shape[1] == 16
    assert view.type("y").shape[1] == 16  # the node after it is typed again
    assert view.const("target").tolist() == [-1, 16]


def test_sizes_taken_through_max_reach_the_nodes_after_the_reshape():
    """tf2onnx's batched einsum: ``Reshape(p, Concat(Max(Shape(a)[:2], Shape(b)[:2]), ...))``."""
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 1, 3]),  # (batch, 2, seq, 8)
             helper.make_node("Shape", ["t"], ["shape"]),
             helper.make_node("Gather", ["shape", "first_two"], ["lead"]),
             helper.make_node("Max", ["lead", "lead"], ["both"]),
             helper.make_node("Concat", ["both", "minus_one", "one"], ["target"], axis=0),
             helper.make_node("Reshape", ["t", "target"], ["r"]),
             helper.make_node("Squeeze", ["r", "last"], ["s"]),
             helper.make_node("Softmax", ["s"], ["y"], axis=-1)]
    inits = [_ints("first_two", [0, 1]), _ints("minus_one", [-1]), _ints("one", [1]), _ints("last", [3])]
    view = plan_model(_model(nodes, inits)).main
    shape = view.type("y").shape
    assert len(shape) == 3 and shape[1] == 2 and not isinstance(shape[0], int) and not isinstance(shape[2], int)
