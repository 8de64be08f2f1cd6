"""``--emit-launch DIR``: what a cluster needs to run a training run, written without running it.

PyTorch: one torchrun command per node (``torchrun-node<i>.sh``), a Slurm batch script and a Kubeflow
``PyTorchJob``. TensorFlow: one command per worker (``worker<i>.sh``, with ``--workers``), a Slurm batch
script and a Kubeflow ``TFJob`` (the training operator sets ``TF_CONFIG``). Every file runs the same
``onnxbridge train`` command that a local distributed run gives its workers
(:func:`onnxbridge.training.launch.worker_command`). The network file, the data and RUN_DIR must be at the
same paths on every node (a shared file system); paths are written as given.
"""

from __future__ import annotations

import copy
import os
import re
import shlex
from pathlib import Path

import yaml

from onnxbridge.ir.io import atomic_output_dir
from onnxbridge.training.launch import shell_line, torchrun_command, worker_command
from onnxbridge.training.options import TrainOptions

DEFAULT_IMAGE = "onnxbridge:latest"
SLURM_FILE = "slurm.sbatch"
PYTORCHJOB_FILE = "pytorchjob.yaml"
TFJOB_FILE = "tfjob.yaml"
TF_PORT = 2222  # the port the Kubeflow operator and the Slurm script give TensorFlow workers


def job_name(run_dir: str) -> str:
    """A Kubernetes object name (DNS-1123 label) from the run directory's name."""
    name = re.sub(r"[^a-z0-9-]+", "-", Path(run_dir).name.lower()).strip("-")
    return (name or "run")[:50].strip("-") or "run"


def _script(lines: list[str]) -> str:
    # #SBATCH directives count only before the first command, so they come first
    directives = [line for line in lines if line.startswith("#SBATCH")]
    rest = [line for line in lines if not line.startswith("#SBATCH")]
    return "\n".join(["#!/usr/bin/env bash", *directives, "set -euo pipefail", *rest]) + "\n"


def _with_placeholders(cmd: list[str], values: dict[str, str]) -> str:
    """A shell line where the arguments in ``values`` become "$VARIABLE" (expanded when it runs)."""
    return " ".join(f'"{values[c]}"' if c in values else shlex.quote(c) for c in cmd)


def write_launch_files(directory: str | os.PathLike, network: str, run_dir: str, options: TrainOptions, *,
                       image: str | None = None) -> list[Path]:
    """Write the launch files for ``options`` into ``directory`` (atomically); return their paths."""
    files = (_torch_files if options.framework == "torch" else _tf_files)(network, run_dir, options,
                                                                          image or DEFAULT_IMAGE)
    target = Path(directory)
    with atomic_output_dir(target) as tmp:
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8")
    for name in files:
        if name.endswith((".sh", ".sbatch")):
            os.chmod(target / name, 0o755)  # scripts are run directly
    return [target / name for name in files]


def _torch_files(network: str, run_dir: str, options: TrainOptions, image: str) -> dict[str, str]:
    files: dict[str, str] = {}
    for node in range(options.nnodes):
        cmd = torchrun_command(network, run_dir, options, node_rank=node)
        files[f"torchrun-node{node}.sh"] = _script([f"# node {node} of {options.nnodes}: run this on that machine "
                                                    f"(node 0 is {options.master_addr})", shell_line(cmd)])
    # Slurm: one task per node; each expands its node id, all meet at the first node of the allocation
    marker_rank, marker_addr = "@NODE_RANK@", "@MASTER@"
    cmd = torchrun_command(network, run_dir, options, node_rank=0, master_addr=marker_addr)
    cmd[cmd.index("--node-rank") + 1] = marker_rank
    inner = _with_placeholders(cmd, {marker_rank: "$SLURM_NODEID",
                                     f"{marker_addr}:{options.master_port}": f"$MASTER_ADDR:{options.master_port}"})
    files[SLURM_FILE] = _script([
        f"#SBATCH --job-name={job_name(run_dir)}",
        f"#SBATCH --nodes={options.nnodes}",
        "#SBATCH --ntasks-per-node=1",
        *([f"#SBATCH --gpus-per-node={options.nproc}"] if options.device.startswith("cuda") else []),
        f"#SBATCH --output={job_name(run_dir)}-%j.log",
        'MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"',
        "export MASTER_ADDR",
        f"srun bash -c {shlex.quote(inner)}",
    ])
    # Kubeflow: the operator sets PET_NNODES, PET_NODE_RANK, PET_MASTER_ADDR ... which torchrun reads
    container = {"name": "pytorch", "image": image, "imagePullPolicy": "IfNotPresent",
                 "command": ["torchrun", *worker_command(network, run_dir, options, program=["-m", "onnxbridge"])]}
    def replica(count: int) -> dict:
        return {"replicas": count, "restartPolicy": "OnFailure",
                "template": {"spec": {"containers": [copy.deepcopy(container)]}}}

    specs = {"Master": replica(1)}
    if options.nnodes > 1:
        specs["Worker"] = replica(options.nnodes - 1)
    job = {"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob", "metadata": {"name": job_name(run_dir)},
           "spec": {"nprocPerNode": str(options.nproc), "pytorchReplicaSpecs": specs}}
    files[PYTORCHJOB_FILE] = yaml.safe_dump(job, sort_keys=False)
    return files


def _tf_files(network: str, run_dir: str, options: TrainOptions, image: str) -> dict[str, str]:
    files: dict[str, str] = {}
    count = len(options.workers) or options.nproc
    base = TrainOptions.from_dict({**options.to_dict(), "nproc": 1, "workers": [], "worker_index": 0})
    for index, _ in enumerate(options.workers):
        worker = TrainOptions.from_dict({**base.to_dict(), "workers": options.workers, "worker_index": index})
        cmd = ["onnxbridge", "train", network, *worker.cli_args(distributed=True), "-o", run_dir]
        files[f"worker{index}.sh"] = _script([f"# worker {index} of {count} (worker 0 is the chief): run this on "
                                              f"{options.workers[index].rsplit(':', 1)[0]}", shell_line(cmd)])
    marker_workers, marker_index = "@WORKERS@", "@INDEX@"
    cmd = ["onnxbridge", "train", network, *base.cli_args(), "--workers", marker_workers, "--worker-index",
           marker_index, "-o", run_dir]
    inner = _with_placeholders(cmd, {marker_workers: "$WORKERS", marker_index: "$SLURM_PROCID"})
    files[SLURM_FILE] = _script([
        f"#SBATCH --job-name={job_name(run_dir)}",
        f"#SBATCH --nodes={count}",
        "#SBATCH --ntasks-per-node=1",
        f"#SBATCH --output={job_name(run_dir)}-%j.log",
        f'WORKERS="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | sed \'s/$/:{TF_PORT}/\' | paste -sd, -)"',
        "export WORKERS",
        f"srun bash -c {shlex.quote(inner)}",
    ])
    # Kubeflow: the operator writes TF_CONFIG for each worker; the command needs no cluster options
    container = {"name": "tensorflow", "image": image, "imagePullPolicy": "IfNotPresent",
                 "command": worker_command(network, run_dir, base),
                 "ports": [{"name": "tfjob-port", "containerPort": TF_PORT}]}
    job = {"apiVersion": "kubeflow.org/v1", "kind": "TFJob", "metadata": {"name": job_name(run_dir)},
           "spec": {"tfReplicaSpecs": {"Worker": {"replicas": count, "restartPolicy": "OnFailure",
                                                  "template": {"spec": {"containers": [container]}}}}}}
    files[TFJOB_FILE] = yaml.safe_dump(job, sort_keys=False)
    return files
