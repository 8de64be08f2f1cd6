"""The placement report, from onnxruntime's own profile.

The CPU-only onnxruntime build here offers a second provider, Azure's, that runs none of these ops: every
node falls back to the CPU provider, which is exactly the situation the report exists to reveal.
"""

from __future__ import annotations

import pytest

import onnxbridge
from onnxbridge.runtime.placement import explain
from onnxbridge.testing import random_inputs

AZURE = "AzureExecutionProvider"
CPU = "CPUExecutionProvider"

needs_azure = pytest.mark.skipif(AZURE not in __import__("onnxruntime").get_available_providers(),
                                 reason="needs a provider other than the CPU that runs none of the ops")


@pytest.fixture(scope="module")
def feeds(digits_model):
    return random_inputs(digits_model, batch=2)


def test_cpu_runs_everything(digits_model, feeds):
    report = explain(digits_model.SerializeToString(), CPU, feeds, runs=3)
    assert report.session_providers == [CPU] and report.runs == 3
    assert report.nodes and all(n.provider == CPU for n in report.nodes)
    assert report.fallback_nodes == [] and report.fallback_share == 0.0
    assert "all on the CPU provider" in report.summary()
    ops = {n.op_type for n in report.nodes}
    assert {"Conv", "MaxPool"} <= ops  # the network's convolutions survive optimization (maybe fused)


@needs_azure
def test_fallbacks_are_found_grouped_and_costed(digits_model, feeds):
    report = explain(digits_model.SerializeToString(), AZURE, feeds, runs=3)
    assert report.session_providers == [AZURE, CPU]
    assert len(report.fallback_nodes) == len(report.nodes) > 0
    assert report.fallback_us == pytest.approx(report.total_us) and report.fallback_share == pytest.approx(1.0)
    groups = report.by_op()
    assert all(g.fallback and g.provider == CPU for g in groups)
    assert sum(g.nodes for g in groups) == len(report.nodes)
    assert sum(g.mean_us for g in groups) == pytest.approx(report.total_us)
    assert [g.mean_us for g in groups] == sorted((g.mean_us for g in groups), reverse=True)
    conv = next(g for g in groups if g.op_type == "Conv")
    assert conv.nodes == 2  # conv1 and conv2, whatever onnxruntime renamed them to
    assert f"{len(report.nodes)} fell back to cpu" in report.summary()
    data = report.to_dict()
    assert data["fallback_nodes"] == data["nodes"] and data["by_op"][0]["fallback"] is True


@needs_azure
def test_bench_explain_covers_every_provider(digits_model):
    report = onnxbridge.bench(digits_model, providers=["cpu", "azure"], iterations=2, warmup=0, explain=True)
    assert [p.provider for p in report.placement] == [CPU, AZURE]
    assert report.to_dict()["placement"][1]["fallback_share"] == pytest.approx(1.0)
