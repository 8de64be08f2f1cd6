"""Helpers shared by the fix passes: onnx-ir round trips and bypassing a node safely."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import onnx
import onnx_ir as ir


@contextmanager
def quiet() -> Iterator[None]:
    """Silence onnx-ir's and onnxscript's log warnings about the broken models fixes are meant for
    (the diagnostics already say what is wrong)."""
    loggers = [logging.getLogger(name) for name in ("onnx_ir", "onnxscript")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def read(model: onnx.ModelProto) -> ir.Model:
    """The model in onnx-ir, or :class:`FixRefused` when onnx-ir cannot represent it (e.g. a tensor defined
    twice: ONNX graphs must be in SSA form, and onnx-ir relies on it)."""
    from onnxbridge.checks.fixes import FixRefused

    try:
        return ir.from_proto(model)
    except Exception as exc:  # noqa: BLE001 - onnx-ir raises ValueError and others for invalid graphs
        cause = exc.__cause__ or exc
        text = str(cause).strip().splitlines()
        raise FixRefused(f"onnx-ir cannot read the model until its errors are fixed "
                         f"({text[0][:200] if text else type(cause).__name__})") from None


def run_ir(model: onnx.ModelProto, edit: Callable[[ir.Model], Any]) -> tuple[onnx.ModelProto, bool]:
    """Apply ``edit`` (an onnx-ir pass, or a function returning whether it changed anything) to a copy."""
    with quiet():
        m = read(model)
        result = edit(m)
        modified = bool(getattr(result, "modified", result))
        out = getattr(result, "model", m) if not isinstance(result, bool) else m
        return ir.to_proto(out), modified


def bypass(node: ir.Node) -> bool:
    """Remove a pass-through node (``y = op(x)`` with y equal to x), rewiring consumers to x.

    When y is a graph output, x takes y's name instead — unless x is a graph input, an initializer or
    itself a graph output, in which case the node must stay (ONNX needs a node there). Returns whether
    the node was removed.
    """
    graph = node.graph
    x, y = node.inputs[0], node.outputs[0]
    if x is None or graph is None:
        return False
    if y.is_graph_output():
        if x.is_graph_input() or x.is_initializer() or x.is_graph_output():
            return False
        # x becomes the graph output: it needs y's declared type and shape
        if x.type is None:
            x.type = y.type
        if x.shape is None:
            x.shape = y.shape
        ir.convenience.replace_all_uses_with(y, x, replace_graph_outputs=True)
        name = y.name
        y.name = None
        x.name = name
    else:
        ir.convenience.replace_all_uses_with(y, x)
    for extra in node.outputs[1:]:
        if extra.uses() or extra.is_graph_output():
            raise ValueError(f"node {node.name!r}: output {extra.name!r} is still used")
    graph.remove(node, safe=True)
    return True
