"""A real studio server (uvicorn on 127.0.0.1, a free port) on a fresh workspace for each test."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import MODELS

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")


class Studio:
    """A running server, its workspace, and an HTTP client that sends the token."""

    def __init__(self, server, workspace: Path):
        self.server = server
        self.workspace = workspace
        self.base = server.base_url
        self.http = httpx.Client(base_url=self.base, timeout=300,
                                 headers={"Authorization": f"Bearer {server.token}"})
        self.bare = httpx.Client(base_url=self.base, timeout=60)  # no token

    def get(self, path: str, **kw):
        return self.http.get(path, **kw)

    def post(self, path: str, **kw):
        return self.http.post(path, **kw)

    def put(self, path: str, **kw):
        return self.http.put(path, **kw)

    def close(self):
        self.http.close()
        self.bare.close()
        self.server.stop()


@pytest.fixture
def start_studio(tmp_path):
    """Start a studio: ``start_studio(workspace=None, **StudioServer options)``; all stopped at the end."""
    from onnxbridge.studio.server import StudioServer

    running: list[Studio] = []

    def start(workspace: Path | None = None, **options) -> Studio:
        ws = workspace or tmp_path / "ws"
        ws.mkdir(exist_ok=True)
        server = StudioServer(ws, static_dir=options.pop("static_dir", tmp_path / "no-bundle"), **options)
        server.start()
        studio = Studio(server, ws)
        running.append(studio)
        return studio

    yield start
    for studio in running:
        studio.close()


@pytest.fixture
def studio(start_studio):
    """A studio on an empty workspace."""
    return start_studio()


def digits_spec() -> dict:
    return yaml.safe_load((MODELS / "digits_cnn.yaml").read_text())


def conv_then_linear() -> dict:
    """digits_cnn without its Flatten: a Linear straight after a Conv2d/pool (4-D input)."""
    spec = copy.deepcopy(digits_spec())
    spec["layers"] = [layer for layer in spec["layers"] if layer["type"] != "Flatten"]
    return spec


def copy_model(name: str, workspace: Path) -> Path:
    return Path(shutil.copy(MODELS / name, workspace / name))
