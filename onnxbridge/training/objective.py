"""What is being optimised: the loss and the metric, chosen from the task, the output and ``--loss``.

Both loops read the same :class:`Objective`, so PyTorch and Keras optimise the same thing:

* multi-class: cross entropy on the last axis (of raw scores, of log-probabilities, or of
  probabilities when the network ends in Softmax), metric accuracy;
* binary (one output): binary cross entropy (on logits, or on probabilities after a Sigmoid), accuracy;
* regression: mean squared error, metric mean absolute error.
"""

from __future__ import annotations

from dataclasses import dataclass

from onnxbridge.training.data import ModelIO, TrainData
from onnxbridge.training.options import OptionError


@dataclass(frozen=True)
class Objective:
    """``kind``: multiclass / binary / regression; ``form``: logits / probs (what the network outputs)."""

    kind: str
    form: str
    classes: int | None

    @property
    def metric(self) -> str:
        """The metric reported besides the loss: ``mae`` for regression, ``accuracy`` otherwise."""
        return "mae" if self.kind == "regression" else "accuracy"

    @property
    def loss_name(self) -> str:
        """The loss the objective trains with: ``cross_entropy``, ``bce`` or ``mse``."""
        return {"multiclass": "cross_entropy", "binary": "bce", "regression": "mse"}[self.kind]


def choose_objective(io: ModelIO, data: TrainData, loss: str = "auto") -> Objective:
    """The objective for ``data`` and the network's output; ``loss`` (from ``--loss``) must agree."""
    if data.task == "regression":
        kind = "regression"
    else:
        kind = "binary" if io.classes == 1 else "multiclass"
    # LogSoftmax output: cross entropy on log-probabilities equals cross entropy on them as logits
    form = {"Softmax": "probs", "Sigmoid": "probs"}.get(io.output_op, "logits")
    if kind == "multiclass" and io.output_op == "Sigmoid":
        form = "logits"  # independent sigmoids are not a distribution; treat them as scores
    if loss != "auto":
        wanted = {"cross_entropy": "multiclass", "bce": "binary", "mse": "regression"}[loss]
        if wanted != kind:
            why = {"multiclass": f"a classifier with {io.classes} outputs", "binary": "a one-output classifier",
                   "regression": "regression targets"}[kind]
            raise OptionError(f"--loss {loss}: the data and output {io.output.name!r} make this {why}; "
                              f"use --loss {Objective(kind, form, data.num_classes).loss_name} or auto")
    return Objective(kind, form, data.num_classes)
