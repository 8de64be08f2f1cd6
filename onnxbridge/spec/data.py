"""The ``data:`` section of a spec: where the training data comes from and how it is prepared.

It is plain data (pydantic, no heavy imports) so the spec schema can include it. ``onnxbridge train``
resolves it once into arrays (:mod:`onnxbridge.training.data`); the PyTorch and Keras adapters only wrap
those arrays, so both frameworks see the same batches. Example::

    data:
      source: digits          # digits | iris | wine | breast_cancer | npz:PATH | csv:PATH | images:DIR
      scale: standard         # none | standard | minmax | max
      split: 0.2              # validation fraction (seeded)

Every field can also be given on the command line (``--data``, ``--target``, ``--task``, ``--split`` ...);
the command line wins.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

BUNDLED = ("digits", "iris", "wine", "breast_cancer")
SOURCE_KINDS = ("npz", "csv", "images")


class DataSpec(BaseModel):
    """Training data: a source, which arrays feed which input, the task, preprocessing and the split."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(
        description="digits, iris, wine or breast_cancer (scikit-learn's bundled sets, no download); "
                    "npz:PATH (named arrays), csv:PATH (one row per sample, a target column) or images:DIR "
                    "(one sub-folder per class). Relative paths are relative to the spec file.")
    inputs: dict[str, str] | None = Field(
        None, description="Which array (npz key) or columns feed which spec input: {input: array}. "
                          "Default: the array named like the input, else the only feature array.")
    target: str | None = Field(
        None, description="The label array (npz) or column (csv). Default: y, label(s), target or class.")
    features: list[str] | None = Field(
        None, description="csv: the feature columns, in order (default: every column but the target).")
    task: Literal["auto", "classification", "regression"] = Field(
        "auto", description="auto: classification for integer labels (or one-hot rows), else regression.")
    labels: Literal["auto", "integer", "onehot"] = Field(
        "auto", description="How class labels are stored: integers, or one-hot rows (converted to integers).")
    scale: Literal["none", "standard", "minmax", "max"] = Field(
        "standard", description="Feature scaling, fitted on the training split: standard (zero mean, unit "
                                "variance per feature), minmax (to [0, 1]), max (divide by the largest "
                                "absolute value) or none. Integer inputs (token ids) are never scaled.")
    split: float = Field(0.2, ge=0.0, lt=1.0,
                         description="Fraction of the samples held out for validation (seeded, stratified "
                                     "for classification).")
    shuffle: bool = Field(True, description="Shuffle the training samples every epoch (seeded).")

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        if value in BUNDLED:
            return value
        kind, sep, rest = value.partition(":")
        if not sep or kind not in SOURCE_KINDS or not rest:
            raise ValueError(f"source {value!r} must be one of {', '.join(BUNDLED)}, or npz:PATH, csv:PATH, "
                             "images:DIR")
        return value
