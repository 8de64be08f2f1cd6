"""Show a model in netron, served on localhost."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from onnxbridge.errors import OnnxBridgeError


def serve(model: str | os.PathLike, *, host: str = "localhost", port: int | None = None,
          browse: bool = True) -> str:
    """Serve ``model`` (an ONNX file, or a spec, which is built first) with netron; returns the URL.

    The server runs in a background thread of this process; call :func:`wait` to block until Ctrl-C.
    """
    import netron

    path = Path(model)
    if not path.exists():
        raise OnnxBridgeError(f"{path}: no such file", hint="check the path")
    if path.suffix.lower() in (".yaml", ".yml", ".json"):
        from onnxbridge.ir import save_model
        from onnxbridge.spec import build

        built = build(path)
        target = Path(tempfile.mkdtemp(prefix="onnxbridge-view-")) / f"{path.stem}.onnx"
        save_model(built, target)
        path = target
    elif path.suffix.lower() != ".onnx":
        from onnxbridge.ir import load_model

        load_model(path)  # raises a clear error when it is not ONNX
    try:
        address = netron.serve(str(path), None, (host, port or 0), browse)
    except OSError as exc:
        raise OnnxBridgeError(f"cannot serve on {host}:{port}: {exc.strerror or exc}",
                              hint="choose another --port") from None
    return f"http://{address[0]}:{address[1]}"


def wait() -> None:
    """Block until the netron server stops or the user presses Ctrl-C."""
    import netron

    netron.wait()
