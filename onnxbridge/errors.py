"""Errors that onnxbridge reports to users.

Every problem caused by the user's input (a missing file, a bad spec, an op without a converter) is an
:class:`OnnxBridgeError`: one line that says where and what, plus an optional hint saying what to do.
The CLI prints these without a traceback and exits with code 2; anything else is a bug.
"""

from __future__ import annotations


class OnnxBridgeError(Exception):
    """A user-facing error: a one-line ``message`` and an optional ``hint`` (what to do about it)."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None, problems: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        #: when several independent problems were found: one line each (``message`` joins them)
        self.problems = list(problems or [])

    def with_source(self, source: str) -> OnnxBridgeError:
        """Prefix the message (and each problem) with the file it came from, once."""
        if not self.message.startswith(source):
            self.message = f"{source}: {self.message}"
            self.problems = [p if p.startswith(source) else f"{source}: {p}" for p in self.problems]
            self.args = (self.message,)
        return self

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class SpecError(OnnxBridgeError):
    """A network spec is malformed, or names something that does not exist."""


class ShapeError(OnnxBridgeError):
    """Shape inference found one or more problems; ``problems`` lists each one-line message."""

    def __init__(self, problems: list[str], *, source: str | None = None):
        if len(problems) == 1:
            message = problems[0]
        else:
            message = f"{len(problems)} shape errors: " + "; ".join(problems)
        super().__init__(message, problems=problems)
        if source:
            self.with_source(source)


class ModelLoadError(OnnxBridgeError):
    """A model file could not be read (missing, corrupt, truncated, wrong format)."""


class UnsupportedOpsError(OnnxBridgeError):
    """A model uses ops that a converter has no rule for; ``ops`` maps op type to the node names."""

    def __init__(self, target: str, ops: dict[str, list[str]]):
        self.target = target
        self.ops = ops
        listed = "; ".join(f"{op} ({', '.join(nodes[:5])}{', ...' if len(nodes) > 5 else ''})"
                           for op, nodes in sorted(ops.items()))
        super().__init__(
            f"{len(ops)} op type(s) have no {target} converter: {listed}",
            hint="see docs/support-matrix.md for what is supported",
        )


class LimitError(OnnxBridgeError):
    """An input asks for more than a limit allows (values, layers, nesting, memory); ``env`` raises it.

    See :mod:`onnxbridge.limits` for every limit and its environment variable.
    """

    def __init__(self, message: str, *, env: str, hint: str | None = None):
        self.env = env
        super().__init__(message, hint=hint or f"set {env} to allow more, if this is what you meant")


class InputDataError(OnnxBridgeError, ValueError):
    """Inputs cannot be made for a model (an element type without random data, a negative dimension, a
    batch that is not a positive integer). A ``ValueError`` too, for callers that catch that."""


class RuntimeRefusedError(OnnxBridgeError):
    """onnxruntime cannot load or run a model (it is invalid, or uses what onnxruntime lacks)."""


class OutputError(OnnxBridgeError):
    """An output cannot be written (no space, no permission, read-only, a name too long); nothing was written."""


class MissingDependencyError(OnnxBridgeError):
    """An optional framework is needed but not installed."""

    def __init__(self, package: str, extra: str):
        super().__init__(
            f"this needs {package}, which is not installed",
            hint=f"install it with: pip install 'onnxbridge[{extra}]'",
        )
