#!/usr/bin/env python
"""Write the demo's framework sources: a small PyTorch CNN as ``.pt2`` and a small Keras CNN as ``.keras``.

    python scripts/demo_sources.py out      # writes out/small_cnn.pt2 and out/small_cnn.keras
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def write_pt2(path: Path) -> None:
    import torch
    from torch import nn

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(32, 10)).eval()
    batch = torch.export.Dim("batch", min=1, max=1024)
    program = torch.export.export(net, (torch.randn(2, 3, 32, 32),), dynamic_shapes=({0: batch},))
    torch.export.save(program, str(path))


def write_keras(path: Path) -> None:
    from onnxbridge.frameworks.tensorflow.lazy import import_tensorflow

    import_tensorflow()  # quietly: TensorFlow prints start-up chatter on stderr otherwise
    import keras

    keras.utils.set_random_seed(0)
    image = keras.Input((32, 32, 3), name="image")
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(image)
    x = keras.layers.DepthwiseConv2D(3, padding="same", name="depthwise")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.Conv2D(32, 1, activation="relu", name="pointwise")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    keras.Model(image, keras.layers.Dense(10, name="logits")(x), name="small_cnn").save(path)


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "out")
    out.mkdir(parents=True, exist_ok=True)
    write_pt2(out / "small_cnn.pt2")
    write_keras(out / "small_cnn.keras")
    print(f"wrote {out / 'small_cnn.pt2'} (PyTorch) and {out / 'small_cnn.keras'} (Keras)")


if __name__ == "__main__":
    main()
