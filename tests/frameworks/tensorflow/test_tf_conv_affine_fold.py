"""A convolution with a bias followed by an inference BatchNormalization: tf2onnx leaves the norm as a
per-channel Mul and Add after the Conv; the converter folds both into the Keras convolution's kernel and
bias (as Keras's own fused inference would compute it, without two extra passes over the activations)."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tf2onnx")

from onnxbridge.frameworks.tensorflow.codegen import generate  # noqa: E402
from onnxbridge.frameworks.tensorflow.exporter import export_from_onnx  # noqa: E402
from onnxbridge.frameworks.tensorflow.importer import import_to_onnx  # noqa: E402
from onnxbridge.testing import check_parity  # noqa: E402

layers = keras.layers


def test_batch_norm_after_a_biased_convolution_is_folded():
    keras.utils.set_random_seed(0)
    image = keras.Input((12, 12, 3), name="image")
    x = layers.BatchNormalization()(layers.Conv2D(8, 3, padding="same")(image))
    x = layers.ReLU()(x)
    x = layers.BatchNormalization()(layers.DepthwiseConv2D(3)(x))
    model = keras.Model(image, layers.GlobalAveragePooling2D()(x))
    rng = np.random.default_rng(0)
    for v in model.weights:
        name = v.path.rsplit("/", 1)[-1]
        if name in ("bias", "beta", "moving_mean"):
            v.assign(rng.normal(0, 0.3, v.shape).astype("float32"))
        elif name in ("gamma", "moving_variance"):
            v.assign(rng.uniform(0.5, 1.5, v.shape).astype("float32"))
    onnx_model = import_to_onnx(model).onnx_model
    ops_in_onnx = [n.op_type for n in onnx_model.graph.node]
    assert "Mul" in ops_in_onnx  # the norm is there, unfolded
    source = generate(onnx_model).source
    assert "ops.multiply" not in source and "ops.add" not in source
    result = export_from_onnx(onnx_model)
    assert result.ok, result.checks
    report = check_parity(onnx_model, result.value)
    assert report.ok, report.summary()
