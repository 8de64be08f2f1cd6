"""Training options: one dataclass shared by the Python API and the command line, checked up front.

:meth:`TrainOptions.cli_args` turns the options back into ``onnxbridge train`` arguments: that is how a
distributed run's workers (and the launch files written for clusters) get exactly the options of the run
that launched them.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from onnxbridge.errors import OnnxBridgeError
from onnxbridge.frameworks.bridges import bridges, get_bridge, names

#: what ``--framework`` and ``--export-to`` take: every registered bridge
FRAMEWORKS = names()
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("cosine", "constant")
LOSSES = ("auto", "cross_entropy", "mse", "bce")
_DEVICE = re.compile(r"^(auto|cpu|cuda(:[0-9]+)?)$")
_HOSTPORT = re.compile(r"^[A-Za-z0-9_.\-\[\]:]+:[0-9]{1,5}$")


class OptionError(OnnxBridgeError):
    """A training option has a value that cannot work."""


@dataclass
class TrainOptions:
    """Everything ``onnxbridge train`` takes besides the network and the run directory.

    Example::

        TrainOptions(framework="tensorflow", epochs=5, batch_size=64).check()
    """

    framework: str = field(default_factory=lambda: names()[0])  # the first registered bridge
    epochs: int = 20
    batch_size: int = 32          # the global batch: split across processes / workers
    lr: float = 1e-3
    optimizer: str = "adam"
    schedule: str = "cosine"      # the learning rate over the run's steps (see lr_factor)
    loss: str = "auto"
    device: str = "auto"
    amp: bool = False
    seed: int = 0
    patience: int = 5             # early stopping: epochs without a better validation loss (0: off)
    # data overrides (None: take the spec's data section)
    data: str | None = None
    target: str | None = None
    task: str | None = None
    split: float | None = None
    scale: str | None = None
    # distributed: PyTorch (torchrun)
    nproc: int = 1
    nnodes: int = 1
    node_rank: int = 0
    master_addr: str = "127.0.0.1"
    master_port: int = 29500
    connect_timeout: float = 60.0
    # distributed: TensorFlow (MultiWorkerMirroredStrategy)
    workers: list[str] = field(default_factory=list)
    worker_index: int = 0
    # after training
    export_to: str | None = None
    progress: bool = True

    def check(self) -> TrainOptions:
        """Raise :class:`OptionError` (one line, naming the option) for a value that cannot work."""
        def bad(option: str, value: Any, need: str) -> OptionError:
            return OptionError(f"{option} {value!r}: {need}")

        if self.framework not in FRAMEWORKS:
            raise bad("--framework", self.framework, f"choose {' or '.join(FRAMEWORKS)}")
        if self.optimizer not in OPTIMIZERS:
            raise bad("--optimizer", self.optimizer, f"choose one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise bad("--schedule", self.schedule, f"choose one of {', '.join(SCHEDULES)}")
        if self.loss not in LOSSES:
            raise bad("--loss", self.loss, f"choose one of {', '.join(LOSSES)}")
        if not _DEVICE.match(self.device):
            raise bad("--device", self.device, "use auto, cpu, cuda or cuda:N")
        for name in ("epochs", "batch_size", "nproc", "nnodes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise bad(f"--{name.replace('_', '-')}", value, "must be a whole number of at least 1")
        if not self.lr > 0:
            raise bad("--lr", self.lr, "must be positive")
        if self.patience < 0:
            raise bad("--patience", self.patience, "must be 0 (off) or more")
        if not 0 <= self.node_rank < self.nnodes:
            raise bad("--node-rank", self.node_rank, f"must be between 0 and --nnodes - 1 ({self.nnodes - 1})")
        if not 0 < self.master_port < 65536:
            raise bad("--master-port", self.master_port, "must be a TCP port (1-65535)")
        if not self.connect_timeout > 0:
            raise bad("--connect-timeout", self.connect_timeout, "must be positive (seconds)")
        if self.split is not None and not 0 <= self.split < 1:
            raise bad("--split", self.split, "must be a fraction in [0, 1)")
        if self.task not in (None, "auto", "classification", "regression"):
            raise bad("--task", self.task, "choose auto, classification or regression")
        if self.scale not in (None, "none", "standard", "minmax", "max"):
            raise bad("--scale", self.scale, "choose none, standard, minmax or max")
        if self.export_to is not None and self.export_to not in FRAMEWORKS:
            raise bad("--export-to", self.export_to, f"choose {' or '.join(FRAMEWORKS)}")
        for w in self.workers:
            if not _HOSTPORT.match(w):
                raise bad("--workers", w, "each worker is host:port")
        if self.workers and not 0 <= self.worker_index < len(self.workers):
            raise bad("--worker-index", self.worker_index, f"must be between 0 and {len(self.workers) - 1}")
        bridge = get_bridge(self.framework)
        # each framework lays out a cluster its own way: the others' cluster options do not apply
        default = TrainOptions()
        for other in bridges():
            for name in other.cluster_options:
                value = getattr(self, name)
                if other is not bridge and name not in bridge.cluster_options and value != getattr(default, name):
                    shown = ",".join(value) if isinstance(value, list) else value
                    raise bad(f"--{name.replace('_', '-')}", shown, f"is for {other.display_name}; "
                                                                   f"{bridge.display_name} takes {bridge.cluster_hint}")
        bridge.check_training_options(self)
        return self

    @property
    def world_size(self) -> int:
        """How many processes train together (the framework's bridge counts them)."""
        return get_bridge(self.framework).world_size(self)

    def to_dict(self) -> dict[str, Any]:
        """The options as JSON data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainOptions:
        """Options from JSON data; keys that are not options are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def cli_args(self, *, distributed: bool = False) -> list[str]:
        """These options as ``onnxbridge train`` arguments (defaults left out).

        ``distributed=False`` leaves out the launch options (``--nproc``, ``--nnodes`` ...): what a worker
        started by torchrun, or by a cluster's operator, runs.
        """
        default = TrainOptions()
        args: list[str] = ["--framework", self.framework]
        launch = {"nproc", "nnodes", "node_rank", "master_addr", "master_port", "connect_timeout", "workers",
                  "worker_index"}
        for f in fields(self):
            value, base = getattr(self, f.name), getattr(default, f.name)
            if f.name == "framework" or (f.name in launch and not distributed):
                continue
            explicit = f.name == "worker_index" and self.workers  # each worker names its index, 0 too
            if (value == base and not explicit) or value is None:
                continue
            flag = "--" + f.name.replace("_", "-")
            if isinstance(value, bool):
                args.append(flag if value else f"--no-{f.name.replace('_', '-')}")
            elif isinstance(value, list):
                args += [flag, ",".join(value)]
            else:
                args += [flag, str(value)]
        return args


def lr_factor(schedule: str, step: int, total_steps: int) -> float:
    """The learning rate at optimisation step ``step`` (from 0) of ``total_steps``, as a fraction of ``--lr``.

    ``cosine`` decays it from 1 to 0 along half a cosine, as Keras' ``CosineDecay`` does (which the
    TensorFlow loop uses), so the last epochs take small steps and the final weights settle instead of
    jumping between epochs; ``constant`` keeps it.
    """
    if schedule == "constant" or total_steps <= 0:
        return 1.0
    return 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))
