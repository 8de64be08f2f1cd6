"""Per-epoch metrics: the console report (rich progress bars), ``metrics.json`` and ``curves.png``.

Only the process that reports (rank 0, the TensorFlow chief) makes a :class:`Reporter` that prints and
writes; the others get a silent one. Files are written atomically (:mod:`onnxbridge.ir.io`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onnxbridge.ir.io import atomic_write

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

METRICS_FILE = "metrics.json"
CURVES_FILE = "curves.png"


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as JSON atomically."""
    p = Path(path)
    with atomic_write(p) as tmp:
        tmp.write_text(json.dumps(data, indent=2, default=_plain) + "\n", encoding="utf-8")
    return p


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


class Reporter:
    """Prints a progress bar per epoch and one line of metrics after each (when ``enabled``).

    ``step()`` is called once per batch; with no terminal there is no bar and it does nothing.
    """

    def __init__(self, *, enabled: bool, epochs: int, steps: int, label: str):
        self.enabled = enabled
        self.epochs = epochs
        self.steps = steps
        self.label = label
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if enabled:
            from onnxbridge.cli.common import err_console

            self.console = err_console
            if err_console.is_terminal:
                from rich.progress import (
                    BarColumn,
                    MofNCompleteColumn,
                    Progress,
                    TextColumn,
                    TimeElapsedColumn,
                )

                self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                          TimeElapsedColumn(), console=err_console, transient=True)
                self._progress.start()

    @property
    def live(self) -> bool:
        """Whether per-batch updates are shown (a terminal is attached)."""
        return self._progress is not None

    def start_epoch(self, epoch: int) -> None:
        """Start the progress bar of epoch ``epoch`` (counted from 0), replacing the previous one."""
        if self._progress is not None:
            if self._task is not None:
                self._progress.remove_task(self._task)
            self._task = self._progress.add_task(f"{self.label} epoch {epoch + 1}/{self.epochs}", total=self.steps)

    def step(self, n: int = 1) -> None:
        """Advance the epoch's progress bar by ``n`` steps."""
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, n)

    def end_epoch(self, record: dict[str, Any]) -> None:
        """Print the epoch's metric record."""
        if not self.enabled:
            return
        self.console.print(format_record(record, self.epochs), highlight=False)

    def note(self, text: str) -> None:
        """Print a line of user-facing text (escaped for the console)."""
        if self.enabled:
            from onnxbridge.cli.common import shown

            self.console.print(shown(text), highlight=False)

    def close(self) -> None:
        """Stop the progress display."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def format_record(record: dict[str, Any], epochs: int) -> str:
    """``epoch 3/20  loss 0.1234  accuracy 96.1%  val_loss ...  1,234 samples/s``."""
    parts = [f"epoch {record['epoch']}/{epochs}"]
    for key in ("loss", "accuracy", "mae", "val_loss", "val_accuracy", "val_mae"):
        if key in record and record[key] is not None:
            value = record[key]
            parts.append(f"{key} {value:.2%}" if key.endswith("accuracy") else f"{key} {value:.4f}")
    parts.append(f"{record['samples_per_s']:,.0f} samples/s")
    return "  ".join(parts)


def plot_curves(history: list[dict[str, Any]], path: str | os.PathLike, *, title: str) -> Path | None:
    """Loss and accuracy (or MAE) per epoch, training and validation, as a PNG; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # file output only; must come before pyplot
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    epochs = [r["epoch"] for r in history]
    second = "accuracy" if any("accuracy" in r for r in history) else "mae"
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    try:
        for ax, metric in zip(axes, ("loss", second)):
            for key, style in ((metric, "-o"), (f"val_{metric}", "-s")):
                values = [r.get(key) for r in history]
                if any(v is not None for v in values):
                    ax.plot(epochs, values, style, markersize=3, label="validation" if key.startswith("val_")
                            else "training")
            ax.set_xlabel("epoch")
            ax.set_ylabel(metric)
            ax.grid(alpha=0.3)
            ax.legend()
        fig.suptitle(title)
        fig.tight_layout()
        target = Path(path)
        with atomic_write(target) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)
    return target
