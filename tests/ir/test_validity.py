"""onnxbridge.ir.validity: what makes a model invalid ONNX is found and named before any converter runs;
what is valid (or reported better elsewhere) is left alone."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnxbridge.ir.plan import plan_model
from onnxbridge.ir.types import TensorType
from onnxbridge.ir.validity import InvalidModelError, inference_problem, initializer_value, node_problem

FLOAT = TensorProto.FLOAT


def _model(nodes, inits=(), opset=17, x=(2, 3, 4)):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", FLOAT, list(x))],
                              [helper.make_tensor_value_info("y", FLOAT, None)], list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def test_node_problem_names_what_the_checker_finds():
    relu = helper.make_node("Relu", ["x", "x"], ["y"], name="r")
    assert "has input size 2 not in range [min=1, max=1]" in node_problem(relu, {"": 17}, 8)
    cast = helper.make_node("Cast", ["x"], ["y"], name="c")
    assert "Required attribute 'to' is missing" in node_problem(cast, {"": 17}, 8)
    assert node_problem(helper.make_node("Relu", ["x"], ["y"]), {"": 17}, 8) is None


def test_what_other_parts_report_is_not_called_malformed():
    newer = helper.make_node("LayerNormalization", ["x", "s"], ["y"])  # opset 17 op in an opset-13 model
    assert node_problem(newer, {"": 13}, 8) is None
    custom = helper.make_node("Fancy", ["x"], ["y"], domain="com.example")
    assert node_problem(custom, {"": 17, "com.example": 1}, 8) is None


def test_inference_problem_judges_attributes_against_the_input():
    t = helper.make_node("Transpose", ["x"], ["y"], perm=[1, 99, 2], name="t")
    known = {"x": TensorType(FLOAT, (2, 3, 4))}
    assert inference_problem(t, known, {}, {"": 17}).startswith("Invalid attribute perm {1, 99, 2}")
    assert inference_problem(t, {"x": TensorType(None, None)}, {}, {"": 17}) is None  # nothing to judge by
    ok = helper.make_node("Transpose", ["x"], ["y"], perm=[1, 0, 2])
    assert inference_problem(ok, known, {}, {"": 17}) is None
    mul = helper.make_node("Mul", ["x", "c"], ["y"])  # a known small value takes part
    assert inference_problem(mul, known, {"c": np.ones(5, np.float32)}, {"": 17}) == "Incompatible dimensions"
    assert inference_problem(mul, known, {"c": np.ones(4, np.float32)}, {"": 17}) is None


def test_initializer_value_names_the_weight():
    w = numpy_helper.from_array(np.zeros((2, 3), np.float32), "w")
    w.dims[1] = 5
    with pytest.raises(InvalidModelError, match=r"weight 'w' \(read by node 'mm' \(MatMul\)\): .*too small"):
        initializer_value(w, lambda: "node 'mm' (MatMul)")


def test_plan_model_refuses_every_broken_node_once():
    model = _model([helper.make_node("Transpose", ["x"], ["t"], perm=[1, 99, 2], name="bad_perm"),
                    helper.make_node("Relu", ["t"], ["u"], name="after"),  # downstream: not reported again
                    helper.make_node("Relu", ["u", "u"], ["y"], name="two_inputs")])
    with pytest.raises(InvalidModelError) as caught:
        plan_model(model)
    problems = caught.value.problems
    assert len(problems) == 2, problems
    assert problems[0].startswith("node 'bad_perm' (Transpose): Invalid attribute perm")
    assert problems[1].startswith("node 'two_inputs' (Relu): ")
    assert "'onnxbridge check'" in caught.value.hint
    plan_model(model, validate=False)  # lift reads it anyway


def test_plan_model_takes_valid_models_and_newer_ops():
    plan_model(_model([helper.make_node("Transpose", ["x"], ["y"], perm=[2, 0, 1])]))
    scale = numpy_helper.from_array(np.ones(4, np.float32), "s")
    plan_model(_model([helper.make_node("LayerNormalization", ["x", "s"], ["y"])], [scale], opset=13))
