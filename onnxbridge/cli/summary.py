"""``onnxbridge summary``: per-layer table of a spec or an ONNX model."""

from __future__ import annotations

from pathlib import Path

import typer

from onnxbridge.cli.common import (
    OutputFormat,
    console,
    print_json,
    report_shape_errors,
    reports_errors,
    shown,
)


@reports_errors
def command(
    model: Path = typer.Argument(..., help="A spec (.yaml/.json) or an ONNX model (.onnx).", show_default=False),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table or json."),
) -> None:
    """Show each layer's (or node's) output shape and parameter count, with totals."""
    from onnxbridge.summary import summarize

    s = summarize(model)
    if fmt is OutputFormat.json:
        print_json(s.to_dict())
    else:
        from onnxbridge.cli.tables import print_summary

        print_summary(s)
        if s.kind == "onnx":
            opsets = ", ".join(f"{k} {v}" for k, v in s.notes.get("opset", {}).items())
            functions = f"; functions: {', '.join(s.notes['functions'])}" if s.notes.get("functions") else ""
            console.print(shown(f"{s.notes.get('nodes', 0)} nodes; opsets: {opsets}{functions}"))
    if s.errors:
        report_shape_errors(model, s.errors)
