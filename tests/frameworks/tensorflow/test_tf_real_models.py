"""Real models that used to fail on the way to TensorFlow, built here with random weights: each is exported
to ONNX (tf2onnx for Keras, torch.onnx for PyTorch), converted to TensorFlow and checked at every hop."""

from __future__ import annotations

import importlib.util

import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from onnxbridge.frameworks.tensorflow.exporter import export_from_onnx  # noqa: E402
from onnxbridge.frameworks.tensorflow.importer import import_to_onnx  # noqa: E402
from onnxbridge.testing import check_parity  # noqa: E402

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


def bert_model(torch, *, token_type_input: bool = True, vocab: int = 60, hidden: int = 48, heads: int = 4,
               layers_: int = 2, max_positions: int = 32):
    """A BERT encoder written as BertModel is (its module names, attention with separate query/key/value,
    the additive mask, GELU FFN, tanh pooler), random weights. Without ``token_type_input`` the token types
    come from the registered zero buffer, as BertModel does when none are given."""
    nn = torch.nn

    class Embeddings(nn.Module):
        def __init__(self):
            super().__init__()
            self.word_embeddings = nn.Embedding(vocab, hidden, padding_idx=0)
            self.position_embeddings = nn.Embedding(max_positions, hidden)
            self.token_type_embeddings = nn.Embedding(2, hidden)
            self.LayerNorm = nn.LayerNorm(hidden, eps=1e-12)
            self.dropout = nn.Dropout(0.1)
            self.register_buffer("position_ids", torch.arange(max_positions).expand((1, -1)), persistent=False)
            self.register_buffer("token_type_ids", torch.zeros((1, max_positions), dtype=torch.long),
                                 persistent=False)

        def forward(self, input_ids, token_type_ids=None):
            batch, seq = input_ids.shape
            if token_type_ids is None:
                token_type_ids = self.token_type_ids[:, :seq].expand(batch, seq)
            x = (self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
                 + self.position_embeddings(self.position_ids[:, :seq]))
            return self.dropout(self.LayerNorm(x))

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))
            self.dropout = nn.Dropout(0.1)

        def heads(self, x):
            return x.view(x.shape[0], x.shape[1], heads, hidden // heads).permute(0, 2, 1, 3)

        def forward(self, h, mask):
            q, k, v = self.heads(self.query(h)), self.heads(self.key(h)), self.heads(self.value(h))
            scores = q @ k.transpose(-1, -2) / (hidden // heads) ** 0.5 + mask
            context = (self.dropout(scores.softmax(-1)) @ v).permute(0, 2, 1, 3).contiguous()
            return context.view(context.shape[0], context.shape[1], -1)

    class AddNorm(nn.Module):  # BertSelfOutput / BertOutput
        def __init__(self, width):
            super().__init__()
            self.dense = nn.Linear(width, hidden)
            self.LayerNorm = nn.LayerNorm(hidden, eps=1e-12)
            self.dropout = nn.Dropout(0.1)

        def forward(self, h, residual):
            return self.LayerNorm(self.dropout(self.dense(h)) + residual)

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.self, self.output = SelfAttention(), AddNorm(hidden)

        def forward(self, h, mask):
            return self.output(self.self(h, mask), h)

    class Intermediate(nn.Module):
        def __init__(self):
            super().__init__()
            self.dense, self.intermediate_act_fn = nn.Linear(hidden, 2 * hidden), nn.GELU()

        def forward(self, h):
            return self.intermediate_act_fn(self.dense(h))

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention, self.intermediate, self.output = Attention(), Intermediate(), AddNorm(2 * hidden)

        def forward(self, h, mask):
            a = self.attention(h, mask)
            return self.output(self.intermediate(a), a)

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.ModuleList(Layer() for _ in range(layers_))

    class Pooler(nn.Module):
        def __init__(self):
            super().__init__()
            self.dense, self.activation = nn.Linear(hidden, hidden), nn.Tanh()

        def forward(self, h):
            return self.activation(self.dense(h[:, 0]))

    class Bert(nn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings, self.encoder, self.pooler = Embeddings(), Encoder(), Pooler()

        def encode(self, input_ids, token_type_ids, attention_mask):
            mask = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
            h = self.embeddings(input_ids, token_type_ids)
            for layer in self.encoder.layer:
                h = layer(h, mask)
            return h, self.pooler(h)

    class BertWithTokenTypes(Bert):
        def forward(self, input_ids, token_type_ids, attention_mask):
            return self.encode(input_ids, token_type_ids, attention_mask)

    class BertWithoutTokenTypes(Bert):
        def forward(self, input_ids, attention_mask):
            return self.encode(input_ids, None, attention_mask)

    model = (BertWithTokenTypes if token_type_input else BertWithoutTokenTypes)()
    with torch.no_grad():
        for p in model.parameters():  # trained-looking weights: no LayerNorm left at ones and zeros
            p.normal_(0.0, 0.2)
    return model.eval()


def bert_inputs(torch, batch: int, seq: int, *, token_type_input: bool = True) -> dict:
    """Token ids, two segments and a padded second sequence: what a tokenizer hands a BERT model."""
    g = torch.Generator().manual_seed(batch * 100 + seq)
    feeds = {"input_ids": torch.randint(1, 60, (batch, seq), generator=g)}
    if token_type_input:
        feeds["token_type_ids"] = (torch.arange(seq) >= seq // 2).long().expand(batch, seq).contiguous()
    mask = torch.ones(batch, seq, dtype=torch.long)
    mask[1:, seq - 2:] = 0
    feeds["attention_mask"] = mask
    return feeds


def _bert_parity(onnx_model, live, torch, batch: int, seq: int, token_type_input: bool) -> None:
    feeds = {k: v.numpy() for k, v in bert_inputs(torch, batch, seq, token_type_input=token_type_input).items()}
    report = check_parity(onnx_model, live, inputs=feeds)
    assert report.ok, f"batch {batch}, sequence {seq}: {report.summary()}"


@pytest.mark.parametrize("token_type_input", [True, False], ids=["token_type_ids", "buffered_token_types"])
def test_torch_bert_with_token_type_embeddings_to_tensorflow(token_type_input):
    """The embeddings' token-type table becomes a Keras Embedding whether the ids are an input or the
    model's zero buffer; the converted model answers like onnxruntime on padded, two-segment inputs."""
    torch = pytest.importorskip("torch")
    from onnxbridge.frameworks.torch.importer import import_to_onnx as torch_import

    torch.manual_seed(0)
    model = bert_model(torch, token_type_input=token_type_input)
    example = tuple(bert_inputs(torch, 2, 7, token_type_input=token_type_input).values())
    onnx_result = torch_import(model, example_inputs=example)
    _checked(onnx_result)
    tf_result = export_from_onnx(onnx_result.onnx_model)
    _checked(tf_result)
    _bert_parity(onnx_result.onnx_model, tf_result.value, torch, 3, 7, token_type_input)
    embedding = tf_result.value.keras_model.get_layer("embeddings_token_type_embeddings")
    assert isinstance(embedding, keras.layers.Embedding)


@pytest.mark.parametrize("token_type_input", [True, False], ids=["token_type_ids", "buffered_token_types"])
def test_torch_bert_with_dynamic_sequence_length_to_tensorflow(token_type_input, tmp_path):
    """Exported as BERT usually is (TorchScript, batch and sequence dynamic): the heads merged back with
    ``view(batch, seq, -1)`` still give the output Dense layer its width, at every sequence length."""
    torch = pytest.importorskip("torch")
    onnx_model = _dynamic_bert_onnx(torch, tmp_path, token_type_input)
    tf_result = export_from_onnx(onnx_model)
    _checked(tf_result)
    for batch, seq in [(2, 7), (3, 12), (1, 3)]:
        _bert_parity(onnx_model, tf_result.value, torch, batch, seq, token_type_input)


def _dynamic_bert_onnx(torch, tmp_path, token_type_input: bool = True):
    import onnx

    torch.manual_seed(0)
    model = bert_model(torch, token_type_input=token_type_input)
    example = bert_inputs(torch, 2, 7, token_type_input=token_type_input)
    path = tmp_path / "bert.onnx"
    torch.onnx.export(model, tuple(example.values()), str(path), input_names=list(example),
                      output_names=["last_hidden_state", "pooler_output"], dynamo=False,
                      dynamic_axes={name: {0: "batch", 1: "sequence"} for name in example})
    return onnx.load(str(path))


def test_converted_bert_saves_as_a_keras_file_and_loads_back(tmp_path):
    """The run-time-shape helper layers of a dynamic-length BERT are listed in ``CUSTOM_OBJECTS``: the Keras
    model saved as ``.keras`` loads back in safe mode and still answers like onnxruntime."""
    torch = pytest.importorskip("torch")
    onnx_model = _dynamic_bert_onnx(torch, tmp_path)
    _checked(export_from_onnx(onnx_model, output_dir=tmp_path / "tf"))
    spec = importlib.util.spec_from_file_location("converted_bert", tmp_path / "tf" / "model.py")
    generated = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generated)  # as a user imports the model.py written for them
    generated.load().keras_model.save(tmp_path / "bert.keras")
    reloaded = keras.saving.load_model(tmp_path / "bert.keras", safe_mode=True,
                                       custom_objects=generated.CUSTOM_OBJECTS)
    _bert_parity(onnx_model, lambda *xs: tuple(reloaded(list(xs))), torch, 3, 12, True)


@pytest.mark.slow
def test_torch_bert_static_export_without_constant_folding_to_tensorflow(tmp_path):
    """Exported for a fixed serving batch without constant folding, the buffered token types are an Expand of
    constants too large to fold at conversion time: the token-type lookup reads no model input, and is
    computed once instead of becoming a Keras Embedding left out of the model (``No such layer:
    embeddings_token_type_embeddings``)."""
    torch = pytest.importorskip("torch")
    import onnx

    torch.manual_seed(0)
    model = bert_model(torch, token_type_input=False, layers_=1)
    batch, seq = 4100, 16  # 65,600 token types: over the conversion's folding limit
    example = bert_inputs(torch, batch, seq, token_type_input=False)
    path = tmp_path / "bert.onnx"
    torch.onnx.export(model, tuple(example.values()), str(path), input_names=list(example), dynamo=False,
                      do_constant_folding=False)
    onnx_model = onnx.load(str(path))
    tf_result = export_from_onnx(onnx_model)
    _checked(tf_result)
    _bert_parity(onnx_model, tf_result.value, torch, batch, seq, False)
