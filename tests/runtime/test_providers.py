"""Execution provider names: partial, case-insensitive matching and clear errors."""

from __future__ import annotations

import onnxruntime as ort
import pytest

from onnxbridge.errors import OnnxBridgeError
from onnxbridge.runtime.providers import (
    CPU,
    CUDA,
    available_providers,
    resolve_provider,
    resolve_providers,
    session_providers,
    short_name,
)

GPU_BUILD = [CUDA, "TensorrtExecutionProvider", CPU]


@pytest.mark.parametrize("name", ["cpu", "CPU", "Cpu", "cpuexecutionprovider", "CPUExecutionProvider", " cpu "])
def test_cpu_spellings(name):
    assert resolve_provider(name) == CPU


def test_available_providers_are_onnxruntimes():
    assert available_providers() == ort.get_available_providers()
    assert CPU in available_providers()


@pytest.mark.parametrize("name, expected", [("cuda", CUDA), ("CUDA", CUDA), ("gpu", CUDA),
                                            ("trt", "TensorrtExecutionProvider"),
                                            ("tensorrt", "TensorrtExecutionProvider"), ("tensor", "TensorrtExecutionProvider")])
def test_partial_names_on_a_gpu_build(name, expected):
    assert resolve_provider(name, GPU_BUILD) == expected


def test_known_but_unavailable_provider_lists_the_available_ones():
    with pytest.raises(OnnxBridgeError) as info:
        resolve_provider("cuda", [CPU])
    assert "CUDAExecutionProvider is not available" in info.value.message
    assert "onnxbridge[gpu]" in info.value.message
    assert info.value.hint == "available: cpu"


def test_unknown_provider_lists_the_available_ones():
    with pytest.raises(OnnxBridgeError) as info:
        resolve_provider("quantum", [CPU, "AzureExecutionProvider"])
    assert info.value.message == "unknown execution provider 'quantum'"
    assert info.value.hint == "available: cpu, azure"


def test_ambiguous_name():
    with pytest.raises(OnnxBridgeError, match="ambiguous"):
        resolve_provider("execution", GPU_BUILD)


def test_empty_name():
    with pytest.raises(OnnxBridgeError, match="empty"):
        resolve_provider("  ", [CPU])


def test_resolve_many_splits_commas_and_drops_duplicates():
    assert resolve_providers(["cuda,cpu", "CUDA", "trt"], GPU_BUILD) == [CUDA, CPU, "TensorrtExecutionProvider"]
    assert resolve_providers([], GPU_BUILD) == [CPU]


def test_session_providers_fall_back_to_cpu():
    assert session_providers(CPU) == [CPU]
    assert session_providers(CUDA) == [CUDA, CPU]
    assert session_providers("TensorrtExecutionProvider", GPU_BUILD) == ["TensorrtExecutionProvider", CUDA, CPU]
    assert session_providers("TensorrtExecutionProvider", ["TensorrtExecutionProvider", CPU]) == [
        "TensorrtExecutionProvider", CPU]
    assert short_name(CUDA) == "cuda" and short_name("TensorrtExecutionProvider") == "tensorrt"
