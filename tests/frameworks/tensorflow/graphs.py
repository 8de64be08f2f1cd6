"""Helpers for the TensorFlow bridge tests."""

from __future__ import annotations


def graph_transposes(live) -> int:
    """Transpose ops in the traced graph of ``live.__call__`` (including nested function bodies)."""
    graph = live.__call__.get_concrete_function().graph.as_graph_def()
    nodes = list(graph.node) + [n for f in graph.library.function for n in f.node_def]
    return sum(1 for n in nodes if n.op == "Transpose")
