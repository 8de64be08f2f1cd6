"""``onnxbridge devices``: CPU, GPUs, onnxruntime execution providers, installed frameworks."""

from __future__ import annotations

import typer

from onnxbridge.cli.common import OutputFormat, console, print_json, reports_errors, shown


@reports_errors
def command(
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table or json."),
) -> None:
    """List this machine's CPU and GPUs, onnxruntime's execution providers, and installed frameworks."""
    from rich.table import Table

    from onnxbridge.runtime.devices import list_devices

    report = list_devices()
    if fmt is OutputFormat.json:
        print_json(report.to_dict())
        return
    cpu = report.cpu
    cores = f"{cpu.physical_cores} physical, " if cpu.physical_cores else ""
    console.print(f"[bold]CPU[/]  {shown(cpu.model)} ({cpu.arch}; {cores}{cpu.logical_cores} logical, "
                  f"{cpu.usable_cores} usable)")
    if report.gpus:
        table = Table(title="GPUs", title_justify="left")
        for col in ("index", "name", "memory", "capability", "driver", "seen by"):
            table.add_column(col)
        for g in report.gpus:
            memory = f"{g.memory_bytes / 2**30:.1f} GiB" if g.memory_bytes else ""
            table.add_row(str(g.index), shown(g.name), memory, g.capability or "", g.driver or "", g.source)
        console.print(table)
    else:
        console.print("[bold]GPUs[/] none found")
    rt = report.onnxruntime
    console.print(f"[bold]onnxruntime[/] {rt.version} ({rt.device} build); execution providers: "
                  f"{', '.join(rt.providers)}")
    table = Table(title="frameworks", title_justify="left")
    table.add_column("package")
    table.add_column("version")
    for f in report.frameworks:
        table.add_row(f.name, f.version or "[dim]not installed[/]")
    console.print(table)
    console.print(f"Python {report.python}")
    for note in report.notes:
        console.print(f"[dim]note: {shown(note)}[/]")
