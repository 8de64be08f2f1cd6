"""The data section resolved once into checked arrays, split and scaled, with the batch order of every epoch.

:func:`load_data` reads a source (:mod:`.sources`), matches its arrays to the network's inputs (reshaping
``[n, 64]`` to ``[n, 1, 8, 8]`` when the sizes agree), checks everything before training (shapes, label
range against the output size, NaN/inf, empty sets: each error names the array and the input), splits off
a seeded validation set and scales features with statistics of the training split. The PyTorch and Keras
adapters take :meth:`TrainData.epoch_batches` as it is, so both frameworks see the same batches.

Example::

    data = load_data(DataSpec(source="digits"), model_io(onnx_model), seed=0)
    data.x_train[0].shape        # (1437, 1, 8, 8)
    data.epoch_batches(0, 32)    # index arrays of the first epoch's batches
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from onnxbridge.spec.data import DataSpec
from onnxbridge.training.sources import DataError, RawData, read_source


@dataclass
class TensorInfo:
    """A graph input or output: name, dims (ints or symbol names), numpy dtype."""

    name: str
    dims: list[int | str | None]
    dtype: np.dtype

    @property
    def sample_dims(self) -> list[int | str | None]:
        """The dimensions of one sample (the batch dimension left out)."""
        return self.dims[1:]


@dataclass
class ModelIO:
    """What training needs to know about a network: its inputs, its (first) output, what that output is."""

    inputs: list[TensorInfo]
    output: TensorInfo
    #: the op that produces the output: 'Softmax', 'LogSoftmax', 'Sigmoid' or another op (raw scores)
    output_op: str

    @property
    def classes(self) -> int | None:
        """The number of classes the output scores, when its last dimension is a fixed number."""
        last = self.output.dims[-1] if self.output.dims else None
        return last if isinstance(last, int) else None


def model_io(model: onnx.ModelProto) -> ModelIO:
    """Inputs, output and output activation of ``model`` (shapes from ONNX shape inference)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    inits = {i.name for i in g.initializer}

    def info(vi: onnx.ValueInfoProto) -> TensorInfo:
        t = vi.type.tensor_type
        dims: list[int | str | None] = []
        for d in t.shape.dim:
            dims.append(d.dim_value if d.HasField("dim_value") else (d.dim_param or None))
        return TensorInfo(vi.name, dims, np.dtype(onnx.helper.tensor_dtype_to_np_dtype(t.elem_type)))

    inputs = [info(vi) for vi in g.input if vi.name not in inits]
    if not g.output:
        raise DataError("the network has no output to train")
    output = info(g.output[0])
    producer = next((n for n in g.node if g.output[0].name in n.output), None)
    return ModelIO(inputs, output, producer.op_type if producer is not None else "")


