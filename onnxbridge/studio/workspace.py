"""The studio's workspace: one folder whose files the studio lists, opens, saves and exports into.

Every path is a workspace-relative POSIX path, confined by :func:`onnxbridge.studio.security.confine`.
Saves are atomic and versioned: a file's version is the sha256 of its bytes, and a save names the
version it was opened at, so a file that changed on disk since then is not overwritten unless forced
(:class:`VersionConflict`, answered 409). Only spec files are ever written by a save. The client's
autosave (the open document, node positions, undo history) lives in ``.onnxbridge-studio/session.json``.

Layout::

    WORKSPACE/
      *.yaml, *.onnx, ...        the user's files
      uploads/                   files sent from the browser
      exports/                   ONNX files, torch and Keras packages exported from the studio
      .onnxbridge-studio/        session.json (the autosave)
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onnxbridge.studio.security import OutsideWorkspace, StudioHTTPError, confine, relative_to_root

STATE_DIR = ".onnxbridge-studio"
SESSION_FILE = "session.json"
UPLOADS_DIR = "uploads"
EXPORTS_DIR = "exports"
SPEC_SUFFIXES = (".yaml", ".yml", ".json")
MAX_LISTED = 5000
_SKIPPED_DIRS = {".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".mypy_cache",
                 ".pytest_cache", ".ruff_cache", STATE_DIR}


class NotFound(StudioHTTPError):
    """A workspace path that does not exist (404)."""

    status = 404


class VersionConflict(StudioHTTPError):
    """The file changed on disk since the client opened it (409); ``current_version`` is its sha256 now."""

    status = 409

    def __init__(self, path: str, current: str | None):
        super().__init__(f"{path}: changed on disk since it was opened" if current else
                         f"{path}: was deleted since it was opened",
                         hint="reload it, or save again with force to overwrite it", current_version=current)


@dataclass(frozen=True)
class WorkspaceFile:
    """One entry of the listing."""

    path: str
    kind: str  # spec | onnx | torch | keras | savedmodel | other
    size: int
    mtime: float

    def to_dict(self) -> dict[str, Any]:
        """The file's entry as JSON data: path, kind, size and modification time."""
        return {"path": self.path, "kind": self.kind, "size": self.size, "mtime": self.mtime}


def file_kind(path: Path) -> str:
    """What a workspace entry is, by its name (a SavedModel is a folder holding ``saved_model.pb``)."""
    if path.is_dir():
        return "savedmodel" if (path / "saved_model.pb").is_file() else "other"
    suffix = path.suffix.lower()
    if suffix in SPEC_SUFFIXES:
        return "spec"
    return {".onnx": "onnx", ".pt2": "torch", ".keras": "keras", ".h5": "keras"}.get(suffix, "other")


def version_of(data: bytes) -> str:
    """A file's version: the sha256 of its bytes."""
    return hashlib.sha256(data).hexdigest()


