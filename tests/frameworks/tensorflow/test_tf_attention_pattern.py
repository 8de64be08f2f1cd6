"""Keras MultiHeadAttention exported by tf2onnx comes back as one ``layers.MultiHeadAttention``.

Each model is built here with random weights (biases too: fresh Keras biases are zeros), converted to ONNX
by the TensorFlow importer and back by the exporter, checked with the parity helper, and its generated
source read: the recognised layer is there, the decomposed attention is not. A near miss (another scaling,
a mask) still converts, op by op.
"""

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


def _randomised(model):
    rng = np.random.default_rng(1)
    for v in model.weights:
        if v.path.endswith("bias") or v.path.endswith("beta"):
            v.assign(rng.normal(0, 0.1, v.shape).astype("float32"))
    return model


def _round_trip(model, **parity):
    onnx_model = import_to_onnx(model).onnx_model
    result = export_from_onnx(onnx_model)
    assert result.ok, result.checks
    report = check_parity(onnx_model, result.value, **parity)
    assert report.ok, report.summary()
    return onnx_model, generate(onnx_model).source


def _encoder(heads: int, key_dim: int, *, use_bias: bool = True, value_dim: int | None = None) -> keras.Model:
    x_in = keras.Input((12, 24), name="x")
    a = layers.MultiHeadAttention(heads, key_dim, value_dim=value_dim, use_bias=use_bias, name="attn")(x_in, x_in)
    x = layers.LayerNormalization()(x_in + a)
    f = layers.Dense(24)(layers.Dense(48, activation="relu")(x))
    return _randomised(keras.Model(x_in, layers.LayerNormalization()(x + f)))


@pytest.mark.parametrize(("heads", "key_dim", "use_bias", "value_dim"),
                         [(4, 8, True, None), (2, 5, False, None), (3, 6, True, 4)])
def test_self_attention_block_becomes_one_layer(heads, key_dim, use_bias, value_dim):
    keras.utils.set_random_seed(0)
    _, source = _round_trip(_encoder(heads, key_dim, use_bias=use_bias, value_dim=value_dim))
    expected = f"layers.MultiHeadAttention(num_heads={heads}, key_dim={key_dim}"
    if value_dim is not None:
        expected += f", value_dim={value_dim}"
    if not use_bias:
        expected += ", use_bias=False"
    assert expected + ", name='attn')" in source
    assert "ops.softmax" not in source and "ops.matmul" not in source
    assert "ops.reshape" not in source  # the feed-forward's Dense layers act on the sequence, as in Keras


def test_cross_attention_with_another_output_size():
    keras.utils.set_random_seed(0)
    q = keras.Input((7, 16), name="q")
    kv = keras.Input((9, 10), name="kv")
    y = layers.MultiHeadAttention(2, 8, output_shape=6, name="cross")(q, kv)
    _, source = _round_trip(_randomised(keras.Model([q, kv], y)))
    assert "layers.MultiHeadAttention(num_heads=2, key_dim=8, output_shape=6, name='cross')(q, kv)" in source
    assert "ops.softmax" not in source


def test_cross_attention_with_separate_key_and_value():
    keras.utils.set_random_seed(0)
    q, k, v = (keras.Input((5, 8), name=n) for n in ("q", "k", "v"))
    y = layers.MultiHeadAttention(2, 4, name="attn")(q, v, key=k)
    _, source = _round_trip(_randomised(keras.Model([q, k, v], y)))
    assert "layers.MultiHeadAttention(num_heads=2, key_dim=4, name='attn')(q, v, key=k)" in source


def test_two_blocks_after_an_embedding():
    keras.utils.set_random_seed(0)
    tokens = keras.Input((11,), dtype="int32", name="tokens")
    x = layers.Embedding(50, 16)(tokens)
    for k in range(2):
        x = layers.LayerNormalization()(x + layers.MultiHeadAttention(2, 8, name=f"attn{k}")(x, x))
    model = _randomised(keras.Model(tokens, layers.Dense(3)(x)))
    rng = np.random.default_rng(0)
    _, source = _round_trip(model, inputs={"tokens": rng.integers(0, 50, (2, 11)).astype("int32")})
    assert source.count("layers.MultiHeadAttention(") == 2
    assert "ops.softmax" not in source


