"""Weights that travel with a spec: a safetensors file beside it, keyed ``<layer id>.<param>``.

The keys are the names the spec's lowering gives its initializers (``conv1.weight``, ``fc.bias``, and
``<instance>.<layer>.<param>`` inside block instances), so a trained model lifted to a spec and built again
gets its own values back. :func:`build <onnxbridge.spec.build_with_report>` takes a stored value where
its shape fits and initialises the rest (seeded), and says which in a :class:`WeightsReport` — after
changing a classifier's ``out_features``, the backbone keeps its weights and the new head starts fresh.

safetensors holds raw tensors and a JSON header, nothing executable: loading it never unpickles.

Example::

    from onnxbridge.spec.io import load_spec
    from onnxbridge.spec.pipeline import build_with_report

    spec = load_spec("net.yaml")            # weights: net.safetensors
    built = build_with_report(spec)
    print(built.weights.summary())          # "weights: 10 from net.safetensors, 2 initialised (...)"
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from onnxbridge.errors import SpecError

WEIGHTS_SUFFIX = ".safetensors"


def check_weights_path(path: str) -> str:
    """``path`` if it names a .safetensors file inside the spec's folder (relative, no ``..``)."""
    p = PurePosixPath(path.replace("\\", "/"))
    if not path or p.is_absolute() or path.startswith(("/", "\\")) or (len(path) > 1 and path[1] == ":"):
        raise ValueError(f"{path!r} must be a path relative to the spec file")
    if ".." in p.parts:
        raise ValueError(f"{path!r} must stay beside the spec file (no '..')")
    if p.suffix.lower() != WEIGHTS_SUFFIX:
        raise ValueError(f"{path!r} must be a {WEIGHTS_SUFFIX} file")
    return path


def weights_file(spec_path: str | os.PathLike) -> Path:
    """Where a spec's weights are saved: ``net.yaml`` -> ``net.safetensors`` beside it."""
    p = Path(spec_path)
    return p.with_name(p.stem + WEIGHTS_SUFFIX)


def resolve_weights_path(base_dir: str | os.PathLike, relative: str) -> Path:
    """The weights file ``relative`` to ``base_dir``, refusing symlinks that lead out of it."""
    base = Path(base_dir).resolve()
    target = (base / check_weights_path(relative)).resolve()
    if not target.is_relative_to(base):
        raise SpecError(f"weights {relative!r} lead outside the spec's folder (a symlink)",
                        hint="copy the weights file next to the spec instead of linking it")
    return target


def load_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a safetensors file into numpy arrays (no code runs; a bad file is a one-line error)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    p = Path(path)
    if not p.is_file():
        raise SpecError(f"{p}: the spec's weights file does not exist",
                        hint="put it back beside the spec, or remove the 'weights:' line to initialise every weight")
    try:
        return dict(load(p.read_bytes()))
    except (SafetensorError, ValueError, OSError) as exc:
        raise SpecError(f"{p}: not a readable safetensors file ({str(exc).splitlines()[0][:160]})",
                        hint="save the weights again (onnxbridge convert MODEL --to spec)") from None


def save_weights(weights: Mapping[str, np.ndarray], path: str | os.PathLike) -> Path:
    """Write ``weights`` to a safetensors file atomically."""
    from safetensors.numpy import save

    from onnxbridge.ir.io import atomic_write

    data = save({k: np.ascontiguousarray(v) for k, v in sorted(weights.items())})
    with atomic_write(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


@dataclass
class WeightsReport:
    """Which weights a build took from the stored ones and which it initialised (and why)."""

    source: str | None = None
    loaded: list[str] = field(default_factory=list)
    initialised: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    unused: list[str] = field(default_factory=list)

    @property
    def used_stored(self) -> bool:
        """Whether the weights came from a stored weights file."""
        return self.source is not None

    def summary(self) -> str:
        """One line, e.g. ``weights: 10 from net.safetensors, 2 initialised (fc.weight: ...)``."""
        if not self.used_stored:
            return f"weights: {len(self.initialised)} initialised from the seed"
        text = f"weights: {len(self.loaded)} from {self.source}"
        if self.initialised:
            shown = "; ".join(f"{n}: {r}" for n, r in self.initialised[:4])
            more = f"; {len(self.initialised) - 4} more" if len(self.initialised) > 4 else ""
            text += f", {len(self.initialised)} initialised ({shown}{more})"
        if self.unused:
            text += f", {len(self.unused)} stored but not used ({', '.join(self.unused[:4])}" \
                    f"{', ...' if len(self.unused) > 4 else ''})"
        return text

    def to_dict(self) -> dict:
        """The report as JSON data: the weights file, the tensors loaded, those initialised (and why) and
        those unused."""
        return {"source": self.source, "loaded": list(self.loaded),
                "initialised": [{"name": n, "reason": r} for n, r in self.initialised], "unused": list(self.unused)}


class WeightStore:
    """The stored weights a build draws from, recording what it took into a :class:`WeightsReport`."""

    def __init__(self, values: Mapping[str, np.ndarray] | None, source: str | None = None):
        self.values = dict(values) if values is not None else None
        self.report = WeightsReport(source=source if values is not None else None)
        self._taken: set[str] = set()

    def take(self, name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray | None:
        """The stored value of ``name`` when its shape is ``shape`` (cast to ``dtype``), else None."""
        if self.values is None:
            return None
        value = self.values.get(name)
        if value is None:
            return None
        if tuple(value.shape) != tuple(shape):
            self.report.initialised.append(
                (name, f"stored shape {list(value.shape)}, the layer needs {list(shape)}"))
            self._taken.add(name)
            return None
        if np.dtype(value.dtype).kind != np.dtype(dtype).kind and not (
                np.dtype(value.dtype).kind in "iu" and np.dtype(dtype).kind in "iu"):
            self.report.initialised.append((name, f"stored as {value.dtype}, the layer needs {np.dtype(dtype)}"))
            self._taken.add(name)
            return None
        self._taken.add(name)
        self.report.loaded.append(name)
        return np.asarray(value, dtype=dtype)

    def initialised(self, name: str) -> None:
        """Record that ``name`` was initialised (when no stored value was even looked at)."""
        if self.values is None or name not in self._taken:
            self.report.initialised.append((name, "not stored" if self.values is not None else "seeded"))

    def finish(self) -> WeightsReport:
        """The report of what was loaded, with the stored tensors no layer took marked unused."""
        if self.values is not None:
            self.report.unused = sorted(set(self.values) - self._taken)
        return self.report
