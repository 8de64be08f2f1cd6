"""``devices``: what this machine has, as data and on the command line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib import metadata

import onnx
import onnxruntime as ort

from onnxbridge.runtime.devices import list_devices, nvidia_smi_gpus
from tests.conftest import ROOT, run_cli


def test_report_matches_this_machine():
    report = list_devices()
    assert report.cpu.logical_cores == os.cpu_count()
    assert 1 <= report.cpu.usable_cores <= report.cpu.logical_cores
    assert report.cpu.model and report.cpu.arch
    assert report.onnxruntime.version == ort.__version__
    assert report.onnxruntime.providers == ort.get_available_providers()
    versions = {f.name: f.version for f in report.frameworks}
    assert versions["onnx"] == onnx.__version__
    for name in ("torch", "tensorflow"):
        try:
            expected = metadata.version(name)
        except metadata.PackageNotFoundError:
            expected = None
        assert versions[name] == expected
    data = json.loads(json.dumps(report.to_dict()))
    assert data["onnxruntime"]["providers"] == ort.get_available_providers()


def test_gpus_agree_with_nvidia_smi_or_torch():
    report = list_devices()
    if shutil.which("nvidia-smi") is None:
        assert nvidia_smi_gpus() is None
        try:
            import torch
        except ImportError:
            return
        assert len(report.gpus) == (torch.cuda.device_count() if torch.cuda.is_available() else 0)
        if not report.gpus:
            assert any("CUDA" in n for n in report.notes)
    else:
        assert all(g.source == "nvidia-smi" for g in report.gpus)


def test_listing_without_torch_does_not_import_it():
    code = ("import sys\nfrom onnxbridge.runtime.devices import list_devices\n"
            "r = list_devices(use_frameworks=False)\nassert 'torch' not in sys.modules\nprint(r.cpu.logical_cores)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) == os.cpu_count()


def test_cli_devices_json_and_table():
    r = run_cli("devices", "--format", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert set(data) == {"cpu", "gpus", "onnxruntime", "frameworks", "python", "notes"}
    assert "CPUExecutionProvider" in data["onnxruntime"]["providers"]
    assert data["frameworks"]["onnxruntime"] == ort.__version__
    r = run_cli("devices")
    assert r.returncode == 0, r.stderr
    assert "CPUExecutionProvider" in r.stdout and f"onnxruntime {ort.__version__}" in r.stdout
    assert data["cpu"]["model"] in r.stdout