@dataclass
class TrainData:
    """Checked, split, scaled arrays (one per network input, in graph order) and the labels."""

    source: str
    task: str                      # 'classification' or 'regression'
    input_names: list[str]
    x_train: list[np.ndarray]
    y_train: np.ndarray
    x_val: list[np.ndarray]
    y_val: np.ndarray
    num_classes: int | None = None
    class_names: list[str] | None = None
    shuffle: bool = True
    seed: int = 0
    #: how each input was scaled (to apply the same to new data): {input: {"kind": ..., "offset": [...], ...}}
    preprocessing: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def n_train(self) -> int:
        """The number of training samples."""
        return len(self.y_train)

    @property
    def n_val(self) -> int:
        """The number of validation samples."""
        return len(self.y_val)

    def epoch_order(self, epoch: int) -> np.ndarray:
        """The training samples' order in ``epoch``: a permutation seeded by (seed, epoch), or 0..n-1."""
        if not self.shuffle:
            return np.arange(self.n_train)
        return np.random.default_rng([self.seed, epoch]).permutation(self.n_train)

    def epoch_batches(self, epoch: int, batch_size: int) -> list[np.ndarray]:
        """Index arrays of the full batches of ``epoch`` (the remainder, < one batch, waits for the next
        epoch's shuffle), the same for every framework and every process count."""
        order = self.epoch_order(epoch)
        steps = len(order) // batch_size
        return [order[k * batch_size:(k + 1) * batch_size] for k in range(steps)]

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary (written to RUN_DIR/data.json)."""
        return {"source": self.source, "task": self.task, "train_samples": self.n_train, "val_samples": self.n_val,
                "classes": self.num_classes, "class_names": self.class_names,
                "inputs": {n: list(x.shape[1:]) for n, x in zip(self.input_names, self.x_train)},
                "preprocessing": self.preprocessing, "shuffle": self.shuffle, "seed": self.seed}


def load_data(spec: DataSpec, io: ModelIO, *, seed: int = 0, base_dir: str | Path | None = None,
              loss: str = "auto") -> TrainData:
    """Read and check ``spec`` for a network with inputs/outputs ``io``; raise :class:`DataError` naming the
    array and the input for anything that does not fit."""
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    image_size, channels = _image_geometry(io)
    raw = read_source(spec.source, base_dir=base, target=spec.target, features=spec.features,
                      image_size=image_size, channels=channels)
    n = len(raw.target)
    if n == 0:
        raise DataError(f"data {raw.source}: the target {raw.target_name!r} is empty", hint="the data set has no "
                                                                                             "samples")
    features, keys = _match_inputs(raw, spec, io)
    for name, x in features.items():
        if len(x) != n:
            raise DataError(f"data {raw.source}: array {keys[name]!r} for input {name!r} has {len(x)} samples but "
                            f"the target {raw.target_name!r} has {n}", hint="every array needs one row per sample")
        _check_finite(raw.source, f"array {keys[name]!r} for input {name!r}", x)
    task, y, classes = _targets(raw, spec, io, loss)
    train_idx, val_idx = _split(n, spec.split, seed, y if task == "classification" else None)
    if len(train_idx) == 0:
        raise DataError(f"data {raw.source}: no training samples left after the {spec.split:.0%} validation split",
                        hint="lower split")
    if spec.split > 0 and len(val_idx) == 0:
        raise DataError(f"data {raw.source}: the {spec.split:.0%} validation split of {n} samples is empty",
                        hint="raise split, or give more samples")
    names = [i.name for i in io.inputs]
    x_train, x_val, prep = [], [], {}
    for info in io.inputs:
        x = features[info.name]
        tr, va, prep[info.name] = _scale(x[train_idx], x[val_idx], spec.scale if x.dtype.kind == "f" else "none")
        x_train.append(tr)
        x_val.append(va)
    return TrainData(raw.source, task, names, x_train, y[train_idx], x_val, y[val_idx], classes,
                     raw.class_names, spec.shuffle, seed, prep, raw.notes)


# -- matching arrays to inputs ------------------------------------------------------------------------
def _image_geometry(io: ModelIO) -> tuple[tuple[int, int] | None, int | None]:
    first = io.inputs[0].dims if io.inputs else []
    if len(first) == 4 and all(isinstance(d, int) for d in first[1:]):
        return (int(first[2]), int(first[3])), int(first[1])  # type: ignore[arg-type]
    return None, None


def _match_inputs(raw: RawData, spec: DataSpec, io: ModelIO) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    arrays = raw.arrays
    mapping = dict(spec.inputs or {})
    unknown = sorted(set(mapping) - {i.name for i in io.inputs})
    if unknown:
        raise DataError(f"data {raw.source}: inputs: names {', '.join(unknown)}, which the network does not have; "
                        f"its inputs are {', '.join(i.name for i in io.inputs)}")
    out: dict[str, np.ndarray] = {}
    keys: dict[str, str] = {}
    for info in io.inputs:
        key = mapping.get(info.name)
        if key is None:
            if info.name in arrays:
                key = info.name
            elif len(io.inputs) == 1 and len(arrays) == 1:
                key = next(iter(arrays))
            else:
                raise DataError(f"data {raw.source}: no array for input {info.name!r}; the data holds "
                                f"{', '.join(sorted(arrays))}", hint=f"map it in the data section: inputs: "
                                                                     f"{{{info.name}: ARRAY}}")
        if key not in arrays:
            raise DataError(f"data {raw.source}: no array {key!r} for input {info.name!r}; the data holds "
                            f"{', '.join(sorted(arrays))}")
        out[info.name] = _fit_shape(raw.source, key, arrays[key], info)
        keys[info.name] = key
    return out, keys


def _fit_shape(source: str, key: str, x: np.ndarray, info: TensorInfo) -> np.ndarray:
    """``x`` as [n, *input dims] in the input's dtype, reshaping when only the layout differs."""
    need = info.sample_dims
    have = list(x.shape[1:])
    shown = "[" + ", ".join(str(d) for d in ["batch", *need]) + "]"
    where = f"data {source}: array {key!r} (samples of shape {have}) does not fit input {info.name!r} {shown}"
    if x.ndim == 0:
        raise DataError(f"data {source}: array {key!r} is a scalar, input {info.name!r} needs {shown}")
    fits = len(have) == len(need) and all(not isinstance(d, int) or d == h for d, h in zip(need, have))
    if not fits:
        fixed = [d for d in need if isinstance(d, int)]
        if len(fixed) == len(need) and int(np.prod(have)) == int(np.prod(fixed, dtype=np.int64)):
            x = x.reshape(len(x), *fixed)  # e.g. 64 pixels -> 1x8x8
        else:
            size = int(np.prod(have))
            needs = int(np.prod([d for d in need if isinstance(d, int)])) if need else 1
            raise DataError(f"{where} ({size} values per sample, the input takes "
                            f"{needs if all(isinstance(d, int) for d in need) else 'another shape'})",
                            hint="map another array to the input (inputs: {input: array}) or change the spec's "
                                 "input shape")
    if info.dtype.kind in "iu":
        if x.dtype.kind == "f":
            if not np.all(np.isfinite(x)) or not np.all(x == np.round(x)):
                raise DataError(f"data {source}: array {key!r} has non-integer values but input {info.name!r} "
                                f"takes {info.dtype} (token ids)")
        elif x.dtype.kind not in "iub":
            raise DataError(f"data {source}: array {key!r} is {x.dtype}, input {info.name!r} takes {info.dtype}")
        return np.ascontiguousarray(x.astype(info.dtype))
    if x.dtype.kind not in "fiub":
        raise DataError(f"data {source}: array {key!r} is {x.dtype}, input {info.name!r} takes {info.dtype}")
    return np.ascontiguousarray(x.astype(info.dtype))


