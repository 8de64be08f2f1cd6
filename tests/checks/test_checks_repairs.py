"""The repairs behind OB102/OB103/OB106/OB112 and what ``--fix`` writes: the plans the rules and fixes share,
their refusals, the reference evaluator that verifies them, and output matching by name."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh
from typer.testing import CliRunner

from onnxbridge.checks import check, repair
from onnxbridge.checks.analysis import redefinitions, unproduced_outputs
from onnxbridge.checks.context import ModelContext
from onnxbridge.checks.fixes import FixRefused
from onnxbridge.checks.verify import compare_named, evaluate, make_inputs, run, run_reference
from tests.checks.checks_corpus import CORPUS


def _vi(name, shape, elem=T.FLOAT):
    return h.make_tensor_value_info(name, elem, shape)


def _model(nodes, inputs, outputs, inits=(), *, opset=18, functions=(), domains=()):
    graph = h.make_graph(nodes, "g", inputs, outputs, list(inits))
    return h.make_model(graph, opset_imports=[h.make_opsetid("", opset), *domains], ir_version=8,
                        functions=list(functions))


# -- the reference evaluator that verifies repairs of models onnxruntime refuses ------------------------

def test_reference_runs_an_op_the_opset_lacks_as_its_first_opset_defines_it():
    """Gelu in an opset-18 model: evaluated as opset 20's Gelu (through its function body)."""
    broken = onnx.load(CORPUS / "op_not_in_opset.onnx")
    good = onnx.ModelProto()
    good.CopyFrom(broken)
    good.opset_import[0].version = 20
    feeds = make_inputs(broken)
    expected = dict(zip([o.name for o in good.graph.output], run(good, feeds)))
    outputs, via = evaluate(broken, feeds)
    assert "reference evaluator" in via and "Gelu" in via
    np.testing.assert_allclose(outputs["y"], expected["y"], atol=1e-6)


def test_reference_runs_only_what_the_outputs_need():
    dead_cycle = onnx.load(CORPUS / "dead_cycle.onnx")
    assert set(run_reference(dead_cycle, make_inputs(dead_cycle))) == {"y"}
    dangling = onnx.load(CORPUS / "dangling_output.onnx")
    assert set(run_reference(dangling, make_inputs(dangling))) == {"y"}  # 'scores' is produced by nothing
    assert run_reference(dangling, make_inputs(dangling), ["h1"])["h1"].shape == (2, 8)  # any tensor by name


def test_reference_reads_a_name_defined_twice_in_node_order():
    model = onnx.load(CORPUS / "defined_twice.onnx")
    x = make_inputs(model)["x"]
    np.testing.assert_allclose(run_reference(model, {"x": x})["y"], -x + np.maximum(x, 0) * x, atol=1e-6)


def test_outputs_are_matched_by_name_and_a_lost_one_fails():
    a, b = np.ones(3, np.float32), np.zeros(2, np.float32)
    report, note = compare_named({"y": a, "z": b}, {"z": b, "y": a, "extra": b}, ["y", "z"], ["z", "y", "extra"])
    assert report.ok and [o.name for o in report.outputs] == ["y", "z"] and "'extra'" in note
    report, _ = compare_named({"y": a, "z": b}, {"y": a}, ["y", "z"], ["y"])
    assert not report.ok and "no longer has this output" in report.worst.note
    report, _ = compare_named({"y": a}, {"out": a}, ["y"], ["out"])  # no shared name: by position
    assert report.ok
    assert compare_named({}, {"y": a}, ["y"], ["y"])[0] is None  # the original computed nothing


# -- OB112: converting the opset ------------------------------------------------------------------------

def test_raise_opset_refuses_when_the_conversion_changes_the_outputs():
    from onnxbridge.checks.fixes.opsets import _convert, _verify

    model = onnx.load(CORPUS / "op_newer_than_opset.onnx")
    converted = _convert(model, {"LayerNormalization"}, 13, 17)
    assert _verify(model, converted, 13, 17).startswith("outputs unchanged")
    wrong = onnx.ModelProto()
    wrong.CopyFrom(converted)
    g = next(t for t in wrong.graph.initializer if t.name == "norm.g")
    g.CopyFrom(nh.from_array(nh.to_array(g) * 2, "norm.g"))
    with pytest.raises(FixRefused, match="converting opset 13 to 17 changes the outputs"):
        _verify(model, wrong, 13, 17)


