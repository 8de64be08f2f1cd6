"""``onnxbridge check``: lint an ONNX model or a spec; ``--fix`` repairs, re-checks and verifies numerically."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from onnxbridge.cli.common import console, plain, print_json, reports_errors


class CheckFormat(str, Enum):
    """Output format of ``check``."""

    text = "text"
    json = "json"


def _targets() -> list[str]:
    """The check targets (``onnxbridge.checks.engine.targets()``), without importing the checks for ``--help``:
    every framework bridge, then onnxruntime's CPU and CUDA providers."""
    from onnxbridge.frameworks.bridges import names

    return [*names(), "cpu", "cuda"]


@reports_errors
def command(
    model: Path = typer.Argument(None, help="An ONNX model (.onnx) or a spec (.yaml/.yml/.json).",
                                 show_default=False),
    target: list[str] = typer.Option(None, "--target", "-t",
                                     help=f"Also check compatibility with: {', '.join(_targets())} "
                                          "(repeat or comma-separate)."),
    select: list[str] = typer.Option(None, "--select", help="Only these codes (e.g. OB101,OB2 or a family)."),
    ignore: list[str] = typer.Option(None, "--ignore", help="Leave out these codes."),
    fmt: CheckFormat = typer.Option(CheckFormat.text, "--format", help="text or json."),
    fix: bool = typer.Option(False, "--fix", help="Apply the automatic fixes, check again and compare outputs."),
    output: Path = typer.Option(None, "-o", "--output", help="Where --fix writes the repaired model or spec (only if the repair made it better)."),
    in_place: bool = typer.Option(False, "--in-place", help="Let --fix overwrite the input file."),
    seed: int = typer.Option(0, help="Seed of the random inputs used to compare outputs."),
    list_rules: bool = typer.Option(False, "--list-rules", help="List every rule code and exit."),
) -> None:
    """Report every problem at once, with codes, locations, suggestions and available fixes.

    Exit code 1 when an error is found (or a repaired model's outputs differ), 0 otherwise; 2 for bad input.
    """
    from onnxbridge.checks import check
    from onnxbridge.checks.repair import repair_file
    from onnxbridge.checks.report import format_json, format_text, rules_table
    from onnxbridge.errors import OnnxBridgeError

    if list_rules:
        rows = rules_table()
        if fmt is CheckFormat.json:
            print_json(rows)
        else:
            for r in rows:
                fix_text = f" [fix: {r['fix']}]" if r["fix"] else ""
                console.print(f"{r['code']}  {r['family']:<9} {r['level']:<10} {r['summary']}{fix_text}",
                              markup=False)
        return
    if model is None:
        raise OnnxBridgeError("missing MODEL", hint="onnxbridge check MODEL.onnx (or a spec .yaml/.json)")
    if (output is not None or in_place) and not fix:
        raise OnnxBridgeError("-o/--in-place only make sense with --fix")
    if fix and output is not None:
        from onnxbridge.ir.io import check_writable

        check_writable(output)
    if fix:
        report = repair_file(model, output, in_place=in_place, select=select, ignore=ignore, targets=target,
                             seed=seed)
    else:
        report = check(model, targets=target, select=select, ignore=ignore)
    if fmt is CheckFormat.json:
        print(format_json(report))
    else:
        console.print(plain(format_text(report, color=True)), soft_wrap=True)  # markup escaped; drop escapes
    repair = report.repair
    parity_broken = repair is not None and repair.verified is False and not repair.outputs_changed_on_purpose
    if report.errors or parity_broken:
        raise typer.Exit(1)
