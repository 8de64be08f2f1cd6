"""Models shared by the runtime tests (built once per session)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnxbridge.frameworks.torch.bridge import TorchBridge
from tests.conftest import MODELS

_CONVERT_FOR_RUNS = TorchBridge.native_model


@pytest.fixture(scope="session")
def digits_model() -> onnx.ModelProto:
    """The embedded default network, built from its spec."""
    from onnxbridge.spec import build

    return build(MODELS / "digits_cnn.yaml")


@pytest.fixture(scope="session")
def digits_onnx(tmp_path_factory, digits_model):
    """The same network as an ONNX file."""
    path = tmp_path_factory.mktemp("models") / "digits.onnx"
    onnx.save(digits_model, str(path))
    return path


def fixed_batch_model(batch: int = 1) -> onnx.ModelProto:
    """A tiny MatMul model whose input has a fixed first dimension."""
    w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "fixed",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 3])], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)


def slow_model(size: int = 256, depth: int = 8) -> onnx.ModelProto:
    """A chain of MatMul+Relu on a [batch, size] input: slow enough (about 1 ms at 512 x 32) to time well."""
    rng = np.random.default_rng(0)
    nodes, inits, prev = [], [], "x"
    for i in range(depth):
        inits.append(numpy_helper.from_array((rng.standard_normal((size, size)) / np.sqrt(size)).astype(np.float32),
                                             f"w{i}"))
        nodes.append(helper.make_node("MatMul", [prev, f"w{i}"], [f"m{i}"], name=f"mm{i}"))
        nodes.append(helper.make_node("Relu", [f"m{i}"], [f"r{i}"], name=f"relu{i}"))
        prev = f"r{i}"
    nodes.append(helper.make_node("Identity", [prev], ["y"], name="out"))
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", size])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", size])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)


def off_by_one(bridge: TorchBridge, model: onnx.ModelProto, device: str):
    """``TorchBridge.native_model`` giving a wrong answer on purpose: the model converted correctly, then 1
    added to its output (patch it in to see a wrong native result flagged)."""
    import torch

    class OffByOne(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module):
            super().__init__()
            self.inner = inner

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            return self.inner(*args) + 1.0

    return OffByOne(_CONVERT_FOR_RUNS(bridge, model, device))
