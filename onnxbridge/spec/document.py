"""Edits of a spec document that names a weights file, and models opened as such documents.

:mod:`onnxbridge.spec.edit` edits spec data and says how weight names move (a layer ``conv2`` put into
block instance ``features`` has its weights at ``features.conv2.*`` afterwards). A document whose
``weights:`` file holds trained values must keep them through such an edit: :func:`extract_block` and
:func:`inline_block` here make the edit and add the moved names to the weights file (nothing is removed,
so the document before the edit — an undo — still finds its weights too).

:func:`open_model` imports a model (ONNX, PyTorch ``.pt2``, Keras, SavedModel) through the importers,
lifts it to a spec, checks that the spec builds to the same outputs, and writes its weights file.

Example::

    data = extract_block(data, ["conv2", "relu2"], "Features", base_dir="nets/")
    opened = open_model("resnet.onnx", "resnet.safetensors")
    opened.spec["weights"]        # "resnet.safetensors"
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class EditOutcome:
    """The edited spec and what happened to its weights."""

    spec: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The edit as JSON data: the edited spec and notes on what changed."""
        return {"spec": self.spec, "notes": list(self.notes)}


def extract_block(data: dict[str, Any], layers: list[str], name: str, *,
                  base_dir: str | os.PathLike | None = None) -> EditOutcome:
    """:func:`onnxbridge.spec.edit.extract_block`, with the document's weights file kept in step."""
    from onnxbridge.spec import edit

    after = edit.extract_block(data, layers, name)
    return EditOutcome(after, carry_weights(data, after, base_dir))


def inline_block(data: dict[str, Any], layer: str, *, base_dir: str | os.PathLike | None = None) -> EditOutcome:
    """:func:`onnxbridge.spec.edit.inline_block`, with the document's weights file kept in step."""
    from onnxbridge.spec import edit

    after = edit.inline_block(data, layer)
    return EditOutcome(after, carry_weights(data, after, base_dir))


def carry_weights(before: dict[str, Any], after: dict[str, Any], base_dir: str | os.PathLike | None) -> list[str]:
    """Add the names an edit moved weights to (``before`` -> ``after``) to the document's weights file.

    Returns notes for the user. Nothing happens when the document names no weights file or no weight
    moved; an existing name is never overwritten.
    """
    from onnxbridge.spec.edit import move_weights, weight_moves
    from onnxbridge.spec.weights import load_weights, resolve_weights_path, save_weights

    relative = before.get("weights")
    if not relative:
        return []
    moves = weight_moves(before, after)
    if not moves:
        return []
    path = resolve_weights_path(Path(base_dir) if base_dir is not None else Path.cwd(), relative)
    if not path.is_file():
        return [f"weights file {relative} not found; the moved layers start from fresh weights"]
    stored = load_weights(path)
    moved = move_weights(stored, moves)
    added = {k: v for k, v in moved.items() if k not in stored}
    clashes = [k for k, v in moved.items() if k in stored and k not in added
               and (stored[k].shape != v.shape or not np.array_equal(stored[k], v))]
    notes = []
    if added:
        save_weights({**stored, **added}, path)
        notes.append(f"{len(added)} weight(s) of the moved layers added to {relative} under their new names")
    if clashes:
        notes.append(f"{len(clashes)} weight name(s) already held other values in {relative} and were kept: "
                     + ", ".join(clashes[:5]) + (", ..." if len(clashes) > 5 else ""))
    return notes


@dataclass
class OpenedModel:
    """A model as a spec document: the spec (naming its weights file), the files written, the notes and
    every check (``(hop, ParityReport)``: the import, and the lifted spec rebuilt against the model)."""

    spec: dict[str, Any]
    weights: Path | None
    checks: list[tuple[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every check run on the opened model passed."""
        return all(report.ok for _, report in self.checks)


def open_model(source: str | os.PathLike, weights_path: str | os.PathLike, *, trust: bool = False) -> OpenedModel:
    """Import ``source`` (``.onnx``, ``.pt2``, ``.keras``/``.h5``, a SavedModel folder) and lift it to a spec
    whose weights go to ``weights_path`` (a ``.safetensors`` file; the spec names it relative to its folder).

    Every hop is checked numerically: the import against the original (as ``onnxbridge convert`` does) and
    the lifted spec, built again, against the imported model. Nothing of the model runs as code beyond what
    the importers allow (``.pt2`` without unpickling, Keras in safe mode; ``trust`` for SavedModels).
    """
    from onnxbridge.conversion import convert_with_report
    from onnxbridge.spec.weights import save_weights

    options: dict[str, Any] = {"trust": True} if trust else {}
    result = convert_with_report(str(source), "spec", **options)
    spec = result.value
    data = spec.to_dict()
    data.pop("weights", None)
    target = None
    stored = getattr(spec, "_weights", None)
    if stored:
        target = save_weights(stored, weights_path)
        data = {**{k: v for k, v in data.items() if k in ("name", "description", "opset")},
                "weights": Path(weights_path).name, **data}
    return OpenedModel(data, target, list(result.checks), list(result.notes))
