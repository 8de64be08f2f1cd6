"""Subgraph patterns: a Transformer encoder layer exported by either exporter comes back as one
``nn.TransformerEncoderLayer`` (and PyTorch's fused inference kernel), exactly when the subgraph is one."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from onnxbridge.frameworks.torch.codegen import generate  # noqa: E402
from onnxbridge.frameworks.torch.exporter import export_from_onnx  # noqa: E402
from onnxbridge.frameworks.torch.importer import import_to_onnx  # noqa: E402
from onnxbridge.testing import check_parity  # noqa: E402
from tests.frameworks.torch.zoo import ZOO  # noqa: E402

pytestmark = pytest.mark.torch

EXPECTED = {
    "transformer": ["self.encoder_layers_0 = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)",
                    "self.encoder_layers_1 = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)",
                    "x = self.encoder_layers_0(x)"],
    "transformer-prenorm": ["self.encoder_layers_0 = nn.TransformerEncoderLayer(32, 2, 48, dropout=0.0, "
                            "activation='gelu', layer_norm_eps=1e-06, batch_first=True, norm_first=True)",
                            "self.encoder_layers_1 = nn.TransformerEncoderLayer(32, 2, 48, dropout=0.0, "
                            "activation='gelu', layer_norm_eps=1e-06, batch_first=True, norm_first=True)"],
}


def _import(model: nn.Module, args, exporter: str):
    torch.manual_seed(0)
    for p in model.parameters():  # distinct weights per layer, so a swapped layer cannot pass
        p.data.normal_(0.0, 0.2) if p.dim() > 1 else p.data.uniform_(-0.5, 0.5)
    return import_to_onnx(model.eval(), example_inputs=args, exporter=exporter).onnx_model


@pytest.mark.slow
@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_encoder_layers_become_transformer_encoder_layer(name, exporter):
    entry = ZOO[name]
    proto = _import(entry.build(), entry.inputs(2), exporter)
    source = generate(proto).source
    for line in EXPECTED[name]:
        assert line in source, source
    assert "scaled_dot_product_attention" not in source and "nn.LayerNorm(32, eps" not in source.split("head")[0]
    result = export_from_onnx(proto)  # checked against onnxruntime, live and as model.py
    for hop, rep in result.checks:
        assert rep.ok, f"{hop}: {rep.summary()}"
    layers = [m for m in result.value.modules() if isinstance(m, nn.TransformerEncoderLayer)]
    assert len(layers) == 2
    assert check_parity(proto, result.value, batch=3, seed=1).ok


class MaskedEncoder(nn.Module):
    """A causal mask inside the layer: nn.TransformerEncoderLayer without arguments would be wrong."""

    def __init__(self):
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)

    def forward(self, x):
        mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1])
        return self.layer(x, src_mask=mask, is_causal=True)


class TanhGeluEncoder(nn.Module):
    """A layer whose feed-forward uses tanh-approximated GELU, which the fused layer does not compute."""

    def __init__(self):
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True,
                                                activation=lambda t: nn.functional.gelu(t, approximate="tanh"))

    def forward(self, x):
        return self.layer(x)


@pytest.mark.slow
@pytest.mark.parametrize("build", [MaskedEncoder, TanhGeluEncoder], ids=["causal-mask", "tanh-gelu"])
def test_near_miss_layers_stay_op_by_op(build):
    proto = _import(build(), (torch.randn(2, 6, 16),), "dynamo")
    source = generate(proto).source
    assert "TransformerEncoderLayer" not in source
    result = export_from_onnx(proto)
    for hop, rep in result.checks:
        assert rep.ok, f"{hop}: {rep.summary()}"
