"""``onnxbridge studio``: build and edit networks in the browser, served from this machine."""

from __future__ import annotations

from pathlib import Path

import typer

from onnxbridge.cli.common import console, err_console, reports_errors, shown
from onnxbridge.errors import OnnxBridgeError


@reports_errors
def command(
    source: Path = typer.Argument(None, show_default=False,
                                  help="A spec (.yaml/.json) or a model (.onnx, .pt2, .keras, .h5, a SavedModel "
                                       "folder) to open; it must lie inside the workspace."),
    workspace: Path = typer.Option(None, "--workspace", "-w",
                                   help="The folder the studio may read and write (default: SOURCE's folder, "
                                        "else the current directory)."),
    port: int = typer.Option(None, help="Port to serve on (default: a free one)."),
    host: str = typer.Option("127.0.0.1", help="Address to bind (and the Host name accepted); the default keeps "
                             "the studio private to this machine."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Only serve and print the address; do not open "
                                    "a browser."),
) -> None:
    """Open the studio in the browser: a canvas of layers and blocks with live shapes, the linter's fixes,
    and PyTorch/Keras code, on the same spec the command line uses. Ctrl-C stops it.

    Every request needs the token in the printed address; only files inside the workspace are read or
    written.
    """
    from onnxbridge.studio.server import StudioServer, bundle_dir, has_bundle, require_server_packages
    from onnxbridge.view import is_loopback

    require_server_packages()
    if not has_bundle():
        raise OnnxBridgeError(f"the studio's front end is not built ({bundle_dir()} has no index.html): run "
                              "./scripts/build_studio in the onnxbridge source folder (needs Node >= 20 and npm)")
    root = (workspace or (source.resolve().parent if source is not None else Path.cwd())).resolve()
    if not root.is_dir():
        raise OnnxBridgeError(f"{root}: the workspace must be an existing folder", hint="create it first")
    initial = None
    if source is not None:
        resolved = source.resolve()
        if not resolved.exists():
            raise OnnxBridgeError(f"{source}: no such file", hint="check the path")
        if not resolved.is_relative_to(root):
            raise OnnxBridgeError(f"{source}: is outside the workspace {root}",
                                  hint="pass --workspace with a folder that holds it, or copy it there")
        initial = resolved.relative_to(root).as_posix()
    if not is_loopback(host):
        err_console.print(f"[bold yellow]warning:[/] serving on {shown(host)}: other machines on the network can "
                          "reach the studio (the token still guards it)")
    server = StudioServer(root, initial=initial, host=host, port=port or 0)
    server.bind()
    console.print(f"onnxbridge studio on {shown(root)}")
    console.print(f"open [bold]{shown(server.url)}[/] (Ctrl-C to stop)", soft_wrap=True)

    def opened() -> None:
        if not no_browser:
            import webbrowser

            webbrowser.open(server.url)

    server.run(on_started=opened)
    console.print("studio stopped")
