"""``onnxbridge view``: open a model in netron (served on localhost)."""

from __future__ import annotations

from pathlib import Path

import typer

from onnxbridge.cli.common import console, reports_errors


@reports_errors
def command(
    model: Path = typer.Argument(..., help="An ONNX model, or a spec (built first).", show_default=False),
    port: int = typer.Option(None, help="Port to serve on (default: a free one)."),
    host: str = typer.Option("localhost", help="Address to bind; the default keeps it private to this machine."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Only serve; do not open a browser."),
) -> None:
    """Serve the model with netron and open it in the browser; Ctrl-C stops."""
    from onnxbridge.view import serve, wait

    url = serve(model, host=host, port=port, browse=not no_browser)
    console.print(f"serving {model} at [bold]{url}[/] (Ctrl-C to stop)")
    wait()
