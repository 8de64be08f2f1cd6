"""Every example spec in models/ goes spec -> ONNX -> PyTorch (live and model.py from disk) within tolerance."""

from __future__ import annotations

import pytest

from tests.conftest import MODELS

pytest.importorskip("torch")

import onnxbridge  # noqa: E402
from onnxbridge.frameworks.torch.exporter import HOP_DISK, HOP_LIVE, export_from_onnx  # noqa: E402

pytestmark = pytest.mark.torch

SPECS = sorted(p for p in MODELS.glob("*") if p.suffix in (".yaml", ".yml", ".json"))


def test_there_are_specs():
    assert SPECS, "models/ holds no example specs"


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_spec_converts_to_torch(spec, tmp_path):
    model = onnxbridge.build(spec)
    result = export_from_onnx(model, output_dir=tmp_path / spec.stem)
    assert [hop for hop, _ in result.checks] == [HOP_LIVE, HOP_DISK]
    for hop, report in result.checks:
        assert report.ok, f"{hop}: {report.summary()}"
    source = (tmp_path / spec.stem / "model.py").read_text()
    blocks = {f.name for f in model.functions}
    for block in blocks:  # spec blocks become nested classes named after the block, underscores dropped
        assert f"class {block.replace('_', '')}(nn.Module):" in source, block
