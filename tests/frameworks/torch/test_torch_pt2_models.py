"""Transformer-style models saved as ``.pt2`` (torch.export) and converted to ONNX: Swin's window partition
(views of permuted windows) and T5's attention with relative position buckets."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

import onnxbridge  # noqa: E402
from onnxbridge.testing import check_parity  # noqa: E402

pytestmark = pytest.mark.torch
nn = torch.nn


class WindowAttention(nn.Module):
    """Swin-style: split the feature map into windows (view, permute, view), attend inside each window."""

    def __init__(self, dim: int = 8, window: int = 2, heads: int = 2):
        super().__init__()
        self.window, self.heads = window, heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):  # (batch, height, width, dim)
        b, h, w, c = x.shape
        s = self.window
        windows = x.view(b, h // s, s, w // s, s, c).permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, s * s, c)
        qkv = self.qkv(self.norm(windows)).view(-1, s * s, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        y = nn.functional.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        y = self.proj(y.transpose(1, 2).contiguous().view(-1, s * s, c))
        y = y.view(b, h // s, w // s, s, s, c).permute(0, 1, 3, 2, 4, 5).contiguous().view(b, h, w, c)
        return x + y


class RelativeBiasEncoder(nn.Module):
    """T5-style: attention scores biased by a learned table indexed by bucketed relative positions."""

    def __init__(self, dim: int = 8, heads: int = 2, buckets: int = 8, max_distance: int = 16):
        super().__init__()
        self.heads, self.buckets, self.max_distance = heads, buckets, max_distance
        self.q, self.k, self.v = (nn.Linear(dim, dim, bias=False) for _ in range(3))
        self.bias = nn.Embedding(buckets, heads)
        self.out = nn.Linear(dim, dim, bias=False)

    def _bucket(self, relative):
        half = self.buckets // 2
        bucket = (relative > 0).long() * half
        distance = relative.abs()
        exact = half // 2
        large = exact + (torch.log(distance.float() / exact + 1e-6) / math.log(self.max_distance / exact)
                         * (half - exact)).long()
        large = torch.minimum(large, torch.full_like(large, half - 1))
        return bucket + torch.where(distance < exact, distance, large)

    def forward(self, x):  # (batch, seq, dim)
        b, n, c = x.shape
        q, k, v = (proj(x).view(b, -1, self.heads, c // self.heads).transpose(1, 2) for proj in (self.q, self.k, self.v))
        positions = torch.arange(n, device=x.device)
        bias = self.bias(self._bucket(positions[None, :] - positions[:, None])).permute(2, 0, 1)
        scores = torch.matmul(q, k.transpose(2, 3)) + bias
        probs = nn.functional.dropout(scores.softmax(-1), p=0.1, training=self.training)
        # as T5 writes it
        y = torch.matmul(probs, v).transpose(1, 2).contiguous()
        return x + self.out(y.reshape(b, n, -1).contiguous())


@pytest.mark.parametrize(("model", "example"), [
    (WindowAttention, (2, 4, 4, 8)),
    (RelativeBiasEncoder, (2, 6, 8)),
], ids=["swin-window", "t5-relative-bias"])
def test_pt2_transformer_files_convert_to_onnx(model, example, tmp_path):
    torch.manual_seed(0)
    net = model().eval()
    x = torch.randn(*example)
    path = tmp_path / "model.pt2"
    torch.export.save(torch.export.export(net, (x,)), str(path))
    onnx_model = onnxbridge.convert(str(path), "onnx")
    assert check_parity(onnx_model, net).ok