def _check_finite(source: str, name: str, x: np.ndarray) -> None:
    if x.dtype.kind != "f":
        return
    bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        kind = "NaN" if np.isnan(x[rows[0]]).any() else "inf"
        raise DataError(f"data {source}: the {name} has {kind} values in {len(rows)} sample(s) "
                        f"(first: sample {int(rows[0])})", hint="drop or impute those samples before training")


# -- targets --------------------------------------------------------------------------------------------
def _targets(raw: RawData, spec: DataSpec, io: ModelIO, loss: str) -> tuple[str, np.ndarray, int | None]:
    y = np.asarray(raw.target)
    where = f"data {raw.source}: target {raw.target_name!r}"
    out_dims = io.output.dims
    classes = io.classes
    onehot = spec.labels == "onehot" or (
        spec.labels == "auto" and y.ndim == len(out_dims) and y.ndim >= 2 and classes is not None
        and y.shape[-1] == classes and classes > 1 and np.isin(y, (0, 1)).all() and (y.sum(-1) == 1).all())
    if onehot:
        if y.ndim < 2:
            raise DataError(f"{where} has shape {list(y.shape)}; one-hot labels need one row per sample")
        y = y.argmax(-1)
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise DataError(f"{where} has NaN or inf values in {int((~np.isfinite(y)).sum())} place(s)",
                        hint="drop or impute those samples before training")
    task = spec.task
    if task == "auto":
        if loss == "mse":
            task = "regression"
        elif loss in ("cross_entropy", "bce") or onehot or y.dtype.kind in "iub":
            task = "classification"
        else:
            integral = y.dtype.kind == "f" and bool(np.all(y == np.round(y)))
            task = "classification" if integral and classes and classes > 1 and y.min() >= 0 \
                and y.max() < classes else "regression"
    if task == "regression":
        y = y.astype(np.float32)
        need = [d for d in out_dims[1:]]
        if y.ndim == 1 and need == [1]:
            y = y[:, None]
        if list(y.shape[1:]) != [d for d in need if isinstance(d, int)] or len(y.shape[1:]) != len(need):
            raise DataError(f"{where} has samples of shape {list(y.shape[1:])} but the output "
                            f"{io.output.name!r} gives {list(need)}", hint="regression targets must match the output")
        return task, y, None
    if classes is None:
        raise DataError(f"the output {io.output.name!r} has no fixed class dimension ({out_dims}) to train a "
                        "classifier on")
    if y.dtype.kind == "f" and not np.all(y == np.round(y)):
        raise DataError(f"{where} has non-integer values, which are not class labels",
                        hint="set task: regression (--task regression), or give integer labels")
    y = y.astype(np.int64)
    binary = classes == 1
    limit = 2 if binary else classes
    expected_rank = len(out_dims) - (0 if binary else 1)
    if binary and y.ndim == 1 and len(out_dims) == 2:
        y = y[:, None]
    if y.ndim != expected_rank:
        raise DataError(f"{where} has shape {list(y.shape)} but the output {io.output.name!r} {out_dims} needs "
                        f"{'one label' if expected_rank == 1 else 'one label per position'} per sample")
    if y.min() < 0 or y.max() >= limit:
        bad = int(y.max()) if y.max() >= limit else int(y.min())
        raise DataError(f"{where} has label {bad}, but the output {io.output.name!r} has "
                        f"{classes} class{'es' if classes != 1 else ''} (labels 0..{limit - 1})",
                        hint="give the last layer as many outputs as there are classes")
    return "classification", y, (2 if binary else classes)


