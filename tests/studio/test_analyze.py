"""Live analysis over HTTP: shapes, parameter counts, diagnostics with fixes; applying a fix."""

from __future__ import annotations

import copy

from onnxbridge.spec import infer_shapes
from onnxbridge.spec.analysis import analyse_spec, apply_fix
from tests.studio.conftest import conv_then_linear, digits_spec


def test_catalogue(studio):
    r = studio.get("/api/catalogue")
    assert r.status_code == 200
    body = r.json()
    types = {e["type"]: e for e in body["layers"]}
    assert {"Conv2d", "Linear", "LSTM", "Flatten", "Add"} <= set(types)
    assert "Layer_Conv2d" in body["schema"]["$defs"]
    assert body["devices"][0] == "cpu"
    assert body["version"]


def test_catalogue_describes_the_layers_inside_each_built_in_block(studio):
    from onnxbridge.spec.blocks import all_blocks

    blocks = {e["type"]: e for e in studio.get("/api/catalogue").json()["layers"] if e["kind"] == "block"}
    assert set(blocks) == set(all_blocks()) and blocks
    for name, entry in blocks.items():
        definition = entry["definition"]
        assert definition["layers"], name
        # the definition is exactly what an instance with those parameters expands to: as a user block, on
        # the same input, it has the built-in's shapes and parameter count
        inputs = [{"name": f"in{i}", "shape": shape} for i, shape in enumerate(definition["input_shapes"])]
        body = {k: definition[k] for k in ("inputs", "layers", "outputs") if k in definition}
        builtin = {"name": "b", "inputs": inputs, "layers": [{"id": "blk", "type": name, **definition["params"]}]}
        as_user = {**builtin, "blocks": {"Copy": body}, "layers": [{"id": "blk", "type": "Copy"}]}
        expected, got = infer_shapes(builtin), infer_shapes(as_user)
        assert got.outputs == expected.outputs and got.total_params == expected.total_params, name
        inner = [row.path for row in expected.rows if row.path.startswith("blk/")]
        assert inner == [f"blk/{layer['id']}" for layer in definition["layers"]], name


def test_analyze_a_valid_spec(studio):
    spec = digits_spec()
    r = studio.post("/api/analyze", json={"spec": spec})
    assert r.status_code == 200
    body = r.json()
    expected = infer_shapes(spec)
    assert body["ok"] is True and body["diagnostics"] == [] and body["structure"] == []
    assert body["summary"]["total_params"] == expected.total_params > 0
    rows = {row["id"]: row for row in body["summary"]["layers"]}
    assert rows["conv1"]["output_shapes"] == [["batch", 16, 8, 8]]
    assert rows["pool"]["output_shapes"] == [["batch", 32, 4, 4]]
    assert rows["flatten"]["output_shapes"] == [["batch", 512]]
    assert rows["fc2"]["params"] == 64 * 10 + 10
    assert body["summary"]["outputs"]["logits"]["shape"] == ["batch", 10]
    assert body["elapsed_ms"] >= 0


def test_each_edit_is_planned_with_the_servers_memo_and_answers_as_a_full_analysis(studio):
    memo = studio.server.state.plan_memo
    spec = digits_spec()
    studio.post("/api/analyze", json={"spec": spec})
    planned = memo.misses
    for edit in ({"kernel_size": 5}, {"kernel_size": 40}, {"out_channels": 7}, {"kernel_size": 3, "out_channels": 16}):
        spec["layers"][3].update(edit)  # conv2: the layers before it are looked up, not planned again
        body = studio.post("/api/analyze", json={"spec": spec}).json()
        expected = analyse_spec(copy.deepcopy(spec)).to_dict()
        body.pop("elapsed_ms")
        expected.pop("elapsed_ms")
        assert body == expected
    assert memo.hits > 0 and memo.misses > planned
    assert memo.misses - planned < 4 * len(spec["layers"])  # nothing like a full plan per edit


def test_analyze_linear_after_conv_reports_the_fix(studio):
    body = studio.post("/api/analyze", json={"spec": conv_then_linear()}).json()
    assert body["ok"] is False
    [diag] = [d for d in body["diagnostics"] if d["code"] == "OB501"]
    assert diag["level"] == "error" and diag["layers"] == ["fc1"]
    assert diag["suggestion"] and "Flatten" in diag["fix"]["description"]
    rows = {row["id"]: row for row in body["summary"]["layers"]}
    assert rows["fc1"]["status"] == "error"
    assert rows["relu3"]["status"] == "not inferred" and rows["fc2"]["status"] == "not inferred"
    assert rows["pool"]["status"] == "ok" and rows["pool"]["output_shapes"] == [["batch", 32, 4, 4]]


