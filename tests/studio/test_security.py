"""The studio answers only its own page, with its token, about files inside its workspace."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from onnxbridge.studio.security import OutsideWorkspace, confine, new_token, token_matches
from tests.studio.conftest import copy_model, digits_spec


def test_token_is_random_and_compared_exactly():
    a, b = new_token(), new_token()
    assert a != b and len(a) >= 40
    assert token_matches(f"Bearer {a}", a)
    assert not token_matches(f"Bearer {b}", a)
    assert not token_matches(a, a)  # the scheme is required
    assert not token_matches(None, a)


def test_missing_or_wrong_token_is_401(studio):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {studio.server.token}"}):
        r = studio.bare.get("/api/files", headers=headers)
        assert r.status_code == 401, headers
        assert r.json()["error"] == "missing or wrong token" and r.json()["hint"]
    r = studio.bare.post("/api/save", json={"path": "x.yaml", "spec": digits_spec()})
    assert r.status_code == 401
    assert not (studio.workspace / "x.yaml").exists()
    assert studio.get("/api/files").status_code == 200


def test_two_servers_have_different_tokens(start_studio, tmp_path):
    one, two = start_studio(), start_studio(tmp_path / "other")
    assert one.server.token != two.server.token
    r = two.bare.get("/api/files", headers={"Authorization": f"Bearer {one.server.token}"})
    assert r.status_code == 401


def test_foreign_host_is_421_on_every_path(studio):
    for path in ("/api/files", "/", "/index.html"):
        r = studio.get(path, headers={"Host": f"attacker.example:{studio.server.port}"})
        assert r.status_code == 421, path
        assert "Host" in r.json()["error"]
    # DNS rebinding: the attacker's name resolving to 127.0.0.1, the port right
    assert studio.get("/api/files", headers={"Host": "127.0.0.1.nip.example"}).status_code == 421
    for host in (f"127.0.0.1:{studio.server.port}", f"localhost:{studio.server.port}"):
        assert studio.get("/api/files", headers={"Host": host}).status_code == 200, host


def test_foreign_origin_is_403(studio):
    port = studio.server.port
    for origin in ("http://attacker.example", "null", f"https://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"):
        r = studio.post("/api/save", headers={"Origin": origin}, json={"path": "x.yaml", "spec": digits_spec()})
        assert r.status_code == 403, origin
        assert "cross-origin" in r.json()["error"]
    assert not (studio.workspace / "x.yaml").exists()
    ok = studio.get("/api/files", headers={"Origin": f"http://127.0.0.1:{port}"})
    assert ok.status_code == 200


def test_security_headers(studio):
    r = studio.get("/api/files")
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"  # the page's address holds the token
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert "server" not in r.headers


def test_confine_refuses_paths_that_leave(tmp_path):
    root = tmp_path / "ws"
    (root / "sub").mkdir(parents=True)
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    (root / "link").symlink_to(outside)
    (root / "dirlink").symlink_to(tmp_path)
    assert confine(root, "sub/a.yaml") == (root / "sub" / "a.yaml").resolve()
    for bad in ("../secret.txt", "sub/../../secret.txt", "sub/..", str(outside), "/etc/passwd", "link",
                "dirlink/secret.txt", "sub/../sub", "C:/x", "sub\\..\\..\\x", "a\x00b", "", "  "):
        with pytest.raises(OutsideWorkspace):
            confine(root, bad)


def _outside(studio) -> tuple[Path, list[str]]:
    """A spec outside the workspace and the paths that would reach it."""
    outside = studio.workspace.parent / "outside.yaml"
    outside.write_text((Path(__file__).parents[2] / "models" / "digits_cnn.yaml").read_text())
    os.symlink(outside, studio.workspace / "link.yaml")
    os.symlink(studio.workspace.parent, studio.workspace / "parent")
    return outside, ["../outside.yaml", str(outside), "link.yaml", "parent/outside.yaml", "/etc/passwd"]


def test_paths_outside_the_workspace_are_403(studio):
    outside, paths = _outside(studio)
    before = outside.read_bytes()
    for path in paths:
        for method, route, kwargs in (
                ("post", "/api/open", {"json": {"path": path}}),
                ("get", "/api/download", {"params": {"path": path}}),
                ("post", "/api/save", {"json": {"path": path, "spec": digits_spec(), "force": True}}),
                ("post", "/api/netron", {"json": {"path": path}})):
            r = getattr(studio.http, method)(route, **kwargs)
            assert r.status_code == 403, (route, path, r.text)
            assert r.json()["error"]
    assert outside.read_bytes() == before
    listed = [f["path"] for f in studio.get("/api/files").json()["files"]]
    assert "link.yaml" not in listed and not any(p.startswith("parent/") for p in listed)


def test_export_name_cannot_leave(studio):
    r = studio.post("/api/export", json={"spec": digits_spec(), "target": "onnx", "name": "../x"})
    assert r.status_code == 400
    assert not (studio.workspace.parent / "x.onnx").exists()


def test_upload_over_the_limit_is_413(start_studio):
    studio = start_studio(max_upload=1000)
    r = studio.post("/api/upload", files={"file": ("big.onnx", b"x" * 5000)})
    assert r.status_code == 413
    assert "too large" in r.json()["error"]

    body = (b"--zzz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.onnx\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n" + b"y" * 5000 + b"\r\n--zzz--\r\n")

    def chunks():  # no Content-Length: the limit is counted as the body arrives
        for i in range(0, len(body), 500):
            yield body[i:i + 500]

    r = studio.post("/api/upload", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=zzz"})
    assert r.status_code == 413
    uploads = studio.workspace / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())
    small = studio.post("/api/upload", files={"file": ("small.yaml", b"name: x\n")})
    assert small.status_code == 200 and small.json()["path"] == "uploads/small.yaml"


def test_upload_names_are_made_safe_and_never_replace(studio):
    spec = (Path(__file__).parents[2] / "models" / "digits_cnn.yaml").read_bytes()
    first = studio.post("/api/upload", files={"file": ("../../evil.yaml", spec)}).json()["path"]
    second = studio.post("/api/upload", files={"file": ("evil.yaml", spec)}).json()["path"]
    assert first == "uploads/evil.yaml" and second == "uploads/evil-2.yaml"
    assert not (studio.workspace.parent / "evil.yaml").exists()
    opened = studio.post("/api/open", json={"path": second})
    assert opened.status_code == 200 and opened.json()["spec"]["name"] == "digits_cnn"


def test_nothing_outside_is_listed_or_served(studio):
    copy_model("digits_cnn.yaml", studio.workspace)
    r = studio.get("/api/download", params={"path": "digits_cnn.yaml"})
    assert r.status_code == 200 and b"digits_cnn" in r.content
    assert studio.get("/api/download", params={"path": "missing.yaml"}).status_code == 404
