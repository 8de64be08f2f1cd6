"""Helpers for the check/repair tests: the broken-model corpus, its manifest, what this machine can check."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "models" / "broken"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text())


def converter_available(framework: str) -> bool:
    """Whether the ONNX -> framework converter (and its registry) can be imported here."""
    from onnxbridge.checks.rules.targets import converter_registry

    try:
        converter_registry(framework)
        return True
    except Exception:  # noqa: BLE001 - any import failure means "not available"
        return False


def expected_codes(entry: dict) -> list[str]:
    """The manifest's codes, adjusted for what this machine can check: a target whose converter or
    execution provider is missing is reported as OB309 instead of its own findings."""
    import onnxruntime as ort

    from onnxbridge.frameworks.bridges import bridges

    codes = list(entry["expect"])
    for target, code in [(b.name, b.check_code) for b in bridges()] + [("cuda", "OB304")]:
        if target not in entry.get("targets", []):
            continue
        available = ("CUDAExecutionProvider" in ort.get_available_providers() if target == "cuda"
                     else converter_available(target))
        if not available:
            codes = [c for c in codes if c != code] + ["OB309"]
    return sorted(codes)
