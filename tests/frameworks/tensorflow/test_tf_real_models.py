"""Real models that used to fail on the way to TensorFlow, built here with random weights: each is exported
to ONNX (tf2onnx for Keras, torch.onnx for PyTorch), converted to TensorFlow and checked at every hop."""

from __future__ import annotations

import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from onnxbridge.frameworks.tensorflow.exporter import export_from_onnx  # noqa: E402
from onnxbridge.frameworks.tensorflow.importer import import_to_onnx  # noqa: E402

pytestmark = pytest.mark.tensorflow
layers = keras.layers


def _checked(result) -> None:
    assert result.checks, "nothing was checked"
    for hop, report in result.checks:
        assert report.ok, f"{hop}: {report.summary()}"


def _keras_there_and_back(model) -> None:
    onnx_result = import_to_onnx(model)
    _checked(onnx_result)
    _checked(export_from_onnx(onnx_result.onnx_model))


def masked_text_model():
    """Padding-masked LSTM and GRU: tf2onnx writes masked recurrent layers as Loops, whose stacked outputs
    feed the next layer's kernels."""
    tokens = keras.Input((10,), dtype="int32", name="tokens")
    x = layers.Embedding(50, 12, mask_zero=True, name="embed")(tokens)
    x = layers.LSTM(8, return_sequences=True, name="lstm")(x)
    x = layers.GRU(6, name="gru")(x)
    return keras.Model(tokens, layers.Dense(2, name="logits")(x), name="masked_text")


@pytest.mark.slow
def test_mobilenetv3_squeeze_excite_blocks_to_tensorflow():
    keras.utils.set_random_seed(0)
    _keras_there_and_back(keras.applications.MobileNetV3Small(input_shape=(32, 32, 3), weights=None, classes=4,
                                                              classifier_activation=None))


@pytest.mark.slow
def test_masked_recurrent_text_model_to_tensorflow():
    keras.utils.set_random_seed(0)
    _keras_there_and_back(masked_text_model())


@pytest.mark.slow
def test_efficientnetv2_keeps_its_preprocessing_constants():
    """EfficientNetV2's Normalization layer holds its mean and variance as captured constants: they are
    weights of the ONNX model, not inputs to feed."""
    keras.utils.set_random_seed(0)
    model = keras.applications.EfficientNetV2B0(input_shape=(32, 32, 3), weights=None, classes=4,
                                                classifier_activation=None, include_preprocessing=True)
    result = import_to_onnx(model)
    _checked(result)
    inits = {i.name for i in result.onnx_model.graph.initializer}
    assert len([i for i in result.onnx_model.graph.input if i.name not in inits]) == 1  # the image only


def test_torch_lstm_with_an_initial_hidden_state_and_a_zero_cell_state():
    torch = pytest.importorskip("torch")
    from onnxbridge.frameworks.torch.importer import import_to_onnx as torch_import

    class Tagger(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.LSTM(4, 6, batch_first=True)
            self.head = torch.nn.Linear(6, 3)

        def forward(self, x, h0):
            c0 = torch.zeros_like(h0)
            out, _ = self.rnn(x, (h0, c0))
            return self.head(out)

    torch.manual_seed(0)
    example = (torch.randn(2, 5, 4), torch.randn(1, 2, 6))
    onnx_result = torch_import(Tagger().eval(), example_inputs=example, dynamic_batch=False)
    _checked(onnx_result)
    _checked(export_from_onnx(onnx_result.onnx_model))
