"""``onnxbridge schema``: the JSON Schema of the spec format."""

from __future__ import annotations

from pathlib import Path

import typer

from onnxbridge.cli.common import console, print_json, reports_errors, shown


@reports_errors
def command(
    output: Path = typer.Option(None, "-o", "--output", help="Write the schema to this file instead of stdout."),
) -> None:
    """Print the JSON Schema of spec documents (every layer type's parameters included)."""
    import json

    from onnxbridge.ir import atomic_write
    from onnxbridge.spec.jsonschema import spec_json_schema

    schema = spec_json_schema()
    if output is None:
        print_json(schema)
        return
    with atomic_write(output) as tmp:
        tmp.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    console.print(f"wrote {shown(output)}")
