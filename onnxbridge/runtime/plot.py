"""A PNG bar chart of a benchmark: p50 latency per configuration (engine and device), grouped by batch.

matplotlib is imported only here, inside the function, and only its file-writing backend (Agg) is used;
it comes with the ``plot`` extra.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from onnxbridge.errors import MissingDependencyError, OnnxBridgeError

if TYPE_CHECKING:
    from onnxbridge.runtime.results import BenchReport


@dataclass
class PlotInfo:
    """What was drawn: the file, and one label per bar ('onnxruntime cpu @ batch 8')."""

    path: Path
    bars: list[str]


def plot_report(report: BenchReport, path: str | os.PathLike) -> PlotInfo:
    """Write a bar chart of ``report`` to ``path`` (PNG): one bar per measured configuration.

    Bars show the p50 latency with a whisker up to p90; configurations that failed are left out, and
    outputs that differ from the baseline are marked "wrong" above their bar.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed; must precede pyplot's import
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError("matplotlib", "plot") from None
    from onnxbridge.ir.io import atomic_write

    target = check_plot_target(path)
    measured = [r for r in report.results if r.latency is not None]
    if not measured:
        raise OnnxBridgeError("nothing to plot: no configuration was measured")
    batches = sorted({r.batch for r in measured})
    labels = list(dict.fromkeys(r.label for r in measured))
    width = 0.8 / len(labels)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 + 0.5 * len(measured)), 4.5), dpi=100)
    cmap = plt.get_cmap("tab10")
    bars: list[str] = []
    try:
        for k, label in enumerate(labels):
            xs, heights, whiskers, wrong = [], [], [], []
            for i, batch in enumerate(batches):
                r = next((r for r in measured if r.label == label and r.batch == batch), None)
                if r is None or r.latency is None:
                    continue
                xs.append(i + (k - (len(labels) - 1) / 2) * width)
                heights.append(r.latency.p50_ms)
                whiskers.append(max(r.latency.p90_ms - r.latency.p50_ms, 0.0))
                wrong.append(r.parity is not None and not r.parity.ok)
                bars.append(f"{label} @ batch {batch}")
            container = ax.bar(xs, heights, width * 0.95, yerr=[[0.0] * len(whiskers), whiskers],
                               capsize=3, label=label, color=cmap(k % 10))
            for rect, bad in zip(container.patches, wrong):
                if bad:
                    ax.annotate("wrong", (rect.get_x() + rect.get_width() / 2, rect.get_height()),
                                ha="center", va="bottom", color="red", fontsize=8)
        ax.set_xticks(range(len(batches)))
        ax.set_xticklabels([f"batch {b}" for b in batches])
        ax.set_ylabel("latency p50 (ms), whisker to p90")
        ax.set_title(f"{report.model}: latency per configuration")
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        with atomic_write(target) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)
    return PlotInfo(target, bars)


def check_plot_target(path: str | os.PathLike) -> Path:
    """Fail early (before a long benchmark) when the plot cannot be written: no matplotlib, not a .png."""
    import importlib.util

    target = Path(path)
    if target.suffix.lower() != ".png":
        raise OnnxBridgeError(f"{target}: the plot is written as PNG", hint="give a file name ending in .png")
    if target.is_dir():
        raise OnnxBridgeError(f"{target}: is a directory, expected a file path")
    if importlib.util.find_spec("matplotlib") is None:
        raise MissingDependencyError("matplotlib", "plot")
    return target
