"""Keras-origin ONNX (tf2onnx, NHWC with Transposes, Keras LSTM/GRU) converted to PyTorch, against onnxruntime."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("torch")
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
tf2onnx = pytest.importorskip("tf2onnx")

from onnxbridge.frameworks.torch.exporter import HOP_DISK, HOP_LIVE, export_from_onnx  # noqa: E402
from onnxbridge.testing import random_inputs, run_onnxruntime  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
pytestmark = [pytest.mark.torch, pytest.mark.tensorflow, pytest.mark.slow]


def _cnn():
    return keras.Sequential([
        keras.Input((24, 24, 3)), keras.layers.Conv2D(8, 3, padding="same"), keras.layers.BatchNormalization(),
        keras.layers.ReLU(), keras.layers.DepthwiseConv2D(3, strides=2, padding="same"),
        keras.layers.Conv2D(16, 1, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(16, 3, padding="valid", activation="swish"), keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(10, activation="softmax")])


def _flatten_cnn():
    # Flatten of an NHWC tensor: tf2onnx keeps a Transpose back to NHWC before the Reshape
    return keras.Sequential([
        keras.Input((12, 12, 2)), keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
        keras.layers.AveragePooling2D(2), keras.layers.Flatten(), keras.layers.Dense(5)])


def _lstm():
    return keras.Sequential([keras.Input((12, 6)), keras.layers.LSTM(16, return_sequences=True),
                             keras.layers.LSTM(8), keras.layers.Dense(3)])


def _bilstm_embedding():
    return keras.Sequential([keras.Input((10,), dtype="int32"), keras.layers.Embedding(30, 8),
                             keras.layers.Bidirectional(keras.layers.LSTM(6)), keras.layers.Dense(2)])


def _gru_unrolled():
    return keras.Sequential([keras.Input((6, 5)), keras.layers.GRU(8, unroll=True), keras.layers.Dense(2)])


def _gru():
    return keras.Sequential([keras.Input((6, 5)), keras.layers.GRU(8), keras.layers.Dense(2)])


def _conv1d_text():
    return keras.Sequential([keras.Input((20,), dtype="int32"), keras.layers.Embedding(40, 12),
                             keras.layers.Conv1D(16, 3, padding="same", activation="relu"),
                             keras.layers.GlobalMaxPooling1D(), keras.layers.Dense(4)])


KERAS = {
    "nhwc-cnn": (_cnn, (24, 24, 3), "float32", None),
    "nhwc-flatten": (_flatten_cnn, (12, 12, 2), "float32", None),
    "lstm-stack": (_lstm, (12, 6), "float32", None),
    "embedding-bilstm": (_bilstm_embedding, (10,), "int32", None),
    "gru-unrolled": (_gru_unrolled, (6, 5), "float32", None),
    "gru-loop": (_gru, (6, 5), "float32", None),  # tf2onnx writes a Keras 3 GRU as an ONNX Loop
    "conv1d-text": (_conv1d_text, (20,), "int32", None),
}


def _to_onnx(model, shape, dtype):
    fn = tf.function(lambda x: model(x, training=False))
    spec = [tf.TensorSpec((None, *shape), getattr(tf, dtype), name="x")]
    proto, _ = tf2onnx.convert.from_function(fn, input_signature=spec, opset=17)
    return proto


@pytest.mark.parametrize("name", [pytest.param(n, marks=[pytest.mark.xfail(reason=v[3], strict=True)] if v[3] else [])
                                  for n, v in KERAS.items()])
def test_keras_origin_onnx_converts(name, tmp_path):
    build, shape, dtype, _ = KERAS[name]
    keras.utils.set_random_seed(0)
    model = build()
    proto = _to_onnx(model, shape, dtype)
    # the reference itself is right: onnxruntime agrees with Keras on the tf2onnx model
    feeds = random_inputs(proto, batch=3)
    expected = np.asarray(model(feeds["x"], training=False))
    assert np.allclose(run_onnxruntime(proto, feeds)[0], expected, atol=1e-4)
    result = export_from_onnx(proto, output_dir=tmp_path / name)
    assert [hop for hop, _ in result.checks] == [HOP_LIVE, HOP_DISK]
    for hop, report in result.checks:
        assert report.ok, f"{hop}: {report.summary()}"
