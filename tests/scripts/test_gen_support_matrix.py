"""docs/support-matrix.md is generated from the op registries and must not go stale."""

from __future__ import annotations

import importlib.util

from tests.conftest import ROOT


def _script():
    spec = importlib.util.spec_from_file_location("gen_support_matrix", ROOT / "scripts" / "gen_support_matrix.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_support_matrix_is_current():
    script = _script()
    assert (ROOT / "docs" / "support-matrix.md").read_text(encoding="utf-8") == script.render(), \
        "docs/support-matrix.md is stale: run python scripts/gen_support_matrix.py"


def test_matrix_lists_the_torch_registry():
    script = _script()
    text = script.render()
    registry = script.load_registry("torch")
    assert registry is not None
    for op in ("Conv", "LSTM", "Reshape", "Resize", "Einsum"):
        assert op in registry.op_types()
        assert f"| {op} | " in text
    assert script.load_registry("does_not_exist") is None
