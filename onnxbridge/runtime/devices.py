"""What hardware and software this machine offers: CPU, GPUs, onnxruntime providers, frameworks.

Nothing heavy is imported unless needed: GPUs come from ``nvidia-smi`` when it is on the PATH, else from a
framework's bridge that can list them (PyTorch, only when it is installed); framework versions come from the
installed package metadata.

Example::

    report = list_devices()
    print(report.cpu.model, report.onnxruntime.providers)
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Any

# (display name, distribution names to try): the first installed distribution gives the version. The
# frameworks' own packages come from their bridges, between the core packages and the optional ones.
CORE_PACKAGES = (
    ("onnx", ("onnx",)),
    ("onnxruntime", ("onnxruntime", "onnxruntime-gpu")),
    ("onnx-ir", ("onnx-ir",)),
    ("onnxscript", ("onnxscript",)),
)
OPTIONAL_PACKAGES = (
    ("matplotlib", ("matplotlib",)),
)


def packages() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Every package :func:`installed_frameworks` reports, in order."""
    from onnxbridge.frameworks.bridges import bridges

    return CORE_PACKAGES + tuple(p for b in bridges() for p in b.packages) + OPTIONAL_PACKAGES


@dataclass
class CpuInfo:
    """The host CPU: model name, architecture, physical and logical cores, cores this process may use."""

    model: str
    arch: str
    physical_cores: int | None
    logical_cores: int
    usable_cores: int


@dataclass
class GpuInfo:
    """One GPU, as reported by nvidia-smi or PyTorch."""

    index: int
    name: str
    memory_bytes: int | None
    source: str  # "nvidia-smi" or the name of the framework bridge that listed it ("torch")
    driver: str | None = None
    capability: str | None = None


@dataclass
class RuntimeInfo:
    """onnxruntime: its version, the device it was built for, and the usable execution providers."""

    version: str
    device: str
    providers: list[str]


@dataclass
class FrameworkInfo:
    """An installed (or missing) package and its version."""

    name: str
    version: str | None

    @property
    def installed(self) -> bool:
        """Whether the framework is installed here (its version was found)."""
        return self.version is not None


@dataclass
class DeviceReport:
    """Everything :func:`list_devices` found; ``to_dict()`` is the ``devices --format json`` output."""

    cpu: CpuInfo
    gpus: list[GpuInfo]
    onnxruntime: RuntimeInfo
    frameworks: list[FrameworkInfo]
    python: str = field(default_factory=platform.python_version)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON data: CPU, GPUs, onnxruntime, framework versions, Python and notes."""
        return {
            "cpu": asdict(self.cpu),
            "gpus": [asdict(g) for g in self.gpus],
            "onnxruntime": asdict(self.onnxruntime),
            "frameworks": {f.name: f.version for f in self.frameworks},
            "python": self.python,
            "notes": list(self.notes),
        }


def list_devices(*, use_frameworks: bool = True) -> DeviceReport:
    """Describe this machine: CPU, GPUs (nvidia-smi, else an installed framework that can list them, such
    as PyTorch), onnxruntime, frameworks.

    ``use_frameworks=False`` never imports a framework (GPUs then come only from nvidia-smi).
    """
    notes: list[str] = []
    frameworks = installed_frameworks()
    gpus = nvidia_smi_gpus()
    if gpus is None:
        gpus, found = [], None
        if use_frameworks:
            found = framework_gpus()
        if found is None:
            notes.append("no nvidia-smi on the PATH and no framework was asked: GPUs unknown")
        else:
            gpus, more = found
            notes.extend(more)
    return DeviceReport(cpu=cpu_info(), gpus=gpus, onnxruntime=runtime_info(), frameworks=frameworks,
                        notes=notes)


def cpu_info() -> CpuInfo:
    """The CPU model from /proc/cpuinfo (Linux) or the platform module, and its core counts."""
    model = None
    physical: set[tuple[str, str]] = set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            phys_id = core_id = ""
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "model name" and model is None:
                    model = value
                elif key == "physical id":
                    phys_id = value
                elif key == "core id":
                    core_id = value
                elif not key and (phys_id or core_id):  # blank line ends one logical processor
                    physical.add((phys_id, core_id))
                    phys_id = core_id = ""
            if phys_id or core_id:
                physical.add((phys_id, core_id))
    except OSError:
        pass
    logical = os.cpu_count() or 1
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else logical
    model = model or platform.processor() or platform.machine() or "unknown"
    return CpuInfo(model=model, arch=platform.machine(), physical_cores=len(physical) or None,
                   logical_cores=logical, usable_cores=usable)


def runtime_info() -> RuntimeInfo:
    """onnxruntime's version, build device and available execution providers."""
    import onnxruntime as ort

    return RuntimeInfo(version=ort.__version__, device=ort.get_device(),
                       providers=list(ort.get_available_providers()))


def installed_frameworks() -> list[FrameworkInfo]:
    """Versions of the frameworks onnxbridge works with, from package metadata (nothing is imported)."""
    found = []
    for name, dists in packages():
        version = None
        for dist in dists:
            try:
                version = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
        found.append(FrameworkInfo(name, version))
    return found


def nvidia_smi_gpus(timeout: float = 10.0) -> list[GpuInfo] | None:
    """GPUs listed by ``nvidia-smi``; None when it is not on the PATH or does not answer."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    query = "index,name,memory.total,driver_version,compute_cap"
    try:
        out = subprocess.run([exe, f"--query-gpu={query}", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=timeout, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    gpus: list[GpuInfo] = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 3:
            continue
        memory = int(float(parts[2]) * 1024 * 1024) if _is_number(parts[2]) else None
        gpus.append(GpuInfo(index=int(parts[0]) if parts[0].isdigit() else len(gpus), name=parts[1],
                            memory_bytes=memory, source="nvidia-smi",
                            driver=parts[3] if len(parts) > 3 else None,
                            capability=parts[4] if len(parts) > 4 and _is_number(parts[4]) else None))
    return gpus


def framework_gpus() -> tuple[list[GpuInfo], list[str]] | None:
    """GPUs from the first installed framework that lists them (imports it), with its notes; None when
    no framework was asked."""
    from onnxbridge.frameworks.bridges import bridges

    for bridge in bridges():
        if not bridge.installed():
            continue
        try:
            found = bridge.list_gpus()
        except ImportError:  # installed but broken: as good as absent
            continue
        if found is not None:
            gpus, notes = found
            return [GpuInfo(index=g.index, name=g.name, memory_bytes=g.memory_bytes, source=bridge.name,
                            capability=g.capability) for g in gpus], list(notes)
    return None


def process_gpu_memory(pid: int | None = None) -> int | None:
    """GPU memory used by this process (bytes) according to nvidia-smi, or None when unknown."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    pid = os.getpid() if pid is None else pid
    try:
        out = subprocess.run([exe, "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    total = None
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 2 and parts[0] == str(pid) and _is_number(parts[1]):
            total = (total or 0) + int(float(parts[1]) * 1024 * 1024)
    return total


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
