"""Reading onnxruntime's profile (``SessionOptions.enable_profiling``): where each node ran and for how long.

The profile is a list of Chrome trace events; each node has one ``<name>_kernel_time`` event per run whose
``args.provider`` names the execution provider that ran it.

Example::

    nodes = parse_profile(json.load(open(session.end_profiling())), skip_runs=1)
    [(n.name, n.provider, n.mean_us) for n in nodes]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

KERNEL_SUFFIX = "_kernel_time"


@dataclass
class NodePlacement:
    """One node of the optimized graph: where it ran and its mean kernel time per run (microseconds)."""

    name: str
    op_type: str
    provider: str
    mean_us: float


def parse_profile(events: Sequence[Mapping[str, Any]], *, skip_runs: int = 0) -> list[NodePlacement]:
    """Node placements from an onnxruntime profile trace (a list of Chrome trace events).

    Each node has one ``<name>_kernel_time`` event per run with ``args.op_name`` and ``args.provider``;
    the first ``skip_runs`` events of each node (warm-up runs) are dropped, the rest averaged.
    """
    per_node: dict[str, list[float]] = {}
    info: dict[str, tuple[str, str]] = {}
    for e in events:
        if e.get("cat") != "Node" or not str(e.get("name", "")).endswith(KERNEL_SUFFIX):
            continue
        args = e.get("args") or {}
        name = str(e["name"])[: -len(KERNEL_SUFFIX)]
        info.setdefault(name, (str(args.get("op_name", "?")), str(args.get("provider", "?"))))
        per_node.setdefault(name, []).append(float(e.get("dur", 0.0)))
    nodes = []
    for name, durations in per_node.items():
        kept = durations[skip_runs:] or durations
        op_type, provider = info[name]
        nodes.append(NodePlacement(name, op_type, provider, float(np.mean(kept))))
    return nodes
