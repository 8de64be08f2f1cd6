"""--emit-launch: the files parse, hold the required fields and replica counts, and run the local command."""

from __future__ import annotations

import shlex
import subprocess

import yaml

from onnxbridge.frameworks.torch.launch import torchrun_command
from onnxbridge.training.launch import worker_command
from onnxbridge.training.launch_files import write_launch_files
from onnxbridge.training.options import TrainOptions
from tests.conftest import MODELS, run_cli

SPEC = str(MODELS / "digits_cnn.yaml")


def _last_line(path):
    return path.read_text().strip().splitlines()[-1]


def _srun_inner(path, values):
    line = next(line for line in path.read_text().splitlines() if line.startswith("srun "))
    outer = shlex.split(line)
    assert outer[:3] == ["srun", "bash", "-c"] and len(outer) == 4
    inner = outer[3]
    for var, value in values.items():
        inner = inner.replace(f'"${var}', f'"{value}').replace(f"${var}", value)
    return shlex.split(inner)


def test_torch_launch_files(tmp_path):
    opts = TrainOptions(framework="torch", nproc=4, nnodes=3, master_addr="node0.cluster", master_port=29400,
                        device="cuda", epochs=7).check()
    files = write_launch_files(tmp_path, SPEC, "/shared/runs/digits", opts, image="registry/onnxbridge:1")
    names = sorted(p.name for p in files)
    assert names == ["pytorchjob.yaml", "slurm.sbatch", "torchrun-node0.sh", "torchrun-node1.sh", "torchrun-node2.sh"]
    for node in range(3):
        cmd = shlex.split(_last_line(tmp_path / f"torchrun-node{node}.sh"))
        assert cmd == torchrun_command(SPEC, "/shared/runs/digits", opts, node_rank=node)
        assert cmd[cmd.index("--node-rank") + 1] == str(node) and cmd[cmd.index("--nproc-per-node") + 1] == "4"
        assert (tmp_path / f"torchrun-node{node}.sh").stat().st_mode & 0o111
    job = yaml.safe_load((tmp_path / "pytorchjob.yaml").read_text())
    assert job["apiVersion"] == "kubeflow.org/v1" and job["kind"] == "PyTorchJob"
    assert job["metadata"]["name"] == "digits" and job["spec"]["nprocPerNode"] == "4"
    specs = job["spec"]["pytorchReplicaSpecs"]
    assert specs["Master"]["replicas"] == 1 and specs["Worker"]["replicas"] == 2
    for spec in specs.values():
        container = spec["template"]["spec"]["containers"][0]
        assert container["name"] == "pytorch" and container["image"] == "registry/onnxbridge:1"
        assert container["command"] == ["torchrun", *worker_command(SPEC, "/shared/runs/digits", opts,
                                                                    program=["-m", "onnxbridge"])]
        assert "--epochs" in container["command"] and "--nproc" not in container["command"]
    sbatch = (tmp_path / "slurm.sbatch").read_text()
    assert subprocess.run(["bash", "-n", str(tmp_path / "slurm.sbatch")]).returncode == 0
    head = sbatch.splitlines()
    assert head[1:5] == ["#SBATCH --job-name=digits", "#SBATCH --nodes=3", "#SBATCH --ntasks-per-node=1",
                         "#SBATCH --gpus-per-node=4"]
    inner = _srun_inner(tmp_path / "slurm.sbatch", {"SLURM_NODEID": "2", "MASTER_ADDR": "node0.cluster"})
    assert inner == torchrun_command(SPEC, "/shared/runs/digits", opts, node_rank=2)


def test_tensorflow_launch_files(tmp_path):
    workers = ["w0:2222", "w1:2222", "w2:2222", "w3:2222"]
    opts = TrainOptions(framework="tensorflow", workers=workers, lr=0.01).check()
    files = write_launch_files(tmp_path, SPEC, "runs/tf", opts)
    assert sorted(p.name for p in files) == ["slurm.sbatch", "tfjob.yaml", "worker0.sh", "worker1.sh",
                                             "worker2.sh", "worker3.sh"]
    for index in range(4):
        cmd = shlex.split(_last_line(tmp_path / f"worker{index}.sh"))
        assert cmd[cmd.index("--workers") + 1] == ",".join(workers)
        assert cmd[cmd.index("--worker-index") + 1] == str(index) and "--lr" in cmd
    job = yaml.safe_load((tmp_path / "tfjob.yaml").read_text())
    assert job["kind"] == "TFJob" and job["apiVersion"] == "kubeflow.org/v1"
    worker = job["spec"]["tfReplicaSpecs"]["Worker"]
    assert worker["replicas"] == 4
    container = worker["template"]["spec"]["containers"][0]
    assert container["name"] == "tensorflow" and container["ports"][0]["containerPort"] == 2222
    plain = TrainOptions(framework="tensorflow", lr=0.01)
    assert container["command"] == worker_command(SPEC, "runs/tf", plain)  # TF_CONFIG comes from the operator
    assert subprocess.run(["bash", "-n", str(tmp_path / "slurm.sbatch")]).returncode == 0
    inner = _srun_inner(tmp_path / "slurm.sbatch", {"WORKERS": "a:2222,b:2222", "SLURM_PROCID": "1"})
    assert inner[inner.index("--workers") + 1] == "a:2222,b:2222" and inner[inner.index("--worker-index") + 1] == "1"
    assert "#SBATCH --nodes=4" in (tmp_path / "slurm.sbatch").read_text()


def test_cli_emit_launch_checks_first_and_writes_only_the_files(tmp_path):
    r = run_cli("train", SPEC, "--data", "digits", "-o", tmp_path / "run", "--nproc", "2", "--nnodes", "2",
                "--master-addr", "10.0.0.1", "--emit-launch", tmp_path / "launch")
    assert r.returncode == 0, r.stderr
    assert "wrote 4 launch file(s)" in r.stdout and not (tmp_path / "run").exists()
    bad = run_cli("train", SPEC, "--data", "npz:missing.npz", "-o", tmp_path / "run2", "--emit-launch",
                  tmp_path / "launch2")
    assert bad.returncode == 2 and not (tmp_path / "launch2").exists()
