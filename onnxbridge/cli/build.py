"""``onnxbridge build``: spec -> ONNX file, with the per-layer table."""

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
from onnxbridge.errors import OnnxBridgeError


@reports_errors
def command(
    spec: Path = typer.Argument(..., help="Network spec (.yaml, .yml or .json).", show_default=False),
    output: Path = typer.Option(None, "-o", "--output", help="ONNX file to write (default: <spec name>.onnx in the current directory)."),
    seed: int = typer.Option(0, help="Seed for the weight initialisation."),
    opset: int = typer.Option(None, help="ONNX opset to target (default: the spec's 'opset', else 18)."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table or json."),
) -> None:
    """Validate a spec, infer every layer's shape, and write it as an ONNX model with seeded weights."""
    import onnx

    from onnxbridge.ir import save_model
    from onnxbridge.ir.io import check_writable, fits_in_protobuf
    from onnxbridge.spec import build_with_report
    from onnxbridge.spec.lower import check_opset, check_seed
    from onnxbridge.summary import summarize_spec

    out = output or Path(spec.stem + ".onnx")
    if out.suffix.lower() != ".onnx":
        raise OnnxBridgeError(f"{out}: the output should end in .onnx")
    check_seed(seed)
    if opset is not None:  # else the spec's own, checked when it is built
        check_opset(opset)
    check_writable(out)
    if spec.exists() and out.exists() and out.resolve() == spec.resolve():
        raise OnnxBridgeError(f"{out}: refusing to overwrite the input spec", hint="choose another -o")
    summary = summarize_spec(spec)
    if fmt is OutputFormat.table:
        from onnxbridge.cli.tables import print_summary

        print_summary(summary)
    if summary.errors:
        if fmt is OutputFormat.json:
            print_json({**summary.to_dict(), "output": None})
        report_shape_errors(spec, summary.errors)
    built = build_with_report(spec, seed=seed, opset=opset)
    model = built.model
    opset = next(o.version for o in model.opset_import if o.domain == "")
    small = fits_in_protobuf(model)
    if small:
        onnx.checker.check_model(model, full_check=True)
    save_model(model, out)
    if not small:  # the checker reads models over 2 GB from their files
        onnx.checker.check_model(str(out), full_check=True)
    if fmt is OutputFormat.json:
        print_json({**summary.to_dict(), "output": str(out), "seed": seed, "opset": opset,
                    "weights": built.weights.to_dict() if built.weights.used_stored else None})
    else:
        size = out.stat().st_size
        for note in built.notes:  # which weights came from the spec's weights file
            console.print(f"[dim]note:[/] {shown(note)}")
        console.print(f"wrote [bold]{shown(out)}[/] ({size / 1024:,.1f} KiB, opset {opset}, seed {seed}; "
                      "passes onnx.checker full check)")
