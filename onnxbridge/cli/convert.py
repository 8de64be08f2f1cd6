"""``onnxbridge convert``: any source -> ONNX -> the target, with the parity of every hop."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from onnxbridge.cli.common import OutputFormat, console, fail, print_json, reports_errors, shown
from onnxbridge.errors import OnnxBridgeError


def _targets() -> list[str]:
    """``onnxbridge.conversion.targets()``, without importing the conversion machinery for ``--help``."""
    from onnxbridge.frameworks.bridges import names

    return ["onnx", *names(), "spec"]


#: What ``convert`` produces: onnx, a framework bridge's name, or a spec (lifted from ONNX).
# the members come from the registered bridges, which a static checker cannot enumerate
Target = Enum("Target", {name: name for name in _targets()}, type=str)  # type: ignore[misc]


class Exporter(str, Enum):
    """Which torch.onnx exporter to use for PyTorch sources."""

    auto = "auto"
    dynamo = "dynamo"
    torchscript = "torchscript"


@reports_errors
def command(
    source: str = typer.Argument(..., show_default=False,
                                 help="Model to convert: .onnx, a spec (.yaml/.json), .pt2, TorchScript .pt, "
                                      "file.py:ClassOrFactory, .keras, .h5 or a SavedModel directory."),
    to: Target = typer.Option(..., "--to", help="Target: onnx (a file), torch (a directory with model.py), "
                              "tensorflow (a directory with saved_model/ and model.py) or spec (an editable spec "
                              "with the model's weights)."),
    output: Path = typer.Option(None, "-o", "--output", help="Where to write: an .onnx file for --to onnx, a "
                                "directory for --to torch or --to tensorflow, a .yaml/.json file for --to spec (its "
                                "weights go beside it as .safetensors). Without it the conversion is only verified."),
    inputs: list[str] = typer.Option(None, "--input", help="Input of a PyTorch source, NAME:1x3x224x224[:dtype]; "
                                     "repeat per input. Dim 0 is exported symbolic unless --static-batch."),
    exporter: Exporter = typer.Option(Exporter.auto, help="torch.onnx exporter for PyTorch sources (auto: dynamo, "
                                      "then TorchScript)."),
    opset: int = typer.Option(None, help="ONNX opset for PyTorch sources (default: the exporter's)."),
    static_batch: bool = typer.Option(False, "--static-batch", help="Keep dim 0 of the inputs fixed."),
    class_name: str = typer.Option(None, "--class-name", help="Name of the generated top-level class."),
    channels_last: bool = typer.Option(False, "--channels-last", help="--to tensorflow: give the model (and "
                                       "saved_model/, model.py) an NHWC interface for 4-D/5-D inputs and outputs."),
    device: str = typer.Option(None, "--device", help="--to torch: put the whole module on this device (cpu, "
                               "cuda, cuda:N) instead of where the spec placed its layers."),
    verify: bool = typer.Option(True, "--verify/--no-verify", help="Check every hop against the source."),
    atol: float = typer.Option(None, help="Absolute tolerance of the parity checks (default 1e-4)."),
    rtol: float = typer.Option(None, help="Relative tolerance of the parity checks (default 1e-3)."),
    seed: int = typer.Option(0, help="Seed for the weights of a spec."),
    trust: bool = typer.Option(False, "--trust", help="Run a SavedModel (or a .keras layer that loads one) even "
                               "though its graph touches files, processes or the network. Only for models you trust."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table or json."),
) -> None:
    """Convert a model between ONNX, PyTorch and TensorFlow through ONNX, and check each hop numerically.

    Exit code 1 when a converted model's outputs differ beyond tolerance (the files are kept so you can look at them); 2 for bad input.
    """
    from onnxbridge.conversion import convert_with_report
    from onnxbridge.frameworks.inputs import as_specs

    if output is not None:
        from onnxbridge.ir.io import check_writable

        check_writable(output)
    _refuse_overwriting_source(source, output)
    options: dict = {}
    if inputs:
        options["input_shapes"] = {s.name: s for s in as_specs(inputs)}
    if exporter is not Exporter.auto:
        options["exporter"] = exporter.value
    if opset is not None:
        options["opset"] = opset
    if static_batch:
        options["dynamic_batch"] = False
    if trust:
        options["trust"] = True
    if class_name:
        _require_export_option(to.value, "class_name", "--class-name")
        options["class_name"] = class_name
    if channels_last:
        _require_export_option(to.value, "channels_last", "--channels-last")
        options["channels_last"] = True
    if device is not None:
        if to.value != "torch":
            raise OnnxBridgeError("--device applies to --to torch", hint="the TensorFlow and ONNX outputs are "
                                  "placed by the runtime that loads them")
        from onnxbridge.runtime.layer_devices import check_device_name

        options["device"] = check_device_name(device, where="--device")
    result = convert_with_report(source, to.value, output=output, verify=verify, atol=atol, rtol=rtol, seed=seed,
                                 **options)
    broken = [(hop, report) for hop, report in result.checks if not report.ok]
    if fmt is OutputFormat.json:
        print_json({"source": source, "target": to.value, "ok": not broken, "verified": verify,
                    "files": [str(f) for f in result.files], "notes": result.notes,
                    "checks": [{"hop": hop, "summary": report.summary(), "max_abs": report.max_abs, **report.to_dict()}
                               for hop, report in result.checks]})
    else:
        _render(source, to.value, result, verify)
    if broken:
        hop, report = broken[0]
        worst = report.worst
        fail(f"{hop}: {report.summary()}", code=1,
             hint=(f"worst output {worst.name!r}; " if worst else "") +
                  ("the files were kept for inspection" if result.files else "nothing was written"))


def _require_export_option(target: str, option: str, flag: str) -> None:
    """An option only some bridges' exporters take: a clear error for the others (and for ``--to onnx``)."""
    from onnxbridge.frameworks.bridges import bridges

    takers = [b.name for b in bridges() if option in b.export_options]
    if target not in takers:
        raise OnnxBridgeError(f"{flag} applies to --to {' or --to '.join(takers)}")


def _refuse_overwriting_source(source: str, output: Path | None) -> None:
    from onnxbridge.frameworks.bridges import bridges

    if output is None:
        return
    src = Path(source.split(":")[0] if source.count(":") == 1 and source.split(":")[0].endswith(".py") else source)
    written = dict.fromkeys(name for b in bridges() for name in b.output_files)
    targets = [output, *(output / name for name in written), output.with_name(output.stem + ".safetensors")]
    if src.exists() and any(t.exists() and t.resolve() == src.resolve() for t in targets):
        raise OnnxBridgeError(f"{output}: refusing to overwrite the input {src}", hint="choose another -o")


def _render(source: str, target: str, result, verify: bool) -> None:
    from rich.table import Table


    table = Table(title=shown(f"{source} -> {target}"), title_justify="left")
    for col in ("hop", "parity", "max abs error", "outputs"):
        table.add_column(col)
    for hop, report in result.checks:
        status = "[green]ok[/]" if report.ok else "[bold red]FAILED[/]"
        table.add_row(shown(hop), status, f"{report.max_abs:.2e}", str(len(report.outputs)))
    if result.checks:
        console.print(table)
    elif not verify:
        console.print("not verified (--no-verify)")
    for note in result.notes:
        console.print(f"[dim]note:[/] {shown(note)}")
    for hop, report in result.checks:
        if not report.ok:
            console.print(f"[bold red]{shown(hop)}:[/] {shown(report.summary())}")
    if result.files:
        console.print("wrote " + ", ".join(f"[bold]{shown(str(f))}[/]" for f in result.files))
