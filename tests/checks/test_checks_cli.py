"""``onnxbridge check`` and ``onnxbridge diff`` from the command line: exit codes, formats, --fix, bad input."""

from __future__ import annotations

import json
import shutil

import onnx
import pytest
from typer.testing import CliRunner

from onnxbridge.cli.app import app
from tests.checks.checks_corpus import CORPUS
from tests.conftest import run_cli

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def test_clean_model_exits_0():
    result = invoke("check", CORPUS / "clean_cnn.onnx")
    assert result.exit_code == 0, result.output
    assert "no problems found" in result.output


def test_errors_exit_1_and_warnings_do_not():
    result = invoke("check", CORPUS / "shape_errors.onnx")
    assert result.exit_code == 1
    assert result.output.count("OB200") == 2 and "suggestion:" in result.output
    result = invoke("check", CORPUS / "dead_nodes.onnx")
    assert result.exit_code == 0 and "OB108" in result.output and "fixable with --fix" in result.output


def test_json_output_follows_the_documented_schema():
    result = invoke("check", CORPUS / "exporter_noise.onnx", "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["schema"] == "onnxbridge.check/1" and data["kind"] == "onnx" and data["ok"] is True
    assert set(data) == {"schema", "source", "kind", "targets", "ok", "counts", "diagnostics", "notes", "repair"}
    for d in data["diagnostics"]:
        assert set(d) == {"code", "level", "family", "message", "nodes", "tensors", "layers", "suggestion", "fix"}
    assert sorted({d["code"] for d in data["diagnostics"]}) == ["OB104", "OB404", "OB405", "OB406", "OB407"]


def test_select_ignore_and_targets():
    result = invoke("check", CORPUS / "exporter_noise.onnx", "--select", "OB404", "--format", "json")
    assert [d["code"] for d in json.loads(result.output)["diagnostics"]] == ["OB404"]
    result = invoke("check", CORPUS / "exporter_noise.onnx", "--ignore", "OB4", "--format", "json")
    assert [d["code"] for d in json.loads(result.output)["diagnostics"]] == ["OB104"]
    result = invoke("check", CORPUS / "cpu_unsupported.onnx", "--target", "cpu")
    assert result.exit_code == 1 and "relu_ids" in result.output and "det64" in result.output
    result = invoke("check", CORPUS / "clean_mlp.onnx", "--select", "OB9")
    assert result.exit_code == 2 and "matches no rule" in result.output


def test_fix_writes_a_verified_model_and_leaves_the_input_alone(tmp_path):
    source = tmp_path / "noise.onnx"
    shutil.copy(CORPUS / "exporter_noise.onnx", source)
    before = source.read_bytes()
    out = tmp_path / "fixed.onnx"
    result = invoke("check", source, "--fix", "-o", out)
    assert result.exit_code == 0, result.output
    assert source.read_bytes() == before
    assert "parity ok" in result.output and f"wrote {out}" in result.output.replace("\n", "")
    fixed = onnx.load(out)
    onnx.checker.check_model(fixed, full_check=True)
    assert not any(n.op_type in ("Dropout", "Identity", "BatchNormalization") for n in fixed.graph.node)
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_fix_json_reports_the_repair(tmp_path):
    out = tmp_path / "fixed.onnx"
    result = invoke("check", CORPUS / "fixed_batch.onnx", "--fix", "-o", out, "--format", "json")
    data = json.loads(result.output)
    assert result.exit_code == 0
    assert data["repair"]["fixed_codes"] == ["OB202"] and data["repair"]["parity"]["ok"] is True
    assert data["repair"]["output"] == str(out)
    dim = onnx.load(out).graph.input[0].type.tensor_type.shape.dim[0]
    assert dim.dim_param == "batch"


def test_fix_needs_an_output_and_never_overwrites_silently(tmp_path):
    source = tmp_path / "m.onnx"
    shutil.copy(CORPUS / "dropout.onnx", source)
    result = invoke("check", source, "--fix")
    assert result.exit_code == 2 and "-o OUTPUT" in result.output
    result = invoke("check", source, "--fix", "-o", source)
    assert result.exit_code == 2 and "--in-place" in result.output
    assert source.read_bytes() == (CORPUS / "dropout.onnx").read_bytes()
    result = invoke("check", source, "--fix", "--in-place")
    assert result.exit_code == 0
    assert not any(n.op_type == "Dropout" for n in onnx.load(source).graph.node)


def test_fix_of_a_spec_writes_yaml(tmp_path):
    out = tmp_path / "fixed.yaml"
    result = invoke("check", CORPUS / "specs" / "linear_after_conv.yaml", "--fix", "-o", out)
    assert result.exit_code == 0, result.output
    assert "Flatten" in out.read_text()
    assert invoke("check", out).exit_code == 0


def test_fix_output_must_match_the_input_kind(tmp_path):
    result = invoke("check", CORPUS / "specs" / "linear_after_conv.yaml", "--fix", "-o", tmp_path / "x.onnx")
    assert result.exit_code == 2 and ".yaml" in result.output and not (tmp_path / "x.onnx").exists()


def test_unfixable_errors_still_exit_1_after_fix(tmp_path):
    result = invoke("check", CORPUS / "cycle.onnx", "--fix", "-o", tmp_path / "x.onnx")
    assert result.exit_code == 1 and "OB102" in result.output


def test_list_rules():
    result = invoke("check", "--list-rules", "--format", "json")
    rows = json.loads(result.output)
    assert {"OB101", "OB201", "OB303", "OB407", "OB501"} <= {r["code"] for r in rows}


def _bad_inputs(tmp_path):
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    text = tmp_path / "notes.onnx"
    text.write_text("this is not a model\n" * 20)
    truncated = tmp_path / "truncated.onnx"
    data = (CORPUS / "batchnorm_after_conv.onnx").read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    return {"empty": empty, "not onnx": text, "truncated": truncated, "missing": tmp_path / "missing.onnx",
            "directory": tmp_path}


@pytest.mark.parametrize("case", ["empty", "not onnx", "truncated", "missing", "directory"])
def test_bad_input_is_one_clear_error_with_exit_2(tmp_path, case):
    path = _bad_inputs(tmp_path)[case]
    result = run_cli("check", path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    first = result.stderr.strip().splitlines()[0]
    assert first.startswith("error:") and path.name in first


def test_bad_input_with_fix_leaves_no_output(tmp_path):
    path = _bad_inputs(tmp_path)["truncated"]
    out = tmp_path / "out.onnx"
    result = invoke("check", path, "--fix", "-o", out)
    assert result.exit_code == 2 and not out.exists()


def test_diff_command(tmp_path):
    out = tmp_path / "fixed.onnx"
    assert invoke("check", CORPUS / "batchnorm_after_conv.onnx", "--fix", "-o", out).exit_code == 0
    result = invoke("diff", CORPUS / "batchnorm_after_conv.onnx", out)
    assert result.exit_code == 0, result.output
    assert "op BatchNormalization: 1 -> 0" in result.output and "same" in result.output
    result = invoke("diff", CORPUS / "batchnorm_after_conv.onnx", out, "--format", "json")
    data = json.loads(result.output)
    assert data["numerically_equal"] is True and data["op_counts"]["BatchNormalization"] == {"a": 1, "b": 0}
    result = invoke("diff", CORPUS / "clean_mlp.onnx", CORPUS / "nan_weights.onnx")
    assert result.exit_code == 1 and "DIFFERENT" in result.output
    result = invoke("diff", CORPUS / "clean_mlp.onnx", tmp_path / "nope.onnx")
    assert result.exit_code == 2
