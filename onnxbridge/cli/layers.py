"""``onnxbridge layers``: the layer and block catalogue, or one type in full."""

from __future__ import annotations

import typer

from onnxbridge.cli.common import OutputFormat, console, print_json, reports_errors, shown


@reports_errors
def command(
    type_name: str = typer.Argument(None, metavar="TYPE", show_default=False,
                                    help="Show one layer type or block in full: every parameter with its "
                                         "default and meaning."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (same as --format json)."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table or json."),
    family: str = typer.Option(None, help="Only this family (e.g. conv, recurrent, block)."),
) -> None:
    """List every layer type and built-in block with its parameters and defaults."""
    from rich.table import Table

    from onnxbridge.spec.catalogue import catalogue

    entries = [e for e in catalogue() if family is None or e["family"] == family]
    if type_name is not None:
        _show_one(type_name, catalogue(), as_json or fmt is OutputFormat.json)
        return
    if as_json or fmt is OutputFormat.json:
        print_json(entries)
        return
    table = Table(title="layers and built-in blocks", title_justify="left")
    for col in ("type", "family", "parameters", "description"):
        table.add_column(col)
    for e in entries:
        params = ", ".join(p["name"] + ("" if p["required"] else f"={p['default']!r}") for p in e["params"])
        table.add_row(shown(e["type"]), shown(e["family"]), shown(params or "-"), shown(e["description"]))
    console.print(table)
    console.print("[dim]onnxbridge layers TYPE shows one type's parameters in full[/]")


def _show_one(type_name: str, entries: list[dict], as_json: bool) -> None:
    import difflib

    from onnxbridge.errors import OnnxBridgeError

    by_type = {e["type"]: e for e in entries}
    entry = by_type.get(type_name) or next((e for t, e in by_type.items() if t.lower() == type_name.lower()), None)
    if entry is None:
        close = difflib.get_close_matches(type_name, list(by_type), n=1)
        raise OnnxBridgeError(f"unknown layer type {type_name!r}" + (f"; did you mean {close[0]!r}?" if close else ""),
                              hint="'onnxbridge layers' lists every type")
    if as_json:
        print_json(entry)
        return
    from rich.table import Table

    inputs = (f"{entry['min_inputs']}" if entry["max_inputs"] == entry["min_inputs"] else
              f"at least {entry['min_inputs']}" if entry["max_inputs"] is None else
              f"{entry['min_inputs']} to {entry['max_inputs']}")
    console.print(f"[bold]{shown(entry['type'])}[/] ({shown(entry['kind'])}, family {shown(entry['family'])}; "
                  f"{inputs} input(s)): {shown(entry['description'])}")
    if not entry["params"]:
        console.print("no parameters")
        return
    table = Table(title_justify="left")
    for col in ("parameter", "default", "description"):
        table.add_column(col)
    for p in entry["params"]:
        table.add_row(shown(p["name"]), "required" if p["required"] else shown(repr(p["default"])),
                      shown(p["description"]))
    console.print(table)
