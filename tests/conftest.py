"""Shared test fixtures and paths."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def run_cli(*args: str, cwd: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``python -m onnxbridge ARGS`` in a subprocess, as a user would, and capture its output."""
    return subprocess.run([sys.executable, "-m", "onnxbridge", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=timeout, env={**os.environ, "COLUMNS": "200"})


@pytest.fixture
def cli():
    """The ``run_cli`` helper as a fixture."""
    return run_cli
