"""The rule registry, the report data, selection, the repair safety net, external data, and diff."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import onnxbridge
from onnxbridge.checks import Diagnostic, Level, Report, check, repair
from onnxbridge.checks.registry import all_rules, expand_codes, rule
from onnxbridge.errors import OnnxBridgeError
from tests.checks.checks_corpus import CORPUS, ROOT


def test_public_api_is_lazy_exported():
    assert onnxbridge.check is check and onnxbridge.repair is repair
    assert callable(onnxbridge.diff)


def test_registering_a_code_twice_is_an_error():
    assert "OB101" in all_rules()  # the families are loaded
    with pytest.raises(ValueError, match="registered twice"):
        rule("OB101", family="structure", level="error")(lambda ctx: [])
    with pytest.raises(ValueError, match="must look like"):
        rule("X1", family="structure", level="error")(lambda ctx: [])
    with pytest.raises(ValueError, match="unknown family"):
        rule("OB999", family="nope", level="error")(lambda ctx: [])


def test_codes_are_grouped_by_family():
    prefixes = {"structure": "OB1", "shapes": "OB2", "targets": "OB3", "hygiene": "OB4", "spec": "OB5"}
    for code, r in all_rules().items():
        assert code.startswith(prefixes[r.family]), (code, r.family)
        assert r.summary and r.summary != r.name


def test_every_code_is_documented():
    doc = (ROOT / "docs" / "checks.md").read_text()
    for code in all_rules():
        assert f"### {code}" in doc, f"{code} is not documented in docs/checks.md"


def test_select_and_ignore():
    path = CORPUS / "exporter_noise.onnx"
    assert check(path, select="OB404").codes() == ["OB404"]
    assert check(path, select=["OB40"]).codes() == ["OB404", "OB405", "OB406", "OB407"]
    assert check(path, select="hygiene", ignore="OB406,OB407").codes() == ["OB404", "OB405"]
    assert expand_codes("structure") == {c for c, r in all_rules().items() if r.family == "structure"}
    with pytest.raises(OnnxBridgeError, match="matches no rule"):
        check(path, select="OB999")
    with pytest.raises(OnnxBridgeError, match="unknown target"):
        check(path, targets=["tpu"])


def test_report_is_data():
    report = check(CORPUS / "dropout.onnx")
    assert isinstance(report, Report) and len(report) == 1 and report.ok
    d = report[0]
    assert isinstance(d, Diagnostic) and d.level is Level.suggestion and d.code == "OB405"
    assert d.nodes == ("drop1",) and d.fix is not None and d.fix.id == "remove-dropout"
    data = json.loads(json.dumps(report.to_dict()))
    assert data["schema"] == "onnxbridge.check/1" and data["counts"] == {"error": 0, "warning": 0, "suggestion": 1}
    assert data["diagnostics"][0]["fix"]["id"] == "remove-dropout"


def test_select_limits_which_fixes_run():
    fixed, report = repair(CORPUS / "exporter_noise.onnx", select="OB405")
    assert [f.id for f in report.repair.applied] == ["remove-dropout"]
    assert report.codes() == []  # the report shows the selected codes only
    assert check(fixed).codes() == ["OB104", "OB404", "OB406", "OB407"]


def test_a_fix_that_changes_outputs_is_refused():
    """The safety net: a fix pass that alters the numbers is rolled back, whatever it claims."""
    from onnxbridge.checks.fixes import FixPass
    from onnxbridge.checks.repair import _ModelVerifier

    def sabotage(model):
        out = onnx.ModelProto()
        out.CopyFrom(model)
        t = out.graph.initializer[0]
        t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t) * 2, t.name))
        return out, "doubled a weight"

    model = onnx.load(CORPUS / "clean_mlp.onnx")
    step = _ModelVerifier(model, 0, strict=True).apply(FixPass("sabotage", 0, sabotage, "test"), model, ["OB000"])
    assert step.document is None and not step.record.applied
    assert "changes the outputs" in step.record.reason
    # the same holds when onnxruntime refuses the original and the reference evaluator stands in for it
    broken = onnx.load(CORPUS / "duplicate_names.onnx")
    verifier = _ModelVerifier(broken, 0, strict=True)
    assert verifier.expected is not None and not verifier.in_ort
    step = verifier.apply(FixPass("sabotage", 0, sabotage, "test"), broken, ["OB000"])
    assert step.document is None and "changes the outputs" in step.record.reason


def test_symbolic_batch_refuses_when_the_batch_is_baked_in():
    """A Reshape target that is not a constant initializer keeps batch 1: the fix must refuse."""
    nodes = [helper.make_node("Constant", [], ["shape"], name="shape_const",
                              value=numpy_helper.from_array(np.array([1, 6], np.int64))),
             helper.make_node("Reshape", ["x", "shape"], ["y"], name="flatten")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 2, 3])],
                          [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 6])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)
    assert check(model).codes() == ["OB202"]
    fixed, report = repair(model)
    (record,) = report.repair.fixes
    assert record.id == "symbolic-batch" and not record.applied and "batch" in record.reason
    assert fixed.SerializeToString() == model.SerializeToString()


def test_external_data_fix_writes_weights_beside_the_model(tmp_path):
    from onnxbridge.checks.engine import load_onnx_for_check
    from onnxbridge.checks.repair import write_model

    options = {"size_limit": 4096}
    fixed, report = repair(CORPUS / "needs_external_data.onnx", options=options)
    assert [f.id for f in report.repair.applied] == ["external-data"]
    out = tmp_path / "big.onnx"
    written = write_model(fixed, out)
    assert sorted(p.name for p in written) == ["big.onnx", "big.onnx.data"]
    assert out.stat().st_size < 4096 < (tmp_path / "big.onnx.data").stat().st_size
    reloaded, facts = load_onnx_for_check(out)
    assert facts["stored_external"] and not any(p.key.startswith("onnxbridge.") for p in reloaded.metadata_props)
    assert check(out, options=options).codes() == []
    from onnxbridge.testing import check_onnx_parity

    assert check_onnx_parity(onnx.load(CORPUS / "needs_external_data.onnx"), reloaded).ok


def test_identity_that_is_also_an_output_keeps_both_outputs():
    """onnx-ir's IdentityEliminationPass would drop output 'x' here; the repair must not."""
    nodes = [helper.make_node("Relu", ["a"], ["x"], name="relu"), helper.make_node("Identity", ["x"], ["y"], name="id")]
    vi = [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, ["batch", 2]) for n in ("a", "x", "y")]
    model = helper.make_model(helper.make_graph(nodes, "g", vi[:1], vi[1:]),
                              opset_imports=[helper.make_opsetid("", 18)], ir_version=8)
    fixed, report = repair(model)
    assert [o.name for o in fixed.graph.output] == ["x", "y"]
    assert report.repair.verified is not False


