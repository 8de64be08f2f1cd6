"""``--emit-launch DIR``: what a cluster needs to run a training run, written without running it.

The framework's bridge says which files (:meth:`Bridge.launch_files
<onnxbridge.frameworks.base.Bridge.launch_files>`): for PyTorch one torchrun command per node
(``torchrun-node<i>.sh``), a Slurm batch script and a Kubeflow ``PyTorchJob``; for TensorFlow one command
per worker (``worker<i>.sh``, with ``--workers``), a Slurm batch script and a Kubeflow ``TFJob`` (the
training operator sets ``TF_CONFIG``). This module writes them, and holds what the writers share (the
job's name, the script frame). Every file runs the same ``onnxbridge train`` command that a local
distributed run gives its workers (:func:`onnxbridge.training.launch.worker_command`). The network file,
the data and RUN_DIR must be at the same paths on every node (a shared file system); paths are written as
given.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

from onnxbridge.frameworks.bridges import get_bridge
from onnxbridge.ir.io import atomic_output_dir
from onnxbridge.training.options import TrainOptions

DEFAULT_IMAGE = "onnxbridge:latest"
SLURM_FILE = "slurm.sbatch"


def job_name(run_dir: str) -> str:
    """A Kubernetes object name (DNS-1123 label) from the run directory's name."""
    name = re.sub(r"[^a-z0-9-]+", "-", Path(run_dir).name.lower()).strip("-")
    return (name or "run")[:50].strip("-") or "run"


def script(lines: list[str]) -> str:
    """A bash script of ``lines``: ``#SBATCH`` directives first, then ``set -euo pipefail`` and the rest."""
    # #SBATCH directives count only before the first command, so they come first
    directives = [line for line in lines if line.startswith("#SBATCH")]
    rest = [line for line in lines if not line.startswith("#SBATCH")]
    return "\n".join(["#!/usr/bin/env bash", *directives, "set -euo pipefail", *rest]) + "\n"


def with_placeholders(cmd: list[str], values: dict[str, str]) -> str:
    """A shell line where the arguments in ``values`` become "$VARIABLE" (expanded when it runs)."""
    return " ".join(f'"{values[c]}"' if c in values else shlex.quote(c) for c in cmd)


def write_launch_files(directory: str | os.PathLike, network: str, run_dir: str, options: TrainOptions, *,
                       image: str | None = None) -> list[Path]:
    """Write the launch files for ``options`` into ``directory`` (atomically); return their paths."""
    files = get_bridge(options.framework).launch_files(network, run_dir, options, image or DEFAULT_IMAGE)
    target = Path(directory)
    with atomic_output_dir(target) as tmp:
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8")
    for name in files:
        if name.endswith((".sh", ".sbatch")):
            os.chmod(target / name, 0o755)  # scripts are run directly
    return [target / name for name in files]
