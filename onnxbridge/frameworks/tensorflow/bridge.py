"""The TensorFlow/Keras bridge: what the rest of onnxbridge knows about TensorFlow, behind
:class:`~onnxbridge.frameworks.base.Bridge`.

TensorFlow is imported only inside the methods (and the modules they call), never when this module loads.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onnxbridge.errors import OnnxBridgeError
from onnxbridge.frameworks.base import Bridge, ConversionResult

if TYPE_CHECKING:
    import numpy as np
    import onnx

    from onnxbridge.frameworks.registry import OpRegistry
    from onnxbridge.training.options import TrainOptions
    from onnxbridge.training.run import Run

class TensorFlowBridge(Bridge):
    """TensorFlow/Keras: ``.keras``/``.h5``/SavedModels and Keras models in; ``tf.Module``, a SavedModel and
    Keras source out."""

    name = "tensorflow"
    display_name = "TensorFlow"
    extra = "tensorflow"
    module = "tensorflow"
    aliases = ("tf", "keras")
    packages = (("tensorflow", ("tensorflow", "tensorflow-cpu", "tf-nightly")), ("keras", ("keras",)),
                ("tf2onnx", ("tf2onnx",)))
    object_modules = ("keras", "tensorflow", "tf_keras")
    source_formats = ".keras/.h5 or a SavedModel directory"
    live_objects = "a Keras model"
    import_options = frozenset({"opset", "dynamic_batch", "trust"})
    export_options = frozenset({"channels_last", "seed"})
    trusted_sources = "SavedModels and .keras archives"
    output_files = ("model.py", "model.weights.npz", "saved_model")
    check_code = "OB302"
    engines = {"tensorflow": ("tf", "tf.function", "keras")}
    cluster_options = ("workers",)
    cluster_hint = "--workers host:port,..."

    def recognises(self, path: Path) -> bool:
        """``.keras`` and ``.h5`` files, and SavedModel folders."""
        return path.suffix.lower() in (".keras", ".h5") or (path.is_dir() and (path / "saved_model.pb").exists())

    def import_to_onnx(self, source: Any, **options: Any) -> ConversionResult:
        """A Keras model (live, ``.keras`` or ``.h5``) or a SavedModel folder to ONNX through tf2onnx (see
        :func:`~onnxbridge.frameworks.tensorflow.importer.import_to_onnx`)."""
        from onnxbridge.frameworks.tensorflow.importer import import_to_onnx

        return import_to_onnx(source, **options)

    def export_from_onnx(self, model: onnx.ModelProto, **options: Any) -> ConversionResult:
        """ONNX to a Keras model through the generated source (see
        :func:`~onnxbridge.frameworks.tensorflow.exporter.export_from_onnx`)."""
        from onnxbridge.frameworks.tensorflow.exporter import export_from_onnx

        return export_from_onnx(model, **options)

    def op_registry(self) -> OpRegistry:
        """The TensorFlow converters, every op family loaded."""
        from onnxbridge.frameworks.tensorflow.registry import load_ops

        return load_ops()

    def generate_source(self, model: onnx.ModelProto, **options: Any) -> tuple[str, str]:
        """The Keras source for ``model``; ``class_name`` is refused (it names the torch module only)."""
        if options.get("class_name") is not None:
            raise OnnxBridgeError("class_name applies to the torch target")
        from onnxbridge.frameworks.tensorflow.codegen import generate

        generated = generate(model)
        return generated.source, generated.class_name

    def require(self) -> None:
        """Also quiets TensorFlow's C++ start-up logging unless the user set ``TF_CPP_MIN_LOG_LEVEL``."""
        super().require()
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter on stderr

    def native_runner(self, engine: str, value: Any, inputs: Sequence[np.ndarray],
                      device: str) -> Callable[[], object]:
        """The converted module wrapped in ``tf.function``, on ``/GPU:0`` for CUDA, synchronised there."""
        import numpy as np

        from onnxbridge.frameworks.tensorflow.lazy import import_tensorflow

        tf = import_tensorflow()
        tf_device = "/GPU:0" if device == "cuda" else "/CPU:0"
        with tf.device(tf_device):
            args = [tf.constant(np.require(a, requirements="C")) for a in inputs]
        fn = tf.function(value)
        sync = tf.test.experimental.sync_devices if device == "cuda" else (lambda: None)

        def run() -> object:
            with tf.device(tf_device):
                out = fn(*args)
            sync()
            return out

        return run

    @contextlib.contextmanager
    def native_threads(self, threads: int | None) -> Iterator[list[str]]:
        """TensorFlow's thread pools; they can only be set before TensorFlow first runs anything."""
        notes: list[str] = []
        if threads:
            from onnxbridge.frameworks.tensorflow.lazy import import_tensorflow

            tf = import_tensorflow()
            try:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(threads)
            except RuntimeError:
                notes.append("TensorFlow was already initialised in this process: --threads does not apply to it")
        yield notes

    def has_cuda(self) -> bool:
        """Whether TensorFlow lists a physical GPU."""
        from onnxbridge.frameworks.tensorflow.lazy import import_tensorflow

        return bool(import_tensorflow().config.list_physical_devices("GPU"))

    # -- training: Keras fit under a tf.distribute strategy, workers told their place by TF_CONFIG -----
    def check_training_options(self, options: TrainOptions) -> None:
        """Local workers (``--nproc``) and a cluster's (``--workers``) exclude each other."""
        from onnxbridge.training.options import OptionError

        if options.workers and options.nproc > 1:
            raise OptionError(f"--nproc {options.nproc!r}: runs local workers itself; give either --nproc or "
                              "--workers")

    def world_size(self, options: TrainOptions) -> int:
        """Every ``--workers`` entry, else ``--nproc`` local workers."""
        return len(options.workers) or options.nproc

    def distributed_env(self, options: TrainOptions) -> tuple[int, int] | None:
        """``--workers``/``--worker-index``, else ``TF_CONFIG`` (a Kubeflow TFJob's operator sets it)."""
        if options.workers:
            return options.worker_index, len(options.workers)
        from onnxbridge.frameworks.tensorflow.launch import cluster_from_env

        return cluster_from_env()

    def launch(self, network: str, run_dir: str, options: TrainOptions, *, resume: bool = False) -> bool:
        """``--nproc`` MultiWorkerMirroredStrategy workers on localhost ports; the chief runs here."""
        from onnxbridge.frameworks.tensorflow.launch import run_tf_workers

        run_tf_workers(network, run_dir, options, resume=resume)
        return True

    def launch_files(self, network: str, run_dir: str, options: TrainOptions, image: str) -> dict[str, str]:
        """A command per worker, a Slurm script, a Kubeflow ``TFJob``."""
        from onnxbridge.frameworks.tensorflow.launch import launch_files

        return launch_files(network, run_dir, options, image)

    def train(self, run: Run, *, resume: str | None = None) -> Any:
        """The generated Keras model trained by ``fit`` under a ``tf.distribute`` strategy; returns it."""
        from onnxbridge.frameworks.tensorflow.training import train

        return train(run, resume=resume)

    def exportable(self, value: Any, sample: Sequence[np.ndarray]) -> tuple[Any, Any]:
        """The Keras model itself, numpy arrays as examples (one array for a single input)."""
        return value, (list(sample) if len(sample) > 1 else sample[0])

    def predict(self, value: Any, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """The Keras model called in inference mode."""
        from onnxbridge.frameworks.tensorflow.training import predict

        return predict(value, list(inputs))


BRIDGE = TensorFlowBridge()
