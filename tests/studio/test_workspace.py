"""Files, versioned atomic saves, the autosave, downloads."""

from __future__ import annotations

import io
import time
import zipfile

import yaml

from onnxbridge.studio.workspace import version_of
from tests.studio.conftest import copy_model, digits_spec


def test_files_are_listed_with_their_kind(studio):
    ws = studio.workspace
    copy_model("digits_cnn.yaml", ws)
    (ws / "sub").mkdir()
    (ws / "sub" / "m.onnx").write_bytes(b"x")
    (ws / "net.pt2").write_bytes(b"x")
    (ws / "net.keras").write_bytes(b"x")
    (ws / "saved").mkdir()
    (ws / "saved" / "saved_model.pb").write_bytes(b"x")
    (ws / "saved" / "variables").mkdir()
    (ws / "notes.txt").write_text("hi")
    (ws / ".hidden").mkdir()
    (ws / ".hidden" / "x.yaml").write_text("a: 1")
    files = {f["path"]: f for f in studio.get("/api/files").json()["files"]}
    assert {p: f["kind"] for p, f in files.items()} == {
        "digits_cnn.yaml": "spec", "sub/m.onnx": "onnx", "net.pt2": "torch", "net.keras": "keras",
        "saved": "savedmodel", "notes.txt": "other"}
    assert files["digits_cnn.yaml"]["size"] == (ws / "digits_cnn.yaml").stat().st_size
    assert files["digits_cnn.yaml"]["mtime"] > 0


def test_open_a_spec_gives_its_version(studio):
    path = copy_model("digits_cnn.yaml", studio.workspace)
    r = studio.post("/api/open", json={"path": "digits_cnn.yaml"})
    assert r.status_code == 200
    body = r.json()
    assert body["spec"] == yaml.safe_load(path.read_text())
    assert body["version"] == version_of(path.read_bytes())
    assert body["kind"] == "spec" and body["path"] == "digits_cnn.yaml"
    assert studio.post("/api/open", json={"path": "nope.yaml"}).status_code == 404
    (studio.workspace / "notes.txt").write_text("hi")
    assert studio.post("/api/open", json={"path": "notes.txt"}).status_code == 400


def test_save_new_then_conflict_then_force(studio):
    spec = digits_spec()
    r = studio.post("/api/save", json={"path": "nets/net.yaml", "spec": spec, "version": None})
    assert r.status_code == 200, r.text
    v1 = r.json()["version"]
    target = studio.workspace / "nets" / "net.yaml"
    assert yaml.safe_load(target.read_text()) == spec and version_of(target.read_bytes()) == v1
    # saving again at the version it was opened at is fine
    spec["layers"][0]["out_channels"] = 8
    r = studio.post("/api/save", json={"path": "nets/net.yaml", "spec": spec, "version": v1})
    assert r.status_code == 200
    v2 = r.json()["version"]
    assert v2 != v1
    # someone edits the file on disk: saving at v2 is refused with the current version
    target.write_text(target.read_text() + "# edited elsewhere\n")
    on_disk = target.read_bytes()
    spec["layers"][0]["out_channels"] = 4
    r = studio.post("/api/save", json={"path": "nets/net.yaml", "spec": spec, "version": v2})
    assert r.status_code == 409
    assert r.json()["current_version"] == version_of(on_disk) and r.json()["hint"]
    assert target.read_bytes() == on_disk
    # a new file over an existing one is a conflict too
    assert studio.post("/api/save", json={"path": "nets/net.yaml", "spec": spec}).status_code == 409
    r = studio.post("/api/save", json={"path": "nets/net.yaml", "spec": spec, "version": v2, "force": True})
    assert r.status_code == 200
    assert yaml.safe_load(target.read_text())["layers"][0]["out_channels"] == 4
    assert not [p.name for p in target.parent.iterdir() if p.name.startswith(".")]  # no temporary left


def test_save_json_spec(studio):
    r = studio.post("/api/save", json={"path": "net.json", "spec": digits_spec()})
    assert r.status_code == 200
    assert (studio.workspace / "net.json").read_text().startswith("{")
    assert studio.post("/api/open", json={"path": "net.json"}).json()["spec"] == digits_spec()


def test_save_never_overwrites_a_file_that_is_not_a_spec(studio):
    other = studio.workspace / "package.json"
    other.write_text('{"name": "something else"}')
    current = version_of(other.read_bytes())
    for version, force in ((current, False), (current, True), (None, True)):
        r = studio.post("/api/save", json={"path": "package.json", "spec": digits_spec(), "version": version,
                                           "force": force})
        assert r.status_code == 400, r.text
        assert "not a spec" in r.json()["error"]
    assert other.read_text() == '{"name": "something else"}'
    for path in ("model.onnx", "net.py", "folder/"):
        assert studio.post("/api/save", json={"path": path, "spec": digits_spec()}).status_code in (400, 403)
    assert studio.post("/api/save", json={"path": "x.yaml", "spec": {"a": 1}}).status_code == 400


