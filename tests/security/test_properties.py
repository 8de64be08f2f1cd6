"""Property-based tests: random valid networks from the layer registry, and random mutations of valid
ONNX files and specs.

- Every drawn network builds, passes the ONNX checker and onnxbridge's full checker (every rule, every
  target), runs on onnxruntime, and converts to PyTorch and to TensorFlow with parity.
- Every mutated model or spec, fed to the command line, ends in success, a finding (exit 1) or one clear
  error (exit 2): never a traceback, a crash or a hang, and never a half-written output.

The examples are deterministic (the ``ci`` profile in conftest.py); ``HYPOTHESIS_PROFILE=thorough``
fuzzes for longer.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import numpy as np
import onnx
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from onnxbridge.spec import build, infer_shapes
from tests.conftest import MODELS
from tests.security.cli_worker import CliWorker
from tests.security.strategies import mutated_models, mutated_specs, networks

BASE_SPECS = ["mlp", "digits_cnn", "lstm_text", "resnet_mini", "gru_tagger", "transformer_tiny"]


@functools.cache
def _spec_data(name: str) -> dict:
    return yaml.safe_load((MODELS / f"{name}.yaml").read_text())


@functools.cache
def _model_bytes(name: str) -> bytes:
    return build(MODELS / f"{name}.yaml").SerializeToString()


@pytest.fixture(scope="module")
def cli():
    with CliWorker() as worker:
        yield worker


# -- random valid networks ---------------------------------------------------------------------------------
def _concrete(shape: list, batch: int = 2) -> list[int]:
    return [batch if d == "batch" else 5 if isinstance(d, str) else d for d in shape]


@settings(max_examples=2 * settings.default.max_examples)  # cheap: twice the profile's
@given(networks())
def test_random_networks_build_and_pass_every_check(spec):
    from onnxbridge.checks import check
    from onnxbridge.testing import random_inputs, run_onnxruntime

    report = infer_shapes(spec)
    assert report.ok, report.errors
    model = build(spec, seed=0)
    onnx.checker.check_model(model, full_check=True)
    for source in (spec, model):
        result = check(source, targets=["torch", "tensorflow", "cpu"], options={"strict_rules": True})
        assert not result.errors, [(d.code, d.message) for d in result.errors]
        assert not any("could not run" in n for n in result.notes), result.notes
    # the shape rules must give exactly what onnxruntime computes, on concrete inputs
    concrete = {**spec, "inputs": [{**i, "shape": _concrete(i["shape"])} for i in spec["inputs"]]}
    expected = infer_shapes(concrete).outputs[spec["layers"][-1]["id"]]
    cmodel = build(concrete, seed=0)
    outputs = run_onnxruntime(cmodel, random_inputs(cmodel, seed=1))
    assert list(outputs[0].shape) == list(expected.shape)
    assert np.all(np.isfinite(outputs[0]))


def _converts(spec: dict, target: str) -> None:
    from onnxbridge.conversion import convert_with_report

    model = build(spec, seed=0)
    result = convert_with_report(model, target)
    assert result.checks, "nothing was verified"
    for hop, parity in result.checks:
        assert parity.ok, f"{hop}: {parity.summary()}\nspec: {json.dumps(spec)}"


@pytest.mark.slow
@pytest.mark.torch
@given(networks())
def test_random_networks_convert_to_torch_with_parity(spec):
    pytest.importorskip("torch")
    _converts(spec, "torch")


@pytest.mark.slow
@pytest.mark.tensorflow
@given(networks())
def test_random_networks_convert_to_tensorflow_with_parity(spec):
    pytest.importorskip("tensorflow")
    _converts(spec, "tensorflow")


@pytest.mark.tensorflow
@pytest.mark.parametrize("layer", [{"scale_factor": 3}, {"scale_factor": 2, "mode": "linear"}], ids=["nearest", "linear"])
def test_upsample_1d_converts_to_tensorflow(layer):
    pytest.importorskip("tensorflow")
    _converts({"name": "drawn", "inputs": [{"name": "x", "shape": ["batch", 2, 5], "dtype": "float32"}],
               "layers": [{"id": "l0", "type": "Upsample", **layer}]}, "tensorflow")


def test_reshape_that_no_symbolic_dim_satisfies_is_refused():
    """[batch, seq, 3] to [4, 4, 4]: no value of seq gives 64 elements (3 does not divide 64)."""
    spec = {"name": "drawn", "inputs": [{"name": "x", "shape": ["batch", "seq", 3], "dtype": "float32"}],
            "layers": [{"id": "l0", "type": "Reshape", "shape": [4, 4, 4]}]}
    report = infer_shapes(spec)
    assert not report.ok, "accepted"
    assert report.errors == ["layer l0 (Reshape) got [batch, seq, 3] but needs 64 elements per sample for shape "
                             "[4, 4, 4]; a sample has seq * 3, a multiple of 3, never 64: use a shape whose product "
                             "is a multiple of 3"]
    spec["layers"][0]["shape"] = [4, 4, 3]  # satisfiable: seq = 16
    assert infer_shapes(spec).ok


def test_op_layer_whose_operands_do_not_broadcast_is_refused():
    spec = {"name": "drawn", "inputs": [{"name": "x", "shape": ["batch", 2], "dtype": "float32"}],
            "layers": [{"id": "l0", "type": "Op", "op_type": "Mul", "operands": [0, "scale"],
                        "constants": {"scale": {"dtype": "float32", "shape": [6]}}}]}
    report = infer_shapes(spec)
    assert not report.ok, "accepted"
    assert len(report.errors) == 1 and report.errors[0].startswith(
        "layer l0 (Op) got [batch, 2] but needs operands that Mul accepts (input 0 [batch, 2], scale [6]); "
        "ONNX says: "), report.errors
    spec["layers"][0]["constants"]["scale"]["shape"] = [2]
    assert infer_shapes(spec).ok


@pytest.mark.tensorflow
@pytest.mark.parametrize("pool", [
    {"type": "AvgPool1d", "kernel_size": 3, "stride": 2, "ceil_mode": True},
    {"type": "AvgPool1d", "kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {"type": "AvgPool1d", "kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
], ids=["unpadded", "padded", "padding-not-counted"])
def test_avgpool_ceil_mode_converts_to_tensorflow(pool):
    pytest.importorskip("tensorflow")
    _converts({"name": "drawn", "inputs": [{"name": "x", "shape": ["batch", "seq", 4], "dtype": "float32"}],
               "layers": [{"id": "l0", **pool}]}, "tensorflow")


# -- mutated ONNX files ------------------------------------------------------------------------------------
def _assert_clean(result, output: Path | None = None) -> None:
    assert result.clean, result.describe()
    if output is not None and result.code != 0:
        assert not output.exists(), f"{result.args}: failed (exit {result.code}) but wrote {output}"
    if output is not None:
        leftovers = [p.name for p in output.parent.iterdir() if p.name.endswith(".tmp")]
        assert not leftovers, leftovers


@settings(max_examples=2 * settings.default.max_examples)  # cheap: twice the profile's
@given(st.sampled_from(BASE_SPECS).flatmap(lambda name: mutated_models(_model_bytes(name))))
def test_mutated_onnx_models_end_cleanly(cli, tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("mutant")
    model, out = folder / "mutant.onnx", folder / "out.onnx"
    model.write_bytes(data)
    for args in (["summary", model], ["check", model], ["run", model], ["convert", model, "--to", "onnx", "-o", out],
                 ["diff", model, model]):
        _assert_clean(cli.run(args), out if "-o" in args else None)


@pytest.mark.slow
@given(st.sampled_from(["mlp", "digits_cnn", "lstm_text", "resnet_mini", "gru_tagger", "transformer_tiny"])
       .flatmap(lambda name: mutated_models(_model_bytes(name))), st.sampled_from(["torch", "tensorflow"]))
def test_mutated_onnx_models_convert_cleanly(cli, tmp_path_factory, data, target):
    pytest.importorskip(target)
    folder = tmp_path_factory.mktemp("mutant")
    model, out = folder / "mutant.onnx", folder / "out"
    model.write_bytes(data)
    _assert_clean(cli.run(["convert", model, "--to", target, "-o", out], timeout=300))
    if not (out / "model.py").exists():
        assert not out.exists() or not any(out.iterdir())


# -- mutated specs -----------------------------------------------------------------------------------------
def _write_spec(folder: Path, data: object, as_json: bool) -> Path:
    path = folder / ("mutant.json" if as_json else "mutant.yaml")
    if as_json:
        path.write_text(json.dumps(data, allow_nan=True), encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@settings(max_examples=2 * settings.default.max_examples)  # cheap: twice the profile's
@given(st.sampled_from(BASE_SPECS).flatmap(lambda name: mutated_specs(_spec_data(name))), st.booleans())
def test_mutated_specs_end_cleanly(cli, tmp_path_factory, data, as_json):
    folder = tmp_path_factory.mktemp("mutant")
    spec, out = _write_spec(folder, data, as_json), folder / "out.onnx"
    for args in (["summary", spec], ["build", spec, "-o", out], ["check", spec], ["run", spec]):
        _assert_clean(cli.run(args), out if "-o" in args else None)


@given(st.sampled_from(BASE_SPECS), st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(
    ["", "[", "]", "{", "}", ":", "-", "&a", "*a", "!!python/object:os.system", "\t", "\n  ", "'", "\"", "#",
     "1e999", "\x00", "\x1b[2J", "<<: *a", "? "])), min_size=1, max_size=4))
def test_spec_text_mutations_end_cleanly(cli, tmp_path_factory, name, edits):
    text = (MODELS / f"{name}.yaml").read_text()
    for at, insert in edits:
        at %= len(text)
        text = text[:at] + insert + text[at + (1 if insert == "" else 0):]
    folder = tmp_path_factory.mktemp("mutant")
    spec = folder / "mutant.yaml"
    spec.write_text(text, encoding="utf-8")
    for args in (["summary", spec], ["check", spec]):
        _assert_clean(cli.run(args))


# -- what the fuzzing found in the converters (onnxbridge/frameworks/), each with its exact input -------------
# All but one of these models fail onnx.checker; the converters used to take them and crash part-way. Each
# must now end in one error naming the node or weight, in the API and on the command line.
def _mutant(name: str, edit) -> onnx.ModelProto:
    model = onnx.ModelProto()
    model.ParseFromString(_model_bytes(name))
    edit(model)
    return model


def _node(model: onnx.ModelProto, name: str) -> onnx.NodeProto:
    return next(n for n in list(model.graph.node) + [n for f in model.functions for n in f.node] if n.name == name)


def _init(model: onnx.ModelProto, name: str) -> onnx.TensorProto:
    return next(i for i in model.graph.initializer if i.name == name)


def _set_attr(node: onnx.NodeProto, name: str, value) -> None:
    attr = next(a for a in node.attribute if a.name == name)
    if attr.type == onnx.AttributeProto.INTS:
        del attr.ints[:]
        attr.ints.extend(value)
    else:
        attr.i = value


FOUND = {  # case: (base spec, edit, target, what the error names)
    "relu-with-two-inputs": (  # a one-input op given two: the layout code indexed the second input's shape
        "gru_tagger", lambda m: setattr(_node(m, "embed"), "op_type", "Relu"), "tensorflow", "'embed' (Relu)"),
    "flatten-axis-out-of-range": (  # passes onnx.checker (ONNX's inference truncates the axis to 32 bits)
        "transformer_tiny", lambda m: _set_attr(_node(m, "flatten"), "axis", 2**40), "tensorflow",
        "'flatten' (Flatten): axis 1099511627776 is out of range"),
    "flatten-axis-out-of-range-torch": (
        "transformer_tiny", lambda m: _set_attr(_node(m, "flatten"), "axis", 2**40), "torch",
        "'flatten' (Flatten): axis 1099511627776 is out of range"),
    "transpose-perm-out-of-range": (
        "lstm_text", lambda m: _set_attr(_node(m, "lstm/Transpose_6"), "perm", [1, 99, 2]), "tensorflow",
        "'lstm/Transpose_6' (Transpose): Invalid attribute perm"),
    "transpose-perm-out-of-range-torch": (  # torch used to name a node downstream of it
        "lstm_text", lambda m: _set_attr(_node(m, "lstm/Transpose_6"), "perm", [1, 99, 2]), "torch",
        "'lstm/Transpose_6' (Transpose): Invalid attribute perm"),
    "lstm-input-rewired": (  # LSTM weights for 96 input features, fed 32: ONNX's inference does not check W
        "lstm_text", lambda m: _node(m, "lstm/Reshape_2").input.__setitem__(0, "embed"), "tensorflow",
        "'lstm/LSTM_2' (LSTM): W has shape [2, 192, 96], but an input of 32 features and hidden_size 48 need "
        "[2, 192, 32]"),
    "gather-axis-changed": (  # the embedding gathers along its features: the LSTM's input size is symbolic
        "lstm_text", lambda m: _set_attr(_node(m, "embed"), "axis", -1), "tensorflow",
        "'lstm/LSTM' (LSTM): the input's feature size 'seq' is not fixed (W takes 32 features)"),
    "weight-dims-not-matching-data": (  # 16x16x3x3 bytes under declared dims 16x16x3x5
        "resnet_mini", lambda m: _init(m, "block2.conv2.weight").dims.__setitem__(3, 5), "torch",
        "weight 'block2.conv2.weight'"),
    "empty-weight-with-data": (  # 64 bytes under the declared shape [0]
        "resnet_mini", lambda m: (_init(m, "block1.bn1.weight").ClearField("dims"),
                                  _init(m, "block1.bn1.weight").dims.append(0)), "tensorflow",
        "weight 'block1.bn1.weight'"),
}


@pytest.mark.parametrize("case", sorted(FOUND))
def test_converters_on_models_the_fuzzer_found(case, cli, tmp_path):
    """Each ends in one OnnxBridgeError naming the node or weight; on the command line: exit 2, one line."""
    from onnxbridge.conversion import convert_with_report
    from onnxbridge.errors import OnnxBridgeError

    base, edit, target, named = FOUND[case]
    pytest.importorskip(target)
    model = _mutant(base, edit)
    with pytest.raises(OnnxBridgeError, match=re.escape(named)):
        convert_with_report(model, target)
    path, out = tmp_path / "mutant.onnx", tmp_path / "out"
    path.write_bytes(model.SerializeToString())
    result = cli.run(["convert", path, "--to", target, "-o", out], timeout=300)
    assert result.clean and result.code == 2, result.describe()
    assert named in " ".join(result.stderr.split()), result.stderr
    assert not out.exists() or not any(out.iterdir()), list(out.iterdir())
    for args in (["check", path, "--target", target], ["run", path]):
        _assert_clean(cli.run(args))
