"""Rich renderings shared by several commands."""

from __future__ import annotations

from rich.table import Table

from onnxbridge.cli.common import console, shown
from onnxbridge.spec.types import format_shape
from onnxbridge.summary import Summary


def print_summary(s: Summary) -> None:
    """The per-layer table (id, type, output shape, parameters) with totals below it."""
    table = Table(title=shown(f"{s.name} ({s.kind})"), title_justify="left", show_lines=False)
    table.add_column("layer" if s.kind == "spec" else "node")
    table.add_column("type" if s.kind == "spec" else "op")
    table.add_column("output shape")
    table.add_column("params", justify="right")
    for r in s.rows:
        name = "  " * r.depth + r.name.rsplit("/", 1)[-1] if r.depth else r.name
        shape = shown(", ".join(format_shape(tuple(x)) if x is not None else "?" for x in r.shapes)) if r.shapes else ("[red]error[/]" if r.status == "error" else f"[dim]{r.status}[/]")
        params = f"{r.params:,}" if r.params else ("" if r.depth else "0")
        style = "dim" if r.depth else None
        table.add_row(shown(name), shown(r.op), shape, params, style=style)
    console.print(table)
    ins = ", ".join(f"{k} {v}" for k, v in s.inputs.items())
    outs = ", ".join(f"{k} {v}" for k, v in s.outputs.items())
    console.print(f"inputs: {shown(ins)}")
    console.print(f"outputs: {shown(outs)}")
    label = "parameters" if s.kind == "spec" else "initializer elements"
    console.print(f"total {label}: [bold]{s.total_params:,}[/]")
