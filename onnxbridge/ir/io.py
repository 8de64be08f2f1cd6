"""Load and save ONNX models with clear errors, and atomic writes for every output.

Outputs are written to a temporary sibling first and moved into place only when complete, so a failed
command never leaves a half-written file behind and never clobbers an existing file with garbage.
"""

from __future__ import annotations

import errno
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import onnx
from google.protobuf.message import DecodeError

from onnxbridge.errors import ModelLoadError, OnnxBridgeError, OutputError

# Protobuf cannot serialise a single message over 2 GiB; larger models keep weights in external data.
PROTOBUF_LIMIT = 2**31 - 1


def load_model(path: str | os.PathLike, *, load_external_data: bool = True) -> onnx.ModelProto:
    """Read an ONNX file; raise :class:`ModelLoadError` with a one-line reason when it cannot be read.

    External-data files are checked before any is read (see :func:`external_data_files`), so a model can
    only pull in files that lie beside it.
    """
    p = Path(path)
    if not p.exists():
        raise ModelLoadError(f"{p}: no such file", hint="check the path")
    if p.is_dir():
        raise ModelLoadError(f"{p}: is a directory, expected an .onnx file")
    if p.stat().st_size == 0:
        raise ModelLoadError(f"{p}: the file is empty", hint="re-export the model")
    try:
        model = onnx.load(str(p), load_external_data=False)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise ModelLoadError(
            f"{p}: not a readable ONNX model ({_first_line(exc) or 'protobuf parse failed'})",
            hint="the file may be truncated or not ONNX; re-export it",
        ) from None
    except OSError as exc:
        raise ModelLoadError(f"{p}: cannot read ({exc.strerror or exc})") from None
    if not model.graph.node and not model.graph.output and not model.opset_import:
        # protobuf happily parses many non-ONNX byte strings into an empty message
        raise ModelLoadError(f"{p}: does not contain an ONNX graph", hint="is this really an .onnx file?")
    _check_element_types(model, p)
    # every location is checked even when the data is not read now: whoever reads it later (onnx, the
    # checks, the viewer) then reads only files that lie beside the model
    external_data_files(model, p)
    if load_external_data:
        try:
            onnx.load_external_data_for_model(model, str(p.parent))
        except (OSError, ValueError, RuntimeError) as exc:
            raise ModelLoadError(f"{p}: cannot read its external data ({_first_line(exc)})",
                                 hint="keep the .data file(s) beside the model, as they were saved") from None
    return model


def _check_element_types(model: onnx.ModelProto, p: Path) -> None:
    """Refuse element types ONNX does not define (a corrupt or hand-edited file): every later step would
    fail on them in its own way."""
    known = set(onnx.TensorProto.DataType.values())
    graphs = [model.graph]
    while graphs:
        graph = graphs.pop()
        typed = [("input", v.name, v.type.tensor_type.elem_type) for v in graph.input]
        typed += [("output", v.name, v.type.tensor_type.elem_type) for v in graph.output]
        typed += [("value", v.name, v.type.tensor_type.elem_type) for v in graph.value_info]
        typed += [("initializer", t.name, t.data_type) for t in graph.initializer]
        for what, name, elem in typed:
            if elem not in known:
                raise ModelLoadError(f"{p}: {what} {name!r} has element type {elem}, which ONNX does not define",
                                     hint="the file is corrupt or hand-edited; re-export the model")
        for node in graph.node:
            for attr in node.attribute:
                graphs.extend([attr.g] if attr.HasField("g") else [])
                graphs.extend(attr.graphs)


def external_data_files(model: onnx.ModelProto, path: str | os.PathLike) -> list[Path]:
    """The external-data files of ``model`` (loaded from ``path``), each checked to lie beside it.

    A location must be a relative path inside the model's folder (no ``..``, no absolute path, no symlink
    that leads out), name an existing file, and hold the bytes its tensors claim; anything else raises
    :class:`ModelLoadError` naming the tensor.
    """
    from onnx.external_data_helper import _get_all_tensors, uses_external_data

    p = Path(path)
    base = p.parent.resolve()
    files: dict[Path, int] = {}
    for tensor in _get_all_tensors(model):
        if not uses_external_data(tensor):
            continue
        info = {e.key: e.value for e in tensor.external_data}
        location = info.get("location", "")
        where = f"{p}: tensor {tensor.name!r} keeps its data in {location!r}"
        relative = Path(location)
        if not location or relative.is_absolute() or ".." in relative.parts or location.startswith(("/", "\\")):
            raise ModelLoadError(f"{where}, which is not a file beside the model",
                                 hint="external data must be a relative path inside the model's folder")
        try:
            target = (base / relative).resolve()
            inside = target.is_relative_to(base)
            exists = inside and target.is_file()
        except OSError as exc:  # a name too long, a symlink loop
            raise ModelLoadError(f"{where}, which cannot be opened ({exc.strerror or exc})",
                                 hint="external data must be a file beside the model") from None
        if not inside:
            raise ModelLoadError(f"{where}, which leads outside the model's folder (a symlink)",
                                 hint="copy the data file next to the model instead of linking it")
        if not exists:
            raise ModelLoadError(f"{where}, which does not exist", hint="keep the .data file(s) beside the model")
        try:
            offset, length = int(info.get("offset", 0) or 0), int(info.get("length", 0) or 0)
        except ValueError:
            offset = length = -1
        if offset < 0 or length < 0:
            raise ModelLoadError(f"{where} with a malformed offset or length", hint="re-export the model")
        end = offset + length
        if end > target.stat().st_size:
            raise ModelLoadError(f"{where}, which is shorter than the tensor needs (truncated?)",
                                 hint="copy the data file again")
        files[target] = max(files.get(target, 0), end)
    return list(files)


