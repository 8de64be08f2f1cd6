"""Keras/TensorFlow -> ONNX with tf2onnx on a zoo of real architectures, each checked against Keras itself;
files (.keras, .h5, SavedModel) and what happens with bad ones."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from onnxbridge.errors import ModelLoadError  # noqa: E402
from onnxbridge.frameworks.tensorflow.exporter import export_from_onnx  # noqa: E402
from onnxbridge.frameworks.tensorflow.importer import HOP, import_to_onnx  # noqa: E402
from onnxbridge.testing import random_inputs, run_onnxruntime  # noqa: E402
from tests.frameworks.tensorflow.graphs import graph_transposes  # noqa: E402

pytestmark = pytest.mark.tensorflow
layers = keras.layers


def calibrate(model, seed: int = 0):
    """Give every BatchNormalization the statistics of a random batch, so an untrained network keeps
    activations of order 1 (with weights=None and default statistics they fade to ~1e-15 and any
    output would pass an absolute tolerance)."""
    bns = [layer for layer in model._flatten_layers() if isinstance(layer, layers.BatchNormalization)]
    if not bns:
        return model
    saved = [bn.momentum for bn in bns]
    for bn in bns:
        bn.momentum = 0.0
    rng = np.random.default_rng(seed)
    x = [rng.standard_normal((8, *t.shape[1:])).astype("float32") for t in model.inputs]
    model(x if len(x) > 1 else x[0], training=True)
    for bn, m in zip(bns, saved):
        bn.momentum = m
    return model


def text_model():
    tokens = keras.Input((20,), dtype="int32", name="tokens")
    x = layers.Embedding(100, 16, name="embed")(tokens)
    x = layers.Bidirectional(layers.LSTM(8, return_sequences=True), name="bilstm")(x)
    x = layers.GRU(8, name="gru")(x)
    return keras.Model(tokens, layers.Dense(3, name="logits")(x), name="text")


def conv1d_model():
    tokens = keras.Input((24,), dtype="int32", name="tokens")
    x = layers.Embedding(60, 12, name="embed")(tokens)
    x = layers.Conv1D(16, 3, padding="same", activation="relu", name="conv")(x)
    x = layers.Conv1D(16, 5, strides=2, name="conv2")(x)
    x = layers.GlobalMaxPooling1D(name="pool")(x)
    return keras.Model(tokens, layers.Dense(4, name="logits")(x), name="text_cnn")


def branch_model():
    image = keras.Input((32, 32, 3), name="image")
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="stem")(image)
    a = layers.DepthwiseConv2D(3, padding="same", name="depthwise")(x)
    b = layers.Conv2D(8, 1, name="pointwise")(x)
    c = layers.Concatenate(name="concat")([a, b])
    c = layers.BatchNormalization(name="bn")(c)
    c = layers.MaxPooling2D(name="pool")(c)
    c = layers.GlobalAveragePooling2D(name="gap")(c)
    return keras.Model(image, layers.Dense(5, name="logits")(c), name="branches")


def mlp_model():
    x = keras.Input((20,), name="features")
    h = layers.Dense(64, activation="relu", name="fc1")(x)
    h = layers.LayerNormalization(name="norm")(h)
    h = layers.Dense(32, activation="gelu", name="fc2")(h)
    return keras.Model(x, layers.Dense(3, activation="softmax", name="probs")(h), name="mlp")


def lstm_model():
    x = keras.Input((12, 8), name="sequence")
    h = layers.LSTM(16, name="lstm")(x)
    return keras.Model(x, layers.Dense(2, name="logits")(h), name="lstm_classifier")


ZOO = {
    "MobileNetV2": lambda: keras.applications.MobileNetV2(input_shape=(96, 96, 3), weights=None, classes=10,
                                                          classifier_activation=None),
    "EfficientNetB0": lambda: keras.applications.EfficientNetB0(input_shape=(32, 32, 3), weights=None, classes=10,
                                                                classifier_activation=None),
    "text": text_model,
    "conv1d": conv1d_model,
    "branches": branch_model,
    "mlp": mlp_model,
    "lstm": lstm_model,
}
# the TensorFlow exporter converts what tf2onnx produced back (keras -> onnx -> tensorflow)
# (value: Transpose ops in the TensorFlow graph; None for recurrent models, where Keras's own RNN layers
# transpose to time-major inside, natively too)
BACK = {"MobileNetV2": 0, "EfficientNetB0": 0, "text": None, "conv1d": 0, "branches": 0, "mlp": 0, "lstm": None}


@pytest.fixture(scope="module")
def imported():
    cache: dict = {}

    def get(name: str):
        if name not in cache:
            keras.utils.set_random_seed(0)
            model = calibrate(ZOO[name]())
            cache[name] = (model, import_to_onnx(model))
        return cache[name]

    return get


@pytest.mark.parametrize("name", list(ZOO))
def test_keras_zoo_imports_within_tolerance(name, imported):
    model, result = imported(name)
    (hop, report), = result.checks
    assert hop == HOP and report.ok, report.summary()
    # the comparison is meaningful: outputs are not vanishingly small
    feeds = random_inputs(result.onnx_model, seed=5)
    outputs = run_onnxruntime(result.onnx_model, feeds)
    assert max(float(np.abs(o).max()) for o in outputs) > 1e-2
    # the batch dim is symbolic and called "batch"
    first = result.onnx_model.graph.input[0].type.tensor_type.shape.dim[0]
    assert first.dim_param == "batch"


@pytest.mark.parametrize("name", list(BACK))
def test_keras_through_onnx_back_to_tensorflow(name, imported):
    _, result = imported(name)
    back = export_from_onnx(result.onnx_model)
    for hop, report in back.checks:
        assert report.ok, f"{hop}: {report.summary()}"
    # tf2onnx wraps its NCHW graph in transposes from and back to NHWC; they cancel out here
    assert "; 0 layout transpose(s)" in back.notes[0]
    if BACK[name] is not None:
        assert graph_transposes(back.value) == BACK[name]


def test_keras_recurrent_layers_become_onnx_rnn_ops(imported):
    """Keras LSTM and GRU (Bidirectional too) become single ONNX LSTM/GRU nodes, not loops."""
    _, result = imported("text")
    ops = [n.op_type for n in result.onnx_model.graph.node]
    assert ops.count("LSTM") == 1 and ops.count("GRU") == 1 and "Loop" not in ops
    gru = next(n for n in result.onnx_model.graph.node if n.op_type == "GRU")
    assert any(a.name == "linear_before_reset" and a.i == 1 for a in gru.attribute)


def test_last_step_of_a_sequence_needs_no_sequence(imported):
    """Keras LSTM(return_sequences=False) comes back as a Keras LSTM that does not return the sequence."""
    from onnxbridge.frameworks.tensorflow.codegen import generate

    _, result = imported("lstm")
    source = generate(result.onnx_model).source
    assert "layers.LSTM(" in source and "return_sequences=True" not in source


def test_keras_loops_convert_back_as_while_loops():
    """A SimpleRNN stays an ONNX Loop; it comes back as a Keras layer running tf.while_loop."""
    from onnxbridge.frameworks.tensorflow.codegen import generate

    keras.utils.set_random_seed(2)
    x = keras.Input((None, 3), name="sequence")
    h = layers.SimpleRNN(4, return_sequences=True, name="rnn")(x)
    model = keras.Model(x, layers.SimpleRNN(5, go_backwards=True, name="rnn_back")(h))
    result = import_to_onnx(model)
    assert result.ok and any("Loop" in note for note in result.notes)
    assert "tf.while_loop(" in generate(result.onnx_model).source
    back = export_from_onnx(result.onnx_model)
    for hop, report in back.checks:
        assert report.ok, f"{hop}: {report.summary()}"
    feeds = random_inputs(result.onnx_model, seed=4, dims={"unk__0": 9})
    long = {k: np.concatenate([v, v], axis=1) for k, v in feeds.items()}  # another sequence length
    np.testing.assert_allclose(back.value(*long.values()).numpy(), model(*long.values()).numpy(), atol=1e-5)


# -- files ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_model():
    keras.utils.set_random_seed(1)
    return calibrate(branch_model())


def test_keras_file(small_model, tmp_path):
    path = tmp_path / "net.keras"
    small_model.save(path)
    result = import_to_onnx(path)
    assert result.ok, [r.summary() for _, r in result.checks]
    assert [i.name for i in result.onnx_model.graph.input] == ["image"]
    assert [o.name for o in result.onnx_model.graph.output] == ["logits"]


def test_h5_file(small_model, tmp_path):
    path = tmp_path / "net.h5"
    small_model.save(path)
    result = import_to_onnx(path)
    assert result.ok, [r.summary() for _, r in result.checks]


def test_saved_model_directory(small_model, tmp_path):
    small_model.export(tmp_path / "exported", verbose=False)
    result = import_to_onnx(tmp_path / "exported")
    assert result.ok, [r.summary() for _, r in result.checks]


def test_converted_tf_module_imports_back(tmp_path):
    """Our own tf.Module (its __call__ has an input signature) converts back to ONNX directly."""
    from onnxbridge.spec import build
    from tests.conftest import MODELS

    model = build(MODELS / "digits_cnn.yaml")
    live = export_from_onnx(model, verify=False).value
    result = import_to_onnx(live)
    assert result.ok, [r.summary() for _, r in result.checks]
    from onnxbridge.testing import check_onnx_parity

    assert check_onnx_parity(model, result.onnx_model).ok


def test_saved_model_without_signatures_is_refused(tmp_path):
    class Bare(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(1.0)

    tf.saved_model.save(Bare(), str(tmp_path / "bare"))
    with pytest.raises(ModelLoadError, match="no signatures") as info:
        import_to_onnx(tmp_path / "bare")
    assert "signatures=" in info.value.hint


@pytest.mark.parametrize("content, match", [
    (b"", "empty"),
    (b"not a zip archive at all", "not a Keras archive"),
    (b"PK\x03\x04" + b"\x00" * 40, "not a Keras archive|cannot load"),
])
def test_corrupt_keras_files(tmp_path, content, match):
    path = tmp_path / "broken.keras"
    path.write_bytes(content)
    with pytest.raises(ModelLoadError, match=match):
        import_to_onnx(path)


def test_truncated_keras_file(small_model, tmp_path):
    good = tmp_path / "net.keras"
    small_model.save(good)
    bad = tmp_path / "cut.keras"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ModelLoadError, match="cut.keras"):
        import_to_onnx(bad)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_lambda_layers_are_not_executed_from_files(tmp_path, suffix):
    """safe_mode: a model file cannot make us run arbitrary Python (Lambda layers are refused)."""
    x = keras.Input((4,))
    model = keras.Model(x, layers.Lambda(lambda t: t * 2.0)(x))
    path = tmp_path / f"lambda{suffix}"
    model.save(path)
    with pytest.raises(ModelLoadError, match=f"lambda{suffix}.*Lambda"):
        import_to_onnx(path)


def test_missing_file(tmp_path):
    with pytest.raises(ModelLoadError, match="no such file"):
        import_to_onnx(tmp_path / "nope.keras")


def _named_model():
    keras.utils.set_random_seed(2)
    image = keras.Input((8, 8, 3), name="image")
    x = layers.Conv2D(4, 3, name="stem")(image)
    x = layers.Dense(6, name="dense")(layers.Flatten(name="flatten")(x))
    x = layers.Dense(6, name="dense_1")(x)  # Keras' own next name: its scope is "dense_1_1"
    return keras.Model(image, layers.Dense(5, name="head")(x), name="classifier")


@pytest.mark.parametrize("kind", ["keras", "saved_model"])
def test_names_lose_the_scopes_tensorflow_and_keras_add(tmp_path, kind):
    """No StatefulPartitionedCall/, model_1/ or Keras 3's "_1" scope suffixes in the names generated code
    is written from, and no tf2onnx trace text as the doc string."""
    from onnxbridge.frameworks.torch.codegen import generate

    model = _named_model()
    if kind == "keras":
        model.save(tmp_path / "net.keras")
        source = tmp_path / "net.keras"
    else:
        model.export(tmp_path / "exported", verbose=False)
        source = tmp_path / "exported"
    result = import_to_onnx(source)
    assert result.ok, [r.summary() for _, r in result.checks]
    g = result.onnx_model.graph
    names = [n.name for n in g.node] + [i.name for i in g.initializer] + [o for n in g.node for o in n.output]
    assert not [n for n in names if "PartitionedCall" in n or "classifier" in n], names
    assert {"stem", "dense", "dense_1", "head"} <= {n.name.split("/")[0] for n in g.node}, [n.name for n in g.node]
    assert "__inference" not in g.doc_string
    source_code = generate(result.onnx_model).source
    for attr in ("self.stem = nn.Conv2d", "self.dense = nn.Linear", "self.dense_1 = nn.Linear", "self.head = nn.Linear"):
        assert attr in source_code, source_code
    assert "__inference" not in source_code and "_1_1" not in source_code
