"""The broken-model corpus: each model yields exactly its expected codes, every rule is covered, clean
models stay silent, and --fix leaves models that pass the full checker and give unchanged outputs."""

from __future__ import annotations

import subprocess
import sys

import onnx
import pytest

from onnxbridge.checks import check, repair
from onnxbridge.checks.registry import all_rules
from onnxbridge.checks.verify import RunFailed, make_inputs, run
from tests.checks.checks_corpus import CORPUS, MANIFEST, ROOT, expected_codes

ONNX_ENTRIES = MANIFEST["onnx"]
FIXABLE = [e for e in ONNX_ENTRIES if e["fixable"]]


def _check(entry):
    return check(CORPUS / entry["file"], targets=entry["targets"],
                 options={**entry["options"], "strict_rules": True})


@pytest.mark.parametrize("entry", ONNX_ENTRIES, ids=[e["file"] for e in ONNX_ENTRIES])
def test_model_gives_exactly_its_codes(entry):
    report = _check(entry)
    assert sorted(d.code for d in report) == expected_codes(entry), [d.message for d in report]
    assert not report.notes, report.notes
    for d in report:
        assert d.message and d.suggestion, d
        assert d.nodes or d.tensors or d.layers or d.code in ("OB114", "OB309", "OB408", "OB113"), d


def test_every_rule_has_a_broken_model_and_a_clean_one():
    # OB309 comes from targets this machine cannot check (e.g. CUDA without a GPU)
    broken = {c for e in ONNX_ENTRIES for c in expected_codes(e)} | {c for e in MANIFEST["specs"] for c in e["expect"]}
    clean_for = {c for e in ONNX_ENTRIES if not e["expect"] for c in e["clean_for"]}
    for code, rule in all_rules().items():
        if code in ("OB304", "OB309") and "OB309" in broken:
            continue  # OB304 needs an NVIDIA GPU with onnxruntime-gpu; without one its model gives OB309
        assert code in broken, f"{code} ({rule.name}) has no broken model in models/broken"
        if rule.scope == "onnx":
            assert any(code.startswith(p) for p in clean_for), f"{code} has no clean model in the manifest"


def test_the_corpus_is_up_to_date():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_broken_models.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_independent_shape_errors_are_all_reported():
    report = check(CORPUS / "shape_errors.onnx")
    nodes = sorted(n for d in report.by_code("OB200") for n in d.nodes)
    assert nodes == ["add_bias", "project"]  # the Relu after 'project' is not reported again
    matmul = next(d for d in report if d.nodes == ("project",))
    assert "[batch, 4]" in matmul.message and "[5, 3]" in matmul.message and "4 and 5" in matmul.message


def test_onnxruntime_cpu_findings_are_listed_at_once():
    report = check(CORPUS / "cpu_unsupported.onnx", targets=["cpu"])
    assert sorted(n for d in report for n in d.nodes) == ["det64", "relu_ids"]
    assert any("int64" in d.message for d in report) and any("double" in d.message for d in report)


def test_cuda_is_reported_as_not_checked_without_a_gpu():
    import onnxruntime as ort

    report = check(CORPUS / "clean_mlp.onnx", targets=["cuda"])
    if "CUDAExecutionProvider" in ort.get_available_providers():
        assert report.codes() == []
    else:
        assert report.codes() == ["OB309"] and "CUDA" in report[0].message


def _runs(model) -> bool:
    try:
        run(model, make_inputs(model))
        return True
    except RunFailed:
        return False


@pytest.fixture(scope="module")
def repaired():
    cache = {}

    def get(entry):
        if entry["file"] not in cache:
            cache[entry["file"]] = repair(CORPUS / entry["file"], targets=entry["targets"],
                                          options={**entry["options"], "strict_rules": True})
        return cache[entry["file"]]

    return get


@pytest.mark.parametrize("entry", FIXABLE, ids=[e["file"] for e in FIXABLE])
def test_fix_passes_the_full_checker_and_keeps_the_outputs(entry, repaired):
    fixed, report = repaired(entry)
    assert not set(report.codes()) & set(entry["expect"]), [d.message for d in report]
    onnx.checker.check_model(fixed, full_check=True)
    assert _runs(fixed)
    summary = report.repair
    assert summary.applied and not summary.outputs_changed_on_purpose
    original = onnx.load(CORPUS / entry["file"])
    if summary.parity is not None:
        assert summary.parity.ok, summary.parity.summary()
        assert summary.parity.max_abs <= 1e-5
    else:
        # no comparison is only acceptable when the original cannot run anywhere
        assert not _runs(original), summary.parity_note
        assert "does not run" in summary.parity_note


def test_every_fix_is_exercised_by_the_corpus(repaired):
    from onnxbridge.checks.fixes import all_fixes

    applied = set()
    for entry in FIXABLE:
        applied |= {f.id for f in repaired(entry)[1].repair.applied}
    onnx_fixes = {k for k, v in all_fixes().items() if v.scope == "onnx"}
    assert onnx_fixes <= applied, onnx_fixes - applied