def save_model(model: onnx.ModelProto, path: str | os.PathLike) -> Path:
    """Write ``model`` atomically; weights go to ``<name>.data`` beside it when the model exceeds 2 GB."""
    p = Path(path)
    needs_external = model.ByteSize() > PROTOBUF_LIMIT if _cheap_size_known(model) else True
    if not needs_external:
        with atomic_write(p) as tmp:
            tmp.write_bytes(model.SerializeToString())
        return p
    with atomic_output_dir(p.with_suffix(p.suffix + ".dir")) as tmp_dir:
        tmp_file = tmp_dir / p.name
        onnx.save_model(model, str(tmp_file), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=p.name + ".data", size_threshold=1024)
        for item in tmp_dir.iterdir():
            os.replace(item, p.parent / item.name)
    shutil.rmtree(p.with_suffix(p.suffix + ".dir"), ignore_errors=True)
    return p


def _cheap_size_known(model: onnx.ModelProto) -> bool:
    try:
        model.ByteSize()
        return True
    except Exception:  # noqa: BLE001 - protobuf raises on >2GB messages
        return False


def fits_in_protobuf(model: onnx.ModelProto) -> bool:
    """Whether ``model`` can be serialised in one piece (under 2 GiB); larger ones need external data."""
    return _cheap_size_known(model) and model.ByteSize() <= PROTOBUF_LIMIT


INLINE_ELEMENTS = 256  # initializers up to this size keep their values in without_weight_data's copy


def without_weight_data(model: onnx.ModelProto, *, keep_up_to: int = INLINE_ELEMENTS) -> onnx.ModelProto:
    """A copy of ``model`` for the checker and shape inference, which serialise it: every initializer of
    more than ``keep_up_to`` elements keeps its name, type and dims but not its data (it is marked external).

    A model over protobuf's 2 GiB limit cannot be checked as it is; its structure fits easily. Small
    initializers (shapes, axes, scalars) keep their values, which shape inference may read.
    """
    light = onnx.ModelProto()
    for fd, value in model.ListFields():
        if fd.name != "graph":
            _copy_field(light, fd, value)
    for fd, value in model.graph.ListFields():
        if fd.name != "initializer":
            _copy_field(light.graph, fd, value)
    for tensor in model.graph.initializer:
        if math.prod(tensor.dims) <= keep_up_to:  # (ByteSize() itself raises on a tensor over 2 GiB)
            light.graph.initializer.add().CopyFrom(tensor)
            continue
        meta = light.graph.initializer.add(name=tensor.name, data_type=tensor.data_type, dims=tensor.dims,
                                           data_location=onnx.TensorProto.EXTERNAL)
        meta.external_data.add(key="location", value="weights.data")  # never read: nothing loads it
    return light


def _copy_field(target: Any, fd: Any, value: Any) -> None:
    if fd.is_repeated:
        getattr(target, fd.name).extend(value)
    elif fd.type == fd.TYPE_MESSAGE:
        getattr(target, fd.name).CopyFrom(value)
    else:
        setattr(target, fd.name, value)


