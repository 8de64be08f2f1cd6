"""netron viewers started from the studio: one :class:`onnxbridge.view.ModelServer` per request, the
oldest stopped when too many run, all stopped with the studio."""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

MAX_VIEWERS = 4


class Viewers:
    """Running netron viewers, bound to the studio's own host (they check Host too)."""

    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self._running: list[tuple[Any, Path | None]] = []
        self._lock = threading.Lock()

    def open_model(self, path: Path) -> str:
        """Serve an ONNX model or a spec file (built first); returns the viewer's URL."""
        from onnxbridge.view import ModelServer

        return self._start(ModelServer(path, host=self.host), None)

    def open_spec(self, spec: Any, name: str = "network", *, base_dir: Path | None = None) -> str:
        """Build ``spec`` (plain data or :class:`Spec`; its ``weights:`` relative to ``base_dir``) and serve
        the model; returns the viewer's URL."""
        from onnxbridge.ir import save_model
        from onnxbridge.spec.export import build_spec
        from onnxbridge.view import ModelServer

        model = build_spec(spec, base_dir=base_dir)
        temp = Path(tempfile.mkdtemp(prefix="onnxbridge-studio-view-"))
        try:
            safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:64] or "network"
            path = save_model(model, temp / f"{safe}.onnx")
            return self._start(ModelServer(path, host=self.host), temp)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise

    def _start(self, server: Any, temp: Path | None) -> str:
        url = server.start()
        with self._lock:
            self._running.append((server, temp))
            stale = self._running[:-MAX_VIEWERS]
            self._running = self._running[-MAX_VIEWERS:]
        for old, old_temp in stale:
            _stop(old, old_temp)
        return url

    def close_all(self) -> None:
        """Stop every viewer and remove its files."""
        with self._lock:
            running, self._running = self._running, []
        for server, temp in running:
            _stop(server, temp)


def _stop(server: Any, temp: Path | None) -> None:
    server.stop()
    if temp is not None:
        shutil.rmtree(temp, ignore_errors=True)
