"""``--plot``: a PNG that opens, with one bar per measured configuration."""

from __future__ import annotations

import pytest

import onnxbridge
from onnxbridge.errors import OnnxBridgeError
from onnxbridge.testing import compare_outputs

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def report(digits_model):
    return onnxbridge.bench(digits_model, providers=["cpu", "azure"], batches=[1, 2, 8], iterations=5, warmup=0)


def test_png_opens_and_has_one_bar_per_configuration(report, tmp_path):
    from matplotlib import image

    from onnxbridge.runtime.plot import plot_report

    info = plot_report(report, tmp_path / "bench.png")
    data = (tmp_path / "bench.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = image.imread(tmp_path / "bench.png")
    assert pixels.shape[0] >= 300 and pixels.shape[1] >= 500
    assert len(info.bars) == len(report.results) == 6
    assert set(info.bars) == {f"onnxruntime {d} @ batch {b}" for d in ("cpu", "azure") for b in (1, 2, 8)}
    assert list(tmp_path.iterdir()) == [tmp_path / "bench.png"]  # no temporary file left behind


def test_wrong_outputs_are_marked_and_failed_configurations_left_out(report, tmp_path):
    import copy

    from onnxbridge.runtime.plot import plot_report
    from onnxbridge.runtime.results import BenchResult

    bad = copy.deepcopy(report)
    r = bad.results[1]
    shape = r.parity.outputs[0].expected_shape
    import numpy as np

    r.parity = compare_outputs([np.zeros(shape)], [np.ones(shape)], ["logits"])
    bad.results.append(BenchResult(engine="torch.compile", device="cpu", batch=1, error="torch.compile failed"))
    info = plot_report(bad, tmp_path / "bad.png")
    assert len(info.bars) == 6 and not any("torch.compile" in b for b in info.bars)
    assert bad.wrong == [r]


def test_bad_plot_target(report, tmp_path):
    from onnxbridge.runtime.plot import plot_report

    with pytest.raises(OnnxBridgeError, match="PNG"):
        plot_report(report, tmp_path / "bench.jpg")
    assert not (tmp_path / "bench.jpg").exists()