def _split(n: int, fraction: float, seed: int, labels: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/validation indices; stratified by class for single-label classification."""
    rng = np.random.default_rng(seed)
    if fraction <= 0:
        return np.arange(n), np.arange(0)
    if labels is not None and labels.ndim == 1:
        val: list[np.ndarray] = []
        for c in np.unique(labels):
            members = rng.permutation(np.flatnonzero(labels == c))
            val.append(members[:int(round(fraction * len(members)))])
        val_idx = np.sort(np.concatenate(val)) if val else np.arange(0)
    else:
        val_idx = np.sort(rng.permutation(n)[:int(round(fraction * n))])
    train_idx = np.setdiff1d(np.arange(n), val_idx)
    return train_idx, val_idx


def _scale(train: np.ndarray, val: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Scale both splits with statistics of ``train``: out = (x - offset) / factor, per feature."""
    if kind == "none":
        return train, val, {"kind": "none"}
    stats = train.astype(np.float64)
    if kind == "standard":
        offset, factor = stats.mean(axis=0), stats.std(axis=0)
    elif kind == "minmax":
        offset = stats.min(axis=0)
        factor = stats.max(axis=0) - offset
    else:  # max
        offset = np.zeros(stats.shape[1:])
        factor = np.full(stats.shape[1:], np.abs(stats).max() if stats.size else 1.0)
    factor = np.where(factor > 1e-12, factor, 1.0)  # constant features stay constant instead of dividing by 0
    dtype = train.dtype

    def apply(x: np.ndarray) -> np.ndarray:
        return ((x - offset) / factor).astype(dtype)

    return apply(train), apply(val), {"kind": kind, "offset": offset.astype(np.float32).tolist(),
                                      "factor": factor.astype(np.float32).tolist()}
