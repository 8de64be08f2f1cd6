"""Spec-level checks on broken specs: exact codes in layer terms, fixes that edit the spec, clean examples."""

from __future__ import annotations

import onnx
import pytest

from onnxbridge.checks import check, repair
from onnxbridge.spec import build
from onnxbridge.testing import random_inputs, run_onnxruntime
from tests.checks.checks_corpus import CORPUS, MANIFEST, ROOT

SPECS = MANIFEST["specs"]
EXAMPLES = sorted((ROOT / "models").glob("*.yaml"))


@pytest.mark.parametrize("entry", SPECS, ids=[e["file"] for e in SPECS])
def test_spec_gives_exactly_its_codes(entry):
    report = check(CORPUS / entry["file"], options={"strict_rules": True})
    assert report.kind == "spec"
    assert sorted(d.code for d in report) == sorted(entry["expect"]), [d.message for d in report]
    for d in report:
        assert d.layers, d  # spec diagnostics say which layer
        assert d.suggestion, d


@pytest.mark.parametrize("entry", [e for e in SPECS if e["fixable"]], ids=lambda e: e["file"])
def test_spec_fix_edits_the_spec_and_the_result_builds_and_runs(entry):
    fixed, report = repair(CORPUS / entry["file"])
    assert report.codes() == [], [d.message for d in report]
    assert report.repair.applied
    model = build(fixed)
    onnx.checker.check_model(model, full_check=True)
    outputs = run_onnxruntime(model, random_inputs(model))
    assert all(o.size for o in outputs)


def test_insert_flatten_puts_a_flatten_before_the_linear():
    fixed, report = repair(CORPUS / "specs" / "linear_after_conv.yaml")
    types = [(layer["id"], layer["type"]) for layer in fixed["layers"]]
    assert types[-2:] == [("fc_flatten", "Flatten"), ("fc", "Linear")]
    assert report.repair.fixed == ["OB501"]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_specs_are_clean(path):
    report = check(path, options={"strict_rules": True})
    assert report.codes() == [], [d.message for d in report]


def test_shortcut_mismatch_suggests_a_projection():
    report = check(CORPUS / "specs" / "shortcut_channels.yaml")
    (d,) = report.diagnostics
    assert d.layers == ("add",) and "1x1 Conv" in d.suggestion and d.fix is None
    assert "[batch, 8, 8, 8]" in d.message and "[batch, 3, 8, 8]" in d.message


def test_structure_problems_are_all_listed_with_their_layers():
    report = check(CORPUS / "specs" / "structure.yaml")
    assert sorted(d.layers for d in report) == [("conv1",), ("fc",)]
    assert any("did you mean 'Conv2d'" in d.message for d in report)


def test_spec_dict_and_targets():
    data = {"name": "tiny", "inputs": [{"name": "x", "shape": ["batch", 4]}],
            "layers": [{"id": "fc", "type": "Linear", "out_features": 2}, {"id": "act", "type": "ReLU"}]}
    assert check(data).codes() == []
    report = check(data, targets=["cpu"])
    assert report.codes() == []  # lowered and checked on onnxruntime's CPU provider


def test_bad_spec_files_are_errors_not_findings(tmp_path):
    from onnxbridge.errors import OnnxBridgeError

    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    bad = tmp_path / "bad.yaml"
    bad.write_text("layers: [unclosed\n")
    for path in (empty, bad, tmp_path / "missing.yaml"):
        with pytest.raises(OnnxBridgeError):
            check(path)
