"""The hub's graph layer: node inputs (subgraph reads included), producers/consumers, topological order,
the element-type table, conventions, liveness and naming."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnxbridge.ir import BLOCKS_DOMAIN, dtypes, node_inputs
from onnxbridge.ir.conventions import normalise_domain, opsets_of
from onnxbridge.ir.liveness import live_nodes
from onnxbridge.ir.naming import class_hint, layer_hint, value_hint
from onnxbridge.ir.nodes import node_attrs, outer_references, walk_nodes
from onnxbridge.ir.plan import plan_model
from onnxbridge.ir.symbolic import Dim, SymShape
from onnxbridge.ir.traversal import consumers, producers, topological_order


def _loop() -> onnx.NodeProto:
    body = helper.make_graph(
        [helper.make_node("Add", ["v", "outer"], ["v2"]), helper.make_node("Identity", ["cond"], ["cond2"])],
        "body", [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("i", "cond", "v")],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("cond2", "v2")])
    return helper.make_node("Loop", ["trip", "", "v0"], ["vn"], body=body)


def test_node_inputs_include_what_subgraphs_read():
    loop = _loop()
    assert node_inputs(loop) == ["trip", "v0", "outer"]  # given ones once, omitted ones dropped
    assert outer_references(loop.attribute[0].g) == ["outer"]
    assert [n.op_type for n in walk_nodes([loop])] == ["Loop", "Add", "Identity"]


def test_producers_consumers_and_a_stable_topological_order():
    nodes = [helper.make_node("Relu", ["b"], ["c"], name="late"), helper.make_node("Neg", ["a"], ["b"], name="early"),
             helper.make_node("Abs", ["a"], ["d"], name="free"), _loop()]
    nodes[3].input[0] = "c"
    assert producers(nodes) == {"c": [0], "b": [1], "d": [2], "vn": [3]}
    assert consumers(nodes)["a"] == [1, 2] and consumers(nodes)["c"] == [3]
    assert topological_order(nodes) == [1, 0, 3, 2]  # a node goes right after what it waited for
    cycle = [helper.make_node("Relu", ["y"], ["x"]), helper.make_node("Relu", ["x"], ["y"])]
    assert topological_order(cycle) is None
    assert topological_order([]) == []


def test_one_element_type_table():
    for elem, t in dtypes.ELEMENT_TYPES.items():
        assert dtypes.elem_named(t.name) == elem and dtypes.dtype_name(elem) == t.name
        if t.numpy is not None:
            assert dtypes.elem_of(np.dtype(t.numpy)) == elem
            assert dtypes.numpy_dtype(elem) == np.dtype(t.numpy)
            # the same mapping onnx itself uses
            assert helper.tensor_dtype_to_np_dtype(elem) == np.dtype(t.numpy)
    assert dtypes.dtype_name(TensorProto.BFLOAT16) == "bfloat16" and dtypes.numpy_dtype(TensorProto.BFLOAT16) is None
    assert TensorProto.UINT8 in dtypes.INT_TYPES and TensorProto.FLOAT16 in dtypes.FLOAT_TYPES
    assert dtypes.dtype_name(None) is None and dtypes.elem_of(np.zeros(2, np.int32)) == TensorProto.INT32
    assert dtypes.onnx_type_name(TensorProto.FLOAT) == "FLOAT"


def test_conventions():
    assert BLOCKS_DOMAIN == "onnxbridge.blocks"
    assert normalise_domain("ai.onnx") == "" and normalise_domain("com.microsoft") == "com.microsoft"
    model = helper.make_model(helper.make_graph([], "g", [], []),
                              opset_imports=[helper.make_opsetid("ai.onnx", 17), helper.make_opsetid(BLOCKS_DOMAIN, 1)])
    assert opsets_of(model) == {"": 17, BLOCKS_DOMAIN: 1}


def test_attributes_as_plain_values():
    node = helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.arange(3, dtype=np.int64)))
    node.attribute.append(helper.make_attribute("mode", b"reflect"))
    attrs = node_attrs(node)
    assert attrs["mode"] == "reflect" and np.array_equal(attrs["value"], [0, 1, 2])


def test_folding_shape_arithmetic_and_liveness():
    """``Shape -> Gather -> Concat -> Reshape``: the target is ``[x.shape[0], -1]``, and only Reshape writes code."""
    g = helper.make_graph(
        [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
         helper.make_node("Unsqueeze", ["n", "axes"], ["n1"]), helper.make_node("Concat", ["n1", "minus1"], ["t"], axis=0),
         helper.make_node("Reshape", ["x", "t"], ["y"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(np.asarray(0, np.int64), "zero"),
                     numpy_helper.from_array(np.asarray([0], np.int64), "axes"),
                     numpy_helper.from_array(np.asarray([-1], np.int64), "minus1")])
    plan = plan_model(helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)], ir_version=10))
    view = plan.main
    assert view.known["t"] == SymShape((Dim("x", 0), -1))
    assert [n.op_type for n in live_nodes(view)] == ["Reshape"]
    assert view.dims("x") == [Dim("x", 0), 3, 4]
    assert [n.op_type for n in view.runtime_users("x")] == ["Reshape"]


@pytest.mark.parametrize(("name", "weight", "want"), [
    ("/layer1/layer1.0/conv1/Conv", None, "layer1.0.conv1"),
    ("node_Conv_3", "features.0.weight", "features.0"),
    ("conv1", None, "conv1"),
])
def test_layer_hints(name, weight, want):
    assert layer_hint(helper.make_node("Conv", ["x", "w"], ["y"], name=name), weight) == want


def test_value_and_class_hints():
    relu = helper.make_node("Relu", ["a"], ["/layer1/Relu_output_0"], name="/layer1/relu/Relu")
    assert value_hint("/layer1/Relu_output_0", relu) == "layer1_relu"
    assert value_hint("dense/BiasAdd:0", None) == "dense_BiasAdd"
    assert class_hint("torch_jit") == "Model" and class_hint("ResNet") == "ResNet"


def test_a_view_knows_which_values_are_computed_from_its_inputs():
    from onnxbridge.ir.types import TensorType
    from onnxbridge.ir.view import GraphView

    loop = _loop()  # reads "outer" from its subgraph
    nodes = [helper.make_node("Expand", ["zeros", "shape"], ["types"]), helper.make_node("Add", ["x", "types"], ["y"]),
             helper.make_node("Neg", ["x"], ["outer"]), loop]
    view = GraphView("g", nodes, ["x"], ["y", "vn"], {"x": TensorType(TensorProto.FLOAT, (2,))}, {"": 18})
    assert view.from_inputs("x") and view.from_inputs("y") and view.from_inputs("vn")
    assert not view.from_inputs("types") and not view.from_inputs("zeros")