def test_raise_opset_refuses_for_a_local_function_whose_ops_changed():
    body = [h.make_node("Relu", ["x"], ["y"])]
    fn = h.make_function("local", "Act", ["x"], ["y"], body, [h.make_opsetid("", 13)])
    nodes = [h.make_node("Act", ["x"], ["a"], name="act", domain="local"),
             h.make_node("LayerNormalization", ["a", "g", "b"], ["y"], name="norm")]
    model = _model(nodes, [_vi("x", ["n", 4])], [_vi("y", ["n", 4])],
                   [nh.from_array(np.ones(4, np.float32), "g"), nh.from_array(np.zeros(4, np.float32), "b")],
                   opset=13, functions=[fn], domains=[h.make_opsetid("local", 1)])
    _, report = repair(model)
    (record,) = report.repair.fixes
    assert not record.applied and "local function 'Act' uses Relu" in record.reason
    assert "does not convert function bodies" in record.reason


# -- OB103: names defined twice -------------------------------------------------------------------------

def test_a_graph_input_keeps_its_name_when_a_node_redefines_it():
    nodes = [h.make_node("Relu", ["x"], ["x"], name="relu"), h.make_node("Neg", ["x"], ["y"], name="neg")]
    model = _model(nodes, [_vi("x", ["n"])], [_vi("y", ["n"])])
    (plan,) = redefinitions(ModelContext.from_model(model))
    assert plan.refusal is None and plan.renames == ((0, "x_2"),) and plan.reads == ((0, "x"), (1, "x_2"))
    fixed, report = repair(model)
    assert report.codes() == [] and report.repair.parity.ok
    assert [i.name for i in fixed.graph.input] == ["x"]


def test_a_name_that_is_input_and_output_and_redefined_is_not_guessed():
    nodes = [h.make_node("Relu", ["x"], ["x"], name="relu")]
    model = _model(nodes, [_vi("x", ["n"])], [_vi("x", ["n"])])
    (plan,) = redefinitions(ModelContext.from_model(model))
    assert plan.refusal == "it is both a graph input and a graph output"
    (d,) = check(model).by_code("OB103")
    assert d.fix is None


# -- OB106: graph outputs nothing produces --------------------------------------------------------------

def test_one_tensor_two_dangling_outputs_could_claim_is_given_to_neither():
    nodes = [h.make_node("Relu", ["x"], ["r"], name="relu"), h.make_node("Neg", ["x"], ["y"], name="neg")]
    model = _model(nodes, [_vi("x", ["n"])], [_vi("y", ["n"]), _vi("a", ["n"]), _vi("b", ["n"])])
    plans = unproduced_outputs(ModelContext.from_model(model))
    assert [(p.name, p.matches, p.tensor) for p in plans] == [("a", ("r",), None), ("b", ("r",), None)]
    assert all("also fits another output" in d.message for d in check(model).by_code("OB106"))


def test_shapes_must_agree_for_a_rename():
    nodes = [h.make_node("Relu", ["x"], ["r"], name="relu"), h.make_node("Neg", ["x"], ["y"], name="neg")]
    model = _model(nodes, [_vi("x", ["n", 4])], [_vi("y", ["n", 4]), _vi("a", ["n", 5])])
    (plan,) = unproduced_outputs(ModelContext.from_model(model))
    assert plan.matches == () and plan.tensor is None


# -- what --fix writes ----------------------------------------------------------------------------------

def test_fix_json_says_why_nothing_was_written(tmp_path):
    from onnxbridge.cli.app import app

    out = tmp_path / "x.onnx"
    result = CliRunner().invoke(app, ["check", str(CORPUS / "cycle.onnx"), "--fix", "-o", str(out), "--format",
                                      "json"])
    data = json.loads(result.output)
    assert result.exit_code == 1 and not out.exists()
    assert data["repair"]["output"] is None
    assert data["repair"]["not_written"] == f"nothing written to {out}: no automatic fix exists for what remains (OB102)"


def test_a_spec_with_nothing_to_fix_is_not_written(tmp_path):
    from onnxbridge.checks.repair import repair_file

    out = tmp_path / "same.yaml"
    report = repair_file(CORPUS / "specs" / "kernel_too_large.yaml", out)
    assert not out.exists() and report.repair.output is None and "OB503" in report.repair.not_written


def test_onnxruntime_advice_follows_the_reason():
    by_node = {d.nodes[0]: d for d in check(CORPUS / "cpu_unsupported.onnx", targets=["cpu"])}
    assert "cast to a supported element type" in by_node["relu_ids"].suggestion
    (custom,) = check(CORPUS / "unknown_domain.onnx", targets=["cpu"]).by_code("OB303")
    assert "custom-op library" in custom.suggestion and "cast" not in custom.suggestion