class Workspace:
    """The folder the studio works in.

    Example::

        ws = Workspace("~/nets")
        ws.save_spec("net.yaml", spec, version=None)     # creates it; returns its version
    """

    def __init__(self, root: str | os.PathLike):
        root_path = Path(root).expanduser()
        if not root_path.is_dir():
            raise StudioHTTPError(f"{root_path}: the workspace must be an existing folder",
                                  hint="create it, or pass another --workspace")
        self.root = root_path.resolve()

    # -- paths -------------------------------------------------------------------------------------
    def path(self, relative: str) -> Path:
        """The absolute path of a workspace path (need not exist); :class:`OutsideWorkspace` when it leaves."""
        return confine(self.root, relative)

    def existing(self, relative: str) -> Path:
        """Like :meth:`path`, and the path must exist (else :class:`NotFound`)."""
        target = self.path(relative)
        if not target.exists():
            raise NotFound(f"{relative}: no such file in the workspace", hint="pick a file from the list")
        return target

    def relative(self, path: Path) -> str:
        """An absolute path inside the workspace as a workspace path."""
        return relative_to_root(self.root, path)

    def relative_or_none(self, path: str | os.PathLike) -> str | None:
        """A path (absolute, or relative to the current directory) as a workspace path, or None outside it."""
        resolved = Path(path).resolve()
        return self.relative(resolved) if resolved.is_relative_to(self.root) else None

    # -- listing -------------------------------------------------------------------------------------
    def list_files(self) -> list[WorkspaceFile]:
        """Every file under the workspace (hidden folders, caches and what symlinks lead out to skipped);
        a SavedModel folder is one entry."""
        found: list[WorkspaceFile] = []
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            here = Path(dirpath)
            keep = []
            for name in sorted(dirnames):
                sub = here / name
                if name in _SKIPPED_DIRS or name.startswith(".") or sub.is_symlink():
                    continue
                if file_kind(sub) == "savedmodel":
                    found.append(self._entry(sub, "savedmodel"))
                    continue
                keep.append(name)
            dirnames[:] = keep
            for name in sorted(filenames):
                item = here / name
                if name.startswith(".") or (item.is_symlink() and not item.resolve().is_relative_to(self.root)):
                    continue
                if item.is_file():
                    found.append(self._entry(item, file_kind(item)))
            if len(found) >= MAX_LISTED:
                break
        return sorted(found[:MAX_LISTED], key=lambda f: f.path)

    def _entry(self, path: Path, kind: str) -> WorkspaceFile:
        stat = path.stat()
        size = stat.st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        return WorkspaceFile(path.relative_to(self.root).as_posix(), kind, size, stat.st_mtime)

    # -- specs -------------------------------------------------------------------------------------
    def read_spec(self, relative: str) -> tuple[dict[str, Any], str]:
        """A spec file's data and version."""
        from onnxbridge.checks.spec import read_spec_document

        target = self.existing(relative)
        if file_kind(target) != "spec":
            raise StudioHTTPError(f"{relative}: not a spec file (.yaml, .yml or .json)")
        raw = target.read_bytes()
        data, _ = read_spec_document(target)
        return data, version_of(raw)

    def version(self, relative: str) -> str | None:
        """The current version of a file, or None when it does not exist."""
        target = self.path(relative)
        return version_of(target.read_bytes()) if target.is_file() else None

    def save_spec(self, relative: str, spec: dict[str, Any], *, version: str | None, force: bool = False) -> str:
        """Write ``spec`` to ``relative`` atomically (YAML, or JSON for ``.json``); returns the new version.

        ``version`` is the version the client opened the file at (None for a new file). When the file on
        disk is not that version any more, :class:`VersionConflict` is raised unless ``force``. A file that
        is not a spec document is never overwritten, forced or not.
        """
        from onnxbridge.ir.io import atomic_write

        target = self.path(relative)
        if target.suffix.lower() not in SPEC_SUFFIXES:
            raise StudioHTTPError(f"{relative}: a spec is saved as .yaml, .yml or .json",
                                  hint="choose a name ending in .yaml")
        if not isinstance(spec, dict) or not isinstance(spec.get("layers"), list) or "inputs" not in spec:
            raise StudioHTTPError(f"{relative}: expected a spec with 'inputs' and 'layers'")
        if target.is_dir():
            raise StudioHTTPError(f"{relative}: is a folder", hint="choose a file name")
        current = version_of(target.read_bytes()) if target.is_file() else None
        if current is not None and not _is_spec_file(target):
            raise StudioHTTPError(f"{relative}: exists and is not a spec; refusing to overwrite it",
                                  hint="choose another name")
        if current != version and not force:
            raise VersionConflict(relative, current)
        text = spec_text(spec, json_format=target.suffix.lower() == ".json")
        with atomic_write(target) as tmp:
            tmp.write_text(text, encoding="utf-8")
        return version_of(text.encode("utf-8"))

    def open(self, relative: str) -> dict[str, Any]:
        """A workspace file as a spec document: ``{spec, path, version, kind, notes}``.

        A spec comes as it is (``path`` is the file, ``version`` its sha256). A model (ONNX, ``.pt2``,
        ``.keras``/``.h5``, a SavedModel folder) is imported and lifted to a spec whose weights file is
        written beside it; ``path`` is then a new spec file name to save to (``version`` null) and
        ``source`` the model.
        """
        target = self.existing(relative)
        kind = file_kind(target)
        if kind == "spec":
            data, version = self.read_spec(relative)
            return {"spec": data, "path": self.relative(target), "version": version, "kind": kind, "notes": []}
        if kind == "other":
            raise StudioHTTPError(f"{relative}: not a spec or a model the studio can open",
                                  hint="open a .yaml/.json spec, an .onnx, .pt2, .keras or .h5 file, or a "
                                       "SavedModel folder")
        from onnxbridge.spec.document import open_model

        spec_path = self._free_spec_name(target.parent, target.name.split(".")[0] or "model")
        weights = spec_path.with_suffix(".safetensors")
        opened = open_model(target, weights)
        notes = list(opened.notes) + [f"{hop}: {report.summary()}" for hop, report in opened.checks]
        return {"spec": opened.spec, "path": self.relative(spec_path), "version": None, "kind": kind,
                "source": self.relative(target), "ok": opened.ok,
                "weights": None if opened.weights is None else self.relative(opened.weights), "notes": notes}

    def _free_spec_name(self, folder: Path, stem: str) -> Path:
        """``folder/STEM.yaml`` (or ``STEM-2.yaml``, ...) such that neither it nor its weights file exists."""
        candidate, n = folder / f"{stem}.yaml", 1
        while candidate.exists() or candidate.with_suffix(".safetensors").exists():
            n += 1
            candidate = folder / f"{stem}-{n}.yaml"
        return self.path(self.relative(candidate))

    # -- exports -------------------------------------------------------------------------------------
    def export_path(self, name: str, target: str) -> Path:
        """Where an export named ``name`` goes: ``exports/NAME.onnx`` or the folder ``exports/NAME_<target>/``."""
        if not name or "/" in name or name.startswith("."):
            raise StudioHTTPError(f"export name {name!r} must be a plain file name", hint="e.g. digits_cnn")
        return self.path(f"{EXPORTS_DIR}/{name}.onnx" if target == "onnx" else f"{EXPORTS_DIR}/{name}_{target}")

    # -- the autosave ------------------------------------------------------------------------------
    @property
    def session_path(self) -> Path:
        """Where the studio's session state is kept inside the workspace."""
        return self.root / STATE_DIR / SESSION_FILE

    def load_session(self) -> Any:
        """The saved client state, or None when there is none (or it is unreadable)."""
        try:
            return json.loads(self.session_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def save_session(self, state: Any) -> None:
        """Store the client state atomically (a crash mid-write leaves the previous one)."""
        from onnxbridge.ir.io import atomic_write

        text = json.dumps(state, separators=(",", ":"))
        with atomic_write(self.session_path) as tmp:
            tmp.write_text(text, encoding="utf-8")

    # -- uploads and downloads ---------------------------------------------------------------------
    def upload_target(self, filename: str) -> Path:
        """A new file under ``uploads/`` for an uploaded ``filename`` (its base name, made safe, never
        replacing an existing file)."""
        name = _safe_name(filename)
        folder = self.path(UPLOADS_DIR)
        folder.mkdir(exist_ok=True)
        stem, suffix = _split_name(name)
        candidate, n = folder / name, 1
        while candidate.exists():
            n += 1
            candidate = folder / f"{stem}-{n}{suffix}"
        return self.path(f"{UPLOADS_DIR}/{candidate.name}")

    def store_upload(self, filename: str, stream: Any) -> str:
        """Copy an uploaded file's bytes (a file object) into ``uploads/``; returns its workspace path."""
        import shutil

        from onnxbridge.ir.io import atomic_write

        target = self.upload_target(filename)
        with atomic_write(target, overwrite=False) as tmp:
            with open(tmp, "wb") as out:
                shutil.copyfileobj(stream, out, 1024 * 1024)
        return self.relative(target)

    def download(self, relative: str) -> tuple[str, Path, bool]:
        """A file to send: ``(name, path, temporary)``. A folder is zipped into a temporary file under
        ``.onnxbridge-studio/downloads/`` (symlinks that lead out of the workspace, and the studio's own
        folder, left out), which the caller removes after sending."""
        import tempfile

        target = self.existing(relative)
        if target.is_file():
            return target.name, target, False
        scratch = self.root / STATE_DIR / "downloads"
        scratch.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f"{target.name}.", suffix=".zip", dir=scratch)
        os.close(fd)
        state = self.root / STATE_DIR
        try:
            with zipfile.ZipFile(name, "w", zipfile.ZIP_DEFLATED) as archive:
                for item in sorted(target.rglob("*")):
                    if item.is_symlink() and not item.resolve().is_relative_to(self.root):
                        continue
                    if item == state or state in item.parents:
                        continue
                    if item.is_file():
                        archive.write(item, Path(target.name) / item.relative_to(target))
        except BaseException:
            os.unlink(name)
            raise
        return f"{target.name}.zip", Path(name), True

    def clean_scratch(self) -> None:
        """Remove zips a download left behind (a client that went away before the file was sent)."""
        import shutil

        shutil.rmtree(self.root / STATE_DIR / "downloads", ignore_errors=True)

    def base_dir(self, document: str | None) -> Path:
        """The folder a document's relative files (its ``weights:``) are looked up in: the folder of its
        workspace path, or the workspace itself."""
        return self.path(document).parent if document else self.root