def test_session_round_trip_survives_a_restart(start_studio, tmp_path):
    one = start_studio()
    assert one.get("/api/session").json() == {"state": None}
    state = {"spec": digits_spec(), "path": "net.yaml", "version": None,
             "positions": {"conv1": {"x": 10.5, "y": -3}}, "undo": [{"kind": "add", "id": "fc2"}] * 50, "redo": []}
    r = one.put("/api/session", json={"state": state})
    assert r.status_code == 200
    stored = one.workspace / ".onnxbridge-studio" / "session.json"
    assert stored.is_file()
    assert one.get("/api/session").json() == {"state": state}
    one.close()
    two = start_studio(one.workspace)
    assert two.get("/api/session").json() == {"state": state}
    assert ".onnxbridge-studio/session.json" not in [f["path"] for f in two.get("/api/files").json()["files"]]


def test_download_a_file_and_a_folder(studio):
    copy_model("digits_cnn.yaml", studio.workspace)
    r = studio.get("/api/download", params={"path": "digits_cnn.yaml"})
    assert r.status_code == 200
    assert r.content == (studio.workspace / "digits_cnn.yaml").read_bytes()
    assert "attachment" in r.headers["content-disposition"]
    folder = studio.workspace / "pkg"
    (folder / "inner").mkdir(parents=True)
    (folder / "model.py").write_text("print('hi')\n")
    (folder / "inner" / "w.bin").write_bytes(b"\x00\x01")
    r = studio.get("/api/download", params={"path": "pkg"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert sorted(names) == ["pkg/inner/w.bin", "pkg/model.py"]
    deadline = time.monotonic() + 10  # the temporary zip is removed once sent
    scratch = studio.workspace / ".onnxbridge-studio" / "downloads"
    while list(scratch.glob("*.zip")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not list(scratch.glob("*.zip"))
    whole = zipfile.ZipFile(io.BytesIO(studio.get("/api/download", params={"path": "."}).content)).namelist()
    assert "ws/digits_cnn.yaml" in whole and not any(".onnxbridge-studio" in n for n in whole)


def test_initial_file(start_studio, tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    copy_model("digits_cnn.yaml", ws)
    studio = start_studio(ws, initial="digits_cnn.yaml")
    assert studio.get("/api/initial").json() == {"path": "digits_cnn.yaml", "kind": "spec"}


def test_bad_requests_are_one_line_400s(studio):
    r = studio.post("/api/analyze", json={"nospec": 1})
    assert r.status_code == 400 and r.json()["error"] == "spec: missing"
    r = studio.post("/api/analyze", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["error"]
    r = studio.get("/api/nothing-here")
    assert r.status_code == 404 and r.json()["error"]


def loose_ends() -> dict:
    """digits_cnn plus a layer not wired in (``inputs: []``, as the canvas writes it), a layer fed only by
    it, and a side branch from the input whose output reaches no graph output."""
    spec = digits_spec()
    spec["layers"] += [{"id": "loose", "type": "ReLU", "inputs": []},
                       {"id": "after_loose", "type": "Sigmoid", "input": "loose"},
                       {"id": "side", "type": "Conv2d", "input": spec["inputs"][0]["name"], "out_channels": 4,
                        "kernel_size": 1},
                       {"id": "side_act", "type": "ReLU", "input": "side"}]
    spec["outputs"] = ["fc2"]
    return spec


def test_save_names_the_layers_not_connected_from_an_input_to_an_output(studio):
    spec = loose_ends()
    r = studio.post("/api/save", json={"path": "loose.yaml", "spec": spec})
    assert r.status_code == 200, r.text
    body = r.json()
    # saved as it is, unconnected layers and all
    assert yaml.safe_load((studio.workspace / "loose.yaml").read_text()) == spec
    assert body["unconnected"] == ["loose", "after_loose", "side", "side_act"]
    assert body["warning"] == ("4 layers are not connected from an input to an output: "
                               "'loose', 'after_loose', 'side', 'side_act'")
    assert "\n" not in body["warning"]
    # a fully wired network has nothing to say
    r = studio.post("/api/save", json={"path": "net.yaml", "spec": digits_spec()})
    assert r.status_code == 200 and r.json()["unconnected"] == [] and r.json()["warning"] is None
