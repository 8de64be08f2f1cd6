"""Training throughput of ``onnxbridge train`` against plain hand-written framework code, in one run.

For each framework and batch size, the same network (the module / Keras model our converter generates
from ``models/digits_cnn.yaml``) is trained on the same digits arrays:

* ``onnxbridge.train(...)`` — the samples/s it records per epoch (training time only, as in metrics.json);
* PyTorch baseline — a loop as one writes it by hand: the arrays as tensors, ``torch.randperm`` each epoch,
  slices, ``zero_grad`` / forward / ``cross_entropy`` / ``backward`` / ``step``;
* Keras baseline — ``model.compile(...)`` and ``model.fit(x, y, batch_size=B, shuffle=True)`` on numpy arrays.

The first epoch (start-up, tracing) is left out; runs alternate in rounds (ours, baseline), the median epoch
of each side is reported and the ratio is the median of the rounds' ratios. The target is ours / baseline
>= 0.90. A last row (``noise``) times the hand-written PyTorch loop against itself the same way: how far
apart this machine puts two identical sides. Usage::

    python scripts/bench_train.py [--epochs 15] [--repeat 7] [--batch 32,128] [--threads 1] [--markdown]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

from benchlib import machine  # noqa: E402

SPEC = ROOT / "models" / "digits_cnn.yaml"


def _data():
    from onnxbridge.spec import build
    from onnxbridge.spec.data import DataSpec
    from onnxbridge.training.data import load_data, model_io

    model = build(SPEC, seed=0)
    return model, load_data(DataSpec(source="digits"), model_io(model), seed=0)


def ours(framework: str, batch: int, epochs: int) -> list[float]:
    """samples/s per epoch (after the first) of onnxbridge.training."""
    import onnxbridge

    with tempfile.TemporaryDirectory() as tmp:
        result = onnxbridge.train(SPEC, framework=framework, data="digits", epochs=epochs, batch_size=batch,
                                  patience=0, output=Path(tmp) / "run", progress=False)
    return [r["samples_per_s"] for r in result.history[1:]]


def plain_torch(batch: int, epochs: int) -> list[float]:
    import torch

    from onnxbridge.frameworks.torch.training import build_module

    model, data = _data()
    torch.manual_seed(0)
    module = build_module(model, "cpu", placed=False)
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    x, y = torch.from_numpy(data.x_train[0]), torch.from_numpy(data.y_train)
    rates = []
    for _ in range(epochs):
        began = time.perf_counter()
        module.train()
        perm = torch.randperm(len(y))
        steps = len(y) // batch
        for k in range(steps):
            idx = perm[k * batch:(k + 1) * batch]
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(module(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
        rates.append(steps * batch / (time.perf_counter() - began))
    return rates[1:]


def plain_keras(batch: int, epochs: int) -> list[float]:
    import keras

    from onnxbridge.frameworks.tensorflow.training import build_keras_model

    model, data = _data()
    keras.utils.set_random_seed(0)
    net = build_keras_model(model)
    net.compile(optimizer=keras.optimizers.Adam(1e-3),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    steps = data.n_train // batch
    x, y = data.x_train[0][:steps * batch], data.y_train[:steps * batch]
    rates: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.began = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            rates.append(steps * batch / (time.perf_counter() - self.began))

    net.fit(x, y, batch_size=batch, epochs=epochs, shuffle=True, verbose=0, callbacks=[Timer()])
    return rates[1:]


def measure(framework: str, batch: int, epochs: int, repeat: int) -> dict:
    """Rounds of (ours, baseline); the ratio is the median of the rounds' ratios, so a slow stretch of a
    shared machine weighs on both sides of the round it falls in rather than on one side only."""
    baseline = plain_keras if framework == "tensorflow" else plain_torch
    mine: list[float] = []
    base: list[float] = []
    ratios: list[float] = []
    for k in range(repeat):
        mine_now = (lambda: plain_torch(batch, epochs)) if framework == "noise" else \
            (lambda: ours(framework, batch, epochs))
        if k % 2:  # alternate which side goes first, so a drift of the machine's speed favours neither
            b, a = baseline(batch, epochs), mine_now()
        else:
            a, b = mine_now(), baseline(batch, epochs)
        mine += a
        base += b
        ratios.append(statistics.median(a) / statistics.median(b))
    return {"framework": framework, "batch": batch, "ours": statistics.median(mine),
            "baseline": statistics.median(base), "ratio": statistics.median(ratios),
            "spread": (min(ratios), max(ratios))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=7,
                        help="rounds of (ours, baseline); the ratio is the median of the rounds' ratios")
    parser.add_argument("--batch", default="32,128")
    parser.add_argument("--frameworks", default="torch,tensorflow,noise",
                        help="rows to measure; 'noise' times the hand-written PyTorch loop against itself, the "
                             "spread this machine gives two identical sides")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch intra-op threads for both sides (0: torch's default); 1 steadies the figures "
                             "on a busy shared machine")
    parser.add_argument("--markdown", action="store_true", help="print the table for docs/benchmarks.md")
    args = parser.parse_args()
    if args.threads and ("torch" in args.frameworks or "noise" in args.frameworks):
        import torch

        torch.set_num_threads(args.threads)
    rows = [measure(fw, int(b), args.epochs, args.repeat)
            for fw in args.frameworks.split(",") for b in args.batch.split(",")]
    names = {"torch": ("PyTorch", "hand-written PyTorch loop"), "tensorflow": ("TensorFlow", "plain Keras fit"),
             "noise": ("noise: the hand-written loop in place of ours", "hand-written PyTorch loop")}
    if args.markdown:
        print(f"Machine: {machine()}\n")
        print("| framework | batch | onnxbridge train | baseline | baseline samples/s | ratio | rounds' ratios |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            label, baseline = names[r["framework"]]
            print(f"| {label} | {r['batch']} | {r['ours']:,.0f} samples/s | {baseline} | {r['baseline']:,.0f} "
                  f"| {r['ratio']:.2f} | {r['spread'][0]:.2f}–{r['spread'][1]:.2f} |")
        return
    print(machine())
    for r in rows:
        print(f"{r['framework']:>10} batch {r['batch']:>4}: ours {r['ours']:9,.0f} samples/s, baseline "
              f"{r['baseline']:9,.0f} samples/s, ratio {r['ratio']:.2f} (rounds {r['spread'][0]:.2f}-"
              f"{r['spread'][1]:.2f})")


if __name__ == "__main__":
    main()
