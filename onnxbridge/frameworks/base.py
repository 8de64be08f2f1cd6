"""What every framework bridge shares: the result of a conversion, the parity error, and the Bridge protocol.

A bridge is one framework behind onnxbridge's hub. The rest of the package never names a framework: it
iterates the registered bridges (:mod:`onnxbridge.frameworks.bridges`) and asks each one. A bridge module
(``frameworks/<name>/bridge.py``) imports its framework only inside methods, so listing the bridges, the
CLI's ``--help`` and ``import onnxbridge`` work without any framework installed.

Example::

    from onnxbridge.frameworks.bridges import get_bridge

    torch_bridge = get_bridge("torch")
    result = torch_bridge.export_from_onnx(model)       # ConversionResult: live module + parity reports
    run = torch_bridge.native_runner("torch", result.value, inputs, "cpu")
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from onnxbridge.errors import MissingDependencyError, OnnxBridgeError

if TYPE_CHECKING:  # kept out of the import: listing the bridges (the CLI's --help) stays light
    import numpy as np
    import onnx

    from onnxbridge.frameworks.registry import OpRegistry
    from onnxbridge.testing import ParityReport
    from onnxbridge.training.options import TrainOptions
    from onnxbridge.training.run import Run


@dataclass
class ConversionResult:
    """What a conversion produced: the live object, the ONNX hub model, files written, parity checks.

    ``target`` is "onnx" or a bridge's name; ``checks`` holds one ``(hop, ParityReport)`` per verified hop.
    """

    target: str
    value: Any
    onnx_model: onnx.ModelProto
    files: list[Path] = field(default_factory=list)
    checks: list[tuple[str, ParityReport]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every verified hop is within tolerance."""
        return all(r.ok for _, r in self.checks)


class ParityError(OnnxBridgeError):
    """A conversion ran but its outputs differ from onnxruntime's beyond tolerance (exit code 1)."""

    exit_code = 1


@dataclass(frozen=True)
class GpuFound:
    """A GPU as a framework sees it (the device listing adds where it came from)."""

    index: int
    name: str
    memory_bytes: int | None
    capability: str | None = None


