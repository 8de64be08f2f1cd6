"""Real training runs on scikit-learn's digits with the default options: each framework alone, then the
same run distributed over two processes (torchrun + DDP with gloo; two MultiWorkerMirroredStrategy workers
on localhost ports). Grouped on one test worker so the single-process runs are made once."""

from __future__ import annotations

import json
import shlex

import numpy as np
import onnxruntime as ort
import pytest
from safetensors.numpy import load_file

from onnxbridge.frameworks.base import weights_digest
from onnxbridge.spec import build
from onnxbridge.spec.data import DataSpec
from onnxbridge.training.data import load_data, model_io
from onnxbridge.training.launch import free_port
from tests.conftest import MODELS, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("train-runs")]
SPEC = MODELS / "digits_cnn.yaml"
RUN_FILES = {"checkpoints", "curves.png", "data.json", "metrics.json", "model.onnx", "options.json"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    # one intra-op thread per process: on a busy 2-core machine torch's default threads slow down manyfold
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    """Run directories by name, trained on first use."""
    made: dict[str, object] = {}
    root = tmp_path_factory.mktemp("runs")

    def get(name: str, *args: str):
        if name not in made:
            out = root / name
            made[name] = None  # a failed run fails once, not again in every test that needs it
            r = run_cli("train", SPEC, "--data", "digits", "-o", out, *args, timeout=1500)
            assert r.returncode == 0, r.stderr[-3000:]
            made[name] = (out, json.loads((out / "metrics.json").read_text()), r)
        if made[name] is None:
            pytest.fail(f"the {name} run failed earlier")
        return made[name]

    return get


def _val_accuracy_on_onnxruntime(run_dir) -> float:
    """Accuracy of RUN_DIR/model.onnx on the validation split, recomputed here from the data section."""
    io = model_io(build(SPEC))
    data = load_data(DataSpec(source="digits"), io, seed=0)
    session = ort.InferenceSession(str(run_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    logits = session.run(None, {name: data.x_val[0]})[0]
    return float(np.mean(logits.argmax(-1) == data.y_val))


@pytest.mark.torch
def test_torch_digits_reaches_97_percent(runs):
    out, m, _ = runs("torch")
    assert m["framework"] == "torch" and m["epochs_run"] >= 1
    assert m["final"]["val_accuracy"] >= 0.97, m["final"]
    assert m["onnx"]["prediction_agreement"] == 1.0
    # the exported ONNX, on onnxruntime, gives the framework's validation accuracy
    assert _val_accuracy_on_onnxruntime(out) == pytest.approx(m["final"]["val_accuracy"], abs=1e-6)
    assert {p.name for p in out.iterdir()} == RUN_FILES
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert all(r["samples_per_s"] > 0 and "loss" in r and "val_loss" in r for r in m["history"])


@pytest.mark.tensorflow
def test_tensorflow_digits_reaches_97_percent(runs):
    out, m, _ = runs("tensorflow", "--framework", "tensorflow")
    assert m["final"]["val_accuracy"] >= 0.97, m["final"]
    assert m["onnx"]["prediction_agreement"] == 1.0
    assert _val_accuracy_on_onnxruntime(out) == pytest.approx(m["final"]["val_accuracy"], abs=1e-6)
    assert {p.name for p in out.iterdir()} == RUN_FILES


@pytest.mark.torch
@pytest.mark.tensorflow
def test_both_frameworks_agree_within_two_points(runs):
    _, torch_m, _ = runs("torch")
    _, tf_m, _ = runs("tensorflow", "--framework", "tensorflow")
    assert abs(torch_m["final"]["val_accuracy"] - tf_m["final"]["val_accuracy"]) <= 0.02
    assert torch_m["train_samples"] == tf_m["train_samples"]


def _check_replicas(out, m, framework):
    replicas = m["replicas"]
    assert [r["rank"] for r in replicas] == [0, 1]
    assert replicas[0]["sha256"] == replicas[1]["sha256"]  # every process ends with the same weights
    # ... and they are the weights in the last checkpoint
    ckpt = sorted((out / "checkpoints").iterdir())[-1]
    saved = load_file(str(ckpt / "model.safetensors"))
    if framework == "tensorflow":  # checkpoints hold every variable by position; the digest the weights
        saved = {k.split(":", 1)[1]: v for k, v in saved.items() if "seed_generator" not in k}
    assert weights_digest(saved) == replicas[0]["sha256"]
    # only rank 0 / the chief writes: the run directory holds exactly one run's files
    assert {p.name for p in out.iterdir()} == RUN_FILES
    assert [p.name for p in (out / "checkpoints").iterdir()] == [ckpt.name]


@pytest.mark.torch
def test_torchrun_ddp_two_processes(runs, tmp_path):
    single = runs("torch")[1]
    port = str(free_port())
    out, m, r = runs("ddp", "--nproc", "2", "--master-port", port)
    assert m["world_size"] == 2
    assert abs(m["final"]["val_accuracy"] - single["final"]["val_accuracy"]) <= 0.02
    _check_replicas(out, m, "torch")
    # the command the launch files give a node is the command that ran here
    launched = next(line for line in r.stderr.splitlines() if line.startswith("launch: "))[len("launch: "):]
    local = shlex.split(launched)
    r2 = run_cli("train", SPEC, "--data", "digits", "-o", out, "--nproc", "2", "--master-port", port,
                 "--emit-launch", tmp_path / "launch")
    assert r2.returncode == 0, r2.stderr
    emitted = shlex.split((tmp_path / "launch" / "torchrun-node0.sh").read_text().splitlines()[-1])
    assert emitted[0] == "torchrun" and local[1:3] == ["-m", "torch.distributed.run"]
    assert emitted[1:] == local[3:]
    # ... and rank 0 ran the worker command that torchrun was given
    options = json.loads((out / "options.json").read_text())
    assert ["onnxbridge", *options["argv"]] == emitted[emitted.index("-m") + 1:]


@pytest.mark.tensorflow
def test_multi_worker_mirrored_two_workers(runs):
    single = runs("tensorflow", "--framework", "tensorflow")[1]
    out, m, r = runs("mwms", "--framework", "tensorflow", "--nproc", "2")
    assert m["world_size"] == 2
    assert abs(m["final"]["val_accuracy"] - single["final"]["val_accuracy"]) <= 0.02
    _check_replicas(out, m, "tensorflow")
    workers = [line for line in r.stderr.splitlines() if line.startswith("launch: ")]
    assert len(workers) == 2 and all("--workers 127.0.0.1:" in w for w in workers)
    assert "--worker-index 1" in workers[1]
