"""``onnxbridge run``: run a model once on onnxruntime with generated inputs."""

from __future__ import annotations

from pathlib import Path

import typer

from onnxbridge.cli.common import OutputFormat, console, print_json, reports_errors, shown


@reports_errors
def command(
    model: Path = typer.Argument(..., help="An ONNX model, or a spec (built first).", show_default=False),
    batch: int = typer.Option(2, help="Value for the batch dimension."),
    seed: int = typer.Option(0, help="Seed for the inputs (and the weights of a spec)."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table or json."),
) -> None:
    """Run the model on onnxruntime (CPU) with seeded random inputs and describe the outputs."""
    from rich.table import Table

    from onnxbridge.run import run_model

    result = run_model(model, batch=batch, seed=seed)
    data = result.to_dict()
    if fmt is OutputFormat.json:
        print_json(data)
        return
    table = Table(title=shown(f"onnxruntime: {model}"), title_justify="left")
    for col in ("", "name", "shape", "dtype", "min", "max", "mean"):
        table.add_column(col)
    for kind in ("inputs", "outputs"):
        for name, d in data[kind].items():
            stats = [f"{d[k]:.4g}" if k in d else "" for k in ("min", "max", "mean")]
            table.add_row(kind[:-1], shown(name), shown(str(d["shape"])), shown(d["dtype"]), *stats)
    console.print(table)
    console.print(f"session created in {result.session_seconds * 1000:.1f} ms; "
                  f"ran in {result.run_seconds * 1000:.2f} ms")
