"""The core works without the heavy frameworks: they are imported only where they are needed."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import MODELS, ROOT

BLOCK = "import sys\nfor m in ('torch', 'tensorflow', 'keras', 'tf2onnx'):\n    sys.modules[m] = None\n"


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK + code], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_import_and_build_without_frameworks(tmp_path):
    out = tmp_path / "m.onnx"
    r = _run(f"import onnxbridge\nm = onnxbridge.build({str(MODELS / 'digits_cnn.yaml')!r})\n"
             f"import onnx; onnx.save(m, {str(out)!r})\n"
             "assert not any(k in sys.modules and sys.modules[k] for k in ('torch', 'tensorflow'))")
    assert r.returncode == 0, r.stderr
    assert out.exists()


def test_cli_help_without_frameworks():
    r = _run("from onnxbridge.cli.app import app\n"
             "try:\n    app(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n")
    assert r.returncode == 0, r.stderr
    assert "build" in r.stdout and "Usage" in r.stdout