@contextmanager
def atomic_write(path: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    Any failure to write (a full disk, no permission, a read-only file system, a name too long) becomes
    one :class:`OutputError` naming ``path``, and nothing is left behind (see :func:`writing`).
    """
    target = Path(path)
    tmp: Path | None = None
    try:
        with writing(target):
            if target.exists() and not overwrite:
                raise OnnxBridgeError(f"{target}: already exists", hint="choose another output or pass --force")
            if target.is_dir():
                raise OnnxBridgeError(f"{target}: is a directory, expected a file path")
            _make_parent(target)
            fd, tmp_name = tempfile.mkstemp(prefix=f".{_short(target.name)}.", suffix=".tmp", dir=target.parent)
            os.close(fd)
            tmp = Path(tmp_name)
            yield tmp
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
            os.replace(tmp, target)
    finally:
        if tmp is not None and tmp.exists():
            tmp.unlink()


@contextmanager
def atomic_output_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary directory; on success its files replace those in ``path``.

    Files already in ``path`` that the block did not write are left alone, so a user's other files
    are never deleted. Failures to write become one :class:`OutputError` naming ``path``.
    """
    target = Path(path)
    tmp: Path | None = None
    try:
        with writing(target):
            if target.exists() and not target.is_dir():
                raise OnnxBridgeError(f"{target}: exists and is not a directory",
                                      hint="choose another output directory")
            _make_parent(target)
            tmp = Path(tempfile.mkdtemp(prefix=f".{_short(target.name)}.", suffix=".tmp", dir=target.parent))
            yield tmp
            target.mkdir(exist_ok=True)
            for item in sorted(tmp.rglob("*")):
                dest = target / item.relative_to(tmp)
                if item.is_dir():
                    if dest.exists() and not dest.is_dir():
                        dest.unlink()
                    dest.mkdir(exist_ok=True)
                else:
                    # some writers (safetensors, mkstemp) create 0600 files; give outputs the usual permissions
                    os.chmod(item, 0o666 & ~_umask())
                    os.replace(item, dest)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


# errno -> (what happened, what to do)
_WRITE_ERRORS = {
    errno.ENOSPC: ("no space left on the device", "free some space or write somewhere else"),
    errno.EDQUOT: ("the disk quota is used up", "free some space or write somewhere else"),
    errno.EFBIG: ("the file would be larger than this system allows", "write somewhere else"),
    errno.EACCES: ("permission denied", "choose a folder you can write to"),
    errno.EPERM: ("permission denied", "choose a folder you can write to"),
    errno.EROFS: ("the file system is read-only", "choose a folder you can write to"),
    errno.ENAMETOOLONG: ("the file name is too long", "choose a shorter name"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "choose a path made of folders"),
    errno.EEXIST: ("a part of the path is a file, not a folder", "choose a path made of folders"),
    errno.ENOENT: ("the folder does not exist", "create the folder first"),
    errno.EISDIR: ("is a directory, expected a file path", "choose a file name"),
}
# how Rust libraries (safetensors) report an OS error inside their own exception types
_OS_ERROR_TEXT = re.compile(r"\(os error (\d+)\)")


def output_error(exc: BaseException, path: str | os.PathLike, *, any_file: bool = False) -> OutputError | None:
    """The one-line error for a failure to write ``path``, or None when ``exc`` is not such a failure.

    Understands ``OSError`` and the exceptions of writers that wrap an OS error in their own type
    (safetensors says "... (os error 28)"); both become e.g. ``out/model.onnx: cannot write: no space
    left on the device (nothing was written)``.
    """
    code = exc.errno if isinstance(exc, OSError) else None
    if (isinstance(exc, OSError) and exc.filename is not None and not any_file
            and not _is_part_of(exc.filename, Path(path))):
        return None  # about another file (an input read inside the block): not a failure to write ``path``
    if code is None:
        match = _OS_ERROR_TEXT.search(str(exc))
        code = int(match.group(1)) if match else None
    if code is None:
        return None
    what, todo = _WRITE_ERRORS.get(code, (os.strerror(code).lower(), "write somewhere else"))
    return OutputError(f"{path}: cannot write: {what} (nothing was written)", hint=todo)


@contextmanager
def writing(path: str | os.PathLike) -> Iterator[None]:
    """Run a block that writes ``path``: a write failure inside it becomes one :class:`OutputError`.

    Every writer goes through here (:func:`atomic_write` and :func:`atomic_output_dir` use it; wrap
    any other writer in it), so a full disk or an unwritable folder is one line wherever it happens.
    """
    try:
        yield
    except OnnxBridgeError:
        raise
    except Exception as exc:  # noqa: BLE001 - writers raise OSError or their own types wrapping it
        error = output_error(exc, path)
        if error is None:
            raise
        raise error from None


def check_writable(path: str | os.PathLike) -> None:
    """Fail now, before a long computation, when ``path`` (a file or folder to be written) cannot be.

    Creates and removes a probe file in the nearest existing folder of ``path``: raises
    :class:`OutputError` for a read-only or unwritable folder, a full disk, a name that is too long or a
    parent that is a file. Nothing is left behind.
    """
    target = Path(path)
    try:
        for part in target.parts:
            if len(os.fsencode(part)) > 255:
                raise OSError(errno.ENAMETOOLONG, "File name too long", str(target))
        parent = target.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise OSError(errno.ENOTDIR, "Not a directory", str(parent))
        fd, probe = tempfile.mkstemp(prefix=".onnxbridge-probe.", dir=parent)
        try:
            os.write(fd, b"\0")  # a full disk refuses the first byte
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        error = output_error(exc, target, any_file=True)
        if error is None:
            raise
        raise error from None


def _is_part_of(filename: str | bytes | int, target: Path) -> bool:
    """Whether ``filename`` is ``target``, inside it, one of its folders, or a temporary file beside it."""
    if isinstance(filename, int):
        return False
    f = Path(os.fsdecode(filename)).absolute()
    t = target.absolute()
    return (f == t or t in f.parents or f in t.parents
            or (f.parent == t.parent and f.name.startswith(f".{_short(t.name)}.")))


def _make_parent(target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a part of the path is a file
        raise OSError(errno.ENOTDIR, "Not a directory", str(target.parent)) from None


def _short(name: str) -> str:
    """A prefix for temporary names that keeps them within the file system's 255-byte limit."""
    return name if len(os.fsencode(name)) <= 200 else name[:50]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else ""
