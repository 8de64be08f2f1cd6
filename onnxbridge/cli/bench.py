"""``onnxbridge bench``: latency and throughput per execution provider and batch, optionally side by side
with PyTorch and TensorFlow, with a placement report and a PNG chart."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer
from rich.console import JustifyMethod

from onnxbridge.cli.common import OutputFormat, console, err_console, print_json, reports_errors, shown


class OptLevel(str, Enum):
    """onnxruntime graph optimization level."""

    disable = "disable"
    basic = "basic"
    extended = "extended"
    all = "all"


def _engines() -> list[str]:
    """The framework bridges' native engines (without importing the benchmark for ``--help``)."""
    from onnxbridge.frameworks.bridges import engines

    return list(engines())


@reports_errors
def command(
    model: Path = typer.Argument(..., help="An ONNX model, or a spec (built first).", show_default=False),
    provider: list[str] = typer.Option(["cpu"], "--provider", "-p",
                                       help="Execution provider; partial, any case ('cuda'). Repeatable."),
    batch: list[str] = typer.Option(["1"], "--batch", "-b", help="Batch sizes, e.g. 1,8,32. Repeatable."),
    inputs: list[str] = typer.Option([], "--input", "-i",
                                     help="A symbolic dim (seq=32) or an input's shape (tokens=batchx16)."),
    threads: int = typer.Option(None, help="Intra-op threads (default: the runtime's choice)."),
    warmup: int = typer.Option(5, help="Warm-up runs per configuration (not measured)."),
    iterations: int = typer.Option(None, "--iterations", "-n", help="Measured runs per configuration."),
    seconds: float = typer.Option(None, help="Measure each configuration this long (default: 1 s, at least 10 runs)."),
    opt_level: OptLevel = typer.Option(OptLevel.all, "--opt-level", help="onnxruntime graph optimizations."),
    compare: list[str] = typer.Option([], "--compare", "-c",
                                      help=f"Also run natively: {', '.join(_engines())} (comma list)."),
    explain: bool = typer.Option(False, "--explain", help="Show which nodes ran on which provider."),
    plot: Path = typer.Option(None, "--plot", help="Write a PNG bar chart of the latencies."),
    seed: int = typer.Option(0, help="Seed for the inputs (and the weights of a spec)."),
    atol: float = typer.Option(None, help="Absolute tolerance of the output comparison (default: 1e-4)."),
    rtol: float = typer.Option(None, help="Relative tolerance of the output comparison (default: 1e-3)."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table or json."),
) -> None:
    """Benchmark a model on onnxruntime execution providers (and in PyTorch / TensorFlow with --compare).

    Every configuration's outputs are compared with onnxruntime CPU's: a fast wrong answer is flagged.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from onnxbridge.runtime.bench import bench

    if plot is not None:
        from onnxbridge.ir.io import check_writable
        from onnxbridge.runtime.plot import check_plot_target

        check_writable(plot)
        if plot.exists() and plot.resolve() == model.resolve():
            from onnxbridge.errors import OnnxBridgeError

            raise OnnxBridgeError(f"{plot}: refusing to overwrite the input model", hint="choose another --plot")
        check_plot_target(plot)
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=err_console,
                  transient=True, disable=not err_console.is_terminal) as bar:
        task = bar.add_task("starting", total=1)

        def progress(label: str, done: float, total: float) -> None:
            bar.update(task, description=label, completed=done, total=total)

        report = bench(model, providers=provider, batches=batch, inputs=inputs, threads=threads, warmup=warmup,
                       iterations=iterations, seconds=seconds, opt_level=opt_level.value, compare=compare,
                       explain=explain, seed=seed, atol=atol, rtol=rtol, progress=progress)
    written = None
    if plot is not None:
        from onnxbridge.runtime.plot import plot_report

        written = plot_report(report, plot)
    if fmt is OutputFormat.json:
        data = report.to_dict()
        data["plot"] = None if written is None else str(written.path)
        print_json(data)
        return
    _print_report(report)
    if written is not None:
        console.print(f"wrote [bold]{shown(written.path)}[/] ({len(written.bars)} bars)")


def _print_report(report) -> None:
    from rich import box
    from rich.table import Table


    m = report.machine
    # no vertical rules; on a narrow terminal only the key columns (everything is in --format json)
    wide = console.width >= 110
    table = Table(title=shown(f"{report.model}: latency in ms; {m['cpu']} ({m['cores']} cores), "
                               f"onnxruntime {m['onnxruntime']}"), title_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=False)
    columns = ["configuration", "batch", "p50", "p90", "p99", "samples/s", "ratio", "setup", "peak mem", "outputs"]
    if not wide:
        columns = [c for c in columns if c not in ("p90", "setup", "peak mem")]
    for col in columns:
        table.add_column(col, justify="left" if col in ("configuration", "outputs") else "right", no_wrap=True)
    for r in report.results:
        cells = {"configuration": shown(r.label), "batch": str(r.batch)}
        if r.latency is None:
            cells["outputs"] = "[red]not run[/]"
        else:
            lat = r.latency
            if r.parity is None:
                outputs = "baseline" if r.label == report.baseline else ""
            elif r.parity.ok:
                outputs = "[green]match[/]"
            else:
                outputs = "[bold red]WRONG[/]"
            cells.update({"p50": _ms(lat.p50_ms), "p90": _ms(lat.p90_ms), "p99": _ms(lat.p99_ms),
                          "samples/s": f"{r.throughput:,.0f}" if r.throughput else "",
                          "ratio": f"{r.vs_baseline:.2f}" if r.vs_baseline is not None else "",
                          "setup": _seconds(r.setup_seconds),
                          "peak mem": _bytes(r.peak_rss_bytes) if r.peak_rss_bytes else "", "outputs": outputs})
        table.add_row(*(cells.get(c, "") for c in columns))
    console.print(table)
    runs = {r.iterations for r in report.results if r.iterations}
    shapes = "; ".join(f"batch {b}: " + ", ".join(f"{k} {v}" for k, v in feeds.items())
                       for b, feeds in report.inputs.items())
    console.print(f"[dim]ratio: p50 / {report.baseline} p50 at the same batch (below 1 is faster); "
                  f"{_span(runs)} measured runs per configuration after "
                  f"{report.settings['warmup']} warm-up runs; inputs {shown(shapes)}[/]")
    for r in report.results:
        if r.error:
            console.print(f"[red]{shown(r.label)} batch {r.batch}: {shown(r.error)}[/]")
        elif r.parity is not None and not r.parity.ok:
            console.print(f"[bold red]{shown(r.label)} batch {r.batch}: {shown(r.parity.summary())}[/]")
    for placement in report.placement:
        _print_placement(placement)
    for note in report.notes:
        console.print(f"[dim]note: {shown(note)}[/]")
    if report.wrong:
        console.print(f"[bold red]{len(report.wrong)} configuration(s) computed different outputs "
                      f"from {report.baseline}[/]")


def _print_placement(p) -> None:
    from rich.table import Table

    from onnxbridge.runtime.providers import short_name

    table = Table(title=shown(f"placement: {p.summary()}"), title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (("op type", "left"), ("provider", "left"), ("nodes", "right"),
                                                      ("time/run µs", "right"), ("share", "right"), ("nodes", "left"))
    for col, justify in columns:
        table.add_column(col, justify=justify)
    total = p.total_us or 1.0
    for g in p.by_op():
        names = ", ".join(g.names[:4]) + (", ..." if len(g.names) > 4 else "")
        op = f"[yellow]{shown(g.op_type)}[/]" if g.fallback else shown(g.op_type)
        table.add_row(op, shown(short_name(g.provider)) + (" (fallback)" if g.fallback else ""),
                      str(g.nodes), f"{g.mean_us:,.1f}", f"{g.mean_us / total:.0%}", shown(names))
    console.print(table)


def _ms(value: float) -> str:
    return f"{value:.3g}" if value < 100 else f"{value:,.0f}"


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _seconds(value: float | None) -> str:
    if not value:  # None, or 0 for a framework's later batches (its conversion counts on the first)
        return ""
    return f"{value * 1e3:.0f} ms" if value < 1 else f"{value:.1f} s"


def _span(values: set[int]) -> str:
    low, high = min(values, default=0), max(values, default=0)
    return str(low) if low == high else f"{low}-{high}"
