"""The data section resolved into arrays: sources, matching to inputs, checks, split, scaling, batches."""

from __future__ import annotations

import numpy as np
import pytest

from onnxbridge.spec import build
from onnxbridge.spec.data import DataSpec
from onnxbridge.training.data import load_data, model_io
from onnxbridge.training.sources import DataError
from tests.conftest import MODELS


@pytest.fixture(scope="module")
def digits_io():
    return model_io(build(MODELS / "digits_cnn.yaml"))


def _mlp_io(features: int, classes: int):
    spec = {"name": "mlp", "inputs": [{"name": "x", "shape": ["batch", features]}],
            "layers": [{"id": "fc", "type": "Linear", "out_features": classes}]}
    return model_io(build(spec))


def test_digits_reshaped_split_and_scaled(digits_io):
    data = load_data(DataSpec(source="digits"), digits_io, seed=0)
    assert data.task == "classification" and data.num_classes == 10
    assert data.x_train[0].shape[1:] == (1, 8, 8) and data.x_train[0].dtype == np.float32
    assert data.n_train + data.n_val == 1797 and abs(data.n_val - 0.2 * 1797) < 10
    # stratified: every class in the validation split in about the same share
    counts = np.bincount(data.y_val, minlength=10)
    assert counts.min() >= 30
    # standardised with the training split's statistics
    flat = data.x_train[0].reshape(data.n_train, -1)
    varying = flat.std(0) > 0
    assert np.allclose(flat.mean(0), 0, atol=1e-4) and np.allclose(flat.std(0)[varying], 1, atol=1e-3)
    assert data.preprocessing["image"]["kind"] == "standard"


def test_split_and_batches_are_seeded(digits_io):
    a = load_data(DataSpec(source="digits"), digits_io, seed=3)
    b = load_data(DataSpec(source="digits"), digits_io, seed=3)
    c = load_data(DataSpec(source="digits"), digits_io, seed=4)
    assert np.array_equal(a.y_val, b.y_val) and not np.array_equal(a.x_val[0], c.x_val[0])
    batches = a.epoch_batches(0, 32)
    assert len(batches) == a.n_train // 32 and all(len(x) == 32 for x in batches)
    assert len(set(np.concatenate(batches))) == len(batches) * 32  # no sample twice in an epoch
    assert [list(x) for x in batches] == [list(x) for x in b.epoch_batches(0, 32)]
    assert not np.array_equal(batches[0], a.epoch_batches(1, 32)[0])  # a new order every epoch
    unshuffled = load_data(DataSpec(source="digits", shuffle=False), digits_io, seed=3)
    assert list(unshuffled.epoch_batches(5, 10)[0]) == list(range(10))


@pytest.mark.parametrize("name,features,classes", [("iris", 4, 3), ("wine", 13, 3), ("breast_cancer", 30, 2)])
def test_bundled_tabular_sets(name, features, classes):
    data = load_data(DataSpec(source=name), _mlp_io(features, classes))
    assert data.x_train[0].shape[1] == features and data.num_classes == classes


def test_npz_with_mapping_and_onehot_labels(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 60)
    np.savez(tmp_path / "d.npz", feats=rng.normal(size=(60, 5)), other=np.zeros((60, 2)), y=np.eye(3)[y])
    spec = DataSpec(source=f"npz:{tmp_path / 'd.npz'}", inputs={"x": "feats"}, scale="none", split=0.0)
    data = load_data(spec, _mlp_io(5, 3))
    assert np.array_equal(data.y_train, y) and data.n_val == 0


