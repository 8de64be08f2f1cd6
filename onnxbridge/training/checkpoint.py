"""Checkpoints: weights and optimizer tensors in safetensors, everything else in JSON, never pickle.

One checkpoint per completed epoch is written to ``RUN_DIR/checkpoints/epoch-NNNN/`` through a temporary
directory that is renamed into place when complete (a rename is atomic), so a run killed at any moment
leaves only whole checkpoints. The previous one is removed once the new one is in place.

Example::

    save_checkpoint(run_dir, epoch=3, model=weights, optimizer=tensors, state={"history": ...})
    ckpt = latest_checkpoint(run_dir)       # Checkpoint(epoch=3, model=..., optimizer=..., state=...)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from onnxbridge.errors import OnnxBridgeError

CHECKPOINTS = "checkpoints"
MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
STATE_FILE = "state.json"


@dataclass
class Checkpoint:
    """A completed epoch's weights, optimizer tensors and JSON state."""

    epoch: int                    # epochs completed
    model: dict[str, np.ndarray]
    optimizer: dict[str, np.ndarray]
    state: dict[str, Any]
    path: Path


def _save_tensors(arrays: dict[str, np.ndarray], path: Path) -> None:
    from safetensors.numpy import save_file

    # np.ascontiguousarray would turn 0-d arrays (step counters) into 1-d ones
    save_file({k: np.array(v, order="C", copy=True) for k, v in arrays.items()}, str(path))


def _load_tensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(path))


def save_checkpoint(run_dir: str | os.PathLike, *, epoch: int, model: dict[str, np.ndarray],
                    optimizer: dict[str, np.ndarray], state: dict[str, Any]) -> Path:
    """Write the checkpoint of ``epoch`` (epochs completed) atomically; return its directory."""
    root = Path(run_dir) / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"epoch-{epoch:04d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=root))
    try:
        _save_tensors(model, tmp / MODEL_FILE)
        _save_tensors(optimizer, tmp / OPTIMIZER_FILE)
        (tmp / STATE_FILE).write_text(json.dumps({"epoch": epoch, **state}, indent=1), encoding="utf-8")
        for item in tmp.iterdir():
            os.chmod(item, 0o644)
        os.chmod(tmp, 0o755)
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    for old in root.glob("epoch-*"):
        if old != final and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(run_dir: str | os.PathLike) -> Checkpoint:
    """The newest complete checkpoint in ``run_dir``; a clear error when there is none."""
    root = Path(run_dir) / CHECKPOINTS
    if not Path(run_dir).is_dir():
        raise OnnxBridgeError(f"--resume {run_dir}: no such run directory")
    done = sorted(p for p in root.glob("epoch-*") if (p / STATE_FILE).is_file()) if root.is_dir() else []
    if not done:
        raise OnnxBridgeError(f"--resume {run_dir}: holds no checkpoint", hint="a run writes one after each epoch")
    path = done[-1]
    try:
        state = json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
        model = _load_tensors(path / MODEL_FILE)
        optimizer = _load_tensors(path / OPTIMIZER_FILE)
    except (OSError, ValueError) as exc:
        raise OnnxBridgeError(f"{path}: the checkpoint cannot be read ({exc})") from None
    return Checkpoint(int(state["epoch"]), model, optimizer, state, path)
