"""Real exporters: what check finds in models written by torch.onnx and tf2onnx, and that repair keeps them exact."""

from __future__ import annotations

import pytest

from onnxbridge.checks import check, repair


@pytest.mark.torch
def test_torchscript_export_noise_is_found_and_fixed(tmp_path):
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
            self.bn = torch.nn.BatchNorm2d(4)
            self.drop = torch.nn.Dropout(0.2)
            self.fc = torch.nn.Linear(64, 10)

        def forward(self, x):
            x = torch.relu(self.bn(self.conv(x)))
            return self.fc(self.drop(torch.flatten(x, 1)))

    torch.manual_seed(0)
    net = Net().eval()
    with torch.no_grad():  # non-trivial running statistics, so folding BatchNorm really changes the weights
        net.bn.running_mean.uniform_(-1, 1)
        net.bn.running_var.uniform_(0.5, 2)
    path = tmp_path / "net.onnx"
    torch.onnx.export(net, (torch.randn(1, 1, 4, 4),), str(path), dynamo=False, input_names=["x"],
                      output_names=["y"], do_constant_folding=False)
    report = check(path, targets=["cpu"])
    assert {"OB202", "OB407"} <= set(report.codes()), [d.message for d in report]
    assert report.ok  # nothing here is an error
    fixed, after = repair(path)
    assert after.codes() == [], [d.message for d in after]
    applied = {f.id for f in after.repair.applied}
    assert {"fuse-batchnorm", "symbolic-batch"} <= applied
    assert after.repair.parity.ok, after.repair.parity_note
    assert not any(n.op_type == "BatchNormalization" for n in fixed.graph.node)
    # the symbolic batch really works: a batch of 3 through the repaired model matches torch
    import numpy as np

    from onnxbridge.testing import run_onnxruntime

    x = np.random.default_rng(1).standard_normal((3, 1, 4, 4)).astype(np.float32)
    (y,) = run_onnxruntime(fixed, {"x": x})
    with torch.no_grad():
        np.testing.assert_allclose(y, net(torch.from_numpy(x)).numpy(), atol=1e-5, rtol=1e-4)


@pytest.mark.tensorflow
def test_tf2onnx_export_is_clean():
    import tensorflow as tf
    import tf2onnx

    inp = tf.keras.Input((8, 8, 1))
    x = tf.keras.layers.Conv2D(4, 3, padding="same")(inp)
    x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.ReLU()(x)
    x = tf.keras.layers.Dropout(0.3)(x)
    out = tf.keras.layers.Dense(10)(tf.keras.layers.Flatten()(x))
    model = tf.keras.Model(inp, out)
    fn = tf.function(lambda t: model(t, training=False))
    proto, _ = tf2onnx.convert.from_function(fn, input_signature=(tf.TensorSpec((None, 8, 8, 1), tf.float32),),
                                             opset=17)
    report = check(proto, targets=["cpu"])
    assert report.codes() == [], [d.message for d in report]
