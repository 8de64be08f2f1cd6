"""``onnxbridge diff``: structural and numeric differences between two ONNX models."""

from __future__ import annotations

from pathlib import Path

import typer

from onnxbridge.cli.common import OutputFormat, console, plain, print_json, reports_errors


@reports_errors
def command(
    a: Path = typer.Argument(..., help="The first ONNX model (its inputs drive the comparison).",
                             show_default=False),
    b: Path = typer.Argument(..., help="The second ONNX model.", show_default=False),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table (text) or json."),
    seed: int = typer.Option(0, help="Seed of the random inputs."),
    atol: float = typer.Option(1e-4, help="Absolute tolerance for 'same outputs'."),
    rtol: float = typer.Option(1e-3, help="Relative tolerance for 'same outputs'."),
    numeric: bool = typer.Option(True, "--numeric/--no-numeric", help="Also run both models and compare outputs."),
) -> None:
    """Show what changed: opsets, inputs/outputs, ops, nodes, initializers, and outputs on the same inputs.

    Exit code 1 when the outputs differ beyond the tolerances, 0 otherwise; 2 for bad input.
    """
    from onnxbridge.checks.diff import diff, format_diff

    d = diff(a, b, seed=seed, atol=atol, rtol=rtol, numeric=numeric)
    if fmt is OutputFormat.json:
        print_json(d.to_dict())
    else:
        console.print(plain(format_diff(d)), markup=False, highlight=False, soft_wrap=True)
    if d.numerically_equal is False:
        raise typer.Exit(1)
