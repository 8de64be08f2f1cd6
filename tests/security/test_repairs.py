"""``check --fix`` on hostile and broken models, as a user runs it: each model is built here in a temp dir,
repaired through the command line, and the file written (if any) is checked against numpy's own
computation of what the original graph means — never against onnxbridge's own verifier.

Every run must end in exit 0/1 with a one-document report (never a traceback), write the output only when
the repair made the model better, and leave the input untouched.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from tests.conftest import run_cli

RNG = np.random.default_rng(7)


def _w(name: str, *shape: int) -> onnx.TensorProto:
    return nh.from_array((RNG.standard_normal(shape) * 0.5).astype(np.float32), name)


def _vi(name: str, shape, elem=T.FLOAT) -> onnx.ValueInfoProto:
    return h.make_tensor_value_info(name, elem, shape)


def _model(nodes, inputs, outputs, inits=(), *, opset: int = 18, ir_version: int = 8, domains=()) -> onnx.ModelProto:
    graph = h.make_graph(nodes, "g", inputs, outputs, list(inits))
    return h.make_model(graph, opset_imports=[h.make_opsetid("", opset), *domains], ir_version=ir_version)


def _fix(tmp_path: Path, model: onnx.ModelProto, *extra: str) -> tuple[dict, Path, Path, int]:
    """Save ``model``, run ``check --fix -o`` on it, and return (JSON report, input, output, exit code)."""
    src, out = tmp_path / "model.onnx", tmp_path / "fixed.onnx"
    onnx.save(model, src)
    before = src.read_bytes()
    result = run_cli("check", src, "--fix", "-o", out, "--format", "json", *extra)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert result.returncode in (0, 1), result.stderr
    assert src.read_bytes() == before, "the input was changed"
    return json.loads(result.stdout), src, out, result.returncode


def _written(report: dict, out: Path) -> onnx.ModelProto:
    """The repaired model: written, passing the full checker, verified by the repair itself."""
    repair = report["repair"]
    assert repair["output"] == str(out) and repair["not_written"] is None, repair
    assert repair["parity"] is not None and repair["parity"]["ok"], repair["parity_note"]
    fixed = onnx.load(out)
    onnx.checker.check_model(fixed, full_check=True)
    return fixed


def _ort(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))


def _array(model: onnx.ModelProto, name: str) -> np.ndarray:
    return nh.to_array(next(t for t in model.graph.initializer if t.name == name))


def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + eps) * g + b


# -- an op newer than the model's opset ----------------------------------------------------------------

def test_opset_is_converted_by_the_version_converter_and_keeps_the_numbers(tmp_path):
    """LayerNormalization (opset 17) in an opset-11 model whose Split, Unsqueeze, Squeeze and ReduceSum take
    their axes as attributes: the conversion must rewrite them (attributes become inputs), not relabel them."""
    nodes = [h.make_node("Split", ["x"], ["a", "b"], name="split", axis=1, split=[2, 4]),
             h.make_node("Unsqueeze", ["a"], ["au"], name="unsqueeze", axes=[1]),
             h.make_node("Squeeze", ["au"], ["a2"], name="squeeze", axes=[1]),
             h.make_node("LayerNormalization", ["b", "g", "beta"], ["n"], name="norm", axis=-1),
             h.make_node("Relu", ["n"], ["r"], name="act"),
             h.make_node("Concat", ["a2", "r"], ["y"], name="concat", axis=1),
             h.make_node("ReduceSum", ["y"], ["s"], name="total", axes=[1], keepdims=1)]
    model = _model(nodes, [_vi("x", ["batch", 6])], [_vi("y", ["batch", 6]), _vi("s", ["batch", 1])],
                   [_w("g", 4), _w("beta", 4)], opset=11, ir_version=6)
    report, _, out, rc = _fix(tmp_path, model)
    assert rc == 0 and report["repair"]["fixed_codes"] == ["OB112"], report
    # the converter adds unnamed Constant nodes for the axes; a second round names them
    assert [f["id"] for f in report["repair"]["fixes"]] == ["raise-opset", "name-nodes"]
    fix = report["repair"]["fixes"][0]
    assert fix["applied"] and report["diagnostics"] == []
    assert "onnx.version_converter" in fix["description"] and "Split 11 -> 13" in fix["description"]
    fixed = _written(report, out)
    assert {o.domain: o.version for o in fixed.opset_import}[""] == 17
    split = next(n for n in fixed.graph.node if n.op_type == "Split")
    assert len(split.input) == 2 and "split" not in {a.name for a in split.attribute}  # now an input
    x = RNG.standard_normal((3, 6)).astype(np.float32)
    y = np.concatenate([x[:, :2], np.maximum(_layer_norm(x[:, 2:], _array(model, "g"), _array(model, "beta")), 0)], 1)
    got = _ort(fixed, {"x": x})
    np.testing.assert_allclose(got["y"], y, atol=1e-5)
    np.testing.assert_allclose(got["s"], y.sum(1, keepdims=True), atol=1e-5)


def test_opset_conversion_the_converter_cannot_do_names_the_op_and_writes_nothing(tmp_path):
    """onnx.version_converter has no adapter for And 1 -> 7: the fix must say so, not guess."""
    nodes = [h.make_node("And", ["a", "b"], ["c"], name="both"), h.make_node("Where", ["c", "x", "z"], ["y"], name="pick")]
    model = _model(nodes, [_vi("a", ["n"], T.BOOL), _vi("b", ["n"], T.BOOL), _vi("x", ["n"]), _vi("z", ["n"])],
                   [_vi("y", ["n"])], opset=6, ir_version=3)
    report, _, out, rc = _fix(tmp_path, model)
    assert rc == 1 and not out.exists()
    (fix,) = report["repair"]["fixes"]
    assert not fix["applied"] and "no adapter for And (And 1 -> 7)" in fix["reason"], fix
    assert report["repair"]["not_written"].startswith(f"nothing written to {out}: every fix was refused")


# -- a dead cycle ---------------------------------------------------------------------------------------

def test_dead_cycle_and_the_weight_only_it_reads_are_removed(tmp_path):
    nodes = [h.make_node("MatMul", ["x", "w"], ["y"], name="project"),
             h.make_node("Add", ["x", "c3"], ["c1"], name="c_add"),
             h.make_node("Mul", ["c1", "k"], ["c2"], name="c_mul"),
             h.make_node("Tanh", ["c2"], ["c3"], name="c_tanh")]
    model = _model(nodes, [_vi("x", ["batch", 4])], [_vi("y", ["batch", 3])], [_w("w", 4, 3), _w("k", 4)])
    report, _, out, rc = _fix(tmp_path, model)
    before = {d["code"]: d for d in report["repair"]["before"]}
    assert {"OB102", "OB108"} <= set(before) and "feeds no graph output" in before["OB102"]["message"]
    assert rc == 0 and report["diagnostics"] == [], report["diagnostics"]
    fixed = _written(report, out)
    assert [n.name for n in fixed.graph.node] == ["project"] and [t.name for t in fixed.graph.initializer] == ["w"]
    x = RNG.standard_normal((2, 4)).astype(np.float32)
    np.testing.assert_allclose(_ort(fixed, {"x": x})["y"], x @ _array(model, "w"), atol=1e-5)


def test_a_live_cycle_is_not_touched(tmp_path):
    nodes = [h.make_node("Add", ["x", "c"], ["a"], name="add"), h.make_node("Neg", ["a"], ["c"], name="neg"),
             h.make_node("Abs", ["a"], ["y"], name="abs")]
    report, _, out, rc = _fix(tmp_path, _model(nodes, [_vi("x", ["n"])], [_vi("y", ["n"])]))
    assert rc == 1 and not out.exists() and [d["code"] for d in report["diagnostics"]] == ["OB102"]
    assert report["diagnostics"][0]["fix"] is None
    assert "no automatic fix exists for what remains (OB102)" in report["repair"]["not_written"]


# -- a tensor defined twice -----------------------------------------------------------------------------

def test_names_defined_twice_are_split_in_node_order(tmp_path):
    """'scale' is an initializer and then a node's result; 't' is written by two nodes. Each consumer reads
    the definition just before it."""
    nodes = [h.make_node("Mul", ["x", "scale"], ["scale"], name="rescale"),   # reads the initializer
             h.make_node("Add", ["scale", "x"], ["y"], name="shift"),          # reads the Mul's result
             h.make_node("Relu", ["x"], ["t"], name="relu"),
             h.make_node("Mul", ["t", "x"], ["u"], name="gate"),               # reads Relu's t
             h.make_node("Neg", ["x"], ["t"], name="neg"),
             h.make_node("Sub", ["t", "u"], ["z"], name="diff")]               # reads Neg's t
    model = _model(nodes, [_vi("x", ["batch", 4])], [_vi("y", ["batch", 4]), _vi("z", ["batch", 4])], [_w("scale", 4)])
    report, _, out, rc = _fix(tmp_path, model)
    before = [d for d in report["repair"]["before"] if d["code"] == "OB103"]
    assert len(before) == 2 and all(d["fix"] for d in before), before
    assert rc == 0 and report["diagnostics"] == [], report["diagnostics"]
    fixed = _written(report, out)
    x = RNG.standard_normal((2, 4)).astype(np.float32)
    got = _ort(fixed, {"x": x})
    np.testing.assert_allclose(got["y"], x * _array(model, "scale") + x, atol=1e-5)
    np.testing.assert_allclose(got["z"], -x - np.maximum(x, 0) * x, atol=1e-5)


def test_a_name_read_before_any_definition_is_left_alone(tmp_path):
    nodes = [h.make_node("Add", ["t", "x"], ["y"], name="early"),
             h.make_node("Relu", ["x"], ["t"], name="relu"), h.make_node("Neg", ["x"], ["t"], name="neg")]
    report, _, out, rc = _fix(tmp_path, _model(nodes, [_vi("x", ["n"])], [_vi("y", ["n"])]))
    assert rc == 1 and not out.exists()
    (twice,) = [d for d in report["diagnostics"] if d["code"] == "OB103"]
    assert twice["fix"] is None and "before any node defines it" in twice["suggestion"]


# -- graph outputs nothing produces ---------------------------------------------------------------------

def test_an_output_the_exporter_renamed_is_reconnected(tmp_path):
    nodes = [h.make_node("Gemm", ["x", "w1"], ["hidden"], name="fc1", transB=1),
             h.make_node("Sigmoid", ["hidden"], ["probs"], name="gate"),
             h.make_node("Gemm", ["hidden", "w2"], ["logits_0"], name="fc2", transB=1)]
    model = _model(nodes, [_vi("x", ["batch", 4])], [_vi("logits", ["batch", 3]), _vi("probs", ["batch", 8])],
                   [_w("w1", 8, 4), _w("w2", 3, 8)])
    report, _, out, rc = _fix(tmp_path, model)
    (fix,) = [f for f in report["repair"]["fixes"] if f["applied"]]
    assert fix["id"] == "reconnect-outputs" and "renamed 'logits_0' to 'logits'" in fix["description"]
    assert rc == 0 and report["diagnostics"] == []
    fixed = _written(report, out)
    assert [o.name for o in fixed.graph.output] == ["logits", "probs"]
    x = RNG.standard_normal((2, 4)).astype(np.float32)
    hidden = x @ _array(model, "w1").T
    got = _ort(fixed, {"x": x})
    np.testing.assert_allclose(got["logits"], hidden @ _array(model, "w2").T, atol=1e-5)
    np.testing.assert_allclose(got["probs"], 1 / (1 + np.exp(-hidden)), atol=1e-5)


def test_an_output_with_two_candidate_tensors_is_removed_not_guessed(tmp_path):
    nodes = [h.make_node("MatMul", ["x", "w"], ["y"], name="project"),
             h.make_node("Relu", ["x"], ["r1"], name="relu"), h.make_node("Tanh", ["x"], ["r2"], name="tanh")]
    model = _model(nodes, [_vi("x", ["batch", 4])], [_vi("y", ["batch", 3]), _vi("act", ["batch", 4])], [_w("w", 4, 3)])
    report, _, out, rc = _fix(tmp_path, model)
    (dangling,) = [d for d in report["repair"]["before"] if d["code"] == "OB106"]
    assert "2 unread tensors have its type and shape ('r1', 'r2')" in dangling["message"]
    assert rc == 0 and report["diagnostics"] == []
    fixed = _written(report, out)
    assert [o.name for o in fixed.graph.output] == ["y"] and [n.name for n in fixed.graph.node] == ["project"]
    x = RNG.standard_normal((2, 4)).astype(np.float32)
    np.testing.assert_allclose(_ort(fixed, {"x": x})["y"], x @ _array(model, "w"), atol=1e-5)


# -- writing only what is better ------------------------------------------------------------------------

def test_nothing_is_written_when_nothing_improves(tmp_path):
    clean = _model([h.make_node("Relu", ["x"], ["y"], name="relu")], [_vi("x", ["n"])], [_vi("y", ["n"])])
    src, out = tmp_path / "clean.onnx", tmp_path / "out.onnx"
    onnx.save(clean, src)
    result = run_cli("check", src, "--fix", "-o", out)
    assert result.returncode == 0 and not out.exists(), result.stdout + result.stderr
    assert f"nothing written to {out}: there is nothing to fix" in result.stdout.replace("\n", "")
    # a model with an error no fix can touch: an existing output file and the input stay as they were
    bad = _model([h.make_node("Gemm", ["x", "w"], ["y"], name="fc", transB=1)], [_vi("x", ["n", 2])], [_vi("y", ["n", 2])],
                 [nh.from_array(np.array([[np.nan, 1], [0, 1]], np.float32), "w")])
    onnx.save(bad, src)
    out.write_bytes(b"keep me")
    before = src.read_bytes()
    result = run_cli("check", src, "--fix", "-o", out)
    assert result.returncode == 1 and "OB401" in result.stdout and "Traceback" not in result.stderr
    assert out.read_bytes() == b"keep me"
    result = run_cli("check", src, "--fix", "--in-place")
    assert result.returncode == 1 and src.read_bytes() == before
    assert "nothing written to" in result.stdout and "no automatic fix exists" in result.stdout.replace("\n", " ")


# -- ops nothing here implements ------------------------------------------------------------------------

def test_an_op_of_an_unknown_domain_is_an_error_with_the_right_advice(tmp_path):
    nodes = [h.make_node("FancyRelu", ["x"], ["y"], name="fancy", domain="com.acme")]
    model = _model(nodes, [_vi("x", ["n"])], [_vi("y", ["n"])], domains=[h.make_opsetid("com.acme", 1)])
    src = tmp_path / "custom.onnx"
    onnx.save(model, src)
    result = run_cli("check", src, "--target", "cpu", "--format", "json")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    found = {d["code"]: d for d in json.loads(result.stdout)["diagnostics"]}
    assert set(found) == {"OB115", "OB303"}
    assert "com.acme" in found["OB115"]["message"] and "custom-op library" in found["OB115"]["suggestion"]
    assert "cast" not in found["OB303"]["suggestion"] and "no kernel for com.acme::FancyRelu at all" in \
        found["OB303"]["suggestion"]


@pytest.mark.parametrize("domain", ["com.microsoft"])
def test_onnxruntime_s_own_domains_are_not_unknown(tmp_path, domain):
    from onnxbridge.checks import check

    nodes = [h.make_node("Gelu", ["x"], ["y"], name="gelu", domain=domain)]
    model = _model(nodes, [_vi("x", ["n"])], [_vi("y", ["n"])], domains=[h.make_opsetid(domain, 1)])
    assert "OB115" not in check(model).codes()
