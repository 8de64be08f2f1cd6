"""The planner's per-layer memo: a plan (and a live analysis) made with it equals one made without, after
any sequence of edits; an edit re-plans only the layers it changed and those downstream whose inputs did."""

from __future__ import annotations

import copy
import random

import numpy as np
import pytest
import yaml

from onnxbridge.errors import SpecError
from onnxbridge.spec import spec_from_dict
from onnxbridge.spec.analysis import analyse_spec
from onnxbridge.spec.plan import plan_spec_partial
from onnxbridge.spec.plan_memo import MISSING, PlanMemo, params_key
from tests.conftest import MODELS

EXAMPLES = sorted(p.name for p in MODELS.glob("*.yaml"))


def residual_cnn(n_layers: int) -> dict:
    """(Conv2d -> BatchNorm2d -> ReLU -> Add skip) repeated, then pooling, Flatten and Linear (the studio
    benchmark's network, smaller)."""
    layers: list[dict] = [{"id": "stem", "type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1}]
    skip, i = "stem", 0
    while len(layers) < n_layers - 3:
        layers += [{"id": f"conv{i}", "type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": "same"},
                   {"id": f"bn{i}", "type": "BatchNorm2d"}, {"id": f"act{i}", "type": "ReLU"},
                   {"id": f"add{i}", "type": "Add", "inputs": [f"act{i}", skip]}]
        skip, i = f"add{i}", i + 1
    layers += [{"id": "pool", "type": "GlobalAvgPool", "input": layers[-1]["id"]}, {"id": "flat", "type": "Flatten"},
               {"id": "fc", "type": "Linear", "out_features": 10}]
    return {"name": "residual", "inputs": [{"name": "image", "shape": ["batch", 3, 16, 16]}], "layers": layers,
            "outputs": [{"name": "logits", "from": "fc"}]}


def conv_chain(n: int) -> dict:
    """``n`` 3x3 convolutions of distinct widths in a row, so each layer's input types are its own."""
    layers = [{"id": f"c{i}", "type": "Conv2d", "out_channels": 4 + i, "kernel_size": 3, "padding": 1}
              for i in range(n)]
    return {"name": "chain", "inputs": [{"name": "x", "shape": ["batch", 3, 12, 12]}], "layers": layers}


#: parameter values an edit may set, valid and not (too large, zero, negative, wrong type, a tuple, a float)
VALUES = {"kernel_size": [1, 3, 5, 7, 40, 0, "x", (3, 3), [3, 5], 3.0, True],
          "out_channels": [4, 8, 16, -1, "wide", 8.0], "out_features": [4, 10, 0, "ten"],
          "channels": [8, 16, 32, None], "padding": [0, 1, "same", "valid", 9, "bad"],
          "stride": [1, 2, 3, 0], "hidden_size": [8, 16, 0], "num_heads": [1, 2, 3]}


def layer_lists(doc: dict) -> list[list[dict]]:
    """The top-level layer list and each user block's, where an edit may land."""
    return [doc["layers"], *(b["layers"] for b in doc.get("blocks", {}).values() if b.get("layers"))]


def random_edit(doc: dict, original: dict, rng: random.Random) -> None:
    """One edit of the kinds a user makes in the studio, some of them breaking the spec."""
    layers = rng.choice(layer_lists(doc))
    if not layers:
        return
    at = rng.randrange(len(layers))
    layer = layers[at]
    kind = rng.choice(["param", "param", "param", "new-param", "type", "input", "insert", "delete", "undo",
                       "opset", "input-shape", "block-param"])
    if kind == "param":
        names = [k for k in layer if k in VALUES] or [rng.choice(list(VALUES))]
        name = rng.choice(names)
        layer[name] = copy.deepcopy(rng.choice(VALUES[name]))
    elif kind == "new-param":
        layer[rng.choice(["bogus", "kernel", "dilation"])] = rng.choice([1, 2, "x"])
    elif kind == "type":
        layer["type"] = rng.choice(["Conv2dd", "ReLU", "Linear", "Flatten", "BatchNorm2d", "Add", "GELU"])
    elif kind == "input":
        others = [x["id"] for x in layers if x is not layer]
        layer["input"] = rng.choice(["nope", layer["id"], *(others or ["nope"])])
        layer.pop("inputs", None)
    elif kind == "insert":
        new = rng.choice([{"type": "Linear", "out_features": 6}, {"type": "Flatten"}, {"type": "ReLU"},
                          {"type": "MaxPool2d", "kernel_size": 2}])
        layers.insert(at + 1, {"id": f"new{rng.randrange(10**6)}", **new})
    elif kind == "delete" and len(layers) > 1:
        del layers[at]
    elif kind == "undo":
        doc.clear()
        doc.update(copy.deepcopy(original))
    elif kind == "opset":
        doc["opset"] = rng.choice([13, 17, 18, 20])
    elif kind == "input-shape":
        shape = doc["inputs"][0]["shape"]
        if len(shape) == 4:
            doc["inputs"][0]["shape"] = [shape[0], shape[1], rng.choice([4, 8, 16, 32]), shape[3]]
        else:
            doc["inputs"][0]["dtype"] = rng.choice(["float32", "int64", "float16"])
    elif kind == "block-param" and doc.get("blocks"):
        block = rng.choice(list(doc["blocks"].values()))
        if block.get("params"):
            name = rng.choice(list(block["params"]))
            block["params"][name] = rng.choice([None, 8, 16])


def assert_same_plan(doc: dict, memo: PlanMemo) -> None:
    """The analysis and the plan of ``doc`` with ``memo`` equal those without, field by field."""
    fresh, cached = analyse_spec(copy.deepcopy(doc)).to_dict(), analyse_spec(copy.deepcopy(doc), memo=memo).to_dict()
    fresh.pop("elapsed_ms")
    cached.pop("elapsed_ms")
    assert cached == fresh
    try:
        spec = spec_from_dict(copy.deepcopy(doc))
    except SpecError:
        return  # the document does not validate: nothing is planned (the analyses above agree on why)
    without = plan_spec_partial(spec)
    with_memo = plan_spec_partial(spec, memo=memo)
    assert with_memo == without  # dataclass equality: every node, its params, weights, input and output types


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("name", EXAMPLES)
def test_random_edits_of_the_example_specs_analyse_as_without_a_memo(name, seed):
    original = yaml.safe_load((MODELS / name).read_text())
    rng = random.Random(f"{name}-{seed}")
    memo = PlanMemo(max_entries=rng.choice([3, 64, 8192]))  # a tiny bound evicts all the time
    doc = copy.deepcopy(original)
    assert_same_plan(doc, memo)
    for _ in range(12):
        random_edit(doc, original, rng)
        assert_same_plan(doc, memo)


@pytest.mark.parametrize("seed", range(3))
def test_random_edits_of_a_residual_network_analyse_as_without_a_memo(seed):
    original = residual_cnn(60)
    rng = random.Random(seed)
    memo = PlanMemo()
    doc = copy.deepcopy(original)
    assert_same_plan(doc, memo)
    for _ in range(25):
        random_edit(doc, original, rng)
        assert_same_plan(doc, memo)


def test_errors_and_not_inferred_downstream_match_a_full_plan():
    memo = PlanMemo()
    doc = residual_cnn(20)
    assert_same_plan(doc, memo)
    doc["layers"][0]["kernel_size"] = 40  # larger than the padded 16x16 input: an error, the rest not inferred
    assert_same_plan(doc, memo)
    rows = {r["id"]: r["status"] for r in analyse_spec(doc, memo=memo).to_dict()["summary"]["layers"]}
    assert rows["stem"] == "error" and rows["conv0"] == rows["fc"] == "not inferred"
    doc["layers"][0]["kernel_size"] = 3  # and back: the downstream layers come from the memo again
    assert_same_plan(doc, memo)
    assert analyse_spec(doc, memo=memo).ok


def test_an_edit_replans_only_the_layer_and_what_its_changed_outputs_reach():
    memo = PlanMemo()
    doc = conv_chain(10)
    analyse_spec(doc, memo=memo)
    assert memo.misses == 20 and memo.hits == 0  # each layer: its parameters, then its shapes

    before = memo.misses
    analyse_spec(doc, memo=memo)  # nothing changed: nothing planned
    assert memo.misses == before

    doc["layers"][5]["kernel_size"] = 5  # same width, smaller output: c5 and every layer after it
    before = memo.misses
    analyse_spec(doc, memo=memo)
    assert memo.misses - before == 1 + 5  # c5's parameters, then c5..c9's shapes

    doc["layers"][9]["out_channels"] = 99  # the last layer: only it
    before = memo.misses
    analyse_spec(doc, memo=memo)
    assert memo.misses - before == 2


def test_the_memo_keeps_at_most_its_bound_dropping_the_least_recently_used():
    memo = PlanMemo(max_entries=2)
    memo.put("a", 1)
    memo.put("b", 2)
    assert memo.get("a") == 1  # a is now the most recently used
    memo.put("c", 3)
    assert len(memo) == 2 and memo.get("b") is MISSING and memo.get("a") == 1 and memo.get("c") == 3
    memo.clear()
    assert len(memo) == 0 and memo.hits == memo.misses == 0
    with pytest.raises(ValueError, match="at least 1"):
        PlanMemo(max_entries=0)


def test_params_keys_tell_apart_what_the_planner_treats_differently():
    keys = [params_key(p) for p in ({"k": 1}, {"k": 1.0}, {"k": True}, {"k": "1"}, {"k": [3, 3]}, {"k": (3, 3)},
                                    {"a": 1, "b": 2}, {"b": 2, "a": 1}, {"k": None}, {})]
    assert None not in keys and len(set(keys)) == len(keys)
    assert params_key({"k": [1, {"x": 2}]}) == params_key({"k": [1, {"x": 2}]})
    # not plain data (a numpy array's repr elides): not keyed, planned afresh
    assert params_key({"k": np.zeros(2000)}) is None
    assert params_key({"k": [object()]}) is None


def test_shapes_planned_for_one_opset_are_not_reused_for_another():
    memo = PlanMemo()
    doc = conv_chain(4)
    analyse_spec({**doc, "opset": 17}, memo=memo)
    before = memo.misses
    analyse_spec({**doc, "opset": 18}, memo=memo)
    assert memo.misses - before == 4  # the parameters are looked up, every layer's shapes planned again
