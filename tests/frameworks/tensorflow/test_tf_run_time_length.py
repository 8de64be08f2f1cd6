"""Keras models whose sequence length is known only at run time (``keras.Input((None, ...))``), exported by
tf2onnx and converted back: the Dense layers build from the static sizes the run-time shape arithmetic
keeps, and each conversion is exact at two sequence lengths."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tf2onnx")

from onnxbridge.frameworks.tensorflow.exporter import export_from_onnx  # noqa: E402
from onnxbridge.frameworks.tensorflow.importer import import_to_onnx  # noqa: E402
from onnxbridge.testing import check_parity  # noqa: E402

pytestmark = pytest.mark.tensorflow
layers = keras.layers


def _randomised(model):
    rng = np.random.default_rng(1)
    for v in model.weights:
        if v.path.endswith("bias"):
            v.assign(rng.normal(0, 0.1, v.shape).astype("float32"))
    return model


def _exact_at_two_lengths(model, make_input) -> None:
    onnx_model = import_to_onnx(model).onnx_model
    result = export_from_onnx(onnx_model)
    assert result.ok, result.checks
    for batch, seq in ((2, 7), (3, 4)):
        feed = {model.inputs[0].name: make_input(batch, seq)}
        report = check_parity(onnx_model, result.value, inputs=feed)
        assert report.ok, f"length {seq}: {report.summary()}"


def test_dense_on_a_sequence_of_run_time_length():
    keras.utils.set_random_seed(0)
    x_in = keras.Input((None, 16), name="x")
    h = layers.Dense(12, activation="relu")(x_in)
    model = _randomised(keras.Model(x_in, layers.Dense(4)(h)))
    rng = np.random.default_rng(0)
    _exact_at_two_lengths(model, lambda b, s: rng.standard_normal((b, s, 16)).astype("float32"))


def test_text_classifier_of_run_time_length():
    """Embedding, a 1-D convolution, pooling over the sequence and a Dense head: no recurrent layer."""
    keras.utils.set_random_seed(0)
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    x = layers.Embedding(40, 12)(tokens)
    x = layers.Conv1D(10, 3, padding="same", activation="relu")(x)
    x = layers.Dense(8, activation="relu")(x)
    x = layers.GlobalAveragePooling1D()(x)
    model = _randomised(keras.Model(tokens, layers.Dense(3)(x)))
    rng = np.random.default_rng(0)
    _exact_at_two_lengths(model, lambda b, s: rng.integers(0, 40, (b, s)).astype("int32"))
