"""The studio's HTTP routes (the contract is in docs/studio.md). Each route is one call into the Python
API; the security checks (token, Host, Origin, body size) wrap the app in
:class:`onnxbridge.studio.security.GuardMiddleware`, and every path goes through the workspace.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import mimetypes
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, File, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

from onnxbridge.errors import OnnxBridgeError
from onnxbridge.spec.plan_memo import PlanMemo
from onnxbridge.studio.security import StudioHTTPError
from onnxbridge.studio.viewers import Viewers
from onnxbridge.studio.workspace import Workspace, file_kind

log = logging.getLogger("onnxbridge.studio")


@dataclass
class StudioState:
    """What the routes share: the workspace, the file the studio was started on, the netron viewers, and
    the planner's memo of the live analysis (one per server: each edit re-plans only what it changed)."""

    workspace: Workspace
    initial: str | None = None
    static_dir: Path | None = None
    viewers: Viewers = field(default_factory=Viewers)
    plan_memo: PlanMemo = field(default_factory=PlanMemo)


class Json(JSONResponse):
    """JSON without FastAPI's re-encoding pass (the analysis of a big spec is large); NaN/inf become null."""

    def render(self, content: Any) -> bytes:
        """``content`` as compact JSON; NaN and infinities become null instead of invalid JSON."""
        try:
            text = json.dumps(content, allow_nan=False, separators=(",", ":"))
        except ValueError:
            text = json.dumps(_finite(content), allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


# -- request bodies ------------------------------------------------------------------------------------
class SpecBody(BaseModel):
    """A request carrying a spec document (and its workspace path, when it has one)."""
    spec: dict[str, Any]
    #: the document's workspace path, when it has one: its folder is where ``weights:`` is looked up
    path: str | None = None


class FixBody(SpecBody):
    """A request to apply the fix of rule ``code`` to a spec, optionally only at ``layers``."""
    code: str
    layers: list[str] = Field(default_factory=list)


class ExtractBody(SpecBody):
    """A request to extract ``layers`` of a spec into a new block called ``name``."""
    layers: list[str]
    name: str


class InlineBody(SpecBody):
    """A request to inline the block instance ``layer`` of a spec."""
    layer: str


class CodeBody(SpecBody):
    """A request for the generated source of a spec in framework ``target``."""
    target: Literal["torch", "tensorflow"]


class ExportBody(SpecBody):
    """A request to export a spec to ``target`` as the file or folder ``name``."""
    target: Literal["onnx", "torch", "tensorflow"]
    name: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")


class PathBody(BaseModel):
    """A request naming one workspace file."""
    path: str


class SaveBody(BaseModel):
    """A request to save a spec at a workspace path, refused if the file changed since ``version`` unless
    ``force``."""
    path: str
    spec: dict[str, Any]
    version: str | None = None
    force: bool = False


class SessionBody(BaseModel):
    """The studio's session state, stored as the browser sends it."""
    state: Any = None


class NetronBody(BaseModel):
    """A request to show a spec (lowered to ONNX) or a workspace file in netron."""
    spec: dict[str, Any] | None = None
    path: str | None = None  # with spec: the document's path (for its weights); alone: the file to show


def create_app(state: StudioState) -> FastAPI:
    """The FastAPI app serving ``state``'s workspace: the ``/api`` routes and the built front end."""
    app = FastAPI(title="onnxbridge studio", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.studio = state
    ws = state.workspace
    _errors(app)

    @app.get("/api/catalogue")
    def catalogue() -> Response:
        return Json(_catalogue())

    @app.get("/api/initial")
    def initial() -> Response:
        path = state.initial
        return Json({"path": path, "kind": None if path is None else file_kind(ws.path(path))})

    @app.post("/api/analyze")
    def analyze(body: SpecBody) -> Response:
        from onnxbridge.spec.analysis import analyse_spec

        return Json(analyse_spec(body.spec, memo=state.plan_memo).to_dict())

    @app.post("/api/fix")
    def fix(body: FixBody) -> Response:
        from onnxbridge.spec.analysis import apply_fix

        return Json(apply_fix(body.spec, body.code, body.layers, memo=state.plan_memo).to_dict())

    @app.post("/api/blocks/extract")
    def extract(body: ExtractBody) -> Response:
        from onnxbridge.spec.document import extract_block

        return Json(extract_block(body.spec, body.layers, body.name, base_dir=ws.base_dir(body.path)).to_dict())

    @app.post("/api/blocks/inline")
    def inline(body: InlineBody) -> Response:
        from onnxbridge.spec.document import inline_block

        return Json(inline_block(body.spec, body.layer, base_dir=ws.base_dir(body.path)).to_dict())

    @app.post("/api/code")
    def code(body: CodeBody) -> Response:
        from onnxbridge.spec.export import generate_code

        return Json(generate_code(body.spec, body.target, base_dir=ws.base_dir(body.path)).to_dict())

    @app.post("/api/export")
    def export(body: ExportBody) -> Response:
        from onnxbridge.spec.export import conversion_to_dict, export_spec

        target = ws.export_path(body.name, body.target)
        result = export_spec(body.spec, body.target, target, base_dir=ws.base_dir(body.path))
        return Json({**conversion_to_dict(result, relative_to=ws.root), "download": ws.relative(target)})

    @app.get("/api/download")
    def download(path: str) -> Response:
        name, file, temporary = ws.download(path)
        return FileResponse(file, headers={"Content-Disposition": _attachment(name)},
                            media_type=mimetypes.guess_type(name)[0] or "application/octet-stream",
                            background=BackgroundTask(os.unlink, file) if temporary else None)

    @app.get("/api/files")
    def files() -> Response:
        return Json({"files": [f.to_dict() for f in ws.list_files()]})

    @app.post("/api/open")
    def open_file(body: PathBody) -> Response:
        return Json(ws.open(body.path))

    @app.post("/api/upload")
    def upload(file: UploadFile = File(...)) -> Response:
        return Json({"path": ws.store_upload(file.filename or "upload", file.file)})

    @app.post("/api/save")
    def save(body: SaveBody) -> Response:
        from onnxbridge.spec.analysis import check_connectivity

        version = ws.save_spec(body.path, body.spec, version=body.version, force=body.force)
        # saved as drawn; layers off every input-to-output path are worth a warning
        return Json({"path": body.path, "version": version, **check_connectivity(body.spec).to_dict()})

    @app.get("/api/session")
    def get_session() -> Response:
        return Json({"state": ws.load_session()})

    @app.put("/api/session")
    def put_session(body: SessionBody) -> Response:
        ws.save_session(body.state)
        return Json({"ok": True})

    @app.post("/api/netron")
    def netron(body: NetronBody) -> Response:
        if body.spec is None and body.path is None:
            raise StudioHTTPError("give 'spec' (the document) or 'path' (a workspace file)")
        if body.spec is not None:
            name = str(body.spec.get("name") or "network")
            return Json({"url": state.viewers.open_spec(body.spec, name, base_dir=ws.base_dir(body.path))})
        assert body.path is not None  # checked above: a request without a spec names a file
        return Json({"url": state.viewers.open_model(ws.existing(body.path))})

    _front_end(app, state.static_dir)
    return app


@functools.lru_cache(maxsize=1)
def _catalogue() -> dict[str, Any]:
    from onnxbridge.spec.catalogue import editor_catalogue

    return editor_catalogue()


def _attachment(name: str) -> str:
    from urllib.parse import quote

    ascii_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def _errors(app: FastAPI) -> None:
    @app.exception_handler(StudioHTTPError)
    async def studio_error(_request: Request, exc: StudioHTTPError) -> Response:
        return Json({"error": exc.message, "hint": exc.hint, **exc.extra}, status_code=exc.status)

    @app.exception_handler(OnnxBridgeError)
    async def bad_input(_request: Request, exc: OnnxBridgeError) -> Response:
        extra = {"problems": exc.problems} if len(exc.problems) > 1 else {}
        return Json({"error": exc.message, "hint": exc.hint, **extra}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def bad_body(_request: Request, exc: RequestValidationError) -> Response:
        problems = [_validation_line(e) for e in exc.errors()]
        return Json({"error": problems[0] if problems else "malformed request", "hint": "see docs/studio.md",
                     "problems": problems}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return Json({"error": f"not found: {request.url.path}", "hint": "see docs/studio.md for the routes"},
                        status_code=404)
        return Json({"error": str(exc.detail), "hint": None}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def bug(_request: Request, exc: Exception) -> Response:
        log.exception("studio: unexpected error")
        return Json({"error": f"internal error: {type(exc).__name__}: {exc}",
                     "hint": "this is a bug in onnxbridge; the server's console has the traceback"},
                    status_code=500)


def _validation_line(error: dict[str, Any]) -> str:
    where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
    if error.get("type") == "missing":
        return f"{where}: missing"
    if error.get("type") == "json_invalid":
        return f"malformed JSON: {error.get('ctx', {}).get('error', error.get('msg', ''))}"
    return f"{where}: {error.get('msg', 'invalid')}"


def _front_end(app: FastAPI, static_dir: Path | None) -> None:
    if static_dir is not None and (static_dir / "index.html").is_file():
        from fastapi.staticfiles import StaticFiles

        app.mount("/", StaticFiles(directory=static_dir, html=True), name="front-end")
        return

    @app.get("/")
    def missing_bundle() -> Response:
        return HTMLResponse("<!doctype html><title>onnxbridge studio</title><p>The studio's front end is not "
                            "built: run <code>./scripts/build_studio</code>.</p>", status_code=503)
