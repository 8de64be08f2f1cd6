"""Readers for the data sources: scikit-learn's bundled sets, ``.npz`` files, CSV files and image folders.

Each returns a :class:`RawData`: named feature arrays (one sample per row), the target array, and the
class names when the file names them. Nothing here knows about the network; :mod:`.data` matches
the arrays to the spec's inputs and checks them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from onnxbridge.errors import MissingDependencyError, OnnxBridgeError
from onnxbridge.spec.data import BUNDLED

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
TARGET_NAMES = ("y", "label", "labels", "target", "targets", "class")


class DataError(OnnxBridgeError):
    """The training data cannot be used as given (missing, malformed, or not matching the network)."""


@dataclass
class RawData:
    """What a source holds: feature arrays by name, the target, class names (if known)."""

    source: str
    arrays: dict[str, np.ndarray]
    target: np.ndarray
    target_name: str
    class_names: list[str] | None = None
    notes: list[str] = field(default_factory=list)


def read_source(source: str, *, base_dir: Path, target: str | None = None,
                features: list[str] | None = None, image_size: tuple[int, int] | None = None,
                channels: int | None = None) -> RawData:
    """Read ``source`` (a bundled name, ``npz:PATH``, ``csv:PATH`` or ``images:DIR``).

    Relative paths are resolved against ``base_dir`` (the spec's folder, or the working directory).
    ``image_size`` (height, width) and ``channels`` tell the image reader what the network takes.
    """
    if source in BUNDLED:
        return _bundled(source)
    kind, _, rest = source.partition(":")
    path = Path(rest).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    if kind == "npz":
        return _npz(source, path, target)
    if kind == "csv":
        return _csv(source, path, target, features)
    if kind == "images":
        return _images(source, path, image_size, channels)
    raise DataError(f"unknown data source {source!r}",
                    hint=f"use one of {', '.join(BUNDLED)}, npz:PATH, csv:PATH or images:DIR")


def _bundled(name: str) -> RawData:
    try:
        from sklearn import datasets
    except ImportError:
        raise MissingDependencyError("scikit-learn", "train") from None
    bunch = getattr(datasets, f"load_{name}")()
    names = [str(n) for n in getattr(bunch, "target_names", [])] or None
    return RawData(name, {"data": np.asarray(bunch.data)}, np.asarray(bunch.target), "target", names)


def _missing(source: str, path: Path, what: str) -> DataError:
    return DataError(f"data {source}: {path}: no such {what}", hint="check the path (relative paths in a spec's "
                                                                    "data section start at the spec's folder)")


def _npz(source: str, path: Path, target: str | None) -> RawData:
    if not path.is_file():
        raise _missing(source, path, "file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except ValueError as exc:
        # object arrays need pickle, which is never used to read user files
        raise DataError(f"data {source}: {path}: cannot be read without unpickling ({exc})",
                        hint="save plain numeric arrays with numpy.savez") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"data {source}: {path}: not a readable .npz file ({exc})",
                        hint="write it with numpy.savez") from None
    if not arrays:
        raise DataError(f"data {source}: {path}: holds no arrays", hint="write it with numpy.savez(path, x=..., y=...)")
    key = target or next((n for n in TARGET_NAMES if n in arrays), None)
    if key is None or key not in arrays:
        raise DataError(f"data {source}: no target array {key or '(y, label, target ...)'!r}; it holds "
                        f"{', '.join(sorted(arrays))}", hint="name the label array with target: NAME (--target)")
    y = arrays.pop(key)
    return RawData(source, arrays, y, key)


def _csv(source: str, path: Path, target: str | None, features: list[str] | None) -> RawData:
    if not path.is_file():
        raise _missing(source, path, "file")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"data {source}: {path} is empty", hint="the first row names the columns")
    header, body = [h.strip() for h in rows[0]], rows[1:]
    key = target or next((n for n in TARGET_NAMES if n in header), None)
    if key is None or key not in header:
        raise DataError(f"data {source}: no target column {key or '(y, label, target ...)'!r}; the columns are "
                        f"{', '.join(header)}", hint="name the label column with target: NAME (--target)")
    columns = features or [h for h in header if h != key]
    unknown = [c for c in columns if c not in header]
    if unknown:
        raise DataError(f"data {source}: no column(s) {', '.join(unknown)}; the columns are {', '.join(header)}")
    index = {h: i for i, h in enumerate(header)}
    x = np.empty((len(body), len(columns)), dtype=np.float64)
    labels: list[str] = []
    for r, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise DataError(f"data {source}: {path} line {r} has {len(row)} fields, the header {len(header)}")
        for c, name in enumerate(columns):
            cell = row[index[name]].strip()
            try:
                x[r - 2, c] = float(cell)
            except ValueError:
                raise DataError(f"data {source}: {path} line {r}, column {name!r}: {cell!r} is not a number",
                                hint="feature columns must be numeric") from None
        labels.append(row[index[key]].strip())
    y, names = _labels_from_text(labels)
    return RawData(source, {"features": x}, y, key, names)


def _labels_from_text(labels: list[str]) -> tuple[np.ndarray, list[str] | None]:
    """Numbers stay numbers; text labels become class indices (sorted), with their names."""
    try:
        return np.asarray([float(v) for v in labels]), None
    except ValueError:
        names = sorted(set(labels))
        lookup = {n: i for i, n in enumerate(names)}
        return np.asarray([lookup[v] for v in labels], dtype=np.int64), names


def _images(source: str, root: Path, size: tuple[int, int] | None, channels: int | None) -> RawData:
    if not root.is_dir():
        raise _missing(source, root, "directory")
    try:
        from PIL import Image
    except ImportError:
        raise MissingDependencyError("Pillow", "train") from None
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"data {source}: {root} has no class sub-folders", hint="put each class's images in "
                                                                                "DIR/<class name>/")
    if size is None or channels not in (1, 3):
        raise DataError(f"data {source}: the network's input must be [batch, 1 or 3, height, width] to read images")
    mode = "L" if channels == 1 else "RGB"
    images: list[np.ndarray] = []
    labels: list[int] = []
    for k, name in enumerate(classes):
        for file in sorted((root / name).iterdir()):
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                with Image.open(file) as img:
                    pixels = np.asarray(img.convert(mode).resize((size[1], size[0])), dtype=np.float32)
            except (OSError, ValueError) as exc:
                raise DataError(f"data {source}: {file}: not a readable image ({exc})") from None
            images.append(pixels[None] if channels == 1 else pixels.transpose(2, 0, 1))
            labels.append(k)
    if not images:
        raise DataError(f"data {source}: {root} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return RawData(source, {"images": np.stack(images)}, np.asarray(labels, dtype=np.int64), "class", classes)
