"""Opening models (imported, lifted, weights written beside) and making blocks, over HTTP."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnxbridge.ir import load_model
from onnxbridge.spec.weights import load_weights
from onnxbridge.testing import check_onnx_parity, check_parity, random_inputs
from tests.studio.conftest import digits_spec


def small_cnn_onnx(path):
    """A hand-made ONNX CNN (no spec behind it): Conv -> Relu -> Flatten -> Gemm, random weights."""
    rng = np.random.default_rng(7)
    inits = [numpy_helper.from_array(rng.standard_normal((4, 1, 3, 3)).astype(np.float32), "w_conv"),
             numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "b_conv"),
             numpy_helper.from_array(rng.standard_normal((3, 4 * 6 * 6)).astype(np.float32), "w_fc"),
             numpy_helper.from_array(rng.standard_normal(3).astype(np.float32), "b_fc")]
    nodes = [helper.make_node("Conv", ["image", "w_conv", "b_conv"], ["c"], name="conv", kernel_shape=[3, 3]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Flatten", ["r"], ["f"], name="flat", axis=1),
             helper.make_node("Gemm", ["f", "w_fc", "b_fc"], ["logits"], name="fc", transB=1)]
    graph = helper.make_graph(nodes, "small_cnn",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 1, 8, 8])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return model


def test_open_an_onnx_model(studio):
    original = small_cnn_onnx(studio.workspace / "small_cnn.onnx")
    r = studio.post("/api/open", json={"path": "small_cnn.onnx"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kind"] == "onnx" and body["source"] == "small_cnn.onnx"
    assert body["path"] == "small_cnn.yaml" and body["version"] is None
    assert body["weights"] == "small_cnn.safetensors" and body["spec"]["weights"] == "small_cnn.safetensors"
    assert body["ok"] is True and any("parity ok" in n for n in body["notes"])
    types = [layer["type"] for layer in body["spec"]["layers"]]
    assert types == ["Conv2d", "ReLU", "Flatten", "Linear"]
    assert (studio.workspace / "small_cnn.safetensors").is_file()
    assert not (studio.workspace / "small_cnn.yaml").exists()  # the user saves the spec
    # the spec analyses cleanly, and built again (weights from the file) it computes what the model did
    assert studio.post("/api/analyze", json={"spec": body["spec"]}).json()["ok"]
    saved = studio.post("/api/save", json={"path": body["path"], "spec": body["spec"], "version": None})
    assert saved.status_code == 200
    export = studio.post("/api/export", json={"spec": body["spec"], "path": body["path"], "target": "onnx",
                                              "name": "again"}).json()
    assert any("from small_cnn.safetensors" in n for n in export["notes"]), export["notes"]
    rebuilt = load_model(studio.workspace / "exports" / "again.onnx")
    report = check_onnx_parity(original, rebuilt, inputs=random_inputs(original, seed=2, batch=2))
    assert report.ok, report.summary()
    # a second open does not overwrite the first one's files
    again = studio.post("/api/open", json={"path": "small_cnn.onnx"}).json()
    assert again["path"] == "small_cnn-2.yaml" and again["weights"] == "small_cnn-2.safetensors"


def test_open_a_broken_model_is_a_400(studio):
    (studio.workspace / "broken.onnx").write_bytes(b"\x08\x07garbage")
    r = studio.post("/api/open", json={"path": "broken.onnx"})
    assert r.status_code == 400 and "broken.onnx" in r.json()["error"]


@pytest.mark.torch
def test_open_a_pt2_model(studio):
    torch = pytest.importorskip("torch")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
            self.fc = torch.nn.Linear(4 * 8 * 8, 5)

        def forward(self, x):
            return self.fc(torch.flatten(torch.relu(self.conv(x)), 1))

    torch.manual_seed(0)
    net = Net().eval()
    example = torch.randn(2, 1, 8, 8)
    torch.export.save(torch.export.export(net, (example,)), str(studio.workspace / "net.pt2"))
    r = studio.post("/api/open", json={"path": "net.pt2"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kind"] == "torch" and body["ok"] and body["spec"]["weights"] == "net.safetensors"
    assert {"Conv2d", "Linear"} <= {layer["type"] for layer in body["spec"]["layers"]}
    # the spec, exported to torch from the studio, computes what the original module did
    export = studio.post("/api/export", json={"spec": body["spec"], "path": body["path"], "target": "onnx",
                                              "name": "net"}).json()
    rebuilt = load_model(studio.workspace / export["files"][0])
    feeds = random_inputs(rebuilt, seed=4, batch=2)
    report = check_parity(rebuilt, lambda x: net(torch.from_numpy(x)), inputs=feeds)
    assert report.ok, report.summary()


def test_extract_a_block_use_it_twice_and_inline(studio):
    spec = digits_spec()
    r = studio.post("/api/blocks/extract", json={"spec": spec, "layers": ["conv1", "bn1", "relu1"], "name": "Stem"})
    assert r.status_code == 200, r.text
    blocked = r.json()["spec"]
    assert [layer["id"] for layer in blocked["blocks"]["Stem"]["layers"]] == ["conv1", "bn1", "relu1"]
    instance = next(layer for layer in blocked["layers"] if layer["type"] == "Stem")
    analysis = studio.post("/api/analyze", json={"spec": blocked}).json()
    assert analysis["ok"] and analysis["summary"]["total_params"] == \
        studio.post("/api/analyze", json={"spec": spec}).json()["summary"]["total_params"]
    # the block used a second time, right after the first instance
    twice = dict(blocked, layers=list(blocked["layers"]))
    at = twice["layers"].index(instance)
    twice["layers"].insert(at + 1, {"id": "stem_again", "type": "Stem"})
    analysis2 = studio.post("/api/analyze", json={"spec": twice}).json()
    assert analysis2["ok"], analysis2["diagnostics"]
    rows = {row["id"]: row for row in analysis2["summary"]["layers"]}
    assert rows["stem_again"]["output_shapes"] == [["batch", 16, 8, 8]]
    assert "stem_again/conv1" in rows and rows["stem_again"]["params"] == 16 * 16 * 9 + 16 + 2 * 16
    back = studio.post("/api/blocks/inline", json={"spec": blocked, "layer": instance["id"]}).json()["spec"]
    assert [layer["type"] for layer in back["layers"]] == [layer["type"] for layer in spec["layers"]]
    r = studio.post("/api/blocks/extract", json={"spec": spec, "layers": ["nope"], "name": "X"})
    assert r.status_code == 400 and "nope" in r.json()["error"]


def test_extract_keeps_the_weights_of_an_opened_model(studio):
    small_cnn_onnx(studio.workspace / "small_cnn.onnx")
    opened = studio.post("/api/open", json={"path": "small_cnn.onnx"}).json()
    ids = [layer["id"] for layer in opened["spec"]["layers"]]
    before = set(load_weights(studio.workspace / "small_cnn.safetensors"))
    r = studio.post("/api/blocks/extract", json={"spec": opened["spec"], "path": opened["path"],
                                                 "layers": ids[:2], "name": "Features"})
    assert r.status_code == 200, r.text
    body = r.json()
    after = set(load_weights(studio.workspace / "small_cnn.safetensors"))
    assert before < after and body["notes"] and "added" in body["notes"][0]
    instance = next(layer["id"] for layer in body["spec"]["layers"] if layer["type"] == "Features")
    assert any(name.startswith(f"{instance}.") for name in after - before)
    # both the edited spec and the original (an undo) build with every weight from the file
    for spec in (body["spec"], opened["spec"]):
        export = studio.post("/api/export", json={"spec": spec, "path": opened["path"], "target": "onnx",
                                                  "name": "check"}).json()
        [weights_note] = [n for n in export["notes"] if n.startswith("weights:")]
        assert weights_note.startswith("weights: 4 from small_cnn.safetensors") and "initialised" not in weights_note
