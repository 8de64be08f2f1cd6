"""Training in TensorFlow: the Keras model our converter generates, ``compile`` and ``fit`` under a
``tf.distribute`` strategy.

The model is the functional Keras model of the generated ``model.py`` (built inside the strategy's scope,
so its variables are mirrored). The data is a ``tf.data.Dataset`` of the same index batches
:meth:`TrainData.epoch_batches` gives the PyTorch loop, each process taking its slice of every global
batch (``distribute_datasets_from_function``). Strategies:

* several workers (``--workers host:port,...`` or a ``TF_CONFIG`` set by a cluster): ``MultiWorkerMirroredStrategy``;
* several local GPUs: ``MirroredStrategy``; otherwise the default strategy.

The bridge (:meth:`TensorFlowBridge.train <onnxbridge.frameworks.tensorflow.bridge.TensorFlowBridge.train>`)
calls :func:`train`; ``TF_CONFIG`` and the local workers are in :mod:`.launch`.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import numpy as np

from onnxbridge.errors import OnnxBridgeError
from onnxbridge.frameworks.base import weights_digest
from onnxbridge.frameworks.tensorflow.launch import cluster_from_env, tf_config_from
from onnxbridge.training.checkpoint import latest_checkpoint, save_checkpoint
from onnxbridge.training.run import Run

EVAL_BATCH = 512


def _select_devices(tf: Any, device: str) -> list[Any]:
    """Make only the requested devices visible (before TensorFlow starts using them); the GPUs left."""
    gpus = tf.config.list_physical_devices("GPU")
    if device == "cpu":
        if gpus:  # hiding them is only possible before TensorFlow first uses a device
            try:
                tf.config.set_visible_devices([], "GPU")
            except RuntimeError:
                raise OnnxBridgeError("--device cpu: TensorFlow has already started on the GPU in this process",
                                      hint="choose the device in a new process") from None
        return []
    if device.startswith("cuda"):
        if not gpus:
            raise OnnxBridgeError(f"--device {device}: TensorFlow sees no GPU here", hint="use --device cpu")
        if ":" in device:
            index = int(device.split(":")[1])
            if index >= len(gpus):
                raise OnnxBridgeError(f"--device {device}: TensorFlow sees {len(gpus)} GPU(s)")
            tf.config.set_visible_devices([gpus[index]], "GPU")
            return [gpus[index]]
    return gpus


def make_strategy(run: Run) -> Any:
    """The strategy for this process; sets ``run.rank`` / ``run.world`` / ``run.device``."""
    from onnxbridge.frameworks.tensorflow.lazy import import_tensorflow

    opts = run.options
    if opts.workers:
        os.environ["TF_CONFIG"] = json.dumps(tf_config_from(opts.workers, opts.worker_index))
    cluster = cluster_from_env()
    tf = import_tensorflow()
    gpus = _select_devices(tf, opts.device)
    run.device = f"{len(gpus)} GPU(s)" if gpus else "cpu"
    if cluster is not None and cluster[1] > 1:
        run.rank, run.world = cluster
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.NCCL if gpus else
            tf.distribute.experimental.CommunicationImplementation.RING, timeout_seconds=None)
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    if len(gpus) > 1:
        run.world = 1
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def build_keras_model(onnx_model: Any, *, mixed_policy: str | None = None) -> Any:
    """The converter's Keras model (checked against onnxruntime), with training-time settings.

    With ``mixed_policy`` (``mixed_bfloat16`` / ``mixed_float16``) the conversion is checked in float32
    first, then the model is built again under that dtype policy (layers take it when they are made).
    """
    from onnxbridge.conversion import ParityError
    from onnxbridge.frameworks.tensorflow.exporter import export_from_onnx

    result = export_from_onnx(onnx_model)
    for hop, report in result.checks:
        if not report.ok:
            raise ParityError(f"{hop}: {report.summary()}")
    model = result.value.keras_model
    if mixed_policy is not None:
        _keras().config.set_dtype_policy(mixed_policy)
        model = export_from_onnx(onnx_model, verify=False).value.keras_model
    momentum = {n.name: a.f for n in onnx_model.graph.node if n.op_type == "BatchNormalization"
                for a in n.attribute if a.name == "momentum"}
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization" and layer.name in momentum:
            layer.momentum = momentum[layer.name]  # the same running-average rate as in PyTorch
    return model


def _optimizer(keras: Any, name: str, lr: float, schedule: str = "constant", total_steps: int = 0) -> Any:
    if schedule == "cosine" and total_steps > 0:  # the same curve as training.options.lr_factor
        lr = keras.optimizers.schedules.CosineDecay(lr, decay_steps=total_steps)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=0.9)
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate=lr, weight_decay=0.01)  # torch.optim.AdamW's default
    # epsilon as in torch.optim.Adam (Keras defaults to 1e-7)
    return keras.optimizers.Adam(learning_rate=lr, epsilon=1e-8)


def _loss_and_metric(keras: Any, objective: Any) -> tuple[Any, Any]:
    logits = objective.form == "logits"
    if objective.kind == "regression":
        return keras.losses.MeanSquaredError(), keras.metrics.MeanAbsoluteError(name="mae")
    if objective.kind == "binary":
        return (keras.losses.BinaryCrossentropy(from_logits=logits),
                keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0 if logits else 0.5))
    return (keras.losses.SparseCategoricalCrossentropy(from_logits=logits),
            keras.metrics.SparseCategoricalAccuracy(name="accuracy"))


def make_datasets(run: Run, first_epoch: int) -> tuple[Any, Any]:
    """(training dataset from ``first_epoch`` on, validation dataset): the global batches of
    :meth:`TrainData.epoch_batches`, as index batches gathered from the arrays."""
    from onnxbridge.frameworks.tensorflow.lazy import import_tensorflow

    tf = import_tensorflow()
    data, opts = run.data, run.options
    epochs = range(first_epoch, opts.epochs)
    steps = run.steps_per_epoch
    if epochs:
        order = np.stack([np.stack(data.epoch_batches(e, opts.batch_size)) for e in epochs])
    else:
        order = np.zeros((0, steps, opts.batch_size), dtype=np.int64)
    inputs = [tf.constant(x) for x in data.x_train]
    target = tf.constant(data.y_train)

    def pack(xs: list[Any], y: Any) -> tuple[Any, Any]:
        return (xs[0] if len(xs) == 1 else tuple(xs)), y

    shard = tf.data.Options()
    # under a strategy, Keras splits every global batch into per-replica batches and DATA sharding gives
    # worker w the w-th share of each: the global batches stay those of a single process
    shard.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    ds = tf.data.Dataset.from_tensor_slices(order.reshape(-1, opts.batch_size))
    ds = ds.map(lambda idx: pack([tf.gather(x, idx) for x in inputs], tf.gather(target, idx)),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    train = ds.prefetch(tf.data.AUTOTUNE).with_options(shard)
    val = None
    if data.n_val:
        val = tf.data.Dataset.from_tensor_slices(pack([x for x in data.x_val], data.y_val)).batch(EVAL_BATCH)
        val = val.with_options(shard)
    return train, val


def _keras() -> Any:
    import keras

    return keras


class _EpochCallback:
    """Builds the Keras callback that times epochs, reports, checks early stopping and checkpoints."""

    @staticmethod
    def make(run: Run, keras: Any, save: Any) -> Any:
        objective_metric = run.objective.metric

        class EpochReport(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                assert run.reporter is not None  # made before training starts
                run.reporter.start_epoch(epoch)
                self.began = time.perf_counter()
                self.train_seconds: float | None = None

            def on_test_begin(self, logs: Any = None) -> None:
                if self.train_seconds is None:
                    self.train_seconds = time.perf_counter() - self.began

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                logs = dict(logs or {})
                elapsed = self.train_seconds if self.train_seconds is not None else time.perf_counter() - self.began
                seen = run.steps_per_epoch * run.options.batch_size
                record = {"epoch": epoch + 1, "loss": float(logs["loss"]),
                          objective_metric: float(logs[objective_metric])}
                if "val_loss" in logs:
                    record["val_loss"] = float(logs["val_loss"])
                    record[f"val_{objective_metric}"] = float(logs[f"val_{objective_metric}"])
                record["samples_per_s"] = seen / elapsed if elapsed > 0 else 0.0
                record["seconds"] = round(elapsed, 4)
                if run.end_epoch(record):
                    self.model.stop_training = True
                save(epoch + 1)

        if run.reporter is not None and run.reporter.live:
            class LiveEpochReport(EpochReport):
                def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
                    assert run.reporter is not None  # made before training starts
                    run.reporter.step()

            return LiveEpochReport()
        return EpochReport()


def train(run: Run, *, resume: Any = None) -> Any:
    """Train ``run`` with Keras ``fit`` in this process (one worker of a multi-worker run when
    ``TF_CONFIG`` / ``--workers`` say so); return the trained Keras model."""
    opts = run.options
    strategy = make_strategy(run)
    keras = _keras()
    keras.utils.set_random_seed(opts.seed)
    policy = keras.config.dtype_policy()
    mixed = ("mixed_float16" if run.device != "cpu" else "mixed_bfloat16") if opts.amp else None
    try:
        with strategy.scope():
            model = build_keras_model(run.onnx_model, mixed_policy=mixed)
            loss, metric = _loss_and_metric(keras, run.objective)
            optimizer = _optimizer(keras, opts.optimizer, opts.lr, opts.schedule, opts.epochs * run.steps_per_epoch)
            model.compile(optimizer=optimizer, loss=loss, metrics=[metric], jit_compile=False)
            if resume is not None:
                ckpt = latest_checkpoint(resume)
                run.restore(ckpt.state, ckpt.epoch)
                optimizer.build(model.trainable_variables)
                _assign(model.variables, ckpt.model, "model")
                _assign(optimizer.variables, ckpt.optimizer, "optimizer")
        train_ds, val_ds = make_datasets(run, run.start_epoch)
        reporter = run.make_reporter()

        def save(epoch: int) -> None:
            if run.chief:
                save_checkpoint(run.run_dir, epoch=epoch, state=run.state(),
                                model=_values(model.variables, ordered=True),
                                optimizer=_values(optimizer.variables, ordered=True))

        try:
            callback = _EpochCallback.make(run, keras, save)
            if run.start_epoch < opts.epochs and run.world > 1:
                with strategy.scope():
                    _multi_worker_epochs(run, model, optimizer, strategy, train_ds, val_ds, callback)
            elif run.start_epoch < opts.epochs:
                model.fit(train_ds, epochs=opts.epochs, initial_epoch=run.start_epoch,
                          steps_per_epoch=run.steps_per_epoch, validation_data=val_ds, verbose=0, shuffle=False,
                          callbacks=[callback])
        finally:
            reporter.close()
        if run.world > 1:
            run.extra["replicas"] = _replica_digests(strategy, _values(model.weights), run)
    finally:
        keras.config.set_dtype_policy(policy)
    if mixed is not None:
        # mixed precision trains float32 weights: a float32 copy of the model exports and runs anywhere
        from onnxbridge.frameworks.tensorflow.exporter import export_from_onnx

        plain = export_from_onnx(run.onnx_model, verify=False).value.keras_model
        plain.set_weights(model.get_weights())
        model = plain
    return model


def _multi_worker_epochs(run: Run, model: Any, optimizer: Any, strategy: Any, train_ds: Any, val_ds: Any,
                         callback: Any) -> None:
    """The epochs of a multi-worker run: the custom training loop of TensorFlow's multi-worker guide.

    Keras 3.15's ``fit`` cannot run under ``MultiWorkerMirroredStrategy`` (it reduces its scalar logs with
    ``strategy.reduce("MEAN", v, axis=0)``, which fails on scalars), so the steps ``fit`` would take are
    written out: ``strategy.run`` of a gradient step on every global batch, the loss averaged over the
    global batch (``tf.nn.compute_average_loss``), the optimizer's ``apply_gradients`` summing the replicas'
    gradients. The callback sees the same events and logs as under ``fit``.
    """
    from onnxbridge.frameworks.tensorflow.lazy import import_tensorflow

    tf = import_tensorflow()
    keras = _keras()
    objective, opts = run.objective, run.options
    per_sample = _per_sample_loss(keras, objective)
    metric = objective.metric

    def sample_mean(values: Any) -> Any:
        return tf.reduce_mean(values, axis=list(range(1, values.shape.rank))) if values.shape.rank > 1 else values

    def train_step(x: Any, y: Any) -> tuple[Any, Any]:
        with tf.GradientTape() as tape:
            pred = model(x, training=True)
            losses = sample_mean(per_sample(y, pred))
            loss = tf.nn.compute_average_loss(losses, global_batch_size=opts.batch_size)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss, tf.reduce_sum(_score(tf, objective, y, pred))

    def test_step(x: Any, y: Any) -> tuple[Any, Any, Any]:
        pred = model(x, training=False)
        losses = sample_mean(per_sample(y, pred))
        return tf.reduce_sum(losses), tf.reduce_sum(_score(tf, objective, y, pred)), tf.cast(tf.shape(losses)[0],
                                                                                            tf.float32)

    @tf.function
    def distributed_train(iterator: Any, steps: Any) -> Any:
        # several steps per call, as fit's steps_per_execution: one Python round trip per chunk
        loss_sum, score_sum = tf.constant(0.0), tf.constant(0.0)
        for _ in tf.range(steps):
            loss, score = strategy.run(train_step, args=next(iterator))
            loss_sum += strategy.reduce("SUM", loss, axis=None)
            score_sum += strategy.reduce("SUM", score, axis=None)
        return loss_sum, score_sum

    stats = [v for v in model.non_trainable_variables if v.dtype.startswith("float")]

    @tf.function
    def mean_stats() -> Any:
        local = strategy.run(lambda: [tf.identity(v.value) for v in stats])
        return [strategy.reduce("MEAN", value, axis=None) for value in local]

    @tf.function
    def distributed_test(batch: Any) -> Any:
        return tuple(strategy.reduce("SUM", v, axis=None) for v in strategy.run(test_step, args=batch))

    callback.set_model(model)
    model.stop_training = False
    iterator = iter(strategy.experimental_distribute_dataset(train_ds))
    seen = run.steps_per_epoch * opts.batch_size
    live = run.reporter is not None and run.reporter.live
    chunk = max(1, run.steps_per_epoch // 20) if live else run.steps_per_epoch
    for epoch in range(run.start_epoch, opts.epochs):
        callback.on_epoch_begin(epoch)
        loss_sum = score_sum = 0.0
        done = 0
        while done < run.steps_per_epoch:
            steps = min(chunk, run.steps_per_epoch - done)
            loss, score = distributed_train(iterator, tf.constant(steps))
            loss_sum += float(loss)
            score_sum += float(score)
            done += steps
            callback.on_train_batch_end(done)
            if run.reporter is not None:
                run.reporter.step(steps - 1)
        # BatchNorm statistics: each worker kept its own; all take their mean (the parameters are equal)
        for v, value in zip(stats, mean_stats() if stats else []):
            v.assign(value)
        logs = {"loss": loss_sum / run.steps_per_epoch, metric: score_sum / seen}
        if val_ds is not None:
            callback.on_test_begin()
            totals = np.zeros(3)
            for batch in strategy.experimental_distribute_dataset(val_ds):
                totals += [float(v) for v in distributed_test(batch)]
            logs.update({"val_loss": totals[0] / totals[2], f"val_{metric}": totals[1] / totals[2]})
        callback.on_epoch_end(epoch, logs)
        if model.stop_training:
            break


def _per_sample_loss(keras: Any, objective: Any) -> Any:
    logits = objective.form == "logits"
    if objective.kind == "regression":
        return keras.losses.MeanSquaredError(reduction=None)
    if objective.kind == "binary":
        return keras.losses.BinaryCrossentropy(from_logits=logits, reduction=None)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=logits, reduction=None)


def _score(tf: Any, objective: Any, y: Any, pred: Any) -> Any:
    """Per-sample accuracy (or absolute error), like the Keras metrics ``fit`` uses."""
    pred = tf.cast(pred, tf.float32)
    if objective.kind == "regression":
        err = tf.abs(pred - tf.cast(y, tf.float32))
        return tf.reduce_mean(tf.reshape(err, [tf.shape(err)[0], -1]), axis=1)
    if objective.kind == "binary":
        threshold = 0.5 if objective.form == "probs" else 0.0
        hits = tf.cast(tf.equal(tf.cast(pred > threshold, y.dtype), y), tf.float32)
    else:
        hits = tf.cast(tf.equal(tf.argmax(pred, axis=-1, output_type=y.dtype), y), tf.float32)
    return tf.reduce_mean(tf.reshape(hits, [tf.shape(hits)[0], -1]), axis=1)


def _values(variables: list[Any], *, ordered: bool = False) -> dict[str, np.ndarray]:
    """Variables as numpy by path; ``ordered`` prefixes each with its position, which is what identifies a
    variable again after the model is rebuilt (Keras numbers some paths per process, e.g. seed generators)."""
    out: dict[str, np.ndarray] = {}
    for k, v in enumerate(variables):
        key = f"{k:05d}:{v.path}" if ordered else (v.path if v.path not in out else f"{v.path}#{k}")
        out[key] = np.asarray(v.numpy())
    return out


def _assign(variables: list[Any], saved: dict[str, np.ndarray], what: str) -> None:
    by_position = {int(key.split(":", 1)[0]): value for key, value in saved.items()}
    for k, v in enumerate(variables):
        value = by_position.get(k)
        if value is None or tuple(value.shape) != tuple(v.shape):
            raise OnnxBridgeError(f"--resume: the checkpoint's {what} state does not match variable {v.path!r}",
                                  hint="resume with the same network and options")
        v.assign(value)
    if len(by_position) != len(variables):
        raise OnnxBridgeError(f"--resume: the checkpoint holds {len(by_position)} {what} variables, the model "
                              f"{len(variables)}", hint="resume with the same network and options")


def predict(model: Any, inputs: list[np.ndarray]) -> np.ndarray:
    """The trained model's outputs on ``inputs`` (inference mode)."""
    out = model(inputs[0] if len(inputs) == 1 else list(inputs), training=False)
    return np.asarray(out, dtype=np.float32)


def _replica_digests(strategy: Any, state: dict[str, np.ndarray], run: Run) -> list[dict[str, Any]]:
    """Every worker's weights digest, all-gathered through the strategy's collectives."""
    from onnxbridge.frameworks.tensorflow.lazy import import_tensorflow

    tf = import_tensorflow()
    mine = tf.constant([list(bytes.fromhex(weights_digest(state)))], dtype=tf.int32)

    def gather() -> Any:
        return tf.distribute.get_replica_context().all_gather(mine, axis=0)

    result = strategy.experimental_local_results(strategy.run(gather))[0].numpy()
    return [{"rank": r, "sha256": bytes(int(b) for b in row).hex()} for r, row in enumerate(result)]
