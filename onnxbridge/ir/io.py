"""Load and save ONNX models with clear errors, and atomic writes for every output.

Outputs are written to a temporary sibling first and moved into place only when complete, so a failed
command never leaves a half-written file behind and never clobbers an existing file with garbage.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError

from onnxbridge.errors import ModelLoadError, OnnxBridgeError

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
    if load_external_data:
        external_data_files(model, p)  # validates every location before anything is read
        try:
            onnx.load_external_data_for_model(model, str(p.parent))
        except (OSError, ValueError, RuntimeError) as exc:
            raise ModelLoadError(f"{p}: cannot read its external data ({_first_line(exc)})",
                                 hint="keep the .data file(s) beside the model, as they were saved") from None
    return model


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
        target = (base / relative).resolve()
        if not target.is_relative_to(base):
            raise ModelLoadError(f"{where}, which leads outside the model's folder (a symlink)",
                                 hint="copy the data file next to the model instead of linking it")
        if not target.is_file():
            raise ModelLoadError(f"{where}, which does not exist", hint="keep the .data file(s) beside the model")
        try:
            end = int(info.get("offset", 0) or 0) + int(info.get("length", 0) or 0)
        except ValueError:
            raise ModelLoadError(f"{where} with a malformed offset or length", hint="re-export the model") from None
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


@contextmanager
def atomic_write(path: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds."""
    target = Path(path)
    if target.exists() and not overwrite:
        raise OnnxBridgeError(f"{target}: already exists", hint="choose another output or pass --force")
    if target.is_dir():
        raise OnnxBridgeError(f"{target}: is a directory, expected a file path")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextmanager
def atomic_output_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary directory; on success its files replace those in ``path``.

    Files already in ``path`` that the block did not write are left alone, so a user's other files
    are never deleted.
    """
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise OnnxBridgeError(f"{target}: exists and is not a directory", hint="choose another output directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
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
        shutil.rmtree(tmp, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else ""
