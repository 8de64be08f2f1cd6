"""The channels-last bookkeeping: permutation algebra, and how many transposes a converted CNN keeps."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from onnxbridge.frameworks.tensorflow import layout as L
from tests.conftest import MODELS
from tests.frameworks.tensorflow.graphs import graph_transposes

PERMS = [p for r in range(1, 5) for p in itertools.permutations(range(r))]


def _stored(x: np.ndarray, perm) -> np.ndarray:
    return np.transpose(x, perm)


@pytest.mark.parametrize("perm", PERMS, ids=str)
def test_transpose_only_relabels(perm):
    x = np.random.default_rng(0).standard_normal(tuple(range(2, 2 + len(perm))))
    for t in itertools.permutations(range(len(perm))):
        out_perm = L.through_transpose(perm, t)
        assert np.array_equal(_stored(np.transpose(x, t), out_perm), _stored(x, perm))


@pytest.mark.parametrize("perm", PERMS, ids=str)
def test_squeeze_and_unsqueeze_in_stored_layout(perm):
    rng = np.random.default_rng(1)
    r = len(perm)
    for a in range(r + 1):
        x = rng.standard_normal(tuple(range(2, 2 + r)))
        positions, out_perm = L.after_inserting(perm, [a])
        stored = _stored(x, perm)
        for p in positions:
            stored = np.expand_dims(stored, p)
        assert np.array_equal(_stored(np.expand_dims(x, a), out_perm), stored)
    for a in range(r):
        x = rng.standard_normal(tuple(1 if i == a else i + 2 for i in range(r)))
        axes, out_perm = L.after_removing(perm, [a])
        assert np.array_equal(_stored(np.squeeze(x, a), out_perm), np.squeeze(_stored(x, perm), tuple(axes)))


def test_identity_stays_identity():
    assert L.after_inserting((0, 1, 2), [1])[1] == (0, 1, 2, 3)
    assert L.after_removing((0, 1, 2), [1])[1] == (0, 1)
    assert L.convert(L.channels_last(4), L.channels_last(4)) == (0, 1, 2, 3)


@pytest.mark.parametrize("src, dst, perm, expected", [
    (("n", 16, 1, 1), ("n", 16), (0, 2, 3, 1), (0, 1)),          # flatten after global pooling: free
    (("t", "b", 2, 8), ("t", "b", 16), (1, 0, 2, 3), (1, 0, 2)),  # merging RNN directions, batch-major
    (("n", 16, 4, 4), ("n", 256), (0, 2, 3, 1), None),            # flattening NHWC changes element order
    (("n", 16, 4, 4), ("n", 256), (0, 1, 2, 3), (0, 1)),
])
def test_reshape_in_stored_layout(src, dst, perm, expected):
    assert L.reshape_in_layout(src, dst, perm) == expected
    if expected is not None:
        sizes = {"n": 2, "t": 3, "b": 2}
        s = tuple(sizes.get(d, d) for d in src)
        d = tuple(sizes.get(v, v) for v in dst)
        x = np.arange(int(np.prod(s))).reshape(s)
        assert np.array_equal(_stored(x.reshape(d), expected), _stored(x, perm).reshape(L.stored_shape(d, expected)))


# -- transposes left in converted models (TensorFlow graphs) -------------------------------------------
tf = pytest.importorskip("tensorflow")


@pytest.mark.tensorflow
@pytest.mark.parametrize("spec, interface", [("resnet_mini", 1), ("digits_cnn", 0)])
def test_converted_cnn_transposes_only_at_the_interface(spec, interface):
    """A ResNet (blocks as Keras layers) keeps one transpose, the NCHW input; a CNN on one-channel images ending
    in Flatten -> Dense keeps none (its input transpose is a reshape, the Dense rows take the NHWC order)."""
    from onnxbridge.frameworks.tensorflow.exporter import export_from_onnx
    from onnxbridge.spec import build

    model = build(MODELS / f"{spec}.yaml")
    result = export_from_onnx(model)
    assert result.ok, [r.summary() for _, r in result.checks]
    assert graph_transposes(result.value) == interface
    channels_last = export_from_onnx(model, channels_last=True)
    assert channels_last.ok, [r.summary() for _, r in channels_last.checks]
    assert graph_transposes(channels_last.value) == 0


@pytest.mark.tensorflow
@pytest.mark.torch
def test_torch_resnet_keeps_only_the_input_transpose():
    torch = pytest.importorskip("torch")
    from onnxbridge.frameworks.tensorflow.exporter import export_from_onnx
    from onnxbridge.frameworks.torch.importer import import_to_onnx
    from tests.frameworks.torch.zoo import ZOO

    torch.manual_seed(0)
    entry = ZOO["resnet"]
    onnx_model = import_to_onnx(entry.build().eval(), example_inputs=entry.inputs(2), exporter="torchscript").onnx_model
    assert sum(n.op_type == "Conv" for n in onnx_model.graph.node) >= 7
    result = export_from_onnx(onnx_model)
    assert result.ok, [r.summary() for _, r in result.checks]
    assert graph_transposes(result.value) == 1
