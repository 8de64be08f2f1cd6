"""What the converters generate trains: parameters registered, BatchNorm and Dropout honour train mode, the
Keras model works with fit; and both frameworks are fed the same batches."""

from __future__ import annotations

import numpy as np
import pytest

from onnxbridge.spec import build
from onnxbridge.spec.data import DataSpec
from onnxbridge.training.data import load_data, model_io
from onnxbridge.training.objective import choose_objective
from onnxbridge.training.options import TrainOptions
from onnxbridge.training.run import Run
from tests.conftest import MODELS


@pytest.fixture(scope="module")
def digits():
    model = build(MODELS / "digits_cnn.yaml", seed=0)
    io = model_io(model)
    data = load_data(DataSpec(source="digits"), io, seed=0)
    return model, io, data


def _run(digits, framework="torch", batch=32):
    model, io, data = digits
    opts = TrainOptions(framework=framework, batch_size=batch, epochs=2)
    return Run(MODELS, opts, data, io, choose_objective(io, data), model, "digits_cnn")


@pytest.mark.torch
def test_generated_torch_module_trains(digits):
    import torch

    from onnxbridge.frameworks.torch.training import build_module

    model = digits[0]
    module = build_module(model, "cpu", placed=False)
    n_params = sum(p.numel() for p in module.parameters() if p.requires_grad)
    n_onnx = sum(int(np.prod(i.dims)) for i in model.graph.initializer
                 if i.name.endswith(("weight", "bias")) and i.data_type == 1)
    assert n_params == n_onnx  # every weight of the network is a trainable parameter
    assert module.training and isinstance(module.dropout, torch.nn.Dropout) and module.dropout.p == 0.25
    assert module.bn1.momentum == pytest.approx(0.1)
    x = torch.randn(16, 1, 8, 8)
    before = module.bn1.running_mean.clone()
    a, b = module(x), module(x)
    assert not torch.equal(a, b)  # dropout drops in train mode
    assert not torch.equal(before, module.bn1.running_mean)  # batch statistics update the running ones
    module.eval()
    assert torch.equal(module(x), module(x))


@pytest.mark.tensorflow
def test_generated_keras_model_fits(digits):
    from onnxbridge.frameworks.tensorflow.training import build_keras_model

    model, _, data = digits
    keras_model = build_keras_model(model)
    names = [layer.name for layer in keras_model.layers]
    assert "dropout" in names and keras_model.get_layer("bn1").momentum == pytest.approx(0.9)
    assert len(keras_model.trainable_weights) == 10
    kernel = keras_model.get_layer("fc2").kernel.numpy().copy()
    keras_model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    keras_model.fit(data.x_train[0][:64], data.y_train[:64], epochs=1, batch_size=32, verbose=0)
    assert not np.allclose(kernel, keras_model.get_layer("fc2").kernel.numpy())
    x = data.x_val[0][:8]
    assert not np.allclose(keras_model(x, training=True), keras_model(x, training=True))
    assert np.allclose(keras_model(x, training=False), keras_model(x, training=False))


@pytest.mark.torch
def test_torch_batches_are_the_epoch_batches(digits):
    from onnxbridge.frameworks.torch.training import EpochBatches

    run = _run(digits)
    batches = EpochBatches(run)
    for epoch in (0, 3):
        batches.set_epoch(epoch)
        expected = run.data.epoch_batches(epoch, 32)
        got = [y.numpy() for _, y in batches]
        assert len(got) == len(batches) == len(expected)
        assert all(np.array_equal(g, run.data.y_train[e]) for g, e in zip(got, expected))


@pytest.mark.torch
def test_each_rank_gets_its_share_of_every_global_batch(digits):
    from onnxbridge.frameworks.torch.training import EpochBatches

    run = _run(digits)
    shares = []
    for rank in range(2):
        run.rank, run.world = rank, 2
        batches = EpochBatches(run)
        batches.set_epoch(1)
        shares.append([x[0].numpy() for x, _ in batches])
    expected = run.data.epoch_batches(1, 32)
    assert len(shares[0]) == len(shares[1]) == len(expected)
    for a, b, idx in zip(shares[0], shares[1], expected):
        assert len(a) == len(b) == 16
        together = np.sort(np.concatenate([a, b]).reshape(32, -1), axis=0)
        assert np.array_equal(together, np.sort(run.data.x_train[0][idx].reshape(32, -1), axis=0))


@pytest.mark.tensorflow
def test_tf_dataset_gives_the_same_batches(digits):
    from onnxbridge.frameworks.tensorflow.training import make_datasets

    run = _run(digits, "tensorflow")
    train, val = make_datasets(run, 0)
    got = [y.numpy() for _, y in train]
    expected = [run.data.y_train[idx] for e in range(2) for idx in run.data.epoch_batches(e, 32)]
    assert len(got) == len(expected) and all(np.array_equal(g, e) for g, e in zip(got, expected))
    resumed, _ = make_datasets(run, 1)  # a resumed run starts at its epoch's batches
    assert np.array_equal(next(iter(resumed))[1].numpy(), run.data.y_train[run.data.epoch_batches(1, 32)[0]])
    assert sum(len(y) for _, y in val) == run.data.n_val
