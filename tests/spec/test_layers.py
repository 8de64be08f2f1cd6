"""Every registered layer and built-in block, over its example parameter combinations.

For each example the layer's shape rule must agree with ONNX shape inference (on the symbolic model) and
with the shapes onnxruntime actually produces (on concrete inputs); the built model must pass the full
ONNX checker. A new layer is covered here by registering it with examples: no new test is needed.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from onnxbridge.spec import build, infer_shapes
from onnxbridge.spec.blocks import all_blocks
from onnxbridge.spec.registry import all_layers
from onnxbridge.spec.types import TensorInfo
from onnxbridge.testing import random_inputs, run_onnxruntime

CONCRETE = {"batch": 2, "seq": 5, "h": 7, "w": 9}


def _cases():
    for name, layer in all_layers().items():
        for i, ex in enumerate(layer.examples()):
            yield pytest.param(name, ex.params, ex.inputs, id=f"{name}-{i}")
    for name, block in all_blocks().items():
        for i, params in enumerate(block.example_params):
            yield pytest.param(name, params, block.example_inputs, id=f"{name}-block-{i}")


def _spec(type_name: str, params: dict, inputs: tuple[TensorInfo, ...], concrete: bool) -> dict:
    def dims(shape):
        return [CONCRETE.get(d, d) if concrete else d for d in shape]

    names = [f"in{i}" for i in range(len(inputs))]
    layer = {"id": "layer", "type": type_name, **params}
    if len(inputs) > 1:
        layer["input"] = names
    return {"name": "case", "inputs": [{"name": n, "shape": dims(t.shape), "dtype": t.dtype} for n, t in zip(names, inputs)],
            "layers": [layer]}


def _onnx_shape(vi: onnx.ValueInfoProto) -> list:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in vi.type.tensor_type.shape.dim]


def test_registry_is_large_enough():
    required = {"Linear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "MaxPool1d", "MaxPool2d",
                "AvgPool1d", "AvgPool2d", "GlobalAvgPool", "GlobalMaxPool", "BatchNorm1d", "BatchNorm2d", "LayerNorm",
                "GroupNorm", "Dropout", "Flatten", "Reshape", "Permute", "ReLU", "LeakyReLU", "ELU", "GELU", "SiLU",
                "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Hardswish", "Embedding", "SimpleRNN", "LSTM", "GRU",
                "Add", "Multiply", "Concat", "MultiHeadAttention", "Upsample"}
    assert required <= set(all_layers())
    assert {"ConvBNAct", "ResidualBlock", "MLP", "TransformerEncoderBlock", "StackedRNN"} <= set(all_blocks())
    for layer in all_layers().values():
        assert len(layer.examples()) >= 2, f"{layer.type_name} needs several example parameter combinations"


@pytest.mark.parametrize("type_name,params,inputs", list(_cases()))
def test_shape_rule_matches_onnx_and_onnxruntime(type_name, params, inputs):
    # symbolic model: the rule's static dims must match ONNX shape inference, and the model must check
    spec = _spec(type_name, params, inputs, concrete=False)
    report = infer_shapes(spec)
    assert report.ok, report.errors
    expected = report.outputs["layer"]
    model = build(spec)
    onnx.checker.check_model(model, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    out = next(o for o in inferred.graph.output if o.name == "layer")
    onnx_shape = _onnx_shape(out)
    assert len(onnx_shape) == len(expected.shape)
    for ours, theirs in zip(expected.shape, onnx_shape):
        if isinstance(ours, int) and isinstance(theirs, int):
            assert ours == theirs, f"rule says {expected.shape}, ONNX inference says {onnx_shape}"

    # concrete model: the rule must give exactly the shape onnxruntime produces
    concrete = _spec(type_name, params, inputs, concrete=True)
    rule = infer_shapes(concrete).outputs["layer"]
    cmodel = build(concrete)
    result = run_onnxruntime(cmodel, random_inputs(cmodel))[0]
    assert list(result.shape) == list(rule.shape)
    assert result.dtype == np.dtype(rule.dtype)
    assert np.all(np.isfinite(result))


@pytest.mark.parametrize("type_name", sorted(all_layers()))
def test_parameter_count_matches_initializers(type_name):
    ex = all_layers()[type_name].examples()[0]
    spec = _spec(type_name, ex.params, ex.inputs, concrete=True)
    report = infer_shapes(spec)
    model = build(spec)
    buffers = ("running_mean", "running_var")
    total = sum(int(np.prod(i.dims)) for i in model.graph.initializer
                if i.name.startswith("layer.") and not i.name.endswith(buffers))
    assert report.total_params == total
