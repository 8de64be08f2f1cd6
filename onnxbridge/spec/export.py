"""A spec's framework source code, and a spec exported to ONNX, PyTorch or Keras files, verified.

Both go spec -> ONNX -> the framework's code generator, the one path every conversion takes.
:func:`generate_code` only writes the source (fast; nothing is run), for reading; :func:`export_spec`
writes the files with :func:`onnxbridge.conversion.convert_with_report`, which checks every artifact
against onnxruntime as ``onnxbridge convert`` does.

Example::

    code = generate_code(spec_data, "torch")
    print(code.source)                         # the model.py a torch export writes
    result = export_spec(spec_data, "tensorflow", "out/net_tf")
    [(hop, report.ok) for hop, report in result.checks]
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onnxbridge.errors import OnnxBridgeError


@dataclass(frozen=True)
class GeneratedCode:
    """The generated ``model.py`` for one framework and the name of its main class."""

    target: str
    source: str
    class_name: str

    def to_dict(self) -> dict[str, Any]:
        """The generated code as JSON data: target framework, source and class name."""
        return {"target": self.target, "source": self.source, "class_name": self.class_name}


def generate_code(spec: Any, target: str, *, seed: int = 0, class_name: str | None = None,
                  base_dir: str | os.PathLike | None = None) -> GeneratedCode:
    """The ``model.py`` source that exporting ``spec`` to ``target`` ("torch" or "tensorflow") writes.

    ``spec`` is a :class:`Spec`, plain data or a spec file; ``base_dir`` is where relative files named
    by plain data (its ``weights:``) are looked up. Shape problems raise
    :class:`onnxbridge.errors.ShapeError`; ops a framework cannot express raise
    :class:`onnxbridge.errors.UnsupportedOpsError`.
    """
    from onnxbridge.frameworks.bridges import find_bridge, names

    bridge = find_bridge(target)
    if bridge is None:
        raise OnnxBridgeError(f"unknown code target {target!r}", hint=f"choose one of: {', '.join(names())}")
    model = build_spec(spec, seed=seed, base_dir=base_dir)
    source, main_class = bridge.generate_source(model, class_name=class_name)
    return GeneratedCode(bridge.name, source, main_class)


def export_spec(spec: Any, target: str, output: str | os.PathLike, *, seed: int = 0,
                base_dir: str | os.PathLike | None = None, **options: Any) -> Any:
    """Write ``spec`` as ``target`` ("onnx": an ``.onnx`` file; "torch"/"tensorflow": a folder with
    ``model.py`` and weights) to ``output``, verified as ``onnxbridge convert`` does.

    Returns the :class:`onnxbridge.conversion.ConversionResult` (files, per-hop parity reports, notes);
    a parity failure is reported there, not raised, and the files are kept for inspection.
    """
    from onnxbridge.conversion import convert_with_report, targets
    from onnxbridge.spec.pipeline import build_with_report

    if target not in targets():
        raise OnnxBridgeError(f"unknown export target {target!r}", hint=f"choose one of: {', '.join(targets())}")

    built = build_with_report(spec, seed=seed, base_dir=base_dir)
    result = convert_with_report(built.model, target, output=output, seed=seed, **options)
    result.notes[:0] = ["built from the spec", *built.notes]
    return result


def conversion_to_dict(result: Any, *, relative_to: str | os.PathLike | None = None) -> dict[str, Any]:
    """A :class:`ConversionResult` as plain data (what ``onnxbridge convert --format json`` prints):
    ``ok``, ``files``, ``notes`` and one ``{hop, ok, max_abs, summary, ...}`` per parity check.

    With ``relative_to``, file paths are given relative to that folder (as POSIX paths).
    """
    base = Path(relative_to).resolve() if relative_to is not None else None
    files = [Path(f).resolve().relative_to(base).as_posix() if base is not None else str(f) for f in result.files]
    return {"target": result.target, "ok": result.ok, "files": files, "notes": list(result.notes),
            "checks": [{"hop": hop, "summary": report.summary(), "max_abs": report.max_abs, **report.to_dict()}
                       for hop, report in result.checks]}


def build_spec(spec: Any, *, seed: int = 0, base_dir: str | os.PathLike | None = None) -> Any:
    """``spec`` built to ONNX (its ``weights:`` file looked up in ``base_dir`` when it is plain data)."""
    from onnxbridge.spec.pipeline import build

    return build(spec, seed=seed, base_dir=base_dir)
