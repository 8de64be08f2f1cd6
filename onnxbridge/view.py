"""Show a model in netron, served on localhost.

netron's own server answers any Host header and serves every file under the model's folder; this one
serves netron's front end, the model and its external-data files, and nothing else, and only to requests
addressed to the host it listens on (so a web page cannot reach it by DNS rebinding). A spec is built
into a private temporary folder, removed when the server stops (also on SIGINT/SIGTERM).
"""

from __future__ import annotations

import contextlib
import http.server
import ipaddress
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from onnxbridge.errors import OnnxBridgeError

_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``localhost``, ``127.x.x.x``, ``::1``)."""
    if host.strip("[]").lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts(host: str, port: int) -> set[str]:
    """The ``Host`` header values a server bound to ``host:port`` accepts."""
    names = {host}
    if is_loopback(host):
        names |= {"localhost", "127.0.0.1", "[::1]"}
    return {f"{n}:{port}" for n in names} | (names if port == 80 else set())


class ModelServer:
    """A netron viewer for one model: ``start()``, then ``url``; ``stop()`` ends it and cleans up.

    Example::

        with ModelServer("model.onnx") as server:
            print(server.url)
    """

    def __init__(self, model: str | os.PathLike, *, host: str = "127.0.0.1", port: int | None = None):
        self.host = host
        self.port = port or 0
        self._temp: Path | None = None
        self._files: dict[str, Path] = {}
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.model_name = self._stage(Path(model))

    # -- what is served ----------------------------------------------------------------------------
    def _stage(self, path: Path) -> str:
        from onnxbridge.ir import load_model, save_model
        from onnxbridge.ir.io import external_data_files

        if not path.exists():
            raise OnnxBridgeError(f"{path}: no such file", hint="check the path")
        if path.suffix.lower() in (".yaml", ".yml", ".json"):
            from onnxbridge.spec import build

            built = build(path)
            self._temp = Path(tempfile.mkdtemp(prefix="onnxbridge-view-"))
            path = save_model(built, self._temp / f"{path.stem}.onnx")
        model = load_model(path, load_external_data=False)  # a clear error when it is not ONNX
        self._files[path.name] = path.resolve()
        for data in external_data_files(model, path):
            self._files[data.relative_to(path.parent.resolve()).as_posix()] = data
        return path.name

    def file(self, name: str) -> Path | None:
        """The file served as ``/data/<name>``, or None: only the model and its external data."""
        return self._files.get(name)

    # -- running -------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The address netron is served at."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> str:
        """Start serving in a background thread; returns the URL."""
        handler = type("Handler", (_Handler,), {"viewer": self})
        try:
            server_class = _IPv6Server if ":" in self.host else http.server.ThreadingHTTPServer
            self._server = server_class((self.host, self.port), handler)
        except OSError as exc:
            self.cleanup()
            raise OnnxBridgeError(f"cannot serve on {self.host}:{self.port}: {exc.strerror or exc}",
                                  hint="choose another --port") from None
        self.port = self._server.server_address[1]
        self.hosts = allowed_hosts(self.host, self.port)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="onnxbridge-view")
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop the server and remove the temporary folder (idempotent)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.cleanup()

    def cleanup(self) -> None:
        """Remove the temporary folder a spec was built into."""
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)
            self._temp = None

    def __enter__(self) -> ModelServer:
        self.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.stop()


class _IPv6Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6


def _netron_dir() -> Path:
    import netron

    return Path(netron.__file__).resolve().parent


class _Handler(http.server.BaseHTTPRequestHandler):
    viewer: ModelServer
    server_version = "onnxbridge-view"
    mime_types = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".png": "image/png",
                  ".ico": "image/x-icon", ".json": "application/json", ".svg": "image/svg+xml",
                  ".ttf": "font/truetype", ".woff": "font/woff", ".woff2": "font/woff2"}

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802
        if self.headers.get("Host", "") not in self.viewer.hosts:
            self._send(421, "text/plain", b"misdirected request: unknown Host")
            return
        path = urllib.parse.unquote(urllib.parse.urlparse(self.path).path)
        if path.startswith("/data/"):
            served = self.viewer.file(path[len("/data/"):])
            if served is None:
                self._send(404, "text/plain", b"not found")
                return
            self._send(200, "application/octet-stream", served.read_bytes())
            return
        name = "index.html" if path in ("", "/") else path.lstrip("/")
        base = _netron_dir()
        target = (base / name).resolve()
        if not target.is_relative_to(base) or not target.is_file() or target.suffix not in self.mime_types \
                or any(part.startswith((".", "_")) for part in target.relative_to(base).parts):
            self._send(404, "text/plain", b"not found")
            return
        content = target.read_bytes()
        if name == "index.html":
            content = _with_model(content.decode("utf-8"), self.viewer.model_name).encode("utf-8")
        self._send(200, self.mime_types[target.suffix], content)

    def _send(self, status: int, content_type: str, content: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(content)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        pass  # keep the terminal quiet


def _with_model(index: str, model_name: str) -> str:
    """netron's page with the meta tags that make it open ``/data/<model_name>``."""
    import html

    from netron.server import __version__ as netron_version

    quoted = html.escape(urllib.parse.quote(model_name), quote=True)
    meta = "\n".join([
        '<meta name="type" content="Python">',
        f'<meta name="version" content="{html.escape(netron_version)}">',
        f'<meta name="file" content="/data/{quoted}">',
        f'<meta name="identifier" content="{quoted}">',
    ])
    return re.sub(r'<meta name="version" content=".*">', lambda _: meta, index)


def serve(model: str | os.PathLike, *, host: str = "127.0.0.1", port: int | None = None,
          browse: bool = True) -> ModelServer:
    """Serve ``model`` (an ONNX file, or a spec, which is built first) with netron; returns the running server.

    The server runs in a background thread of this process; :func:`wait` blocks until Ctrl-C or SIGTERM
    and stops it.
    """
    server = ModelServer(model, host=host, port=port)
    server.start()
    if browse:
        import webbrowser

        webbrowser.open(server.url)
    return server


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C, so the ``finally`` blocks that clean up run."""
    def handler(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def wait(server: ModelServer) -> None:
    """Block until Ctrl-C or SIGTERM, then stop ``server`` and remove its temporary files."""
    try:
        with _terminate_as_interrupt():
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