def test_structural_problems_keep_the_other_shapes(studio):
    spec = digits_spec()
    del spec["layers"][7]["out_features"]  # fc1 misses a required parameter
    spec["layers"][3]["type"] = "Conv2dd"  # conv2: unknown type
    body = studio.post("/api/analyze", json={"spec": spec}).json()
    assert body["ok"] is False
    messages = " | ".join(p["message"] for p in body["structure"])
    assert "Conv2dd" in messages and "out_features" in messages
    assert {layer for p in body["structure"] for layer in p["layers"]} == {"conv2", "fc1"}
    assert {d["code"] for d in body["diagnostics"]} == {"OB500"}
    rows = {row["id"]: row for row in body["summary"]["layers"]}
    assert rows["conv1"]["status"] == "ok" and rows["relu1"]["output_shapes"] == [["batch", 16, 8, 8]]
    assert rows["conv2"]["status"] == "error" and rows["fc1"]["status"] == "error"
    assert rows["relu2"]["status"] == "not inferred"


def test_a_document_that_does_not_validate(studio):
    body = studio.post("/api/analyze", json={"spec": {"inputs": [], "layers": [{"id": "1x"}]}}).json()
    assert body["ok"] is False and body["summary"] is None
    assert body["diagnostics"] and all(d["code"] == "OB500" for d in body["diagnostics"])


def test_fix_inserts_the_flatten(studio):
    broken = conv_then_linear()
    r = studio.post("/api/fix", json={"spec": broken, "code": "OB501", "layers": ["fc1"]})
    assert r.status_code == 200, r.text
    body = r.json()
    ids = [layer["id"] for layer in body["spec"]["layers"]]
    assert ids.index("fc1_flatten") == ids.index("fc1") - 1
    assert body["spec"]["layers"][ids.index("fc1_flatten")]["type"] == "Flatten"
    assert [f["applied"] for f in body["applied"]] == [True] and body["applied"][0]["codes"] == ["OB501"]
    assert body["analysis"]["ok"] is True
    assert all(row["status"] == "ok" for row in body["analysis"]["summary"]["layers"])
    assert infer_shapes(body["spec"]).ok  # the fixed spec plans with no errors
    assert broken == conv_then_linear()  # the request's spec is not changed in place


def test_fix_that_is_not_offered_is_400(studio):
    r = studio.post("/api/fix", json={"spec": digits_spec(), "code": "OB501", "layers": ["fc1"]})
    assert r.status_code == 400 and "no fixable OB501" in r.json()["error"]
    r = studio.post("/api/fix", json={"spec": conv_then_linear(), "code": "OB501", "layers": ["conv1"]})
    assert r.status_code == 400


def test_unused_layer_fix():
    spec = digits_spec()
    spec["layers"].insert(3, {"id": "spare", "type": "ReLU", "input": "relu1"})
    spec["layers"][4]["input"] = "relu1"  # conv2 reads relu1, so nothing reads spare
    analysis = analyse_spec(spec)
    [diag] = [d for d in analysis.diagnostics if d.code == "OB520"]
    assert diag.layers == ("spare",) and analysis.ok  # a warning
    outcome = apply_fix(spec, "OB520", ["spare"])
    assert "spare" not in [layer["id"] for layer in outcome.spec["layers"]]
    assert outcome.analysis.diagnostics == []


def test_analysis_does_not_change_its_input():
    spec = conv_then_linear()
    before = copy.deepcopy(spec)
    analyse_spec(spec)
    apply_fix(spec, "OB501")
    assert spec == before


def test_connectivity_follows_whole_chains():
    from onnxbridge.spec.analysis import check_connectivity

    assert check_connectivity(digits_spec()).unconnected == []
    spec = digits_spec()
    # the last two layers feed nothing the output reads: the unused-layer rule sees only the last one
    spec["layers"] += [{"id": "extra1", "type": "ReLU", "input": "relu3"}, {"id": "extra2", "type": "ReLU"}]
    spec["outputs"] = ["fc2"]
    assert [d.layers for d in analyse_spec(spec).diagnostics if d.code == "OB520"] == [("extra2",)]
    found = check_connectivity(spec)
    assert found.unconnected == ["extra1", "extra2"]
    assert found.warning == "2 layers are not connected from an input to an output: 'extra1', 'extra2'"
    # without outputs the last layer is the output (as for the command line): then dropout and fc2 are loose
    del spec["outputs"]
    assert check_connectivity(spec).unconnected == ["dropout", "fc2"]
    # a document that does not validate has its problems reported by the analysis, not here
    assert check_connectivity({"inputs": [], "layers": [{"id": "x"}]}).unconnected == []


def test_answers_on_a_kept_alive_connection_are_not_held_back_by_nagles_algorithm(studio):
    import socket

    # asyncio turns TCP_NODELAY on for accepted sockets only when their protocol says TCP; without it each
    # answer's last piece waited for the client's delayed ACK on a reused connection
    listening = studio.server._socket
    assert listening.proto == socket.IPPROTO_TCP
    assert listening.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    with socket.create_connection(("127.0.0.1", studio.server.port)) as conn:
        request = (f"GET /api/initial HTTP/1.1\r\nHost: 127.0.0.1:{studio.server.port}\r\n"
                   f"Authorization: Bearer {studio.server.token}\r\n\r\n").encode()
        for _ in range(3):  # the same connection, kept alive
            conn.sendall(request)
            answer = b""
            while not answer.endswith(b"}"):
                answer += conn.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200") and b'"path":null' in answer