def spec_text(spec: dict[str, Any], *, json_format: bool = False) -> str:
    """A spec as the text of a file: YAML in document order, or indented JSON."""
    if json_format:
        return json.dumps(spec, indent=2) + "\n"
    import yaml

    return yaml.safe_dump(spec, sort_keys=False, default_flow_style=None, width=110, allow_unicode=True)


def _is_spec_file(path: Path) -> bool:
    """Whether an existing file holds a spec document (a mapping with 'layers'), so saving may replace it."""
    from onnxbridge.spec.io import parse_spec_text

    try:
        data = parse_spec_text(path.read_text(encoding="utf-8"), str(path), json_format=path.suffix.lower() == ".json")
    except Exception:  # noqa: BLE001 - unreadable or not YAML: certainly not ours to overwrite
        return False
    return isinstance(data, dict) and isinstance(data.get("layers"), list)


def _safe_name(filename: str) -> str:
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in base).lstrip(".")
    if not cleaned:
        raise OutsideWorkspace(f"{filename!r} is not a usable file name", hint="rename the file")
    return cleaned[:120]


def _split_name(name: str) -> tuple[str, str]:
    for double in (".tar.gz",):
        if name.endswith(double):
            return name[: -len(double)], double
    stem, dot, suffix = name.rpartition(".")
    return (stem, dot + suffix) if stem else (name, "")
