"""Layout folds: cancelling Transposes disappear, chained ones merge, a (1, k) Conv between Unsqueeze and
Squeeze becomes a 1-D Conv; each checked against onnxruntime on the graph before the fold."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from onnxbridge.ir.layout_folds import fold_conv1d, fold_transpose_pairs
from onnxbridge.testing import check_onnx_parity


def _model(nodes, inputs, outputs, initializers=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def _copy(model):
    out = onnx.ModelProto()
    out.CopyFrom(model)
    return out


def test_cancelling_transposes_are_removed_and_chained_ones_merge():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4, 5])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 5, 4])
    nodes = [helper.make_node("Transpose", ["x"], ["a"], perm=[0, 2, 3, 1]),
             helper.make_node("Transpose", ["a"], ["b"], perm=[0, 3, 1, 2]),  # undoes the first
             helper.make_node("Relu", ["b"], ["c"]),
             helper.make_node("Transpose", ["c"], ["d"], perm=[0, 2, 1, 3]),
             helper.make_node("Transpose", ["d"], ["y"], perm=[0, 2, 3, 1])]  # with the one before: (0, 1, 3, 2)
    model = _model(nodes, [x], [y])
    before = _copy(model)
    assert fold_transpose_pairs(model) == 3
    onnx.checker.check_model(model, full_check=True)
    assert [n.op_type for n in model.graph.node] == ["Relu", "Transpose"]
    assert list(model.graph.node[1].attribute[0].ints) == [0, 1, 3, 2]
    assert check_onnx_parity(before, model).ok


def test_a_transpose_pair_whose_result_is_a_graph_output_stays():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])
    nodes = [helper.make_node("Transpose", ["x"], ["a"], perm=[1, 0]),
             helper.make_node("Transpose", ["a"], ["y"], perm=[1, 0])]
    model = _model(nodes, [x], [y])
    assert fold_transpose_pairs(model) == 0
    assert [o for n in model.graph.node for o in n.output] == ["a", "y"]


def test_conv_1_by_k_on_channels_last_becomes_a_1d_conv():
    rng = np.random.default_rng(0)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 9, 4])  # [N, W, C]
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 6, 5])
    inits = [numpy_helper.from_array(rng.standard_normal((6, 4, 1, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.standard_normal(6).astype(np.float32), "b"),
             numpy_helper.from_array(np.array([-3], np.int64), "unsqueeze_axes"),
             numpy_helper.from_array(np.array([2], np.int64), "squeeze_axes")]
    nodes = [helper.make_node("Unsqueeze", ["x", "unsqueeze_axes"], ["u"]),
             helper.make_node("Transpose", ["u"], ["t"], perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["t", "w", "b"], ["c"], kernel_shape=[1, 3], strides=[1, 2],
                              pads=[0, 1, 0, 1]),
             helper.make_node("Squeeze", ["c", "squeeze_axes"], ["y"])]
    model = _model(nodes, [x], [y], inits)
    before = _copy(model)
    assert fold_conv1d(model) == 1
    onnx.checker.check_model(model, full_check=True)
    assert [n.op_type for n in model.graph.node] == ["Transpose", "Conv"]
    conv = model.graph.node[1]
    assert {a.name: list(a.ints) for a in conv.attribute if a.ints} == {
        "kernel_shape": [3], "strides": [2], "dilations": [1], "pads": [1, 1]}
    assert [list(i.dims) for i in model.graph.initializer if i.name == "w"] == [[6, 4, 3]]
    assert check_onnx_parity(before, model).ok
