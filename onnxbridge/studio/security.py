"""What keeps the studio private to the person who started it.

- a random token per server start, required on every ``/api/*`` request (``Authorization: Bearer``);
- the ``Host`` header must name this server (421 otherwise), so a web page cannot reach it through DNS
  rebinding; an ``Origin`` header, when sent, must be this server's own (403), so no other site can
  drive it from the user's browser;
- request bodies are size-limited (413), counted as they arrive;
- workspace paths are confined: relative POSIX paths only, no ``..``, checked again after resolving
  symlinks, so nothing outside the workspace is ever read or written (403).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from pathlib import Path, PurePosixPath
from typing import Any

from onnxbridge.errors import OnnxBridgeError

#: default limit of an upload (a model file) and of any other request body (a spec as JSON)
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
MAX_BODY_BYTES = 64 * 1024 * 1024

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class StudioHTTPError(OnnxBridgeError):
    """An error answered with a given HTTP status (``{"error", "hint", ...}``)."""

    status = 400

    def __init__(self, message: str, *, hint: str | None = None, status: int | None = None, **extra: Any):
        super().__init__(message, hint=hint)
        if status is not None:
            self.status = status
        self.extra = extra


class OutsideWorkspace(StudioHTTPError):
    """A path that leaves the workspace, or is not a workspace path at all (403)."""

    status = 403


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def token_matches(header: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``token`` (compared in constant time)."""
    if not header:
        return False
    scheme, _, value = header.partition(" ")
    return scheme.lower() == "bearer" and secrets.compare_digest(value.strip().encode(), token.encode())


def confine(root: Path, relative: str) -> Path:
    """The absolute path of workspace path ``relative`` under ``root``, or :class:`OutsideWorkspace`.

    ``relative`` must be a relative POSIX path without ``..`` (or backslashes, NUL, a drive); after
    resolving symlinks it must still lie under ``root``. The path need not exist.

    Example::

        confine(Path("/home/me/nets"), "exports/net.onnx")   # /home/me/nets/exports/net.onnx
        confine(Path("/home/me/nets"), "../.ssh/id_rsa")     # raises OutsideWorkspace
    """
    if not isinstance(relative, str) or not relative.strip():
        raise OutsideWorkspace("expected a workspace path", hint="give a path relative to the workspace")
    text = relative.strip()
    shown = text[:200]
    if "\x00" in text or "\\" in text:
        raise OutsideWorkspace(f"{shown!r} is not a workspace path", hint="use forward slashes, no special characters")
    posix = PurePosixPath(text)
    if posix.is_absolute() or (len(text) > 1 and text[1] == ":"):
        raise OutsideWorkspace(f"{shown!r} is an absolute path; only paths inside the workspace are allowed",
                               hint="give a path relative to the workspace")
    if ".." in posix.parts:
        raise OutsideWorkspace(f"{shown!r} leaves the workspace ('..' is not allowed)",
                               hint="give a path relative to the workspace")
    base = root.resolve()
    target = (base / Path(*posix.parts)).resolve()
    if target != base and not target.is_relative_to(base):
        raise OutsideWorkspace(f"{shown!r} leads outside the workspace (through a symlink)",
                               hint="copy the file into the workspace instead of linking to it")
    return target


def relative_to_root(root: Path, path: Path) -> str:
    """``path`` (inside ``root``) as a workspace path."""
    return path.resolve().relative_to(root.resolve()).as_posix()


def error_body(message: str, hint: str | None = None, **extra: Any) -> bytes:
    """The JSON body of an error reply: ``{"error": message, "hint": hint, ...}``."""
    return json.dumps({"error": message, "hint": hint, **extra}).encode("utf-8")


class GuardMiddleware:
    """ASGI middleware: Host and Origin checks on every request, the token on ``/api/*``, body limits.

    ``hosts`` are the accepted ``Host`` values (``127.0.0.1:PORT`` ...); they can be set after the server
    has bound its port (``guard.hosts = ...``). Until they are set, every request is refused.
    """

    def __init__(self, app: ASGIApp, *, token: str, hosts: Iterable[str] = (), max_body: int = MAX_BODY_BYTES,
                 max_upload: int = MAX_UPLOAD_BYTES, upload_path: str = "/api/upload"):
        self.app = app
        self.token = token
        self.hosts = set(hosts)
        self.max_body = max_body
        self.max_upload = max_upload
        self.upload_path = upload_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass an HTTP request on only when its Host, Origin, token (for /api/) and body size are acceptable;
        answer it with a JSON error otherwise."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if host.lower() not in self.hosts:
            await _reply(send, 421, "misdirected request: this server does not answer to that Host",
                         "open the address the studio printed (http://127.0.0.1:PORT/...)")
            return
        origin = headers.get("origin")
        if origin is not None and origin.lower() not in {f"http://{h}" for h in self.hosts}:
            await _reply(send, 403, "cross-origin request refused", "the studio only answers its own page")
            return
        path = scope.get("path", "")
        if path.startswith("/api/") or path == "/api":
            if not token_matches(headers.get("authorization"), self.token):
                await _reply(send, 401, "missing or wrong token",
                             "open the URL with ?token=... that 'onnxbridge studio' printed")
                return
        limit = self.max_upload if path == self.upload_path else self.max_body
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await _reply(send, 413, f"request too large ({int(length):,} bytes; the limit is {limit:,})",
                         "use a smaller file, or put it into the workspace folder yourself")
            return
        body = _BodyLimit(receive, _with_headers(send, path), limit)
        await self.app(scope, body.receive, body.send)


class _BodyLimit:
    """Counts body bytes as they arrive; past ``limit`` it answers 413 itself, tells the app the client
    went away, and drops whatever the app still tries to send."""

    def __init__(self, receive: Receive, send: Send, limit: int):
        self._receive = receive
        self._send = send
        self.limit = limit
        self.seen = 0
        self.started = False
        self.replied = False

    async def receive(self) -> MutableMapping[str, Any]:
        if self.replied:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            if self.seen > self.limit and not self.started:
                self.replied = True
                await _reply(self._send, 413, f"request too large (the limit is {self.limit:,} bytes)",
                             "use a smaller file, or put it into the workspace folder yourself")
                return {"type": "http.disconnect"}
        return message

    async def send(self, message: MutableMapping[str, Any]) -> None:
        if self.replied:
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


# The page loads only its own scripts and styles (React Flow sets inline styles); it may not be framed,
# and the token in its address is never sent on as a referrer.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
                           "worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
_SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                     (b"x-frame-options", b"DENY"), (b"cross-origin-opener-policy", b"same-origin"),
                     (b"content-security-policy", CONTENT_SECURITY_POLICY.encode())]


def _with_headers(send: Send, path: str) -> Send:
    api = path.startswith("/api/")

    async def wrapped(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            names = {k.lower() for k, _ in headers}
            headers += [(k, v) for k, v in _SECURITY_HEADERS if k not in names]
            if api and b"cache-control" not in names:
                headers.append((b"cache-control", b"no-store"))
            message = {**message, "headers": headers}
        await send(message)

    return wrapped


async def _reply(send: Send, status: int, message: str, hint: str | None) -> None:
    body = error_body(message, hint)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *_SECURITY_HEADERS, (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})


def is_within(root: Path, path: str | os.PathLike) -> bool:
    """Whether ``path`` (absolute or relative to the current directory) lies inside ``root``."""
    return Path(path).resolve().is_relative_to(root.resolve())
