"""ONNX -> spec ("lift"): every model the suite builds lifts and rebuilds with the same outputs.

Covered: the example specs (back to their own document, and lifted from the graph alone), every one-node op
case of the framework tables, the broken-model corpus where it is valid ONNX, custom-domain ops, trained
weights carried through a saved spec, and a replaced classifier head that keeps the backbone's weights.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import onnxbridge
from onnxbridge.errors import ShapeError, SpecError
from onnxbridge.spec import build, build_with_report, load_spec, save_spec
from onnxbridge.spec.lift import LiftError, lift, lift_model
from onnxbridge.testing import check_onnx_parity, random_inputs, run_onnxruntime
from tests.conftest import MODELS
from tests.frameworks.op_cases import CASES, build_model, case_inputs, xfail_reason

SPECS = sorted(MODELS.glob("*.yaml"))
BROKEN = MODELS / "broken"
TIGHT = {"atol": 1e-5, "rtol": 1e-5}


def strip_metadata(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model without the spec it carries: lift must work from the graph alone."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    del copy.metadata_props[:]
    return copy


def all_layer_types(spec) -> set[str]:
    types = {layer.type for layer in spec.layers}
    for block in spec.blocks.values():
        types |= {layer.type for layer in block.layers}
    return types


# --------------------------------------------------------------------------------------------------
# specs built by this project
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_built_spec_lifts_back_to_its_own_document(path):
    model = build(path, seed=7)
    spec = lift(model)
    assert spec.to_dict() == load_spec(path).to_dict()
    # the weights are the model's (seed 7), not a fresh initialisation (seed 0)
    rebuilt = build(spec, seed=0)
    assert check_onnx_parity(model, rebuilt, **TIGHT).ok
    assert not check_onnx_parity(model, build(path, seed=0), **TIGHT).ok


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_built_spec_lifts_from_the_graph_alone(path):
    model = strip_metadata(build(path, seed=3))
    spec = lift(model)
    assert "Op" not in all_layer_types(spec), [lay.id for lay in spec.layers if lay.type == "Op"]
    report = check_onnx_parity(model, build(spec), **TIGHT)
    assert report.ok, report.summary()
    # lifted again, the graph alone gives the same document
    again = lift(strip_metadata(build(spec)))
    assert again.to_dict() == spec.to_dict()


def test_blocks_come_back_with_their_parameters():
    spec = lift(strip_metadata(build(MODELS / "resnet_mini.yaml")))
    block = spec.blocks["BasicBlock"]
    assert block.params == {"out_channels": None}
    assert [lay.type for lay in block.layers] == ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "Add", "ReLU"]
    assert block.layers[0].params["out_channels"] == "$out_channels"
    instances = {lay.id: lay.params for lay in spec.layers if lay.type == "BasicBlock"}
    assert instances == {"block1": {"out_channels": 16}, "block2": {"out_channels": 16},
                         "block3": {"out_channels": 32}}
    # the built-in ConvBNAct comes back as a block of its own (its body, not the built-in's parameters)
    assert {lay.type for lay in spec.layers} >= {"ConvBNActLifted"}


def test_layer_ids_and_wiring_come_back():
    spec = lift(strip_metadata(build(MODELS / "digits_cnn.yaml")))
    assert [lay.id for lay in spec.layers] == ["conv1", "bn1", "relu1", "conv2", "relu2", "pool", "flatten", "fc1",
                                                "relu3", "fc2"]  # Dropout is the identity at inference: dropped
    assert spec.layers[0].params == {"out_channels": 16, "kernel_size": 3, "padding": 1}
    assert all(lay.input is None for lay in spec.layers)  # a chain: the sequential rule gives every input
    assert spec.inputs[0].shape == ["batch", 1, 8, 8]
    assert [(o.name, o.from_) for o in spec.output_specs()] == [("logits", "fc2")]


@pytest.mark.parametrize("layers", [
    [{"id": "attn", "type": "MultiHeadAttention", "num_heads": 2, "causal": True}],
    [{"id": "attn", "type": "MultiHeadAttention", "input": ["q", "kv"], "num_heads": 4, "bias": False}],
    [{"id": "attn", "type": "MultiHeadAttention", "input": ["q", "kv", "v"], "num_heads": 1}],
], ids=["self-causal", "cross-no-bias", "query-key-value"])
def test_attention_comes_back_as_one_layer(layers):
    spec = {"name": "attention", "inputs": [{"name": "q", "shape": ["batch", 6, 8]}, {"name": "kv", "shape": ["batch", 5, 8]},
                                            {"name": "v", "shape": ["batch", 5, 8]}], "layers": layers}
    model = strip_metadata(build(spec, seed=2))
    lifted = lift(model)
    assert [lay.model_dump(exclude_none=True) for lay in lifted.layers] == layers
    assert check_onnx_parity(model, build(lifted), **TIGHT).ok


def test_lifted_specs_match_the_json_schema():
    jsonschema = pytest.importorskip("jsonschema")
    from onnxbridge.spec.jsonschema import spec_json_schema

    schema = spec_json_schema()
    for model in (strip_metadata(build(MODELS / "resnet_mini.yaml")), onnx.load(BROKEN / "converter_unsupported.onnx"),
                  build_model(next(c for c in CASES if c.op == "Loop"))):
        jsonschema.validate(lift(model).to_dict(), schema)


def test_lift_from_a_path_and_the_package_root(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(build(MODELS / "mlp.yaml"), path)
    assert onnxbridge.lift(path, name="tabular").name == "tabular"
    with pytest.raises(onnxbridge.OnnxBridgeError, match="no such file"):
        onnxbridge.lift(tmp_path / "missing.onnx")


# --------------------------------------------------------------------------------------------------
# the one-node op cases the framework bridges are tested on
# --------------------------------------------------------------------------------------------------
def _op_cases():
    for case in CASES:
        reason = xfail_reason(case, "*")
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        yield pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", list(_op_cases()))
def test_op_case_lifts_and_rebuilds(case):
    try:
        model = build_model(case)
    except onnx.checker.ValidationError as exc:
        pytest.xfail(f"the case itself does not check with this onnx: {str(exc).splitlines()[0]}")
    if any(i.type.tensor_type.elem_type == onnx.TensorProto.STRING for i in model.graph.input):
        # a spec declares numeric inputs only: a model that takes strings is refused, naming the input
        with pytest.raises(LiftError, match=r"input '\w+' has element type STRING, which a spec cannot declare"):
            lift(model)
        return
    spec = lift(model)
    rebuilt = build(spec)
    report = check_onnx_parity(model, rebuilt, inputs=case_inputs(case), **TIGHT)
    assert report.ok, report.summary()


# --------------------------------------------------------------------------------------------------
# the broken-model corpus
# --------------------------------------------------------------------------------------------------
NOT_LIFTABLE = {"cycle.onnx": "cycle", "dead_cycle.onnx": "cycle", "undefined_input.onnx": "never computed",
                "dangling_output.onnx": "never computed", "renamed_output.onnx": "never computed"}
# models that lift, whose broken nodes the spec then refuses by ONNX's own rules for the operator
SPEC_REFUSES = {"checker_errors.onnx": r"layer cast \(Op\) .*Value of attribute to not specified",
                "shape_errors.onnx": r"layer project \(Op\) .*Incompatible dimensions for matrix multiplication"}


def _runs(model: onnx.ModelProto) -> bool:
    try:
        ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return True
    except Exception:  # noqa: BLE001 - the corpus holds models onnxruntime refuses on purpose
        return False


def _checks(model: onnx.ModelProto) -> bool:
    try:
        onnx.checker.check_model(model)
        return True
    except onnx.checker.ValidationError:
        return False


@pytest.mark.parametrize("name", sorted(p.name for p in BROKEN.glob("*.onnx")))
def test_broken_corpus_lifts_where_it_is_valid(name):
    model = onnx.load(BROKEN / name)
    if name in NOT_LIFTABLE:
        with pytest.raises(LiftError, match=NOT_LIFTABLE[name]):
            lift(model)
        return
    spec = lift(model)
    if name in SPEC_REFUSES:
        with pytest.raises(ShapeError, match=SPEC_REFUSES[name]):
            build(spec)
        return
    rebuilt = build(spec)
    if _checks(model):
        onnx.checker.check_model(rebuilt)
    if _runs(model) and _checks(model):
        report = check_onnx_parity(model, rebuilt, **TIGHT)
        assert report.ok, report.summary()
    elif _runs(model):  # onnxruntime runs it though ONNX refuses it: check_onnx_parity would not hand it over
        feeds = random_inputs(rebuilt, seed=0)
        expected = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
        for want, got in zip(expected, run_onnxruntime(rebuilt, feeds)):
            np.testing.assert_allclose(got, want, rtol=TIGHT["rtol"], atol=TIGHT["atol"])


def test_invalid_models_name_the_problem():
    with pytest.raises(LiftError, match=r"node 'add' is part of a cycle"):
        lift(BROKEN / "cycle.onnx")
    with pytest.raises(LiftError, match=r"cycle.onnx"):
        lift(BROKEN / "cycle.onnx")


# --------------------------------------------------------------------------------------------------
# unknown operators
# --------------------------------------------------------------------------------------------------
def test_custom_domain_ops_become_op_layers_that_lower_to_the_same_node():
    w = numpy_helper.from_array(np.arange(40, dtype=np.float32).reshape(5, 8), "w")  # big enough to be a weight
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="act"),
             helper.make_node("FancyNorm", ["r", "w"], ["y", "stats"], name="fancy", domain="com.example",
                              alpha=0.5, mode="fast", sizes=[1, 2]),
             helper.make_node("Tanh", ["y"], ["out"], name="squash")]
    graph = helper.make_graph(nodes, "custom", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["n", 4]),
                               helper.make_tensor_value_info("stats", TensorProto.FLOAT, [3])], initializer=[w])
    graph.node[1].attribute.append(helper.make_attribute("empty", [], attr_type=onnx.AttributeProto.FLOATS))
    graph.value_info.append(helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4]))  # what the exporter knew
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("com.example", 3)])
    lifted = lift_model(model)
    spec = lifted.spec
    fancy = next(lay for lay in spec.layers if lay.type == "Op")
    assert fancy.params["op_type"] == "FancyNorm" and fancy.params["domain"] == "com.example"
    assert fancy.params["opset"] == 3 and fancy.params["outputs"] == 2
    assert any("FancyNorm" in n for n in lifted.notes)
    assert [lay.type for lay in spec.layers] == ["ReLU", "Op", "Tanh"]
    rebuilt = build(spec)
    again = next(n for n in rebuilt.graph.node if n.op_type == "FancyNorm")
    assert again.domain == "com.example" and again.name == fancy.id
    assert {a.name: helper.get_attribute_value(a) for a in again.attribute} == \
        {a.name: helper.get_attribute_value(a) for a in graph.node[1].attribute}
    assert [a.type for a in again.attribute] == [a.type for a in graph.node[1].attribute]
    assert "stats" in [o.name for o in rebuilt.graph.output]
    assert {(o.domain, o.version) for o in rebuilt.opset_import} >= {("com.example", 3)}
    # the weight went to the spec's weights, unchanged; output shapes came from the model
    w_name = next(i for i in again.input if i.endswith(".w") or i.endswith(".c1"))
    rebuilt_w = next(i for i in rebuilt.graph.initializer if i.name == w_name)
    assert np.array_equal(numpy_helper.to_array(rebuilt_w), numpy_helper.to_array(w))
    out_shapes = {o.name: [d.dim_value or d.dim_param for d in o.type.tensor_type.shape.dim] for o in rebuilt.graph.output}
    assert out_shapes == {"out": ["n", 4], "stats": [3]}


# --------------------------------------------------------------------------------------------------
# weights: saved beside the spec, used where they fit
# --------------------------------------------------------------------------------------------------
def test_saved_spec_carries_the_weights(tmp_path):
    model = strip_metadata(build(MODELS / "digits_cnn.yaml", seed=5))
    spec = lift(model)
    files = save_spec(spec, tmp_path / "net.yaml")
    assert [f.name for f in files] == ["net.safetensors", "net.yaml"]
    text = (tmp_path / "net.yaml").read_text()
    assert "weights: net.safetensors" in text and "type: Conv2d" in text
    loaded = load_spec(tmp_path / "net.yaml")
    built = build_with_report(loaded)
    assert built.weights.loaded and not built.weights.initialised and not built.weights.unused
    assert "from net.safetensors" in built.notes[0]
    assert check_onnx_parity(model, built.model, **TIGHT).ok


def test_bad_weights_files_are_clear_errors(tmp_path):
    spec = lift(build(MODELS / "mlp.yaml"))
    save_spec(spec, tmp_path / "net.yaml")
    (tmp_path / "net.safetensors").write_bytes(b"\x80\x04not safetensors")  # a pickle header, not run
    with pytest.raises(SpecError, match="not a readable safetensors file"):
        build(tmp_path / "net.yaml")
    (tmp_path / "net.safetensors").unlink()
    with pytest.raises(SpecError, match="weights file does not exist"):
        build(tmp_path / "net.yaml")
    data = spec.to_dict()
    for bad in ("../outside.safetensors", "/abs/w.safetensors", "w.pt"):
        data["weights"] = bad
        (tmp_path / "bad.json").write_text(json.dumps(data))
        with pytest.raises(SpecError, match="weights"):
            load_spec(tmp_path / "bad.json")


def test_replaced_head_keeps_the_backbone_weights():
    """Lift a trained model, give it a 5-class head, rebuild: the backbone computes exactly what it did,
    the new head is initialised (seeded) and the report says so."""
    original = strip_metadata(build(MODELS / "digits_cnn.yaml", seed=11))
    spec = lift(original)
    head = spec.layers[-1]
    assert (head.id, head.type, head.params) == ("fc2", "Linear", {"out_features": 10})
    head.out_features = 5
    built = build_with_report(spec, seed=4)
    assert sorted(n for n, _ in built.weights.initialised) == ["fc2.bias", "fc2.weight"]
    assert "stored shape [10, 64], the layer needs [5, 64]" in dict(built.weights.initialised)["fc2.weight"]
    # conv1, bn1 (4), conv2, fc1: weight and bias each where they have one
    assert len(built.weights.loaded) == 10 and {"conv1.weight", "bn1.running_var", "fc1.bias"} <= set(built.weights.loaded)
    # the backbone: the features that reach the head are the same numbers in both models
    feats = "relu3"
    orig_feats = _with_output(original, feats)
    new_feats = _with_output(built.model, feats)
    feeds = random_inputs(original, batch=3, seed=2)
    a = ort.InferenceSession(orig_feats.SerializeToString()).run([feats], feeds)[0]
    b = ort.InferenceSession(new_feats.SerializeToString()).run([feats], feeds)[0]
    np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)
    # the head is new: 5 classes, the seeded initialisation of a fresh build
    logits = ort.InferenceSession(built.model.SerializeToString()).run(None, feeds)[0]
    assert logits.shape == (3, 5)
    fresh = {i.name: numpy_helper.to_array(i) for i in build(spec, seed=4, weights={}).graph.initializer}
    mine = {i.name: numpy_helper.to_array(i) for i in built.model.graph.initializer}
    assert np.array_equal(mine["fc2.weight"], fresh["fc2.weight"])
    assert not np.array_equal(mine["conv1.weight"], fresh["conv1.weight"])


def _with_output(model: onnx.ModelProto, value: str) -> onnx.ModelProto:
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    copy.graph.output.append(helper.make_empty_tensor_value_info(value))
    return copy
