"""Check and repair: a network linter with rule codes, suggestions and automatic, verified fixes.

Example::

    from onnxbridge.checks import check, repair

    report = check("model.onnx", targets=["torch", "cpu"])   # every problem at once
    for d in report:
        print(d.code, d.level.value, d.message, "->", d.suggestion)
    fixed, after = repair("model.onnx")                       # fixes, re-check, numeric verification
    print(after.repair.parity_note)

Rules live in ``rules/<family>.py`` (registered with ``@rule("OB101", ...)``), fixes in ``fixes/``;
every code is documented in docs/checks.md.
"""

from __future__ import annotations

from onnxbridge.checks.diagnostic import Diagnostic, Fix, Level, Report
from onnxbridge.checks.diff import ModelDiff, diff  # the function shadows the submodule's name on purpose
from onnxbridge.checks.engine import check
from onnxbridge.checks.repair import repair

__all__ = ["Diagnostic", "Fix", "Level", "ModelDiff", "Report", "check", "diff", "repair"]
