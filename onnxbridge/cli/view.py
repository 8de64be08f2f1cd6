"""``onnxbridge view``: open a model in netron (served on localhost)."""

from __future__ import annotations

from pathlib import Path

import typer

from onnxbridge.cli.common import console, err_console, reports_errors, shown


@reports_errors
def command(
    model: Path = typer.Argument(..., help="An ONNX model, or a spec (built first).", show_default=False),
    port: int = typer.Option(None, help="Port to serve on (default: a free one)."),
    host: str = typer.Option("127.0.0.1", help="Address to bind; the default keeps it private to this machine."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Only serve; do not open a browser."),
) -> None:
    """Serve the model with netron and open it in the browser; Ctrl-C stops.

    Only the model and its external-data files are served, and only to requests addressed to HOST.
    """
    from onnxbridge.view import is_loopback, serve, wait

    if not is_loopback(host):
        err_console.print(f"[bold yellow]warning:[/] serving on {shown(host)}: other machines on the network can "
                          "open the model")
    server = serve(model, host=host, port=port, browse=not no_browser)
    console.print(f"serving {shown(model)} at [bold]{shown(server.url)}[/] (Ctrl-C to stop)")
    wait(server)
