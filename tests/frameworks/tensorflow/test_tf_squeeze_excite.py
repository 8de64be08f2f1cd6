"""A squeeze-excite block with hard sigmoid (MobileNetV3's), exported by tf2onnx and converted back, run as
a ``tf.function`` graph as the exporter's module runs: the Reshape to ``[-1, C, 1, 1]`` of the pooled
tensor writes no code, and the hard sigmoid's constants are Python floats (``x + 3.0``), not 1x1x1x1
arrays, which TensorFlow's graph rewriting turned into a failing bias add after the 1x1 convolution."""

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


def _hard_sigmoid(x):
    return layers.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)


def _se_model() -> keras.Model:
    image = keras.Input((16, 16, 3), name="image")
    x = layers.Conv2D(24, 3, strides=2, padding="same")(image)
    for _ in range(2):
        s = layers.GlobalAveragePooling2D(keepdims=True)(x)
        s = layers.Conv2D(8, 1, activation="relu")(s)
        s = _hard_sigmoid(layers.Conv2D(24, 1)(s))
        x = layers.Multiply()([x, s])
    return keras.Model(image, layers.Dense(3)(layers.GlobalAveragePooling2D()(x)))


def test_squeeze_excite_blocks_convert_and_run_as_a_graph():
    keras.utils.set_random_seed(0)
    model = _se_model()
    rng = np.random.default_rng(0)
    for v in model.weights:
        if v.path.endswith("bias"):
            v.assign(rng.normal(0, 0.1, v.shape).astype("float32"))
    onnx_model = import_to_onnx(model).onnx_model
    source = generate(onnx_model).source
    assert ", 3.0)" in source and "np.array([[[[3.0]]]]" not in source
    assert ", 24, 1, 1))" not in source  # no reshape to the shape the pooled tensor already has
    result = export_from_onnx(onnx_model)
    assert result.ok, result.checks
    for batch in (1, 2):
        x = {"image": rng.standard_normal((batch, 16, 16, 3)).astype("float32")}
        report = check_parity(onnx_model, result.value, inputs=x)
        assert report.ok, report.summary()
