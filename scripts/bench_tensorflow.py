#!/usr/bin/env python
"""Benchmark the TensorFlow bridge: converted models against the native Keras originals, with onnxruntime.

For Keras models (a ResNet-style CNN, an MLP, an LSTM, a MultiHeadAttention transformer encoder, an LSTM
text model and ``keras.applications`` ResNet50, EfficientNetV2B0 and MobileNetV3Small with random weights):
convert to ONNX (tf2onnx, as ``onnxbridge convert`` does),
convert back with onnxbridge's own ONNX -> TensorFlow converter, and time the converted ``tf.Module``
against the original Keras model on the same inputs. Both run as ``tf.function`` graphs (the original is
wrapped in one with the same input signature), interleaved, median of each. onnxruntime runs the same ONNX
model in the same process. Target: converted / native at most 1.10 for each model, geometric mean at
most 1.0.

    python scripts/bench_tensorflow.py             # prints a Markdown section for docs/benchmarks.md
    python scripts/bench_tensorflow.py --quick     # fewer repeats
    python scripts/bench_tensorflow.py --quick --only transformer resnet50
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


KEYS = ("cnn", "mlp", "lstm", "transformer", "text_lstm", "resnet50", "efficientnetv2b0", "mobilenetv3small")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (noisier)")
    parser.add_argument("--threads", type=int, default=1,
                        help="intra-op threads for TensorFlow and onnxruntime (default 1: steadier figures)")
    parser.add_argument("--only", nargs="+", metavar="KEY",
                        help="benchmark only these models (keys: " + ", ".join(KEYS) + ")")
    return parser.parse_args()


ARGS = parse_args() if __name__ == "__main__" else None

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

if ARGS is not None:  # must happen before TensorFlow creates its thread pools
    tf.config.threading.set_intra_op_parallelism_threads(ARGS.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)

import keras  # noqa: E402
from benchlib import machine, timed  # noqa: E402
from keras import ops  # noqa: E402

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


def transformer() -> keras.Model:
    """A small encoder: token + position embeddings, 2 blocks of self-attention (MultiHeadAttention, 4 heads),
    residual + LayerNorm, a ReLU feed-forward, residual + LayerNorm; mean over the sequence, classifier."""
    tokens = keras.Input((64,), dtype="int32", name="tokens")
    x = layers.Embedding(2000, 128)(tokens)
    x = x + layers.Embedding(64, 128)(ops.arange(64))
    for _ in range(2):
        a = layers.MultiHeadAttention(num_heads=4, key_dim=32)(x, x)
        x = layers.LayerNormalization()(x + a)
        f = layers.Dense(128)(layers.Dense(256, activation="relu")(x))
        x = layers.LayerNormalization()(x + f)
    x = layers.GlobalAveragePooling1D()(x)
    return keras.Model(tokens, layers.Dense(4)(x), name="transformer")


def text_lstm() -> keras.Model:
    """Token ids -> Embedding -> LSTM (last step) -> Dense."""
    tokens = keras.Input((80,), dtype="int32", name="tokens")
    h = layers.LSTM(128)(layers.Embedding(5000, 64)(tokens))
    return keras.Model(tokens, layers.Dense(2)(h), name="text_lstm")


def _application(name: str, size: int):
    def build() -> keras.Model:
        return getattr(keras.applications, name)(weights=None, input_shape=(size, size, 3))
    return build


def _randomised(model: keras.Model) -> keras.Model:
    """Random non-zero biases and BatchNorm statistics: freshly built layers hold zeros and ones, which a
    converter could treat specially; trained models do not."""
    rng = np.random.default_rng(1)
    for v in model.weights:
        name = v.path.rsplit("/", 1)[-1]
        if name in ("bias", "beta", "moving_mean"):
            v.assign(rng.normal(0, 0.05, v.shape).astype(v.dtype))
        elif name in ("gamma", "moving_variance"):
            v.assign(rng.uniform(0.8, 1.2, v.shape).astype(v.dtype))
    return model


# key: (label, builder, input shape, input kind)
MODELS = {
    "cnn": ("CNN (ResNet-style, 6 residual blocks, 3x64x64 NHWC, batch 8)", cnn, (8, 64, 64, 3), "float"),
    "mlp": ("MLP (512-1024-1024-10, LayerNorm, ReLU; batch 64)", mlp, (64, 512), "float"),
    "lstm": ("LSTM (2 layers, 256 hidden, seq 50, batch 16)", lstm, (16, 50, 128), "float"),
    "transformer": ("Transformer encoder (2 x MultiHeadAttention 4 heads + LayerNorm + FFN, d 128, seq 64, batch 4)",
                    transformer, (4, 64), 2000),
    "text_lstm": ("LSTM text model (Embedding 64 + LSTM 128 + Dense, seq 80, batch 8)", text_lstm, (8, 80), 5000),
    "resnet50": ("ResNet50 (keras.applications, random weights, 3x96x96, batch 2)",
                 _application("ResNet50", 96), (2, 96, 96, 3), "float"),
    "efficientnetv2b0": ("EfficientNetV2B0 (keras.applications, random weights, 3x112x112, batch 2)",
                         _application("EfficientNetV2B0", 112), (2, 112, 112, 3), "float"),
    "mobilenetv3small": ("MobileNetV3Small (keras.applications, random weights, 3x128x128, batch 2)",
                         _application("MobileNetV3Small", 128), (2, 128, 128, 3), "float"),
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


def bench(keys: list[str], rounds: int, repeat: int, threads: int) -> list[tuple]:
    import onnxruntime as ort

    from onnxbridge.testing import check_parity

    rows = []
    for key in keys:
        label, build, shape, kind = MODELS[key]
        keras.utils.set_random_seed(0)
        model = _randomised(build())
        rng = np.random.default_rng(0)
        if kind == "float":
            x = rng.standard_normal(shape).astype("float32")
        else:  # token ids below the vocabulary size
            x = rng.integers(0, kind, shape).astype("int32")
        imported = import_to_onnx(model, verify=False)
        converted = export_from_onnx(imported.onnx_model, verify=False)
        live = converted.value
        parity = check_parity(imported.onnx_model, live, inputs={imported.onnx_model.graph.input[0].name: x})
        if not parity.ok:
            raise SystemExit(f"{label}: the converted model does not match onnxruntime: {parity.summary()}")
        native = tf.function(lambda t, model=model: model(t, training=False),
                             input_signature=[tf.TensorSpec((None, *shape[1:]), tf.as_dtype(x.dtype))])
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
    keys = list(args.only or KEYS)
    unknown = sorted(set(keys) - set(KEYS))
    if unknown:
        raise SystemExit(f"unknown model key(s): {', '.join(unknown)}; known: {', '.join(KEYS)}")
    rows = bench(keys, rounds, repeat, args.threads)
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
    conv = [r[3] for r in rows]
    geomean = float(np.exp(np.mean(np.log(conv))))
    worst = max(rows, key=lambda r: r[3])
    print(f"\nGeometric mean of converted / native over {len(rows)} model(s): {geomean:.3f}; worst: {worst[3]:.3f} "
          f"({worst[0].split(' (')[0]}). Target: geometric mean at most 1.0, none above 1.10.")


if __name__ == "__main__":
    main()