def test_check_accepts_a_model_proto_and_does_not_modify_it():
    model = onnx.load(CORPUS / "unsorted.onnx")
    before = model.SerializeToString()
    assert check(model).codes() == ["OB101"]
    repair(model)
    assert model.SerializeToString() == before


def test_diff_reports_structure_and_numbers():
    from onnxbridge.checks.diff import diff, format_diff

    original = onnx.load(CORPUS / "batchnorm_after_conv.onnx")
    fixed, _ = repair(original)
    d = diff(original, fixed)
    assert d.op_counts == {"BatchNormalization": (1, 0)}
    assert "bn" in d.nodes_removed
    assert any(c["name"] == "conv.w" and c["change"] == "values" for c in d.initializers)
    assert d.numerically_equal is True
    same = diff(original, original)
    assert same.structurally_equal and same.numerically_equal
    text = format_diff(d)
    assert "op BatchNormalization: 1 -> 0" in text and "parity ok" in text


def test_diff_flags_different_outputs():
    from onnxbridge.checks.diff import diff

    a = onnx.load(CORPUS / "clean_mlp.onnx")
    b = onnx.ModelProto()
    b.CopyFrom(a)
    t = b.graph.initializer[1]
    t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t) + 1, t.name))
    d = diff(a, b)
    assert d.numerically_equal is False and d.initializers[0]["name"] == t.name
