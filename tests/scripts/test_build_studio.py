"""scripts/build_studio: a no-op that says so when there is no front end to build."""

from __future__ import annotations

import shutil
import subprocess

from tests.conftest import ROOT


def test_without_a_front_end_it_skips(tmp_path):
    (tmp_path / "scripts").mkdir()
    script = shutil.copy(ROOT / "scripts" / "build_studio", tmp_path / "scripts" / "build_studio")
    r = subprocess.run(["bash", script], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "no front end to build yet" in r.stdout
    assert not (tmp_path / "onnxbridge" / "studio" / "static").exists()
