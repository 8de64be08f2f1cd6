"""Small real architectures written in PyTorch, for the round-trip tests (built here, nothing downloaded)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:  # projection shortcut
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class ResNetMini(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.layer1 = BasicBlock(16, 16)
        self.layer2 = BasicBlock(16, 32, stride=2)
        self.layer3 = BasicBlock(32, 64, stride=2)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


class DepthwiseNet(nn.Module):
    """MobileNet-style depthwise separable convolutions with ReLU6."""

    def __init__(self):
        super().__init__()
        layers = [nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6()]
        for cin, cout, stride in ((16, 24, 1), (24, 32, 2)):
            layers += [nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin), nn.ReLU6(),
                       nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU6()]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(32, 5)

    def forward(self, x):
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(20, 64)
        self.norm = nn.LayerNorm(64)
        self.fc2 = nn.Linear(64, 32)
        self.fc3 = nn.Linear(32, 6)

    def forward(self, x):
        x = F.gelu(self.norm(self.fc1(x)))
        x = F.silu(self.fc2(x))
        return torch.softmax(self.fc3(x), dim=-1)


class LSTMNet(nn.Module):
    """One-layer LSTM over [seq, batch, features], classifying from the last step."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(8, 16)
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[-1])


class BiLSTMStates(nn.Module):
    """Two-layer bidirectional LSTM, batch first, with initial states; returns every output."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(8, 12, num_layers=2, batch_first=True, bidirectional=True)

    def forward(self, x, h0, c0):
        out, (h, c) = self.rnn(x, (h0, c0))
        return out, h, c


class GRUNet(nn.Module):
    """Two-layer bidirectional GRU, sequence first, with an initial state."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(8, 10, num_layers=2, bidirectional=True)

    def forward(self, x, h0):
        out, h = self.rnn(x, h0)
        return out, h


class GRUBatchFirst(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(8, 16, batch_first=True)
        self.head = nn.Linear(16, 4)

    def forward(self, x):
        out, h = self.rnn(x)
        return self.head(out[:, -1]), h


class EmbedLSTM(nn.Module):
    """Token ids -> embedding -> LSTM -> classifier."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        self.rnn = nn.LSTM(16, 24, batch_first=True)
        self.head = nn.Linear(24, 2)

    def forward(self, tokens):
        out, (h, _) = self.rnn(self.embed(tokens))
        return self.head(h[-1])


class TextCNN(nn.Module):
    """Embedding -> Conv1d -> max over time -> Linear."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(40, 12)
        self.conv = nn.Conv1d(12, 20, 3, padding=1)
        self.head = nn.Linear(20, 4)

    def forward(self, tokens):
        x = self.embed(tokens).transpose(1, 2)
        x = F.relu(self.conv(x))
        return self.head(x.amax(dim=2))


class AutoEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(1, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 16, 3, 2, 1), nn.ReLU())
        self.decoder = nn.Sequential(nn.ConvTranspose2d(16, 8, 3, 2, 1, output_padding=1), nn.ReLU(),
                                     nn.ConvTranspose2d(8, 1, 4, 2, 1), nn.Sigmoid())

    def forward(self, x):
        return self.decoder(self.encoder(x))


class TransformerNet(nn.Module):
    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(32, 3)

    def forward(self, x):
        return self.head(self.encoder(x).mean(dim=1))


class PreNormTransformerNet(nn.Module):
    """Pre-norm encoder layers with GELU and a non-default LayerNorm epsilon, and a final norm."""

    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(32, 2, 48, dropout=0.0, activation="gelu", layer_norm_eps=1e-6,
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(32), enable_nested_tensor=False)
        self.head = nn.Linear(32, 3)

    def forward(self, x):
        return self.head(self.encoder(x)[:, 0])


@dataclass(frozen=True)
class ZooModel:
    """A model factory and its example inputs (dim 0 of each input is the batch unless noted)."""

    build: Callable[[], nn.Module]
    inputs: Callable[[int], tuple[torch.Tensor, ...]]
    xfail: dict = None  # type: ignore[assignment]  # exporter -> reason


def _randn(*shape: int) -> torch.Tensor:
    return torch.randn(*shape)


ZOO: dict[str, ZooModel] = {
    "resnet": ZooModel(ResNetMini, lambda b: (_randn(b, 3, 32, 32),)),
    "depthwise": ZooModel(DepthwiseNet, lambda b: (_randn(b, 3, 32, 32),)),
    "mlp": ZooModel(MLP, lambda b: (_randn(b, 20),)),
    "lstm": ZooModel(LSTMNet, lambda b: (_randn(7, b, 8),)),
    "bilstm-states": ZooModel(BiLSTMStates, lambda b: (_randn(b, 6, 8), _randn(4, b, 12), _randn(4, b, 12))),
    "gru-bidirectional": ZooModel(GRUNet, lambda b: (_randn(6, b, 8), _randn(4, b, 10))),
    "gru-batch-first": ZooModel(GRUBatchFirst, lambda b: (_randn(b, 6, 8),)),
    "embedding-lstm": ZooModel(EmbedLSTM, lambda b: (torch.randint(0, 50, (b, 9)),)),
    "text-cnn": ZooModel(TextCNN, lambda b: (torch.randint(0, 40, (b, 15)),)),
    "autoencoder": ZooModel(AutoEncoder, lambda b: (_randn(b, 1, 16, 16),)),
    "transformer": ZooModel(TransformerNet, lambda b: (_randn(b, 10, 32),)),
    "transformer-prenorm": ZooModel(PreNormTransformerNet, lambda b: (_randn(b, 7, 32),)),
}
