"""Side-by-side native runs: the same ONNX model converted with onnxbridge's bridges and run in PyTorch
and TensorFlow, on the same inputs, with every output compared against onnxruntime CPU."""

from __future__ import annotations

import subprocess
import sys

import pytest

import onnxbridge
from tests.conftest import MODELS, ROOT, run_cli
from tests.runtime.conftest import off_by_one

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def report(digits_model):
    pytest.importorskip("tensorflow")
    return onnxbridge.bench(digits_model, batches=[1, 3], compare=["torch", "tf"], iterations=5, warmup=1,
                            threads=1)


@pytest.mark.torch
@pytest.mark.tensorflow
def test_native_results_beside_onnxruntime(report):
    labels = [(r.label, r.batch) for r in report.results]
    assert labels == [("onnxruntime cpu", 1), ("onnxruntime cpu", 3), ("torch cpu", 1), ("torch cpu", 3),
                      ("tensorflow cpu", 1), ("tensorflow cpu", 3)]
    assert report.settings["compare"] == ["torch", "tensorflow"]
    for r in report.results[2:]:
        assert r.error is None and r.provider is None and r.iterations == 5
        assert r.latency.p50_ms > 0 and r.throughput > 0
        base = report.result("onnxruntime", "cpu", r.batch)
        assert r.vs_baseline == pytest.approx(r.latency.p50_ms / base.latency.p50_ms)
        assert r.parity is not None and r.parity.ok, r.parity.summary()
        assert r.parity.outputs[0].expected_shape == (r.batch, 10)
    # the conversion is the first configuration's setup; later batches reuse the converted model
    assert report.result("torch", "cpu", 1).setup_seconds > 0
    assert report.result("torch", "cpu", 3).setup_seconds == 0.0
    assert report.wrong == []


@pytest.mark.torch
def test_threads_setting_is_restored_after_torch_runs(digits_model):
    import torch

    before = torch.get_num_threads()
    report = onnxbridge.bench(digits_model, compare=["pytorch"], iterations=3, warmup=0,
                              threads=1 if before != 1 else 2)
    assert report.result("torch", "cpu", 1).parity.ok
    assert torch.get_num_threads() == before


@pytest.mark.torch
def test_a_wrong_answer_is_flagged(monkeypatch):
    """A native run whose outputs differ from onnxruntime's is reported as wrong, not hidden behind its speed;
    the same run converted correctly matches."""
    from onnxbridge.frameworks.torch.bridge import TorchBridge

    model = onnxbridge.build(MODELS / "mlp.yaml")
    right = onnxbridge.bench(model, compare=["torch"], iterations=2, warmup=0)
    monkeypatch.setattr(TorchBridge, "native_model", off_by_one)
    wrong = onnxbridge.bench(model, compare=["torch"], iterations=2, warmup=0)
    torch_right, torch_wrong = right.result("torch", "cpu", 1), wrong.result("torch", "cpu", 1)
    assert torch_right.parity.ok and right.wrong == []
    assert not torch_wrong.parity.ok and wrong.wrong == [torch_wrong]
    assert torch_wrong.parity.max_abs == pytest.approx(1.0, abs=1e-3)
    assert "parity FAILED" in torch_wrong.parity.summary()
    assert torch_wrong.latency is not None  # measured like any other configuration, then flagged


@pytest.mark.torch
@pytest.mark.slow
def test_torch_compile_where_it_works():
    model = onnxbridge.build(MODELS / "mlp.yaml")
    report = onnxbridge.bench(model, compare=["torch", "torch.compile"], iterations=5, warmup=1)
    eager, compiled = report.result("torch", "cpu", 1), report.result("torch.compile", "cpu", 1)
    assert compiled is not None and compiled.error is None, compiled.error
    assert compiled.parity.ok
    # compiling happens on the first call, which is counted as setup, not as a measured run
    assert compiled.setup_seconds > eager.setup_seconds


@pytest.mark.torch
@pytest.mark.tensorflow
def test_cli_compare_table():
    r = run_cli("bench", MODELS / "mlp.yaml", "--compare", "torch,tensorflow", "-n", "5", "-b", "2",
                "--threads", "1")
    assert r.returncode == 0, r.stderr
    for label in ("onnxruntime cpu", "torch cpu", "tensorflow cpu"):
        assert label in r.stdout
    assert r.stdout.count("match") == 2 and "WRONG" not in r.stdout


@pytest.mark.torch
def test_cli_flags_a_wrong_answer():
    code = ("from onnxbridge.frameworks.torch.bridge import TorchBridge\n"
            "from tests.runtime.conftest import off_by_one\n"
            "TorchBridge.native_model = off_by_one\n"
            "from onnxbridge.cli.app import app\n"
            f"app(['bench', {str(MODELS / 'mlp.yaml')!r}, '--compare', 'torch', '-n', '2'])\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "WRONG" in r.stdout and "parity FAILED" in r.stdout and "match" not in r.stdout
    assert "1 configuration(s) computed different outputs from onnxruntime cpu" in r.stdout


def test_missing_framework_says_which_extra():
    code = ("import sys\nsys.modules['torch'] = None\nimport onnxbridge\n"
            "from onnxbridge.cli.app import app\n"
            f"app(['bench', {str(MODELS / 'mlp.yaml')!r}, '--compare', 'torch', '-n', '1'])\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2
    assert "this needs torch, which is not installed" in r.stderr and "onnxbridge[torch]" in r.stderr