def test_csv_with_text_labels(tmp_path):
    rows = ["a,b,kind"] + [f"{i},{i * 2},{'cat' if i % 2 else 'dog'}" for i in range(40)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    data = load_data(DataSpec(source="csv:t.csv", target="kind", split=0.25), _mlp_io(2, 2), base_dir=tmp_path)
    assert data.class_names is None or data.num_classes == 2
    assert data.n_train == 30 and set(np.unique(data.y_train)) == {0, 1}


def test_csv_regression_target(tmp_path):
    rows = ["x1,x2,y"] + [f"{i},{i % 7},{i * 0.5 + 0.25}" for i in range(50)]
    (tmp_path / "r.csv").write_text("\n".join(rows) + "\n")
    data = load_data(DataSpec(source=f"csv:{tmp_path / 'r.csv'}"), _mlp_io(2, 1))
    assert data.task == "regression" and data.y_train.shape[1:] == (1,)


def test_image_folders(tmp_path):
    from PIL import Image

    for k, name in enumerate(["circle", "square"]):
        (tmp_path / name).mkdir()
        for i in range(6):
            Image.fromarray(np.full((12, 10), 40 * k + i, dtype=np.uint8)).save(tmp_path / name / f"{i}.png")
    spec = {"name": "cnn", "inputs": [{"name": "image", "shape": ["batch", 1, 8, 8]}],
            "layers": [{"id": "flat", "type": "Flatten"}, {"id": "fc", "type": "Linear", "out_features": 2}]}
    data = load_data(DataSpec(source=f"images:{tmp_path}", split=0.5), model_io(build(spec)))
    assert data.x_train[0].shape[1:] == (1, 8, 8) and sorted(np.unique(data.y_train)) == [0, 1]
    assert data.class_names == ["circle", "square"]


# -- bad input: one clear error naming the array and the input -------------------------------------
def _npz(tmp_path, **arrays):
    np.savez(tmp_path / "bad.npz", **arrays)
    return DataSpec(source=f"npz:{tmp_path / 'bad.npz'}")


def test_arrays_that_do_not_fit_the_input(tmp_path, digits_io):
    spec = _npz(tmp_path, x=np.zeros((20, 50), np.float32), y=np.zeros(20, np.int64))
    with pytest.raises(DataError, match=r"array 'x' .* does not fit input 'image' \[batch, 1, 8, 8\]"):
        load_data(spec, digits_io)


def test_labels_beyond_the_output(tmp_path, digits_io):
    spec = _npz(tmp_path, x=np.zeros((20, 64), np.float32), y=np.arange(20) % 12)
    with pytest.raises(DataError, match=r"label 11, but the output 'logits' has 10 classes"):
        load_data(spec, digits_io)


def test_nan_in_the_data(tmp_path, digits_io):
    x = np.zeros((20, 64), np.float32)
    x[5, 1] = np.nan
    with pytest.raises(DataError, match=r"array 'x' for input 'image' has NaN values in 1 sample.*sample 5"):
        load_data(_npz(tmp_path, x=x, y=np.zeros(20, np.int64)), digits_io)


def test_inf_in_a_regression_target(tmp_path):
    y = np.linspace(0, 1, 20)
    y[3] = np.inf
    with pytest.raises(DataError, match="target 'y' has NaN or inf"):
        load_data(_npz(tmp_path, x=np.zeros((20, 4)), y=y), _mlp_io(4, 1))


def test_missing_file_and_empty_sets(tmp_path, digits_io):
    with pytest.raises(DataError, match="no such file"):
        load_data(DataSpec(source=f"npz:{tmp_path / 'none.npz'}"), digits_io)
    with pytest.raises(DataError, match="is empty"):
        load_data(_npz(tmp_path, x=np.zeros((0, 64), np.float32), y=np.zeros(0, np.int64)), digits_io)
    np.savez(tmp_path / "two.npz", x=np.zeros((2, 64), np.float32), y=np.array([0, 1]))
    with pytest.raises(DataError, match="validation split of 2 samples is empty"):
        load_data(DataSpec(source=f"npz:{tmp_path / 'two.npz'}", split=0.1), digits_io)


def test_object_arrays_are_never_unpickled(tmp_path, digits_io):
    np.savez(tmp_path / "obj.npz", x=np.array([{"a": 1}] * 3, dtype=object), y=np.zeros(3))
    with pytest.raises(DataError, match="without unpickling"):
        load_data(DataSpec(source=f"npz:{tmp_path / 'obj.npz'}"), digits_io)


def test_bad_source_names_are_refused_by_the_schema():
    with pytest.raises(ValueError, match="must be one of digits"):
        DataSpec(source="mnist")


def test_the_spec_carries_a_data_section():
    from onnxbridge.spec import Spec, load_spec

    spec = load_spec(MODELS / "wine_mlp.yaml")
    assert spec.data is not None and spec.data.source == "wine" and spec.data.split == 0.25
    assert "data" in Spec.model_json_schema()["properties"]
    with pytest.raises(ValueError, match="split"):
        Spec.model_validate({**spec.to_dict(), "data": {"source": "wine", "split": 1.5}})
