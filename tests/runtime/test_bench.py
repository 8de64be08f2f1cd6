"""The benchmark runner on onnxruntime: figures, inputs, progress, bad input, the Python entry point."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

import onnxbridge
from onnxbridge.errors import ModelLoadError, OnnxBridgeError, SpecError
from onnxbridge.runtime.feeds import parse_batches, resolve_inputs
from onnxbridge.runtime.results import BenchReport
from tests.conftest import MODELS
from tests.runtime.conftest import fixed_batch_model


@pytest.fixture(scope="module")
def report(digits_model) -> BenchReport:
    return onnxbridge.bench(digits_model, providers=["cpu", "azure"], batches="1,4", iterations=30, warmup=2)


def test_one_result_per_provider_and_batch(report):
    assert [(r.engine, r.device, r.batch) for r in report.results] == [
        ("onnxruntime", "cpu", 1), ("onnxruntime", "azure", 1), ("onnxruntime", "cpu", 4), ("onnxruntime", "azure", 4)]
    assert report.baseline == "onnxruntime cpu"
    assert report.inputs == {1: {"image": [1, 1, 8, 8]}, 4: {"image": [4, 1, 8, 8]}}
    assert report.settings["providers"] == ["CPUExecutionProvider", "AzureExecutionProvider"]


def test_figures_are_consistent(report):
    for r in report.results:
        lat = r.latency
        assert r.iterations == 30 and r.warmup == 2 and r.error is None
        assert 0 < lat.min_ms <= lat.p50_ms <= lat.p90_ms <= lat.p99_ms <= lat.max_ms
        assert lat.min_ms <= lat.mean_ms <= lat.max_ms
        # throughput = samples / total measured time = batch / mean latency
        assert r.throughput == pytest.approx(r.batch / (lat.mean_ms / 1e3), rel=1e-6)
        assert r.setup_seconds > 0
        if r.peak_rss_bytes is not None:
            assert r.peak_rss_bytes > 10 * 2**20 and 0 <= r.rss_increase_bytes <= r.peak_rss_bytes
    cpu1 = report.result("onnxruntime", "cpu", 1)
    assert cpu1.vs_baseline == 1.0 and cpu1.parity is None
    azure4 = report.result("onnxruntime", "azure", 4)
    assert azure4.vs_baseline == pytest.approx(azure4.latency.p50_ms / report.result("onnxruntime", "cpu", 4).latency.p50_ms)
    # every non-baseline configuration is compared with the baseline's outputs
    assert azure4.parity.ok and azure4.parity.outputs[0].name == "logits" and azure4.parity.max_abs == 0.0
    assert report.wrong == []


def test_seconds_mode_and_progress(digits_model):
    calls = []
    report = onnxbridge.bench(digits_model, seconds=0.2, warmup=0,
                              progress=lambda label, done, total: calls.append((label, done, total)))
    (r,) = report.results
    assert r.iterations >= 3 and report.settings["seconds"] == 0.2 and report.settings["iterations"] is None
    assert sum(r.latency.mean_ms for _ in range(r.iterations)) / 1e3 >= 0.2 * 0.9
    labels = {c[0] for c in calls}
    assert labels == {"onnxruntime cpu batch 1"}
    assert calls[0][1] == 0.0 and calls[-1][1] == calls[-1][2] == 0.2
    assert [c[1] for c in calls] == sorted(c[1] for c in calls)


def test_default_measures_for_a_second_at_least_ten_runs(digits_model):
    report = onnxbridge.bench(digits_model, warmup=1)
    assert report.settings["seconds"] == 1.0
    assert report.results[0].iterations >= 10


def test_symbolic_dims_and_input_shapes_from_overrides():
    lstm = onnxbridge.build(MODELS / "lstm_text.yaml")
    report = onnxbridge.bench(lstm, batches=[2, 3], inputs=["seq=7"], iterations=3, warmup=0)
    assert report.inputs == {2: {"tokens": [2, 7]}, 3: {"tokens": [3, 7]}}
    report = onnxbridge.bench(lstm, batches=[2], inputs={"tokens": "batchx9"}, iterations=3, warmup=0)
    assert report.inputs == {2: {"tokens": [2, 9]}}
    assert resolve_inputs(lstm, ["tokens=4x6"]) == ({}, {"tokens": [4, 6]})
    report = onnxbridge.bench(lstm, batches=[2, 3], inputs=["tokens=4x6"], iterations=2, warmup=0)
    assert report.inputs == {4: {"tokens": [4, 6]}} and [r.batch for r in report.results] == [4]
    assert "batch 2 ignored: the inputs have a fixed first dimension of 4" in report.notes


def test_fixed_batch_model_notes_the_ignored_batches():
    report = onnxbridge.bench(fixed_batch_model(1), batches=[1, 8, 32], iterations=3, warmup=0)
    assert [r.batch for r in report.results] == [1]
    assert any("batch 8 ignored" in n for n in report.notes)


def test_onnx_file_and_spec_sources(digits_onnx):
    assert onnxbridge.bench(digits_onnx, iterations=2, warmup=0).model == "digits_cnn"
    report = onnxbridge.bench(MODELS / "mlp.yaml", iterations=2, warmup=0, threads=1, opt_level="disable")
    assert report.model == "tabular_mlp" and report.settings["threads"] == 1
    assert report.settings["opt_level"] == "disable"


@pytest.mark.parametrize("kwargs, message", [
    ({"batches": [0]}, "batch size must be at least 1, got 0"),
    ({"batches": "1,x"}, "batch size 'x' is not a whole number"),
    ({"batches": ""}, "no batch size given"),
    ({"providers": ["quantum"]}, "unknown execution provider 'quantum'"),
    ({"providers": ["cuda"]}, "CUDAExecutionProvider is not available"),
    ({"iterations": 5, "seconds": 1.0}, "not both"),
    ({"iterations": 0}, "--iterations must be at least 1"),
    ({"seconds": 0}, "--seconds must be more than 0"),
    ({"warmup": -1}, "--warmup must be 0 or more"),
    ({"threads": 0}, "--threads must be at least 1"),
    ({"opt_level": "max"}, "unknown optimization level 'max'"),
    ({"compare": ["jax"]}, "unknown framework to compare with: 'jax'"),
    ({"inputs": ["nope=3"]}, "--input nope: not an input or a symbolic dimension"),
    ({"inputs": ["image"]}, "is not NAME=VALUE"),
    ({"inputs": ["image=1x0x8x8"]}, "sizes must be at least 1"),
])
def test_bad_arguments(digits_model, kwargs, message):
    if "cuda" in kwargs.get("providers", []) and "CUDAExecutionProvider" in onnxbridge.runtime.available_providers():
        pytest.skip("this machine has CUDA")
    params = {"iterations": 1, **kwargs} if "seconds" not in kwargs else kwargs
    with pytest.raises(OnnxBridgeError) as info:
        onnxbridge.bench(digits_model, **params)
    assert message in str(info.value)


def test_model_that_fails_to_load(tmp_path):
    missing = tmp_path / "missing.onnx"
    with pytest.raises(ModelLoadError, match="missing.onnx"):
        onnxbridge.bench(missing)
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07garbage" * 10)
    with pytest.raises(ModelLoadError, match="corrupt.onnx"):
        onnxbridge.bench(corrupt)


def test_model_onnxruntime_rejects():
    model = fixed_batch_model()
    model.graph.node[0].op_type = "NoSuchOp"
    with pytest.raises(OnnxBridgeError, match="onnxruntime cannot load the model with CPUExecutionProvider"):
        onnxbridge.bench(model, iterations=1)


def test_spec_that_does_not_build(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: bad\ninputs: [{name: x, shape: [batch, 4]}]\n"
                    "layers:\n  - {id: fc, type: Linear, out_features: -3}\n", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        onnxbridge.bench(spec)
    assert "bad.yaml" in str(info.value) and "fc" in str(info.value)


def test_parse_batches():
    assert parse_batches([1, "8,32", " 8 "]) == [1, 8, 32]
    assert parse_batches(4) == [4]


def test_outputs_compared_on_the_same_inputs(digits_model):
    """The parity recorded for a provider is against onnxruntime CPU on exactly the inputs benchmarked."""
    from onnxbridge.testing import random_inputs, run_onnxruntime

    report = onnxbridge.bench(digits_model, providers=["azure"], batches=[3], iterations=2, warmup=0, seed=5)
    (r,) = report.results
    assert report.baseline == "onnxruntime azure" and r.vs_baseline == 1.0
    assert r.parity is not None and r.parity.ok  # still checked against a CPU reference
    expected = run_onnxruntime(digits_model, random_inputs(digits_model, batch=3, seed=5))[0]
    assert r.parity.outputs[0].expected_shape == expected.shape == (3, 10)
    assert np.isfinite(expected).all()


def test_lazy_exports():
    assert onnxbridge.bench is onnxbridge.runtime.bench.bench
    assert onnxbridge.devices().cpu.logical_cores >= 1
    assert isinstance(onnxbridge.build(MODELS / "mlp.yaml"), onnx.ModelProto)
