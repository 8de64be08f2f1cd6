"""``devices``: what this machine has, as data and on the command line.

The report is compared with sources it does not read itself: coreutils' ``nproc``, the pins in
constraints.txt, the modules' own ``__version__``. GPUs come from an ``nvidia-smi`` on the PATH: a small
executable standing in for it prints known lines, so the parsing is checked exactly on any machine.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from importlib import metadata

import onnx
import onnxruntime as ort

from onnxbridge.runtime.devices import (
    FrameworkInfo,
    GpuInfo,
    list_devices,
    nvidia_smi_gpus,
    process_gpu_memory,
)
from tests.conftest import ROOT, run_cli

PINS = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;#]+)", (ROOT / "constraints.txt").read_text(), re.MULTILINE))


def _nproc(*args: str) -> int:
    return int(subprocess.run(["nproc", *args], capture_output=True, text=True, check=True).stdout)


def test_report_matches_this_machine():
    report = list_devices(use_frameworks=False)
    assert report.cpu.logical_cores == _nproc("--all")
    assert report.cpu.usable_cores == _nproc()  # the cores this process may run on (its affinity)
    assert report.cpu.physical_cores is None or 1 <= report.cpu.physical_cores <= report.cpu.logical_cores
    assert report.cpu.model and report.cpu.arch == os.uname().machine
    assert report.onnxruntime.version == ort.__version__ == PINS["onnxruntime"]
    assert "CPUExecutionProvider" in report.onnxruntime.providers
    versions = {f.name: f.version for f in report.frameworks}
    assert versions["onnx"] == onnx.__version__
    # every package of the project's environment shows the version constraints.txt pins
    for name in ("onnx", "onnxruntime", "onnx-ir", "onnxscript", "torch", "tensorflow", "keras", "tf2onnx"):
        assert (versions[name] or "").split("+")[0] == PINS[name], name
    assert list(versions)[:4] == ["onnx", "onnxruntime", "onnx-ir", "onnxscript"]
    data = json.loads(json.dumps(report.to_dict()))
    assert data["onnxruntime"]["providers"] == report.onnxruntime.providers
    assert data["frameworks"]["torch"] == versions["torch"]


def test_a_missing_package_has_no_version():
    assert not FrameworkInfo("nothing", None).installed and FrameworkInfo("onnx", "1.0").installed


def _fake_nvidia_smi(directory) -> None:
    """An ``nvidia-smi`` that answers the two queries the device listing makes, with known figures."""
    script = directory / "nvidia-smi"
    script.write_text(f"#!{sys.executable}\n" + textwrap.dedent("""\
        import os, sys
        args = " ".join(sys.argv[1:])
        if "--query-gpu" in args:
            print("0, NVIDIA H200, 143771, 570.86.15, 9.0")
            print("1, NVIDIA H200, 143771, 570.86.15, 9.0")
            print("garbage")
        elif "--query-compute-apps" in args:
            print(f"{os.environ['PID_WITH_GPU']}, 1024")
            print(f"{os.environ['PID_WITH_GPU']}, 512")
            print("1, 99999")
        """))
    script.chmod(0o755)


def test_gpus_are_read_from_nvidia_smi(tmp_path, monkeypatch):
    _fake_nvidia_smi(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PID_WITH_GPU", str(os.getpid()))
    h200 = dict(name="NVIDIA H200", memory_bytes=143771 * 2**20, source="nvidia-smi", driver="570.86.15",
                capability="9.0")
    assert nvidia_smi_gpus() == [GpuInfo(index=0, **h200), GpuInfo(index=1, **h200)]
    report = list_devices()  # nvidia-smi answers: no framework is asked
    assert [g.index for g in report.gpus] == [0, 1] and report.notes == []
    assert process_gpu_memory() == (1024 + 512) * 2**20


def _devices_json(path: str, *, use_frameworks: bool, block: str = "") -> dict:
    code = (f"import json, sys\n{block}from onnxbridge.runtime.devices import list_devices\n"
            f"r = list_devices(use_frameworks={use_frameworks})\n"
            "print(json.dumps({'gpus': r.to_dict()['gpus'], 'notes': r.notes, 'torch': 'torch' in sys.modules}))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                       env={**os.environ, "PATH": path})
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_without_nvidia_smi_pytorch_is_asked(tmp_path):
    """No nvidia-smi on the PATH: the PyTorch bridge lists the GPUs; the pinned CPU build sees none, and says so."""
    assert metadata.version("torch").endswith("+cpu")  # the project's development and CI pin
    data = _devices_json(str(tmp_path), use_frameworks=True)
    assert data["gpus"] == [] and data["torch"]
    assert data["notes"] == ["PyTorch sees no CUDA device (it is a CPU-only build)"]


def test_without_nvidia_smi_and_without_frameworks_gpus_are_unknown(tmp_path):
    data = _devices_json(str(tmp_path), use_frameworks=False)
    assert data == {"gpus": [], "notes": ["no nvidia-smi on the PATH and no framework was asked: GPUs unknown"],
                    "torch": False}
    hidden = _devices_json(str(tmp_path), use_frameworks=True, block="sys.modules['torch'] = None\n")
    assert hidden["gpus"] == [] and hidden["notes"] == data["notes"]


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
