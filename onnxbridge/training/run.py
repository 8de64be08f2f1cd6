"""What both training loops share: the run's history, early stopping, what goes into checkpoints and
``metrics.json``, and the files written at the end. Only the reporting process writes files."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

from onnxbridge.training.data import ModelIO, TrainData
from onnxbridge.training.metrics import CURVES_FILE, METRICS_FILE, Reporter, plot_curves, write_json
from onnxbridge.training.objective import Objective
from onnxbridge.training.options import TrainOptions

ONNX_FILE = "model.onnx"


@dataclass
class Run:
    """One training run as the loops see it (one per process in a distributed run)."""

    run_dir: Path
    options: TrainOptions
    data: TrainData
    io: ModelIO
    objective: Objective
    onnx_model: onnx.ModelProto
    name: str
    rank: int = 0
    world: int = 1
    history: list[dict[str, Any]] = field(default_factory=list)
    start_epoch: int = 0
    best: float | None = None
    bad_epochs: int = 0
    stopped_early: bool = False
    resumed_from: int | None = None
    device: str = "cpu"
    started: float = field(default_factory=time.perf_counter)
    reporter: Reporter | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def chief(self) -> bool:
        """Whether this process reports and writes (rank 0 / the TensorFlow chief)."""
        return self.rank == 0

    @property
    def steps_per_epoch(self) -> int:
        """Full batches per epoch: the training samples divided by the batch size, rounded down."""
        return self.data.n_train // self.options.batch_size

    def make_reporter(self) -> Reporter:
        """The progress reporter of this run (shown on the chief process only, when progress is on)."""
        self.reporter = Reporter(enabled=self.chief and self.options.progress, epochs=self.options.epochs,
                                 steps=self.steps_per_epoch, label=self.options.framework)
        return self.reporter

    def monitored(self, record: dict[str, Any]) -> float:
        """Early stopping watches the validation loss (the training loss without a validation split)."""
        return float(record["val_loss"] if record.get("val_loss") is not None else record["loss"])

    def end_epoch(self, record: dict[str, Any]) -> bool:
        """Record an epoch; return True when training should stop (patience used up)."""
        self.history.append(record)
        value = self.monitored(record)
        if self.best is None or value < self.best:
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
        patience = self.options.patience
        stop = bool(patience) and self.bad_epochs >= patience
        self.stopped_early = stop and record["epoch"] < self.options.epochs
        if self.reporter is not None:
            self.reporter.end_epoch(record)
        if self.chief:
            write_json(self.run_dir / METRICS_FILE, self.summary())
        return stop

    def state(self) -> dict[str, Any]:
        """The JSON part of a checkpoint."""
        return {"history": self.history, "best": self.best, "bad_epochs": self.bad_epochs, "world": self.world,
                "framework": self.options.framework, "options": self.options.to_dict()}

    def restore(self, state: dict[str, Any], epoch: int) -> None:
        """Take up the history and early-stopping state of checkpoint ``state`` at ``epoch``; an OptionError
        when it was trained with another framework or process count."""
        from onnxbridge.training.options import OptionError

        if state.get("framework") != self.options.framework:
            raise OptionError(f"--resume: the run was trained with {state.get('framework')}, not "
                              f"{self.options.framework}", hint=f"pass --framework {state.get('framework')}")
        if int(state.get("world", 1)) != self.world:
            raise OptionError(f"--resume: the run used {state.get('world')} process(es), this one {self.world}",
                              hint="resume with the same number of processes (the batches would differ)")
        self.history = list(state.get("history", []))[:epoch]
        self.best = state.get("best")
        self.bad_epochs = int(state.get("bad_epochs", 0))
        self.start_epoch = epoch
        self.resumed_from = epoch

    def summary(self) -> dict[str, Any]:
        """What ``metrics.json`` holds."""
        final = self.history[-1] if self.history else {}
        return {
            "network": self.name, "framework": self.options.framework, "device": self.device,
            "world_size": self.world, "task": self.data.task, "objective": self.objective.kind,
            "loss": self.objective.loss_name, "metric": self.objective.metric,
            "batch_size": self.options.batch_size, "epochs_planned": self.options.epochs,
            "epochs_run": len(self.history), "stopped_early": self.stopped_early, "resumed_from": self.resumed_from,
            "train_samples": self.data.n_train, "val_samples": self.data.n_val,
            "final": final, "history": self.history, **self.extra,
        }

    def finish(self) -> None:
        """Write the final ``metrics.json`` and ``curves.png`` (reporting process only)."""
        if not self.chief:
            return
        self.extra["seconds"] = round(time.perf_counter() - self.started, 3)
        if self.history:
            written = plot_curves(self.history, self.run_dir / CURVES_FILE,
                                  title=f"{self.name}: {self.options.framework}, {self.data.source}")
            self.extra["curves"] = str(written.name) if written else None
        write_json(self.run_dir / METRICS_FILE, self.summary())