def test_a_masked_attention_stays_op_by_op():
    """A mask is a run-time input the layer does not take here: the pattern does not match, the
    conversion is still exact."""
    keras.utils.set_random_seed(0)
    x_in = keras.Input((6, 8), name="x")
    mask = keras.Input((6, 6), name="mask", dtype="bool")
    y = layers.MultiHeadAttention(2, 4)(x_in, x_in, attention_mask=mask)
    onnx_model = import_to_onnx(_randomised(keras.Model([x_in, mask], y))).onnx_model
    source = generate(onnx_model).source
    assert "MultiHeadAttention" not in source
    result = export_from_onnx(onnx_model)
    assert result.ok, result.checks


@pytest.mark.parametrize(("scale", "recognised"), [(2.0, True), (4.0, False)])
def test_hand_written_attention_is_checked_against_its_subgraph(scale, recognised):
    """Attention written with Dense layers and einsums: the structure matches either way; divided by
    sqrt(key_dim) = 2 it is what ``layers.MultiHeadAttention`` computes, divided by 4 it is not (the check
    against the subgraph refuses it) and converts op by op, exactly."""
    keras.utils.set_random_seed(0)
    x_in = keras.Input((6, 8), name="x")
    q, k, v = (layers.Reshape((6, 2, 4))(layers.Dense(8)(x_in)) for _ in range(3))
    probs = keras.ops.softmax(keras.ops.einsum("bqhd,bkhd->bhqk", q, k) / scale, axis=-1)
    o = layers.Reshape((6, 8))(keras.ops.einsum("bhqk,bkhd->bqhd", probs, v))
    model = _randomised(keras.Model(x_in, layers.Dense(8)(o)))
    _, source = _round_trip(model)
    assert ("layers.MultiHeadAttention(num_heads=2, key_dim=4" in source) is recognised
    assert ("ops.softmax" in source) is not recognised


def test_a_sequence_of_run_time_length():
    """tf2onnx writes the einsums of a run-time length as Gemm/MatMul of Reshapes to computed shapes
    (``Concat(-1, ReduceProd(Shape(x)[3:5]))``); the static sizes in those shapes give the projections their
    input width, the attention becomes one layer, and the model is exact at two sequence lengths."""
    keras.utils.set_random_seed(0)
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    x = layers.Embedding(50, 16)(tokens)
    x = layers.LayerNormalization()(x + layers.MultiHeadAttention(2, 8, name="attn")(x, x))
    model = _randomised(keras.Model(tokens, layers.Dense(3)(x)))
    rng = np.random.default_rng(0)
    onnx_model, source = _round_trip(model, inputs={"tokens": rng.integers(0, 50, (2, 11)).astype("int32")})
    converted = export_from_onnx(onnx_model).value
    report = check_parity(onnx_model, converted, inputs={"tokens": rng.integers(0, 50, (3, 5)).astype("int32")})
    assert report.ok, report.summary()
    # the projections are Gemm here; the layer is still recognised (checked at two batch sizes and lengths)
    assert "layers.MultiHeadAttention(num_heads=2, key_dim=8" in source
    assert "ops.softmax" not in source and "ops.matmul" not in source


@pytest.mark.parametrize(("scale", "recognised"), [(2.0, True), (4.0, False)])
def test_hand_written_attention_of_run_time_length_is_checked_too(scale, recognised):
    """As above with a run-time sequence length (Gemm projections): the check against the subgraph, on
    two batch sizes and two lengths, still tells the exact layer from the near miss."""
    keras.utils.set_random_seed(0)
    x_in = keras.Input((None, 8), name="x")
    q, k, v = (layers.Reshape((-1, 2, 4))(layers.Dense(8)(x_in)) for _ in range(3))
    probs = keras.ops.softmax(keras.ops.einsum("bqhd,bkhd->bhqk", q, k) / scale, axis=-1)
    o = layers.Reshape((-1, 8))(keras.ops.einsum("bhqk,bkhd->bqhd", probs, v))
    model = _randomised(keras.Model(x_in, layers.Dense(8)(o)))
    rng = np.random.default_rng(0)
    onnx_model, source = _round_trip(model, inputs={"x": rng.standard_normal((2, 6, 8)).astype("float32")})
    report = check_parity(onnx_model, export_from_onnx(onnx_model).value,
                          inputs={"x": rng.standard_normal((3, 4, 8)).astype("float32")})
    assert report.ok, report.summary()
    assert ("layers.MultiHeadAttention(num_heads=2, key_dim=4" in source) is recognised
