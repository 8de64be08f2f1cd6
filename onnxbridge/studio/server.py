"""Running the studio: bind a port, wrap the app in the security checks, serve it with uvicorn.

Example (a server in a background thread, as the tests and the benchmark use it)::

    server = StudioServer("~/nets", initial="net.yaml")
    server.start()
    print(server.url)          # http://127.0.0.1:PORT/?token=...
    ...
    server.stop()

``onnxbridge studio`` calls :meth:`StudioServer.run`, which blocks until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

from onnxbridge.errors import MissingDependencyError, OnnxBridgeError
from onnxbridge.studio.security import MAX_BODY_BYTES, MAX_UPLOAD_BYTES, GuardMiddleware, new_token

STATIC_ENV = "ONNXBRIDGE_STUDIO_STATIC"
UNSPECIFIED_HOSTS = ("0.0.0.0", "::")  # noqa: S104 - names of "every interface", compared, not bound here


def bundle_dir() -> Path:
    """Where the built front end is: ``$ONNXBRIDGE_STUDIO_STATIC`` when set, else the package's ``static/``."""
    override = os.environ.get(STATIC_ENV)
    return Path(override) if override else Path(__file__).resolve().parent / "static"


def has_bundle(path: Path | None = None) -> bool:
    """Whether a built front end (its ``index.html``) is there."""
    return ((path or bundle_dir()) / "index.html").is_file()


def require_server_packages() -> None:
    """Raise :class:`MissingDependencyError` unless FastAPI and uvicorn are installed."""
    try:
        import fastapi  # noqa: F401
        import python_multipart  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise MissingDependencyError("fastapi, uvicorn and python-multipart", "studio") from None


def accepted_hosts(host: str, port: int) -> set[str]:
    """The ``Host`` header values the studio answers: its loopback names and the address it was bound to."""
    from onnxbridge.view import allowed_hosts

    hosts = allowed_hosts(host, port) | allowed_hosts("127.0.0.1", port)
    if host in UNSPECIFIED_HOSTS:
        hosts.discard(f"{host}:{port}")
    return {h.lower() for h in hosts}


def settle_heap() -> None:
    """Import what the live analysis uses, run it once, build the catalogue, then freeze the heap for the
    garbage collector.

    Each analysis of a big spec allocates (and frees) hundreds of thousands of small objects, so Python's
    collector runs often; a full collection walks every object alive, most of them the modules just
    imported, and was the whole tail of the analyze latency (p95 about 4x p50 on a 500-layer spec).
    Frozen objects are never walked again.
    """
    import gc

    from onnxbridge.spec.analysis import analyse_spec
    from onnxbridge.studio.app import _catalogue

    analyse_spec({"inputs": [{"name": "x", "shape": ["batch", 4]}],
                  "layers": [{"id": "fc", "type": "Linear", "out_features": 2}]})
    _catalogue()  # the page's first request: built here, it does not hold up the first drawing
    gc.collect()
    gc.freeze()


class StudioServer:
    """The studio on one workspace, served on ``host:port`` (port 0: a free one) with a fresh token."""

    def __init__(self, workspace: str | os.PathLike, *, initial: str | None = None, host: str = "127.0.0.1",
                 port: int = 0, static_dir: Path | None = None, max_upload: int = MAX_UPLOAD_BYTES,
                 max_body: int = MAX_BODY_BYTES, token: str | None = None):
        require_server_packages()
        from onnxbridge.studio.app import StudioState, create_app
        from onnxbridge.studio.viewers import Viewers
        from onnxbridge.studio.workspace import Workspace

        self.host = host
        self.port = port
        self.token = token or new_token()
        self.workspace = Workspace(workspace)
        self.workspace.clean_scratch()
        if initial is not None:
            self.workspace.existing(initial)
        self.state = StudioState(self.workspace, initial, static_dir if static_dir is not None else bundle_dir(),
                                 Viewers(host if host not in UNSPECIFIED_HOSTS else "127.0.0.1"))
        self.app = create_app(self.state)
        self.asgi = GuardMiddleware(self.app, token=self.token, max_upload=max_upload, max_body=max_body)
        self._socket: socket.socket | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    # -- addresses -----------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """The address the studio answers at (``http://127.0.0.1:PORT``, IPv6 hosts in brackets)."""
        host = "127.0.0.1" if self.host in UNSPECIFIED_HOSTS else self.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    @property
    def url(self) -> str:
        """The address to open: the page, with the token the page then keeps."""
        return f"{self.base_url}/?token={self.token}"

    def bind(self) -> None:
        """Bind the listening socket (so the port is known before serving); idempotent."""
        if self._socket is not None:
            return
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP named, not left 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on accepted
        # sockets whose protocol says TCP. With it on, the small last piece of each answer on a kept-alive
        # connection waited for the client's delayed ACK: 40 ms added to every /api/analyze round trip.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise OnnxBridgeError(f"cannot serve on {self.host}:{self.port}: {exc.strerror or exc}",
                                  hint="choose another --port, or leave it out to take a free one") from None
        sock.listen(128)
        sock.set_inheritable(True)
        self._socket = sock
        self.port = sock.getsockname()[1]
        self.asgi.hosts = accepted_hosts(self.host, self.port)

    def _uvicorn(self) -> Any:
        import uvicorn

        # http="auto" takes httptools (a studio dependency: HTTP parsed in C, a few ms less per large
        # analyze request than the pure-Python h11) and falls back to h11 without it
        config = uvicorn.Config(self.asgi, log_level="warning", access_log=False, lifespan="off",
                                proxy_headers=False, server_header=False, timeout_graceful_shutdown=5)
        return uvicorn.Server(config)

    # -- running ---------------------------------------------------------------------------------------
    def run(self, on_started: Any = None) -> None:
        """Serve until Ctrl-C or SIGTERM (in the main thread), then stop the viewers; ``on_started()`` is
        called once the server accepts connections."""
        self.bind()
        settle_heap()
        self._server = self._uvicorn()
        stop_requested: list[int] = []

        def request_stop(signum: int, _frame: Any) -> None:
            stop_requested.append(signum)
            if self._server is not None:
                self._server.should_exit = True

        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        if on_started is not None:
            threading.Thread(target=self._notify, args=(on_started,), daemon=True).start()
        try:
            self._server.run(sockets=[self._socket])
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._cleanup()

    def _notify(self, callback: Any) -> None:
        while self._server is not None and not self._server.started and not self._server.should_exit:
            time.sleep(0.02)
        if self._server is not None and self._server.started:
            callback()

    def start(self, timeout: float = 30.0) -> str:
        """Serve in a background thread; returns :attr:`url` once it accepts connections."""
        self.bind()
        self._server = self._uvicorn()
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        daemon=True, name="onnxbridge-studio")
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise OnnxBridgeError("the studio server did not start")
            time.sleep(0.01)
        return self.url

    def stop(self) -> None:
        """Stop serving (a background server) and the netron viewers; idempotent."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
            self._thread = None
        self._cleanup()

    def _cleanup(self) -> None:
        self.state.viewers.close_all()
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> StudioServer:
        self.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.stop()
