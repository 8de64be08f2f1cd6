"""PyTorch's distributed engine from the outside: torchrun's environment, its command line, a local launch,
and the files a cluster needs (a torchrun command per node, Slurm, a Kubeflow ``PyTorchJob``).

Nothing here imports torch: the launcher runs ``python -m torch.distributed.run`` in a subprocess, and
each worker finds its rank in the environment torchrun gives it (:func:`torchrun_env`). The command lines
built here are the ones that run locally *and* the ones written into launch files, so a cluster runs
exactly what was tried on one machine.
"""

from __future__ import annotations

import copy
import os
import re
import shlex
import sys
from pathlib import Path

import yaml

from onnxbridge.training.launch import (
    LaunchError,
    announce,
    is_local_address,
    run_process,
    shell_line,
    wait_for_master,
    worker_command,
    worker_env,
)
from onnxbridge.training.launch_files import SLURM_FILE, job_name, script, with_placeholders
from onnxbridge.training.options import TrainOptions

PYTORCHJOB_FILE = "pytorchjob.yaml"


def torchrun_env() -> dict[str, int] | None:
    """Rank, local rank and world size when torchrun (or a cluster operator) started this process."""
    if "WORLD_SIZE" not in os.environ or "RANK" not in os.environ:
        return None
    return {"rank": int(os.environ["RANK"]), "local_rank": int(os.environ.get("LOCAL_RANK", "0")),
            "world": int(os.environ["WORLD_SIZE"])}


def rdzv_id(run_dir: str) -> str:
    """A rendezvous id every node derives alike from the run directory's name."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", Path(run_dir).name or "run")[:60] or "run"


def torchrun_command(network: str, run_dir: str, options: TrainOptions, *, node_rank: int | None = None,
                     master_addr: str | None = None, resume: bool = False,
                     python: str | None = None) -> list[str]:
    """The ``torchrun`` command line of one node (c10d rendezvous at ``master_addr:master_port``).

    ``python`` runs torchrun as ``python -m torch.distributed.run`` (what a local launch uses, so the
    workers start in this interpreter); without it the command starts with ``torchrun``.
    """
    launcher = [python, "-m", "torch.distributed.run"] if python else ["torchrun"]
    addr = master_addr if master_addr is not None else options.master_addr
    rank = options.node_rank if node_rank is None else node_rank
    cmd = [*launcher, "--nnodes", str(options.nnodes), "--nproc-per-node", str(options.nproc),
           "--node-rank", str(rank), "--rdzv-backend", "c10d", "--rdzv-endpoint", f"{addr}:{options.master_port}",
           "--rdzv-id", rdzv_id(run_dir), "--rdzv-conf", f"join_timeout={int(options.connect_timeout)}",
           "--max-restarts", "0"]
    inner = worker_command(network, run_dir, options, resume=resume, program=["-m", "onnxbridge"])
    return cmd + inner


def check_master(options: TrainOptions) -> None:
    """Before torchrun starts: node 0 must be the master's machine; other nodes must reach it in time."""
    if options.nnodes == 1 and options.node_rank == 0:
        if not is_local_address(options.master_addr):
            raise LaunchError(f"--master-addr {options.master_addr}: a single-node run hosts the rendezvous "
                              "itself, and this is not an address of this machine", hint="leave --master-addr out")
        return
    if options.node_rank == 0:
        if not is_local_address(options.master_addr):
            raise LaunchError(f"--master-addr {options.master_addr}: node 0 hosts the rendezvous, but this is "
                              "not an address of this machine", hint="run node 0 on the master, or fix the address")
        return
    wait_for_master(options.master_addr, options.master_port, options.connect_timeout)


def run_torchrun(network: str, run_dir: str, options: TrainOptions, *, resume: bool = False) -> None:
    """Run this node's torchrun (all its processes) and wait; :class:`LaunchError` when a process fails."""
    check_master(options)
    cmd = torchrun_command(network, run_dir, options, resume=resume, python=sys.executable)
    announce(cmd)
    code = run_process(cmd, worker_env(options.nproc))
    if code != 0:
        raise LaunchError(f"torchrun: a training process failed (exit code {code})",
                          hint="its error is printed above")


def launch_files(network: str, run_dir: str, options: TrainOptions, image: str) -> dict[str, str]:
    """``torchrun-node<i>.sh`` per node, ``slurm.sbatch`` and a Kubeflow ``pytorchjob.yaml``."""
    files: dict[str, str] = {}
    for node in range(options.nnodes):
        cmd = torchrun_command(network, run_dir, options, node_rank=node)
        files[f"torchrun-node{node}.sh"] = script([f"# node {node} of {options.nnodes}: run this on that machine "
                                                   f"(node 0 is {options.master_addr})", shell_line(cmd)])
    # Slurm: one task per node; each expands its node id, all meet at the first node of the allocation
    marker_rank, marker_addr = "@NODE_RANK@", "@MASTER@"
    cmd = torchrun_command(network, run_dir, options, node_rank=0, master_addr=marker_addr)
    cmd[cmd.index("--node-rank") + 1] = marker_rank
    inner = with_placeholders(cmd, {marker_rank: "$SLURM_NODEID",
                                    f"{marker_addr}:{options.master_port}": f"$MASTER_ADDR:{options.master_port}"})
    files[SLURM_FILE] = script([
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
