"""Placement report: which nodes each execution provider ran, and which fell back to the CPU.

onnxruntime assigns every node of the (optimized) graph to one provider; nodes the preferred provider
has no kernel for fall back to ``CPUExecutionProvider``, with copies between device and host around them.
That assignment, and the time each node took, are read from onnxruntime's own profile
(:mod:`onnxbridge.runtime.profile`).

Example::

    report = explain(model_bytes, "CUDAExecutionProvider", feeds)
    for row in report.by_op():
        print(row.op_type, row.provider, row.nodes, row.mean_us)
    print(report.fallback_share)
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from onnxbridge.runtime.profile import NodePlacement, parse_profile
from onnxbridge.runtime.providers import CPU, short_name
from onnxbridge.runtime.session import create_session

COPY_OPS = ("MemcpyToHost", "MemcpyFromHost")

@dataclass
class OpPlacement:
    """The nodes of one op type on one provider: how many, and their summed mean time per run."""

    op_type: str
    provider: str
    nodes: int
    mean_us: float
    fallback: bool
    names: list[str] = field(default_factory=list)


@dataclass
class PlacementReport:
    """Where the nodes of a session preferring ``provider`` ran, from ``runs`` profiled runs."""

    provider: str
    session_providers: list[str]
    runs: int
    nodes: list[NodePlacement] = field(default_factory=list)

    @property
    def fallback_nodes(self) -> list[NodePlacement]:
        """Nodes not run by the preferred provider (empty when the preferred provider is the CPU)."""
        return [n for n in self.nodes if n.provider != self.provider]

    @property
    def copy_nodes(self) -> list[NodePlacement]:
        """Device/host copies onnxruntime inserted around fallback nodes."""
        return [n for n in self.nodes if n.op_type in COPY_OPS]

    @property
    def total_us(self) -> float:
        """Mean time of all profiled nodes together, in microseconds."""
        return float(sum(n.mean_us for n in self.nodes))

    @property
    def fallback_us(self) -> float:
        """Mean time of the nodes that fell back to another provider, in microseconds."""
        return float(sum(n.mean_us for n in self.fallback_nodes))

    @property
    def fallback_share(self) -> float:
        """The fraction of the profiled kernel time spent in fallback nodes."""
        return self.fallback_us / self.total_us if self.total_us > 0 else 0.0

    def by_op(self) -> list[OpPlacement]:
        """Nodes grouped by (op type, provider), fallbacks first, then by time."""
        groups: dict[tuple[str, str], OpPlacement] = {}
        for n in self.nodes:
            key = (n.op_type, n.provider)
            if key not in groups:
                groups[key] = OpPlacement(n.op_type, n.provider, 0, 0.0, fallback=n.provider != self.provider)
            g = groups[key]
            g.nodes += 1
            g.mean_us += n.mean_us
            g.names.append(n.name)
        return sorted(groups.values(), key=lambda g: (not g.fallback, -g.mean_us, g.op_type))

    def summary(self) -> str:
        """One line: 'cuda: 40 nodes, 3 fell back to cpu (Resize, NonMaxSuppression): 12% of the time'."""
        name = short_name(self.provider)
        if self.provider == CPU:
            return f"{name}: {len(self.nodes)} nodes, all on the CPU provider"
        fb = self.fallback_nodes
        if not fb:
            return f"{name}: all {len(self.nodes)} nodes ran on {name}"
        ops = sorted({n.op_type for n in fb})
        return (f"{name}: {len(self.nodes)} nodes, {len(fb)} fell back to "
                f"{', '.join(sorted({short_name(n.provider) for n in fb}))} ({', '.join(ops)}): "
                f"{self.fallback_share:.0%} of the kernel time")

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON data: providers, node counts, times and the per-op breakdown."""
        return {
            "provider": self.provider, "session_providers": list(self.session_providers), "runs": self.runs,
            "nodes": len(self.nodes), "fallback_nodes": len(self.fallback_nodes),
            "copy_nodes": len(self.copy_nodes), "total_us": self.total_us, "fallback_us": self.fallback_us,
            "fallback_share": self.fallback_share,
            "by_op": [{"op_type": g.op_type, "provider": g.provider, "nodes": g.nodes, "mean_us": g.mean_us,
                       "fallback": g.fallback, "names": g.names} for g in self.by_op()],
        }


def explain(model_bytes: bytes, provider: str, feeds: Mapping[str, np.ndarray], *, runs: int = 10,
            threads: int | None = None, opt_level: str = "all") -> PlacementReport:
    """Profile a session preferring ``provider``: one warm-up run (dropped from the figures), then ``runs``."""
    with tempfile.TemporaryDirectory(prefix="onnxbridge-profile-") as tmp:
        session = create_session(model_bytes, provider, threads=threads, opt_level=opt_level,
                                 profile_prefix=os.path.join(tmp, "profile"))
        feeds = {i.name: feeds[i.name] for i in session.get_inputs()}
        for _ in range(runs + 1):
            session.run(None, feeds)
        path = session.end_profiling()
        with open(path, encoding="utf-8") as f:
            events = json.load(f)
    return PlacementReport(provider=provider, session_providers=list(session.get_providers()), runs=runs,
                           nodes=parse_profile(events, skip_runs=1))
