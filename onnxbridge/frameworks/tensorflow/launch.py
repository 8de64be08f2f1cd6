"""TensorFlow's distributed engine from the outside: ``TF_CONFIG``, local MultiWorkerMirroredStrategy
workers on localhost ports, and the files a cluster needs (a command per worker, Slurm, a Kubeflow
``TFJob``).

Nothing here imports TensorFlow: each worker is an ``onnxbridge train`` process that builds its
``TF_CONFIG`` from ``--workers``/``--worker-index`` (or finds one a cluster's operator set) and starts
``MultiWorkerMirroredStrategy`` itself (:mod:`.training`).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from typing import Any

import yaml

from onnxbridge.errors import OnnxBridgeError
from onnxbridge.training.launch import (
    LaunchError,
    announce,
    free_port,
    shell_line,
    stop_process,
    wait_all,
    worker_command,
    worker_env,
)
from onnxbridge.training.launch_files import SLURM_FILE, job_name, script, with_placeholders
from onnxbridge.training.options import TrainOptions

TFJOB_FILE = "tfjob.yaml"
TF_PORT = 2222  # the port the Kubeflow operator and the Slurm script give TensorFlow workers


def tf_config_from(workers: list[str], index: int) -> dict[str, Any]:
    """The ``TF_CONFIG`` of worker ``index`` in a cluster of ``workers`` (worker 0 is the chief)."""
    return {"cluster": {"worker": list(workers)}, "task": {"type": "worker", "index": index}}


def cluster_from_env() -> tuple[int, int] | None:
    """(worker index, number of workers) from ``TF_CONFIG``, or None when it is not set."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        return None
    try:
        config = json.loads(text)
        workers = config["cluster"].get("worker", [])
        chief = config["cluster"].get("chief", [])
        task = config["task"]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise OnnxBridgeError("TF_CONFIG is not valid JSON with cluster and task",
                              hint='e.g. {"cluster": {"worker": ["h1:2222", "h2:2222"]}, '
                                   '"task": {"type": "worker", "index": 0}}') from None
    # with a separate chief task, the chief is rank 0 and the workers follow
    rank = int(task.get("index", 0)) + (len(chief) if task.get("type") == "worker" else 0)
    return rank, len(workers) + len(chief)


def run_tf_workers(network: str, run_dir: str, options: TrainOptions, *, resume: bool = False) -> None:
    """Start ``options.nproc`` TensorFlow workers on localhost ports (MultiWorkerMirroredStrategy) and wait.

    Worker 0 (the chief) prints to this console; when any worker fails, the others are stopped.
    """
    ports: list[int] = []
    while len(ports) < options.nproc:
        port = free_port()
        if port not in ports:
            ports.append(port)
    workers = [f"127.0.0.1:{p}" for p in ports]
    env = worker_env(options.nproc)
    env.pop("TF_CONFIG", None)
    procs: list[subprocess.Popen] = []
    try:
        for index in range(options.nproc):
            worker = TrainOptions.from_dict({**options.to_dict(), "nproc": 1, "workers": workers,
                                             "worker_index": index})
            cmd = [sys.executable, "-m", "onnxbridge", "train", network, *worker.cli_args(distributed=True),
                   "-o", run_dir] + (["--resume", run_dir] if resume else [])
            quiet = index > 0
            announce(cmd)
            procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL if quiet else None,
                                          stderr=subprocess.PIPE if quiet else None, text=True,
                                          start_new_session=True))
        failed = wait_all(procs)
        if failed is not None:
            index, code, tail = failed
            raise LaunchError(f"TensorFlow worker {index} failed (exit code {code})"
                              + (f": {tail}" if tail else ""), hint="its error is printed above" if index == 0 else None)
    finally:
        for p in procs:
            if p.poll() is None:
                stop_process(p)


def launch_files(network: str, run_dir: str, options: TrainOptions, image: str) -> dict[str, str]:
    """``worker<i>.sh`` per ``--workers`` entry, ``slurm.sbatch`` and a Kubeflow ``tfjob.yaml``."""
    files: dict[str, str] = {}
    count = len(options.workers) or options.nproc
    base = TrainOptions.from_dict({**options.to_dict(), "nproc": 1, "workers": [], "worker_index": 0})
    for index, _ in enumerate(options.workers):
        worker = TrainOptions.from_dict({**base.to_dict(), "workers": options.workers, "worker_index": index})
        cmd = ["onnxbridge", "train", network, *worker.cli_args(distributed=True), "-o", run_dir]
        files[f"worker{index}.sh"] = script([f"# worker {index} of {count} (worker 0 is the chief): run this on "
                                             f"{options.workers[index].rsplit(':', 1)[0]}", shell_line(cmd)])
    marker_workers, marker_index = "@WORKERS@", "@INDEX@"
    cmd = ["onnxbridge", "train", network, *base.cli_args(), "--workers", marker_workers, "--worker-index",
           marker_index, "-o", run_dir]
    inner = with_placeholders(cmd, {marker_workers: "$WORKERS", marker_index: "$SLURM_PROCID"})
    files[SLURM_FILE] = script([
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
