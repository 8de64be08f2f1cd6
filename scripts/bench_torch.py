#!/usr/bin/env python
"""Benchmark the PyTorch bridge: converted modules against the hand-written originals, and conversion time.

For a CNN, an MLP, an LSTM and a Transformer encoder written in PyTorch: export to ONNX (the dynamo exporter,
as ``onnxbridge convert`` does), convert back with onnxbridge, and time the generated module against the
original on the same inputs (``torch.no_grad``, eval mode; runs interleaved, median of each). Target: a
time ratio of at most 1.05. Then time the ONNX -> PyTorch conversion (code generation, weights, the live
module; no verification) of a ~25M-parameter CNN against creating an onnxruntime session for the same file.
Target: under 3 s.

    python scripts/bench_torch.py             # prints a Markdown section for docs/benchmarks.md
    python scripts/bench_torch.py --quick     # fewer repeats
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import torch  # noqa: E402
from benchlib import machine, timed  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from onnxbridge.frameworks.torch.exporter import export_from_onnx  # noqa: E402
from onnxbridge.frameworks.torch.importer import import_to_onnx  # noqa: E402


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.down is None else self.down(x)))


class CNN(nn.Module):
    """ResNet-18-like; ``width`` scales the channels (64 gives ~11M parameters, 96 ~25M)."""

    def __init__(self, width: int = 32, classes: int = 100):
        super().__init__()
        w = width
        self.stem = nn.Sequential(nn.Conv2d(3, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU())
        chans = [w, 2 * w, 4 * w, 8 * w]
        layers, cin = [], w
        for i, c in enumerate(chans):
            layers += [Block(cin, c, 1 if i == 0 else 2), Block(c, c, 1)]
            cin = c
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.layers(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.norm1 = nn.Linear(512, 1024), nn.LayerNorm(1024)
        self.fc2, self.norm2 = nn.Linear(1024, 1024), nn.LayerNorm(1024)
        self.out = nn.Linear(1024, 10)

    def forward(self, x):
        x = F.gelu(self.norm1(self.fc1(x)))
        x = F.silu(self.norm2(self.fc2(x)))
        return torch.softmax(self.out(x), dim=-1)


class LSTMNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(128, 256, num_layers=2, batch_first=True)
        self.head = nn.Linear(256, 10)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


class Transformer(nn.Module):
    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(256, 8, 1024, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 4, enable_nested_tensor=False)
        self.head = nn.Linear(256, 10)

    def forward(self, x):
        return self.head(self.encoder(x).mean(dim=1))


MODELS = {
    "CNN (ResNet-18-like, width 32, 3x64x64, batch 8)": (lambda: CNN(32), lambda: (torch.randn(8, 3, 64, 64),)),
    "MLP (512-1024-1024-10, LayerNorm, GELU, SiLU; batch 64)": (MLP, lambda: (torch.randn(64, 512),)),
    "LSTM (2 layers, 256 hidden, seq 50, batch 16)": (LSTMNet, lambda: (torch.randn(16, 50, 128),)),
    "Transformer encoder (4 layers, d 256, 8 heads, seq 64, batch 8)": (Transformer,
                                                                        lambda: (torch.randn(8, 64, 256),)),
}


def _interleaved(a, b, rounds: int, repeat: int) -> tuple[float, float, float]:
    """Median seconds of ``a()`` and ``b()`` and the median of their per-round ratio ``b / a``.

    Rounds alternate between the two (a, b, b, a, ...) so both see the same load on a shared machine.
    """
    for _ in range(3):  # warm up allocators and thread pools for both
        a()
        b()
    ta, tb = [], []
    for i in range(rounds):
        first, second = (a, b) if i % 2 == 0 else (b, a)
        t1, t2 = timed(first, repeat=repeat, warmup=0), timed(second, repeat=repeat, warmup=0)
        ta.append(t1 if i % 2 == 0 else t2)
        tb.append(t2 if i % 2 == 0 else t1)
    return statistics.median(ta), statistics.median(tb), statistics.median(y / x for x, y in zip(ta, tb))


def bench_runtime(rounds: int, repeat: int) -> list[tuple[str, float, float, float, str]]:
    rows = []
    for label, (build, inputs) in MODELS.items():
        torch.manual_seed(0)
        original = build().eval()
        args = inputs()
        imported = import_to_onnx(original, example_inputs=args)
        converted = export_from_onnx(imported.onnx_model, verify=False).value
        with torch.no_grad():
            diff = max(float((a - b).abs().max()) for a, b in zip(_tuple(original(*args)), _tuple(converted(*args))))

            def run_original(original=original, args=args):
                return original(*args)

            def run_converted(converted=converted, args=args):
                return converted(*args)

            t_orig, t_conv, ratio = _interleaved(run_original, run_converted, rounds, repeat)
        exporter = "dynamo" if any("dynamo exporter (" in n for n in imported.notes) else "TorchScript"
        rows.append((label, t_orig, t_conv, ratio, f"{exporter} export; max abs diff {diff:.1e}"))
        if isinstance(original, Transformer):
            # the converted module is made of nn.TransformerEncoderLayer too, so both get the fused inference
            # kernel; with it off (a global switch) both run their plain ops
            torch.backends.mha.set_fastpath_enabled(False)
            try:
                with torch.no_grad():
                    t_plain, t_conv2, ratio2 = _interleaved(run_original, run_converted, rounds, repeat)
            finally:
                torch.backends.mha.set_fastpath_enabled(True)
            rows.append((f"{label}, both without the fused fast path", t_plain, t_conv2, ratio2,
                         "torch.backends.mha.set_fastpath_enabled(False)"))
        print(f"  {label}: original {t_orig * 1e3:.2f} ms, converted {t_conv * 1e3:.2f} ms "
              f"(ratio {ratio:.3f})", file=sys.stderr)
    return rows


def _tuple(x):
    return x if isinstance(x, tuple) else (x,)


def bench_conversion(repeat: int) -> tuple[int, float, float]:
    import io

    import onnx
    import onnxruntime as ort

    torch.manual_seed(0)
    model = CNN(96).eval()
    params = sum(p.numel() for p in model.parameters())
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(1, 3, 64, 64),), buffer, dynamo=False, input_names=["image"],
                          dynamic_axes={"image": {0: "batch"}})
    data = buffer.getvalue()
    proto = onnx.load_from_string(data)
    t_convert = timed(lambda: export_from_onnx(proto, verify=False), repeat=repeat, warmup=1)
    opts = ort.SessionOptions()
    t_session = timed(lambda: ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"]), repeat=repeat,
                      warmup=1)
    return params, t_convert, t_session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (noisier)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: steadier figures on a shared machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rounds, repeat = (4, 5) if args.quick else (12, 10)
    print("running ...", file=sys.stderr)
    start = time.perf_counter()
    rows = bench_runtime(rounds, repeat)
    params, t_convert, t_session = bench_conversion(3 if args.quick else 5)
    print(f"done in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    print(f"Machine: {machine()}; torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print("| model | original | converted | converted / original | notes |")
    print("|---|---:|---:|---:|---|")
    for label, t_orig, t_conv, ratio, note in rows:
        print(f"| {label} | {t_orig * 1e3:.2f} ms | {t_conv * 1e3:.2f} ms | {ratio:.3f} | {note} |")
    print()
    print("| conversion | time | baseline: onnxruntime session | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| ONNX -> PyTorch, CNN of {params / 1e6:.1f}M parameters (generate, load weights, live module) "
          f"| {t_convert:.2f} s | {t_session:.2f} s | {t_convert / t_session:.2f} |")


if __name__ == "__main__":
    main()
