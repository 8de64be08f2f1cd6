"""Checkpoints: safetensors + JSON written atomically; 2 epochs, stop, resume for 2 more = 4 straight."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import load_file

import onnxbridge
from onnxbridge.errors import OnnxBridgeError
from onnxbridge.training.checkpoint import latest_checkpoint, save_checkpoint
from tests.conftest import MODELS

SPEC = MODELS / "digits_cnn.yaml"


def test_checkpoints_are_atomic_and_keep_the_last(tmp_path):
    weights = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "step": np.array(3, dtype=np.int64)}
    save_checkpoint(tmp_path, epoch=1, model=weights, optimizer={}, state={"history": []})
    save_checkpoint(tmp_path, epoch=2, model=weights, optimizer={"m": np.ones(2)}, state={"history": [1]})
    ckpt = latest_checkpoint(tmp_path)
    assert ckpt.epoch == 2 and ckpt.model["step"].shape == () and ckpt.state["history"] == [1]
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["epoch-0002"]
    with pytest.raises(Exception):  # noqa: B017 - a value safetensors cannot hold: the write fails
        save_checkpoint(tmp_path, epoch=3, model={"bad": np.array(["text"])}, optimizer={}, state={})
    # ... and leaves no partial checkpoint behind: the last complete one is still the one found
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["epoch-0002"]
    assert latest_checkpoint(tmp_path).epoch == 2
    with pytest.raises(OnnxBridgeError, match="holds no checkpoint"):
        latest_checkpoint(tmp_path / "checkpoints")


def _final(run_dir, epoch):
    path = run_dir / "checkpoints" / f"epoch-{epoch:04d}"
    return load_file(str(path / "model.safetensors")), load_file(str(path / "optimizer.safetensors"))


@pytest.mark.slow
@pytest.mark.parametrize("framework", [pytest.param("torch", marks=pytest.mark.torch),
                                       pytest.param("tensorflow", marks=pytest.mark.tensorflow)])
def test_resume_is_exact(tmp_path, framework):
    # a run of 2 epochs extended to 4: with a constant rate it is the same run as 4 straight (the cosine
    # schedule spans the planned epochs, so extending a finished run bends its curve: see the next test)
    options = {"framework": framework, "data": "digits", "progress": False, "schedule": "constant"}
    straight = onnxbridge.train(SPEC, output=tmp_path / "straight", epochs=4, **options)
    first = onnxbridge.train(SPEC, output=tmp_path / "split", epochs=2, **options)
    assert first.metrics["epochs_run"] == 2
    resumed = onnxbridge.train(SPEC, resume=tmp_path / "split", epochs=4, **options)
    assert resumed.metrics["resumed_from"] == 2 and resumed.metrics["epochs_run"] == 4
    a_model, a_opt = _final(tmp_path / "straight", 4)
    b_model, b_opt = _final(tmp_path / "split", 4)

    def by_position(d):  # Keras numbers some variable paths per process; positions identify them
        return [v for _, v in sorted(d.items())] if framework == "tensorflow" else [d[k] for k in sorted(d)]

    assert len(a_model) == len(b_model) and len(a_opt) == len(b_opt)
    assert all(np.array_equal(x, y) for x, y in zip(by_position(a_model), by_position(b_model)))
    assert all(np.array_equal(x, y) for x, y in zip(by_position(a_opt), by_position(b_opt)))
    assert [r["loss"] for r in straight.history] == [r["loss"] for r in resumed.history]


@pytest.mark.slow
@pytest.mark.parametrize("framework", [pytest.param("torch", marks=pytest.mark.torch),
                                       pytest.param("tensorflow", marks=pytest.mark.tensorflow)])
def test_interrupted_run_resumes_exactly(tmp_path, framework, monkeypatch):
    """A 4-epoch run stopped (Ctrl-C) during epoch 3 and resumed ends as the straight run: the cosine
    schedule and every other state continue where they were."""
    from onnxbridge.training.run import Run

    options = {"framework": framework, "data": "digits", "progress": False, "epochs": 4, "patience": 0}
    straight = onnxbridge.train(SPEC, output=tmp_path / "straight", **options)
    end_epoch = Run.end_epoch

    def interrupted(self, record):
        if record["epoch"] == 3:  # before epoch 3's checkpoint is written: the last one is epoch 2's
            raise KeyboardInterrupt
        return end_epoch(self, record)

    monkeypatch.setattr(Run, "end_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        onnxbridge.train(SPEC, output=tmp_path / "split", **options)
    monkeypatch.setattr(Run, "end_epoch", end_epoch)
    assert latest_checkpoint(tmp_path / "split").epoch == 2
    resumed = onnxbridge.train(SPEC, resume=tmp_path / "split", **options)
    assert resumed.metrics["resumed_from"] == 2 and resumed.metrics["epochs_run"] == 4
    a_model, _ = _final(tmp_path / "straight", 4)
    b_model, _ = _final(tmp_path / "split", 4)
    assert [a_model[k].tobytes() for k in sorted(a_model)] == [b_model[k].tobytes() for k in sorted(b_model)]
    assert [r["loss"] for r in straight.history] == [r["loss"] for r in resumed.history]


def test_resume_refuses_another_framework(tmp_path):
    save_checkpoint(tmp_path, epoch=1, model={}, optimizer={}, state={"framework": "torch", "world": 1})
    with pytest.raises(OnnxBridgeError, match="trained with torch"):
        onnxbridge.train(SPEC, resume=tmp_path, framework="tensorflow", data="digits", epochs=2, progress=False)
