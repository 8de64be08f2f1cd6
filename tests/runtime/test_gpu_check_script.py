"""scripts/gpu_check.py runs on a CUDA machine; its dry run (cpu for every GPU) keeps it working here."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytest.importorskip("torch")


@pytest.mark.torch
@pytest.mark.slow
def test_gpu_check_dry_run_on_cpu(tmp_path):
    r = subprocess.run([sys.executable, "scripts/gpu_check.py", "--dry-run-on-cpu"], capture_output=True, text=True,
                       cwd=ROOT, timeout=600, env={**os.environ, "OUT": str(tmp_path), "COLUMNS": "200"})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "4 of 4 device checks passed on CPU (dry run)" in r.stdout
    summary = json.loads((tmp_path / "gpu_check.json").read_text(encoding="utf-8"))
    assert summary["dry_run"] is True and all(c["ok"] for c in summary["checks"])
