"""The PyTorch bridge: what the rest of onnxbridge knows about PyTorch, behind :class:`~onnxbridge.frameworks.base.Bridge`.

torch is imported only inside the methods (and the modules they call), never when this module loads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onnxbridge.frameworks.base import Bridge, ConversionResult, GpuFound

if TYPE_CHECKING:
    import numpy as np
    import onnx

    from onnxbridge.frameworks.registry import OpRegistry
    from onnxbridge.training.options import TrainOptions
    from onnxbridge.training.run import Run

class TorchBridge(Bridge):
    """PyTorch: ``.pt2``/TorchScript/``file.py:Name`` and ``nn.Module`` in; ``nn.Module`` + ``model.py`` out."""

    name = "torch"
    display_name = "PyTorch"
    extra = "torch"
    module = "torch"
    aliases = ("pytorch",)
    packages = (("torch", ("torch",)),)
    object_modules = ("torch",)
    source_formats = ".pt2/.pt/file.py:Name"
    live_objects = "a torch.nn.Module"
    import_options = frozenset({"exporter", "opset", "dynamic_batch"})
    export_options = frozenset({"class_name", "seed", "device"})
    output_files = ("model.py", "model.safetensors")
    check_code = "OB301"
    engines = {"torch": ("pytorch", "eager", "torch-eager"), "torch.compile": ("torch-compile", "compile")}
    compiling_engines = ("torch.compile",)
    converts_per_device = True
    cluster_options = ("nnodes",)
    cluster_hint = "--nnodes and --master-addr"

    def recognises(self, path: Path) -> bool:
        """Exported programs (``.pt2``), TorchScript archives (``.pt``, ``.pth``) and model sources
        (``.py``)."""
        return path.suffix.lower() in (".pt2", ".pt", ".pth", ".py")

    def import_to_onnx(self, source: Any, **options: Any) -> ConversionResult:
        """``nn.Module`` or saved file to ONNX through ``torch.onnx.export`` (see
        :func:`~onnxbridge.frameworks.torch.importer.import_to_onnx`)."""
        from onnxbridge.frameworks.torch.importer import import_to_onnx

        return import_to_onnx(source, **options)

    def export_from_onnx(self, model: onnx.ModelProto, **options: Any) -> ConversionResult:
        """ONNX to an ``nn.Module`` through the generated source (see
        :func:`~onnxbridge.frameworks.torch.exporter.export_from_onnx`)."""
        from onnxbridge.frameworks.torch.exporter import export_from_onnx

        return export_from_onnx(model, **options)

    def op_registry(self) -> OpRegistry:
        """The torch converters, every op family loaded."""
        from onnxbridge.frameworks.torch.registry import load_ops

        return load_ops()

    def generate_source(self, model: onnx.ModelProto, **options: Any) -> tuple[str, str]:
        """The ``nn.Module`` source for ``model``, its class named ``class_name`` when given."""
        from onnxbridge.frameworks.torch.codegen import generate

        generated = generate(model, class_name=options.get("class_name"))
        return generated.source, generated.class_name

    def call(self, obj: Any, inputs: Sequence[np.ndarray]) -> Any:
        """Torch tensors (on the device of the module's first parameter) in, under ``no_grad``."""
        import torch

        from onnxbridge.frameworks.torch.arrays import tensor_from_numpy

        device = next((p.device for p in obj.parameters()), None) if hasattr(obj, "parameters") else None
        args = [tensor_from_numpy(a).to(device) for a in inputs]
        with torch.no_grad():
            return obj(*args)

    def native_model(self, model: onnx.ModelProto, device: str) -> Any:
        """The module with every layer on ``device``."""
        # the whole model on ``device``: per-layer placements from a spec are overridden, as onnxruntime runs
        # the whole model on one provider too
        return self.export_from_onnx(model, verify=False, device=device).value

    def native_runner(self, engine: str, value: Any, inputs: Sequence[np.ndarray],
                      device: str) -> Callable[[], object]:
        """Eager or ``torch.compile``-d, under ``inference_mode``, synchronised on CUDA."""
        import numpy as np
        import torch

        module = value.eval()  # converted for ``device`` already
        args = [torch.from_numpy(np.require(a, requirements="C")).to(device) for a in inputs]
        fn = torch.compile(module) if engine == "torch.compile" else module
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

        def run() -> object:
            with torch.inference_mode():
                out = fn(*args)
            sync()
            return out

        return run

    @contextlib.contextmanager
    def native_threads(self, threads: int | None) -> Iterator[list[str]]:
        """PyTorch's intra-op thread count, restored afterwards."""
        if not threads:
            yield []
            return
        import torch

        saved = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            yield []
        finally:
            torch.set_num_threads(saved)

    def has_cuda(self) -> bool:
        """Whether ``torch.cuda.is_available()``."""
        import torch

        return bool(torch.cuda.is_available())

    def list_gpus(self) -> tuple[list[GpuFound], list[str]]:
        """The CUDA devices torch sees, and notes about them."""
        from onnxbridge.frameworks.torch.devices import gpus

        return gpus()

    def check_devices(self, placements: Mapping[str, str] | str) -> None:
        """Raise a clear error when a placement names a device torch does not have here."""
        from onnxbridge.frameworks.torch.devices import check_available

        check_available(placements)

    # -- training: a plain loop with DDP, launched by torchrun ---------------------------------------
    def world_size(self, options: TrainOptions) -> int:
        """``--nproc`` processes on each of ``--nnodes`` machines."""
        return options.nproc * options.nnodes

    def distributed_env(self, options: TrainOptions) -> tuple[int, int] | None:
        """torchrun's ``RANK`` and ``WORLD_SIZE`` (a Kubeflow PyTorchJob's torchrun sets them too)."""
        from onnxbridge.frameworks.torch.launch import torchrun_env

        env = torchrun_env()
        return None if env is None else (env["rank"], env["world"])

    def launch(self, network: str, run_dir: str, options: TrainOptions, *, resume: bool = False) -> bool:
        """This node's torchrun (``python -m torch.distributed.run``); node 0 holds the run's files."""
        from onnxbridge.frameworks.torch.launch import run_torchrun

        run_torchrun(network, run_dir, options, resume=resume)
        return options.node_rank == 0

    def launch_files(self, network: str, run_dir: str, options: TrainOptions, image: str) -> dict[str, str]:
        """A torchrun command per node, a Slurm script, a Kubeflow ``PyTorchJob``."""
        from onnxbridge.frameworks.torch.launch import launch_files

        return launch_files(network, run_dir, options, image)

    def train(self, run: Run, *, resume: str | None = None) -> Any:
        """The generated ``nn.Module`` trained by a plain loop (DDP under torchrun); returns the module."""
        from onnxbridge.frameworks.torch.training import train

        return train(run, resume=resume)

    def exportable(self, value: Any, sample: Sequence[np.ndarray]) -> tuple[Any, Any]:
        """A CPU copy in eval mode (a placed module forgets its placement), torch tensors as examples."""
        import torch

        from onnxbridge.frameworks.torch.training import cpu_copy

        return cpu_copy(value), tuple(torch.from_numpy(x) for x in sample)

    def predict(self, value: Any, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """The module in eval mode, without gradients, the inputs on its first device."""
        from onnxbridge.frameworks.torch.training import predict

        return predict(value, list(inputs))

    def end_training(self) -> None:
        """Destroy the process group: rank 0 may still be exporting, and torchrun waits for every process."""
        from onnxbridge.frameworks.torch.training import leave_distributed

        leave_distributed()


BRIDGE = TorchBridge()
