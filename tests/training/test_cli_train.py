"""``onnxbridge train`` on bad input: one line each, exit code 2, nothing written to RUN_DIR."""

from __future__ import annotations

import time

import numpy as np
import pytest

from onnxbridge.training.launch import free_port
from tests.conftest import MODELS, run_cli

SPEC = MODELS / "digits_cnn.yaml"


def _errors(r):
    return [line for line in r.stderr.splitlines() if line.startswith("error:")]


def _npz(tmp_path, name, x, y):
    np.savez(tmp_path / name, x=x, y=y)
    return f"npz:{tmp_path / name}"


def _bad_cases(tmp_path):
    rng = np.random.default_rng(0)
    nan = rng.normal(size=(40, 64)).astype(np.float32)
    nan[3, 3] = np.nan
    return {
        "shape": (["--data", _npz(tmp_path, "s.npz", np.zeros((40, 50), np.float32), np.zeros(40, int))],
                  "array 'x' (samples of shape [50]) does not fit input 'image'"),
        "labels": (["--data", _npz(tmp_path, "l.npz", np.zeros((40, 64), np.float32), np.arange(40) % 11)],
                   "label 10, but the output 'logits' has 10 classes"),
        "nan": (["--data", _npz(tmp_path, "n.npz", nan, np.zeros(40, int))], "has NaN values in 1 sample"),
        "missing": (["--data", f"npz:{tmp_path / 'nothing.npz'}"], "no such file"),
        "nproc": (["--data", "digits", "--nproc", "0"], "--nproc 0: must be a whole number of at least 1"),
        "no-data": ([], "no training data: the spec has no data: section"),
        "loss": (["--data", "digits", "--loss", "mse"], "but the output 'logits' gives [10]"),
        "batch": (["--data", "digits", "--batch-size", "5000"], "fewer than one batch"),
    }


@pytest.mark.parametrize("case", ["shape", "labels", "nan", "missing", "nproc", "no-data", "loss", "batch"])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, case):
    args, message = _bad_cases(tmp_path)[case]
    out = tmp_path / "run"
    r = run_cli("train", SPEC, *args, "-o", out)
    assert r.returncode == 2, r.stderr
    assert len(_errors(r)) == 1 and message in _errors(r)[0], r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists()


def test_unreachable_master_fails_within_the_timeout(tmp_path):
    out = tmp_path / "run"
    began = time.monotonic()
    r = run_cli("train", SPEC, "--data", "digits", "-o", out, "--nproc", "2", "--nnodes", "2", "--node-rank", "1",
                "--master-addr", "127.0.0.1", "--master-port", str(free_port()), "--connect-timeout", "3")
    assert r.returncode == 2 and "unreachable after 3 s" in _errors(r)[0], r.stderr
    assert time.monotonic() - began < 60
    assert not out.exists()


def test_a_used_run_directory_is_not_overwritten(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    r = run_cli("train", SPEC, "--data", "digits", "-o", out)
    assert r.returncode == 2 and "already exists and is not empty" in _errors(r)[0]
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_node_zero_must_host_the_master(tmp_path):
    # a documentation address (TEST-NET-1): never reached, only checked against this machine's addresses
    r = run_cli("train", SPEC, "--data", "digits", "-o", tmp_path / "run", "--nproc", "2", "--nnodes", "2",
                "--master-addr", "192.0.2.1")
    assert r.returncode == 2 and "not an address of this machine" in _errors(r)[0]


@pytest.mark.slow
@pytest.mark.torch
def test_cli_trains_and_reports(tmp_path):
    r = run_cli("train", MODELS / "wine_mlp.yaml", "--epochs", "3", "-o", tmp_path / "run", "--format", "json",
                "--export-to", "tensorflow")
    assert r.returncode == 0, r.stderr
    import json

    m = json.loads(r.stdout)
    assert m["epochs_run"] == 3 and m["network"] == "wine_mlp" and m["onnx"]["path"] == "model.onnx"
    other = m["onnx"]["export_to"]
    assert other["framework"] == "tensorflow" and all(c["ok"] for c in other["checks"].values())
    assert (tmp_path / "run" / "tensorflow" / "model.py").is_file()
    assert "epoch 3/3" not in r.stdout  # per-epoch lines go to stderr, the data to stdout
