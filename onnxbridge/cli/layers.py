"""``onnxbridge layers``: the layer and block catalogue."""

from __future__ import annotations

import typer

from onnxbridge.cli.common import OutputFormat, console, print_json, reports_errors


@reports_errors
def command(
    as_json: bool = typer.Option(False, "--json", help="Print JSON (same as --format json)."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table or json."),
    family: str = typer.Option(None, help="Only this family (e.g. conv, recurrent, block)."),
) -> None:
    """List every layer type and built-in block with its parameters and defaults."""
    from rich.table import Table

    from onnxbridge.spec.catalogue import catalogue

    entries = [e for e in catalogue() if family is None or e["family"] == family]
    if as_json or fmt is OutputFormat.json:
        print_json(entries)
        return
    table = Table(title="layers and built-in blocks", title_justify="left")
    for col in ("type", "family", "parameters", "description"):
        table.add_column(col)
    for e in entries:
        params = ", ".join(p["name"] + ("" if p["required"] else f"={p['default']!r}") for p in e["params"])
        table.add_row(e["type"], e["family"], params or "-", e["description"])
    console.print(table)