class Bridge:
    """One framework: how to recognise its models, convert them to and from ONNX, run them, and its devices.

    Subclasses set the class attributes and implement the methods that raise ``NotImplementedError``;
    the others have defaults that suit most frameworks. Every method imports the framework lazily.
    """

    #: short name: the conversion and check target (``--to torch``), the extra, the bench engine prefix
    name: ClassVar[str]
    #: how people write it in messages ("PyTorch")
    display_name: ClassVar[str]
    #: the ``pip install 'onnxbridge[EXTRA]'`` that brings the framework
    extra: ClassVar[str]
    #: the module whose import must succeed for the bridge to work
    module: ClassVar[str]
    #: other names users type for the framework (``--target tf``)
    aliases: ClassVar[tuple[str, ...]] = ()
    #: (name shown by ``devices``, distributions to read its version from), in listing order
    packages: ClassVar[tuple[tuple[str, tuple[str, ...]], ...]] = ()
    #: top-level modules whose classes make a live object this framework's (checked on the type's MRO)
    object_modules: ClassVar[tuple[str, ...]] = ()
    #: the source files it reads, for messages (".pt2/.pt/file.py:Name")
    source_formats: ClassVar[str] = ""
    #: the live objects it reads, for messages ("a torch.nn.Module")
    live_objects: ClassVar[str] = ""
    #: keyword options its importer accepts besides the common ones (inputs, tolerances, verify, seed)
    import_options: ClassVar[frozenset[str]] = frozenset()
    #: keyword options its exporter accepts
    export_options: ClassVar[frozenset[str]] = frozenset()
    #: what ``trust=True`` lets run when importing (None: nothing it reads can run code)
    trusted_sources: ClassVar[str | None] = None
    #: files and folders the exporter writes into its output directory
    output_files: ClassVar[tuple[str, ...]] = ()
    #: the check rule code for ops its ONNX converter lacks (``onnxbridge check --target NAME``)
    check_code: ClassVar[str]
    #: native engines for ``bench --compare``, each with the other names users type for it
    engines: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    #: engines that compile on their first call (which then counts as setup, not as a measured run)
    compiling_engines: ClassVar[tuple[str, ...]] = ()
    #: whether a live object is bound to one device, so benchmarks convert once per device
    converts_per_device: ClassVar[bool] = False
    #: training options (TrainOptions field names) that lay out a cluster in this framework's own way and
    #: that no other framework takes (``("nnodes",)``: torchrun's node count)
    cluster_options: ClassVar[tuple[str, ...]] = ()
    #: how a multi-machine run of this framework is given, for messages ("--nnodes and --master-addr")
    cluster_hint: ClassVar[str] = ""

    # -- sources --------------------------------------------------------------------------------------
    def recognises(self, path: Path) -> bool:
        """Whether ``path`` (a file or a directory) is a model this framework reads."""
        raise NotImplementedError

    def owns(self, obj: object) -> bool:
        """Whether ``obj`` is a live object of this framework, judged by its class (nothing is imported)."""
        return any((c.__module__ or "").split(".")[0] in self.object_modules for c in type(obj).__mro__)

    # -- conversion -----------------------------------------------------------------------------------
    def import_to_onnx(self, source: Any, **options: Any) -> ConversionResult:
        """Convert a model of this framework (a live object or a file) to ONNX, verified against itself."""
        raise NotImplementedError

    def export_from_onnx(self, model: onnx.ModelProto, **options: Any) -> ConversionResult:
        """Convert an ONNX model to a live object of this framework (and files, with ``output_dir``)."""
        raise NotImplementedError

    def op_registry(self) -> OpRegistry:
        """The registry of ONNX-op converters of the exporter, every op family registered."""
        raise NotImplementedError

    def generate_source(self, model: onnx.ModelProto, **options: Any) -> tuple[str, str]:
        """The ``model.py`` source its exporter writes for ``model`` and the main class's name (nothing runs)."""
        raise NotImplementedError

    # -- running --------------------------------------------------------------------------------------
    def installed(self) -> bool:
        """Whether the framework can be imported here (looked up, not imported)."""
        try:
            return importlib.util.find_spec(self.module) is not None
        except ValueError:  # a module entry set to None: treated as not installed
            return False

    def require(self) -> None:
        """Raise :class:`MissingDependencyError` naming the extra when the framework is not installed."""
        if not self.installed():
            raise MissingDependencyError(self.module, self.extra)

    def call(self, obj: Any, inputs: Sequence[np.ndarray]) -> Any:
        """Call a live object on numpy inputs (positionally) and return what it returns."""
        return obj(*inputs)

    def native_model(self, model: onnx.ModelProto, device: str) -> Any:
        """The live object benchmarks run: ``model`` converted for ``device``, not verified (the benchmark
        compares every output itself)."""
        return self.export_from_onnx(model, verify=False).value

    def native_runner(self, engine: str, value: Any, inputs: Sequence[np.ndarray],
                      device: str) -> Callable[[], object]:
        """A no-argument ``run()`` of ``value`` with ``engine`` on ``device``, inputs already placed there,
        that returns when the computation has finished (what a benchmark times)."""
        raise NotImplementedError

    @contextlib.contextmanager
    def native_threads(self, threads: int | None) -> Iterator[list[str]]:
        """Use ``threads`` intra-op threads while the block runs; yields notes about the setting."""
        yield []

    # -- devices --------------------------------------------------------------------------------------
    def has_cuda(self) -> bool:
        """Whether the framework sees a CUDA device (imports it)."""
        return False

    def list_gpus(self) -> tuple[list[GpuFound], list[str]] | None:
        """The GPUs the framework sees and notes about them, or None when it is not asked (too costly to
        import just for that, or unable to tell)."""
        return None

    def check_devices(self, placements: Mapping[str, str] | str) -> None:
        """Raise a clear :class:`OnnxBridgeError` when a placement ({node: device}, or one device for the
        whole model) names a device this framework cannot use here."""

    # -- training -------------------------------------------------------------------------------------
    # ``onnxbridge.training`` resolves the data, keeps the run's history, checkpoints and files, and asks
    # the bridge for what only the framework knows: the loop, its distributed engine, its launch files.
    def check_training_options(self, options: TrainOptions) -> None:
        """Raise :class:`~onnxbridge.training.options.OptionError` for options this framework cannot train
        with (the framework-neutral checks and :attr:`cluster_options` of other frameworks are checked
        before)."""

    def world_size(self, options: TrainOptions) -> int:
        """How many processes train together under ``options`` (``--nproc`` by default)."""
        return options.nproc

    def distributed_env(self, options: TrainOptions) -> tuple[int, int] | None:
        """``(rank, world size)`` when this process is one worker of a distributed run (the framework's
        launcher, a cluster's operator or the options gave it its place: torchrun's ``RANK``/``WORLD_SIZE``,
        ``TF_CONFIG``, ``--workers``), else None. Read before the framework is imported."""
        raise NotImplementedError

    def launch(self, network: str, run_dir: str, options: TrainOptions, *, resume: bool = False) -> bool:
        """Start every process of this machine's share of a distributed run on the framework's own engine
        and wait for them; raise :class:`~onnxbridge.training.launch.LaunchError` when one fails. Return
        whether the reporting process ran here (so RUN_DIR here holds ``metrics.json``)."""
        raise NotImplementedError

    def launch_files(self, network: str, run_dir: str, options: TrainOptions, image: str) -> dict[str, str]:
        """``{file name: text}`` of what a cluster needs to run ``options`` (per-node commands, a Slurm
        script, a Kubeflow manifest for ``image``), every one running the command a local run gives its
        workers; nothing is written or run."""
        raise NotImplementedError

    def train(self, run: Run, *, resume: str | None = None) -> Any:
        """Train ``run`` in this process (one rank of a distributed run when :meth:`distributed_env` says
        so) and return the trained live object.

        The loop reports every epoch through ``run.end_epoch`` (history, early stopping, ``metrics.json``)
        and checkpoints it with :func:`~onnxbridge.training.checkpoint.save_checkpoint` on the chief;
        ``resume=RUN_DIR`` continues from its latest checkpoint. It sets ``run.rank``, ``run.world`` and
        ``run.device``; a distributed run records every rank's :func:`weights_digest` in
        ``run.extra["replicas"]``.
        """
        raise NotImplementedError

    def exportable(self, value: Any, sample: Sequence[np.ndarray]) -> tuple[Any, Any]:
        """What :meth:`import_to_onnx` exports a trained ``value`` from: the object (in inference mode, on
        the CPU) and example inputs built from the numpy ``sample`` batch."""
        raise NotImplementedError

    def predict(self, value: Any, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """The trained object's first output on numpy ``inputs``, in inference mode, as float32 numpy."""
        raise NotImplementedError

    def end_training(self) -> None:
        """Leave what :meth:`train` joined (a process group) once the run's files are written."""


def weights_digest(state: Mapping[str, np.ndarray]) -> str:
    """sha256 over every tensor of a state dict (names and bytes, in name order): equal digests on every
    rank show that a distributed run ended with the same weights everywhere."""
    import hashlib

    import numpy as np

    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode())
        h.update(np.ascontiguousarray(state[key]).tobytes())
    return h.hexdigest()
