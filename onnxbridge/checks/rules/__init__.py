"""The rule families; importing this package registers every rule."""

from onnxbridge.checks.rules import hygiene, shapes, spec, structure, targets  # noqa: F401
