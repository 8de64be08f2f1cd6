"""The spec: example models, the Python API, blocks as ONNX functions, seeds, error reporting."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import yaml

from onnxbridge.errors import ShapeError, SpecError
from onnxbridge.spec import Network, build, infer_shapes, load_spec
from onnxbridge.spec.builder import BLOCKS_DOMAIN
from onnxbridge.testing import random_inputs, run_onnxruntime
from tests.conftest import MODELS

SPECS = sorted(MODELS.glob("*.yaml"))


def test_example_specs_exist():
    names = {p.stem for p in SPECS}
    assert {"digits_cnn", "mlp", "lstm_text", "gru_tagger", "resnet_mini", "transformer_tiny"} <= names


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_every_spec_builds_checks_and_runs(path):
    model = build(path)
    onnx.checker.check_model(model, full_check=True)
    report = infer_shapes(path)
    outputs = run_onnxruntime(model, random_inputs(model, batch=3))
    for (name, info), value in zip(report.outputs.items(), outputs, strict=True):
        concrete = [3 if d == "batch" else 5 if d == "seq" else d for d in info.shape]
        assert list(value.shape) == concrete, name
        assert np.all(np.isfinite(value))


def test_user_block_is_an_onnx_function():
    model = build(MODELS / "resnet_mini.yaml")
    functions = {f.name: f for f in model.functions}
    assert "BasicBlock" in functions
    calls = [n for n in model.graph.node if n.op_type == "BasicBlock"]
    assert [n.name for n in calls] == ["block1", "block2", "block3"]
    assert all(n.domain == BLOCKS_DOMAIN for n in calls)
    # each instance passes its own weights to the shared function body
    assert "block1.conv1.weight" in calls[0].input and "block2.conv1.weight" in calls[1].input
    # block3 has 32 channels: same structure, so the same function serves it with different weights
    assert calls[2].op_type == "BasicBlock"


def test_python_api_builds_the_same_model_as_yaml():
    net = Network("digits_cnn", inputs={"image": ["batch", 1, 8, 8]},
                  description="Small CNN classifying 8x8 digit images into 10 classes.")
    net.add("Conv2d", id="conv1", out_channels=16, kernel_size=3, padding="same")
    net.add("BatchNorm2d", id="bn1")
    net.add("ReLU", id="relu1")
    net.add("Conv2d", id="conv2", out_channels=32, kernel_size=3, padding="same")
    net.add("ReLU", id="relu2")
    net.add("MaxPool2d", id="pool", kernel_size=2)
    net.add("Flatten", id="flatten")
    net.add("Linear", id="fc1", out_features=64)
    net.add("ReLU", id="relu3")
    net.add("Dropout", id="dropout", p=0.25)
    net.add("Linear", id="fc2", out_features=10)
    net.output("logits", "fc2")
    assert net.spec == load_spec(MODELS / "digits_cnn.yaml")
    a, b = net.build(seed=3), build(MODELS / "digits_cnn.yaml", seed=3)
    assert a.graph.SerializeToString() == b.graph.SerializeToString()


def test_seed_is_deterministic_and_matters():
    def weights(seed):
        return {i.name: onnx.numpy_helper.to_array(i) for i in build(MODELS / "mlp.yaml", seed=seed).graph.initializer}

    a, b, c = weights(0), weights(0), weights(1)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert any(not np.array_equal(a[k], c[k]) for k in a if a[k].size > 1)


def _spec(layers, blocks=None, shape=("batch", 3, 8, 8), dtype="float32"):
    data = {"name": "t", "inputs": [{"name": "x", "shape": list(shape), "dtype": dtype}], "layers": layers}
    if blocks:
        data["blocks"] = blocks
    return data


def test_nested_blocks_and_params():
    blocks = {
        "Inner": {"params": {"c": None}, "layers": [
            {"id": "conv", "type": "Conv2d", "out_channels": "$c", "kernel_size": 1},
            {"id": "act", "type": "ReLU"}]},
        "Outer": {"params": {"c": 4}, "layers": [
            {"id": "a", "type": "Inner", "c": "$c"},
            {"id": "b", "type": "Inner", "c": "$c"}]},
    }
    spec = _spec([{"id": "o1", "type": "Outer"}, {"id": "o2", "type": "Outer", "c": 6}], blocks)
    model = build(spec)
    onnx.checker.check_model(model, full_check=True)
    names = sorted(f.name for f in model.functions)
    # channel counts live in the weights passed in, so c=4 and c=6 share one body per block
    assert names == ["Inner", "Outer"]
    out = run_onnxruntime(model, random_inputs(model))[0]
    assert out.shape == (2, 6, 8, 8)
    rows = {r.path: r for r in infer_shapes(spec).rows}
    assert rows["o2/b/conv"].params == 6 * 6 + 6


@pytest.mark.parametrize("layers,blocks,fragment", [
    ([{"id": "a", "type": "Conv2D", "out_channels": 4, "kernel_size": 3}], None, "did you mean 'Conv2d'"),
    ([{"id": "a", "type": "Conv2d", "out_channels": 4, "kernel_size": 3, "strides": 2}], None,
     "unknown parameter 'strides'; did you mean 'stride'"),
    ([{"id": "a", "type": "Conv2d", "out_channels": -4, "kernel_size": 3}], None,
     "parameter 'out_channels': got -4"),
    ([{"id": "a", "type": "Conv2d", "out_channels": 4, "kernel_size": "big"}], None,
     "parameter 'kernel_size': got 'big', expected an integer or a list of integers"),
    ([{"id": "a", "type": "Conv2d", "kernel_size": 3}], None, "missing required parameter 'out_channels'"),
    ([{"id": "a", "type": "ReLU", "input": "nowhere"}], None, "input 'nowhere' does not name a layer or input"),
    ([{"id": "a", "type": "ReLU", "input": "b"}, {"id": "b", "type": "ReLU", "input": "a"}], None, "cycle"),
    ([{"id": "a", "type": "ReLU"}, {"id": "a", "type": "ReLU"}], None, "used twice"),
    ([{"id": "a", "type": "Add"}], None, "takes at least 2 input(s), got 1"),
    ([{"id": "a", "type": "B", "k": 1}], {"B": {"params": {"c": None}, "layers": [{"id": "r", "type": "ReLU"}]}},
     "unknown parameter 'k' for block B"),
    ([{"id": "a", "type": "B"}], {"B": {"params": {"c": None}, "layers": [{"id": "r", "type": "ReLU"}]}},
     "missing required parameter 'c' of block B"),
    ([{"id": "a", "type": "B"}], {"B": {"params": {}, "layers": [
        {"id": "r", "type": "Conv2d", "out_channels": "$ch", "kernel_size": 1}]}}, "refers to '$ch'"),
    ([{"id": "a", "type": "B"}], {"B": {"layers": [{"id": "r", "type": "B"}]}}, "uses itself"),
])
def test_structural_errors_name_the_layer(layers, blocks, fragment):
    with pytest.raises(SpecError) as err:
        build(_spec(layers, blocks))
    assert fragment in str(err.value)
    assert "\n" not in err.value.message


def test_shape_errors_are_all_reported_once():
    spec = _spec([
        {"id": "conv", "type": "Conv2d", "out_channels": 4, "kernel_size": 3},
        {"id": "fc", "type": "Linear", "out_features": 10},          # error 1: needs Flatten
        {"id": "after_fc", "type": "ReLU"},                           # downstream of error 1: not reported
        {"id": "big", "type": "Conv2d", "input": "x", "out_channels": 4, "kernel_size": 11},  # error 2
        {"id": "pool", "type": "MaxPool2d", "input": "conv", "kernel_size": 8},              # error 3
        {"id": "ok", "type": "ReLU", "input": "conv"},
        {"id": "proj", "type": "Conv2d", "input": "x", "out_channels": 8, "kernel_size": 3},
        {"id": "add", "type": "Add", "input": ["ok", "proj"]},                              # error 4
    ])
    report = infer_shapes(spec)
    assert len(report.errors) == 4, report.errors
    assert report.errors[0] == ("layer fc (Linear) got [batch, 4, 6, 6] but needs [batch, features] "
                                "(or [batch, seq, features]): insert a Flatten before it")
    assert "larger than the input" in report.errors[1]
    assert "shrinks spatial dim 0 (6) to zero" in report.errors[2]
    assert "project the shortcut with a 1x1 Conv" in report.errors[3]
    status = {r.id: r.status for r in report.rows}
    assert status["after_fc"] == "not inferred" and status["ok"] == "ok"
    with pytest.raises(ShapeError) as err:
        build(spec)
    assert len(err.value.problems) == 4


def test_dtype_errors():
    report = infer_shapes(_spec([{"id": "emb", "type": "Embedding", "num_embeddings": 5, "embedding_dim": 2}],
                                shape=("batch", 4)))
    assert "needs integer token ids" in report.errors[0] and "dtype: int64" in report.errors[0]
    report = infer_shapes(_spec([{"id": "rnn", "type": "LSTM", "hidden_size": 4}]))
    assert "needs [batch, seq, features]" in report.errors[0]


def test_outputs_can_be_renamed_and_multiple():
    spec = _spec([{"id": "a", "type": "ReLU"}, {"id": "b", "type": "Sigmoid", "input": "x"}])
    spec["outputs"] = [{"name": "first", "from": "a"}, "b", {"name": "raw", "from": "x"}]
    model = build(spec)
    onnx.checker.check_model(model, full_check=True)
    assert [o.name for o in model.graph.output] == ["first", "b", "raw"]
    feeds = random_inputs(model)
    first, second, raw = run_onnxruntime(model, feeds)
    np.testing.assert_array_equal(raw, feeds["x"])
    np.testing.assert_allclose(first, np.maximum(feeds["x"], 0))


def test_device_placement_is_recorded_per_node():
    import json

    spec = _spec([{"id": "a", "type": "Conv2d", "out_channels": 4, "kernel_size": 1, "device": "cuda:1"},
                  {"id": "g", "type": "GELU", "device": "cpu"},
                  {"id": "b", "type": "ConvBNAct", "out_channels": 4, "device": "cuda"},
                  {"id": "c", "type": "ReLU"}])
    model = build(spec)
    props = {p.key: p.value for p in model.metadata_props}
    devices = json.loads(props["onnxbridge.devices"])
    assert devices["a"] == "cuda:1" and devices["b"] == "cuda" and "c" not in devices
    assert {n for n, d in devices.items() if d == "cpu"} == {n.name for n in model.graph.node if n.name.startswith("g/")}


def test_bad_device_is_rejected():
    with pytest.raises(SpecError, match="device"):
        build(_spec([{"id": "a", "type": "ReLU", "device": "gpu0"}]))


@pytest.mark.parametrize("params", [{}, {"normalized_dims": 2, "eps": 1e-3}, {"elementwise_affine": False}])
@pytest.mark.parametrize("opset", [13, 16])
def test_layer_norm_before_opset_17_is_written_out_with_the_same_outputs(params, opset):
    """There is no LayerNormalization before opset 17: the layer is written out and computes the same."""
    spec = {"name": "n", "inputs": [{"name": "x", "shape": ["batch", 3, 6]}],
            "layers": [{"id": "norm", "type": "LayerNorm", **params}]}
    old, new = build(spec, seed=1, opset=opset), build(spec, seed=1, opset=18)
    onnx.checker.check_model(old, full_check=True)
    assert "LayerNormalization" not in {n.op_type for n in old.graph.node}
    feeds = random_inputs(new, batch=2, seed=0)
    np.testing.assert_allclose(run_onnxruntime(old, feeds)[0], run_onnxruntime(new, feeds)[0], rtol=1e-5, atol=1e-5)


def test_spec_text_parses_to_what_the_safe_loader_gives():
    from onnxbridge.spec.io import parse_spec_text

    paths = sorted(MODELS.rglob("*.yaml"))
    assert len(paths) > 10
    for path in paths:
        text = path.read_text()
        try:
            expected = yaml.safe_load(text)
        except yaml.YAMLError:
            continue
        assert parse_spec_text(text, str(path)) == expected, path
    # values YAML resolves by its own rules come out the same (bools, floats, nulls, symbolic dims)
    text = "a: [yes, no, on, 1e3, 1.5e-3, .inf, ~, null, 0x10, 012, batch, '3']\n"
    assert parse_spec_text(text) == yaml.safe_load(text)
    # a malformed text is reported in the pure-Python parser's words, with its line and column
    with pytest.raises(SpecError) as info:
        parse_spec_text("inputs: [{name: x, shape: [1, 2]\nlayers: []\n", "net.yaml")
    assert info.value.message == "net.yaml:2:1: malformed YAML: expected ',' or '}', but got '<scalar>'"  # libyaml: "did not find expected ..."
