"""``onnxbridge studio`` as a user runs it: a real process, its printed address, a clean stop."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import ROOT, run_cli
from tests.studio.conftest import copy_model

URL = re.compile(r"(http://127\.0\.0\.1:(\d+))/\?token=([\w-]+)")


def _start(args, env):
    proc = subprocess.Popen([sys.executable, "-m", "onnxbridge", "studio", *map(str, args)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        match = URL.search(line)
        if match:
            return proc, match, lines
    proc.kill()
    raise AssertionError(f"no address printed: {lines} {proc.stderr.read()}")


@pytest.fixture
def bundle(tmp_path):
    """A stand-in front end (one page), so the command runs whether or not the real bundle is built."""
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "index.html").write_text("<!doctype html><title>studio</title><div id=root></div>")
    return folder


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serves_the_initial_spec_and_stops_cleanly(tmp_path, bundle, stop):
    ws = tmp_path / "ws"
    ws.mkdir()
    copy_model("digits_cnn.yaml", ws)
    env = {**os.environ, "ONNXBRIDGE_STUDIO_STATIC": str(bundle), "COLUMNS": "300"}
    proc, match, _ = _start([ws / "digits_cnn.yaml", "--no-browser"], env)
    try:
        base, _, token = match.groups()
        with httpx.Client(base_url=base, timeout=60) as http:
            page = http.get("/")
            assert page.status_code == 200 and "<div id=root>" in page.text
            assert http.get("/api/initial").status_code == 401
            headers = {"Authorization": f"Bearer {token}"}
            assert http.get("/api/initial", headers=headers).json() == {"path": "digits_cnn.yaml", "kind": "spec"}
            opened = http.post("/api/open", headers=headers, json={"path": "digits_cnn.yaml"}).json()
            assert opened["spec"]["name"] == "digits_cnn"
    finally:
        proc.send_signal(stop)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "studio stopped" in out and "Traceback" not in err


def test_without_a_bundle_says_how_to_build_it(tmp_path):
    env_dir = tmp_path / "empty"
    env_dir.mkdir()
    r = subprocess.run([sys.executable, "-m", "onnxbridge", "studio", "--no-browser"], cwd=tmp_path,
                       env={**os.environ, "ONNXBRIDGE_STUDIO_STATIC": str(env_dir), "COLUMNS": "300"},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "scripts/build_studio" in lines[0] and "not built" in lines[0]


def test_source_outside_the_workspace_is_refused(tmp_path, bundle):
    (tmp_path / "ws").mkdir()
    spec = copy_model("digits_cnn.yaml", tmp_path)
    r = subprocess.run([sys.executable, "-m", "onnxbridge", "studio", str(spec), "--workspace", str(tmp_path / "ws"),
                        "--no-browser"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "ONNXBRIDGE_STUDIO_STATIC": str(bundle), "COLUMNS": "300"})
    assert r.returncode == 2 and "outside the workspace" in r.stderr and "Traceback" not in r.stderr


def test_help_lists_the_options():
    r = run_cli("studio", "--help")
    assert r.returncode == 0
    for option in ("--workspace", "--port", "--host", "--no-browser"):
        assert option in r.stdout


def test_core_and_cli_work_without_the_server_packages(tmp_path):
    block = "import sys\nfor m in ('fastapi', 'uvicorn', 'starlette', 'python_multipart'):\n    sys.modules[m] = None\n"
    code = (block + "import onnxbridge\nonnxbridge.build('models/digits_cnn.yaml')\n"
            "from onnxbridge.cli.app import app\n"
            "try:\n    app(['studio', '--no-browser'])\nexcept SystemExit as e:\n    print('exit', e.code)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "COLUMNS": "300"})
    assert "exit 2" in r.stdout, r.stderr
    assert "pip install 'onnxbridge[studio]'" in r.stderr and "Traceback" not in r.stderr
