"""Spec edits: making a block from layers and putting a block's layers back compute the same network."""

from __future__ import annotations

import copy

import pytest
import yaml
from onnx import numpy_helper

from onnxbridge.errors import SpecError
from onnxbridge.spec import build, build_with_report
from onnxbridge.spec.edit import extract_block, inline_block, move_weights, weight_moves
from onnxbridge.testing import check_onnx_parity
from tests.conftest import MODELS


def _load(name: str) -> dict:
    return yaml.safe_load((MODELS / name).read_text())


def assert_same_network(before: dict, after: dict) -> None:
    """Both specs, built with the same weights (moved along with their layers), give the same outputs."""
    model = build(before, seed=1)
    weights = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    built = build_with_report(after, weights=move_weights(weights, weight_moves(before, after)))
    assert built.weights.initialised == [], built.weights.initialised  # every weight found its new name
    report = check_onnx_parity(model, built.model, atol=1e-6, rtol=1e-6)
    assert report.ok, report.summary()
    assert [o.name for o in model.graph.output] == [o.name for o in built.model.graph.output]


def test_extract_a_chain_into_a_block():
    before = _load("digits_cnn.yaml")
    original = copy.deepcopy(before)
    after = extract_block(before, ["conv2", "relu2", "pool"], "Features")
    assert before == original  # pure: the input is not changed
    block = after["blocks"]["Features"]
    assert block["inputs"] == ["x"] and [lay["id"] for lay in block["layers"]] == ["conv2", "relu2", "pool"]
    assert "outputs" not in block  # the last layer, the default
    ids = [lay["id"] for lay in after["layers"]]
    assert ids == ["conv1", "bn1", "relu1", "features", "flatten", "fc1", "relu3", "dropout", "fc2"]
    assert after["layers"][3] == {"id": "features", "type": "Features"}  # wired by the sequential rule
    assert weight_moves(before, after)["conv2."] == "features.conv2."
    assert_same_network(before, after)


def test_inline_gives_the_layers_back():
    before = _load("digits_cnn.yaml")
    extracted = extract_block(before, ["conv2", "relu2", "pool"], "Features")
    back = inline_block(extracted, "features")
    assert back.pop("blocks") == {"Features": extracted["blocks"]["Features"]}  # the definition stays
    assert back == before
    assert_same_network(extracted, inline_block(extracted, "features"))


def test_selection_with_several_outputs_and_inputs():
    spec = {"name": "branches", "inputs": [{"name": "x", "shape": ["batch", 8]}, {"name": "y", "shape": ["batch", 8]}],
            "layers": [{"id": "a", "type": "Linear", "out_features": 8},
                       {"id": "b", "type": "ReLU"},
                       {"id": "c", "type": "Linear", "input": "y", "out_features": 8},
                       {"id": "s", "type": "Add", "input": ["b", "c"]},
                       {"id": "t", "type": "Tanh", "input": "a"},
                       {"id": "out", "type": "Multiply", "input": ["s", "t"]}],
            "outputs": ["out", {"name": "hidden", "from": "b"}]}
    after = extract_block(spec, ["b", "c", "s"], "Mix")
    block = after["blocks"]["Mix"]
    assert block["inputs"] == ["a", "y"]  # what crosses in, in the order it is used
    assert block["outputs"] == ["s", "b"]  # what leaves: to a layer, and to a graph output
    mix = next(lay for lay in after["layers"] if lay["type"] == "Mix")
    assert mix["input"] == ["a", "y"]
    assert {"name": "hidden", "from": "mix:1"} in after["outputs"]
    assert_same_network(spec, after)
    assert_same_network(after, inline_block(after, mix["id"]))


def test_block_instances_and_builtin_blocks_inline():
    resnet = _load("resnet_mini.yaml")
    inlined = inline_block(resnet, "block2")
    assert [lay["id"] for lay in inlined["layers"]][2:9] == ["conv1", "bn1", "relu1", "conv2", "bn2", "add", "relu2"]
    assert inlined["layers"][2]["out_channels"] == 16  # $channels took the instance's value
    assert_same_network(resnet, inlined)
    again = inline_block(inlined, "block3")  # ids now taken: prefixed with the instance's
    assert "block3_conv1" in [lay["id"] for lay in again["layers"]]
    assert_same_network(inlined, again)
    tiny = _load("transformer_tiny.yaml")
    assert_same_network(tiny, inline_block(tiny, "enc1"))  # a built-in block, built for its input shape


def test_extracting_blocks_of_blocks():
    resnet = _load("resnet_mini.yaml")
    after = extract_block(resnet, ["block1", "block2"], "Stage")
    assert after["blocks"]["Stage"]["layers"][0]["type"] == "BasicBlock"
    assert weight_moves(resnet, after) == {"block1.": "stage.block1.", "block2.": "stage.block2."}
    assert_same_network(resnet, after)


def test_devices_stay_with_the_layers():
    spec = _load("digits_cnn.yaml")
    for lay in spec["layers"][3:6]:
        lay["device"] = "cuda:1"
    after = extract_block(spec, ["conv2", "relu2", "pool"], "Features")
    assert next(lay for lay in after["layers"] if lay["id"] == "features")["device"] == "cuda:1"
    back = inline_block(after, "features")
    assert [lay.get("device") for lay in back["layers"][3:6]] == ["cuda:1"] * 3


@pytest.mark.parametrize("layers, name, message", [
    (["conv1", "relu1"], "Bad", "not a closed sub-graph: layer 'bn1'"),
    (["nope"], "Bad", "no top-level layer 'nope'"),
    ([], "Bad", "at least one layer"),
    (["conv2"], "Conv2d", "already a layer type"),
    (["conv2"], "ResidualBlock", "already a layer type or block"),
    (["conv2"], "not valid", "must be an identifier"),
])
def test_bad_selections_are_refused(layers, name, message):
    with pytest.raises(SpecError, match=message):
        extract_block(_load("digits_cnn.yaml"), layers, name)


def test_only_block_instances_inline():
    with pytest.raises(SpecError, match="not a block instance"):
        inline_block(_load("digits_cnn.yaml"), "conv1")
    with pytest.raises(SpecError, match="no top-level layer"):
        inline_block(_load("digits_cnn.yaml"), "missing")
