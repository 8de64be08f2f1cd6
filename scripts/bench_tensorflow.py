#!/usr/bin/env python
"""Benchmark the TensorFlow bridge: converted models against the native Keras originals, with onnxruntime.

For a CNN, an MLP and an LSTM written in Keras: convert to ONNX (tf2onnx, as ``onnxbridge convert`` does),
convert back with onnxbridge's own ONNX -> TensorFlow converter, and time the converted ``tf.Module``
against the original Keras model on the same inputs. Both run as ``tf.function`` graphs (the original is
wrapped in one with the same input signature), interleaved, median of each. onnxruntime runs the same ONNX
model in the same process. Target: converted / native at most 1.10.

    python scripts/bench_tensorflow.py             # prints a Markdown section for docs/benchmarks.md
    python scripts/bench_tensorflow.py --quick     # fewer repeats
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (noisier)")
    parser.add_argument("--threads", type=int, default=1,
                        help="intra-op threads for TensorFlow and onnxruntime (default 1: steadier figures)")
    return parser.parse_args()


ARGS = parse_args() if __name__ == "__main__" else None

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

if ARGS is not None:  # must happen before TensorFlow creates its thread pools
    tf.config.threading.set_intra_op_parallelism_threads(ARGS.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)

import keras  # noqa: E402
from benchlib import machine, timed  # noqa: E402

from onnxbridge.frameworks.tensorflow.exporter import export_from_onnx  # noqa: E402
from onnxbridge.frameworks.tensorflow.importer import import_to_onnx  # noqa: E402

layers = keras.layers


def cnn() -> keras.Model:
    """ResNet-style: 3 stages of two residual blocks (conv-BN-ReLU), global pooling, classifier."""
    image = keras.Input((64, 64, 3), name="image")
    x = layers.Conv2D(32, 3, padding="same", use_bias=False)(image)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    for width, stride in ((32, 1), (64, 2), (128, 2)):
        for k in range(2):
            s = stride if k == 0 else 1
            y = layers.Conv2D(width, 3, strides=s, padding="same", use_bias=False)(x)
            y = layers.ReLU()(layers.BatchNormalization()(y))
            y = layers.BatchNormalization()(layers.Conv2D(width, 3, padding="same", use_bias=False)(y))
            if s != 1 or x.shape[-1] != width:
                x = layers.BatchNormalization()(layers.Conv2D(width, 1, strides=s, use_bias=False)(x))
            x = layers.ReLU()(layers.Add()([x, y]))
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(image, layers.Dense(100)(x), name="cnn")


def mlp() -> keras.Model:
    x = keras.Input((512,), name="features")
    h = layers.LayerNormalization()(layers.Dense(1024, activation="relu")(x))
    h = layers.LayerNormalization()(layers.Dense(1024, activation="relu")(h))
    return keras.Model(x, layers.Dense(10, activation="softmax")(h), name="mlp")


def lstm() -> keras.Model:
    x = keras.Input((50, 128), name="sequence")
    h = layers.LSTM(256, return_sequences=True)(x)
    h = layers.LSTM(256)(h)
    return keras.Model(x, layers.Dense(10)(h), name="lstm")


MODELS = {
    "CNN (ResNet-style, 6 residual blocks, 3x64x64 NHWC, batch 8)": (cnn, (8, 64, 64, 3)),
    "MLP (512-1024-1024-10, LayerNorm, ReLU; batch 64)": (mlp, (64, 512)),
    "LSTM (2 layers, 256 hidden, seq 50, batch 16)": (lstm, (16, 50, 128)),
}


def _interleaved(fns: list, rounds: int, repeat: int) -> tuple[list[float], list[float]]:
    """Median seconds of each function, and the median per-round ratio of each to the first.

    Rounds rotate the order so all see the same load on a shared machine.
    """
    for _ in range(3):
        for fn in fns:
            fn()
    times: list[list[float]] = [[] for _ in fns]
    for r in range(rounds):
        order = list(range(len(fns)))
        order = order[r % len(order):] + order[: r % len(order)]
        for k in order:
            times[k].append(timed(fns[k], repeat=repeat, warmup=0))
    ratios = [statistics.median(t / b for t, b in zip(times[k], times[0])) for k in range(len(fns))]
    return [statistics.median(t) for t in times], ratios


def bench(rounds: int, repeat: int, threads: int) -> list[tuple]:
    import onnxruntime as ort

    rows = []
    for label, (build, shape) in MODELS.items():
        keras.utils.set_random_seed(0)
        model = build()
        x = np.random.default_rng(0).standard_normal(shape).astype("float32")
        imported = import_to_onnx(model, verify=False)
        converted = export_from_onnx(imported.onnx_model, verify=False)
        live = converted.value
        native = tf.function(lambda t, model=model: model(t, training=False),
                             input_signature=[tf.TensorSpec((None, *shape[1:]), tf.float32)])
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        session = ort.InferenceSession(imported.onnx_model.SerializeToString(), opts,
                                       providers=["CPUExecutionProvider"])
        feed = {session.get_inputs()[0].name: x}
        tx = tf.constant(x)
        diff = float(np.abs(native(tx).numpy() - live(tx).numpy()).max())
        runs = [lambda f=native, t=tx: f(t).numpy(), lambda f=live, t=tx: f(t).numpy(),
                lambda s=session, f=feed: s.run(None, f)]
        (t_native, t_conv, t_ort), (_, r_conv, r_ort) = _interleaved(runs, rounds, repeat)
        transposes = converted.notes[0].split("; ")[1].split(" ")[0]
        rows.append((label, t_native, t_conv, r_conv, t_ort, r_ort, diff, transposes))
        print(f"  {label}: native {t_native * 1e3:.2f} ms, converted {t_conv * 1e3:.2f} ms "
              f"(ratio {r_conv:.3f}), onnxruntime {t_ort * 1e3:.2f} ms", file=sys.stderr)
    return rows


def main() -> None:
    args = ARGS
    rounds, repeat = (4, 5) if args.quick else (12, 10)
    print("running ...", file=sys.stderr)
    start = time.perf_counter()
    rows = bench(rounds, repeat, args.threads)
    print(f"done in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    print(f"Machine: {machine()}; TensorFlow {tf.__version__}, Keras {keras.__version__}, "
          f"{args.threads} intra-op thread(s); {rounds} rotating rounds of {repeat} runs; times are medians, "
          "ratios the median of the per-round ratios.\n")
    print("| model | native Keras | converted (onnxbridge) | converted / native | onnxruntime | "
          "onnxruntime / native | max abs diff | transposes left |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, t_native, t_conv, r_conv, t_ort, r_ort, diff, transposes in rows:
        print(f"| {label} | {t_native * 1e3:.2f} ms | {t_conv * 1e3:.2f} ms | {r_conv:.3f} | "
              f"{t_ort * 1e3:.2f} ms | {r_ort:.3f} | {diff:.1e} | {transposes} |")


if __name__ == "__main__":
    main()
