"""``onnxbridge.train``: a spec (or ONNX model) and its data, trained in PyTorch or TensorFlow.

The steps, in order: check the options; build the network to ONNX; resolve and check the data (before
anything is written); then either launch the distributed run on the framework's engine (torchrun, or
local TensorFlow workers) or train in this process; at the end the trained network goes back to ONNX,
checked, with ``metrics.json`` and ``curves.png`` beside it in RUN_DIR. Everything a framework does is
asked of its bridge (:class:`onnxbridge.frameworks.base.Bridge`): this module names none.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

from onnxbridge.errors import OnnxBridgeError
from onnxbridge.frameworks.base import Bridge
from onnxbridge.frameworks.bridges import get_bridge
from onnxbridge.spec.data import DataSpec
from onnxbridge.training.data import ModelIO, TrainData, load_data, model_io
from onnxbridge.training.metrics import METRICS_FILE, write_json
from onnxbridge.training.objective import choose_objective
from onnxbridge.training.options import TrainOptions
from onnxbridge.training.run import Run

OPTIONS_FILE = "options.json"
DATA_FILE = "data.json"


@dataclass
class TrainResult:
    """What a run left: its directory, ``metrics.json`` as a dict, the trained ONNX model's path."""

    run_dir: Path
    metrics: dict[str, Any]
    onnx_path: Path | None = None
    launched: list[str] = field(default_factory=list)
    #: "single" (trained here), "worker" (one rank of a distributed run), "launcher" (started the workers)
    role: str = "single"

    @property
    def final(self) -> dict[str, Any]:
        """The last epoch's record (loss, accuracy or mae, val_..., samples_per_s)."""
        return dict(self.metrics.get("final", {}))

    @property
    def history(self) -> list[dict[str, Any]]:
        """The per-epoch metric records of the run, oldest first."""
        return list(self.metrics.get("history", []))


@dataclass
class Network:
    """The network to train: its ONNX model, its data section, where relative data paths start."""

    model: onnx.ModelProto
    name: str
    data: DataSpec | None
    base_dir: Path
    path: str | None


def load_network(network: Any, seed: int) -> Network:
    """A spec (path or :class:`Spec`) built with ``seed``, or an ONNX model (path or ModelProto)."""
    from onnxbridge.conversion import source_kind
    from onnxbridge.spec import Spec, build, load_spec

    kind = source_kind(network)
    path = str(network) if isinstance(network, (str, os.PathLike)) else None
    base = Path(path).resolve().parent if path else Path.cwd()
    if kind == "spec":
        spec = network if isinstance(network, Spec) else load_spec(network)
        return Network(build(spec, seed=seed), spec.name, spec.data, base, path)
    if kind == "onnx":
        from onnxbridge.ir import load_model

        model = network if isinstance(network, onnx.ModelProto) else load_model(network)
        return Network(model, model.graph.name or "network", None, base, path)
    raise OnnxBridgeError(f"{network}: train takes a spec (.yaml/.json) or an ONNX model",
                          hint="convert the model to ONNX first: onnxbridge convert MODEL --to onnx -o net.onnx")


def data_spec(net: Network, options: TrainOptions) -> DataSpec:
    """The spec's data section with the command-line overrides applied."""
    base = net.data.model_dump() if net.data is not None else {}
    overrides = {"source": options.data, "target": options.target, "task": options.task, "split": options.split,
                 "scale": options.scale}
    merged = {**base, **{k: v for k, v in overrides.items() if v is not None}}
    if "source" not in merged:
        where = "the spec has no data: section" if net.path and net.path.endswith((".yaml", ".yml", ".json")) \
            else "an ONNX model carries no data section"
        raise OnnxBridgeError(f"no training data: {where}", hint="pass --data digits|iris|wine|breast_cancer|"
                                                                 "npz:PATH|csv:PATH|images:DIR")
    from pydantic import ValidationError

    try:
        return DataSpec.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise OnnxBridgeError(f"data: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None


def prepare(network: Any, options: TrainOptions) -> tuple[Network, ModelIO, TrainData]:
    """Build the network and load and check its data (raises before anything is written)."""
    net = load_network(network, options.seed)
    io = model_io(net.model)
    spec = data_spec(net, options)
    # a path in the spec's data section starts at the spec's folder; one given on the command line, here
    base = Path.cwd() if options.data is not None else net.base_dir
    data = load_data(spec, io, seed=options.seed, base_dir=base, loss=options.loss)
    if data.n_train < options.batch_size:
        raise OnnxBridgeError(f"data {data.source}: {data.n_train} training samples are fewer than one batch of "
                              f"{options.batch_size}", hint="lower --batch-size")
    if options.batch_size % options.world_size:
        raise OnnxBridgeError(f"--batch-size {options.batch_size} does not split into {options.world_size} "
                              "processes", hint="the batch size is the global batch; make it a multiple")
    return net, io, data


def train(network: Any, *, output: str | os.PathLike | None = None, resume: str | os.PathLike | None = None,
          emit_launch: str | os.PathLike | None = None, image: str | None = None,
          **options: Any) -> TrainResult:
    """Train ``network`` (a spec or ONNX model, path or object) and return a :class:`TrainResult`.

    Options are those of :class:`TrainOptions` (``framework``, ``epochs``, ``batch_size``, ``lr``, ``data``,
    ``nproc`` ...). ``output`` is RUN_DIR; ``resume=RUN_DIR`` continues a run from its last checkpoint;
    ``emit_launch=DIR`` writes launch files for a cluster instead of training. Example::

        result = onnxbridge.train("models/digits_cnn.yaml", framework="tensorflow", epochs=5,
                                  output="out/digits_tf_run")
        print(result.final["val_accuracy"])
    """
    opts = TrainOptions(**options).check()
    bridge = get_bridge(opts.framework)
    run_dir = _run_dir(output, resume)
    if emit_launch is not None:
        from onnxbridge.training.launch_files import write_launch_files

        if not isinstance(network, (str, os.PathLike)):
            raise OnnxBridgeError("launch files need the network as a file path")
        prepare(network, opts)  # the same checks a run would make, before any file is written
        files = write_launch_files(emit_launch, str(network), str(run_dir), opts, image=image)
        return TrainResult(Path(run_dir), {}, None, [str(f) for f in files])
    place = bridge.distributed_env(opts)  # (rank, world) when this process is a worker of a launched run
    if resume is None and place is None:
        _fresh(run_dir)  # a worker's launcher has checked the directory
    net, io, data = prepare(network, opts)
    objective = choose_objective(io, data, opts.loss)
    if place is None and opts.world_size > 1:
        return _launch(bridge, network, run_dir, opts, resume is not None)
    run = Run(Path(run_dir), opts, data, io, objective, net.model, net.name)
    if place is not None:  # only the chief prepares RUN_DIR, before any framework starts
        run.rank, run.world = place
    if run.chief:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        write_json(Path(run_dir) / OPTIONS_FILE, {"network": net.path or net.name, "argv": sys.argv[1:],
                                                  **opts.to_dict()})
        write_json(Path(run_dir) / DATA_FILE, data.describe())
    trained = bridge.train(run, resume=None if resume is None else str(resume))
    onnx_path = None
    if run.chief:
        from onnxbridge.training.export import export_trained

        run.extra["onnx"] = export_trained(run, trained)
        onnx_path = Path(run_dir) / run.extra["onnx"]["path"]
    run.finish()
    bridge.end_training()
    if not run.chief:
        return TrainResult(Path(run_dir), {}, None, role="worker")
    return TrainResult(Path(run_dir), run.summary(), onnx_path, role="worker" if run.world > 1 else "single")


def _run_dir(output: Any, resume: Any) -> str:
    if output is None and resume is None:
        raise OnnxBridgeError("no run directory", hint="give -o RUN_DIR (or --resume RUN_DIR)")
    if output is not None and resume is not None and Path(output).resolve() != Path(resume).resolve():
        raise OnnxBridgeError(f"-o {output} and --resume {resume} differ", hint="a resumed run continues in its "
                                                                                "own directory; leave -o out")
    return str(output if output is not None else resume)


def _fresh(run_dir: str) -> None:
    p = Path(run_dir)
    if p.exists() and (not p.is_dir() or any(p.iterdir())):
        raise OnnxBridgeError(f"{p}: already exists and is not empty",
                              hint="choose another -o, or continue that run with --resume")


def _launch(bridge: Bridge, network: Any, run_dir: str, opts: TrainOptions, resume: bool) -> TrainResult:
    """Run every process of this machine's share on the framework's engine; the metrics when they are here."""
    if not isinstance(network, (str, os.PathLike)):
        raise OnnxBridgeError("a distributed run needs the network as a file path (each process reads it)")
    if not bridge.launch(str(network), run_dir, opts, resume=resume):
        return TrainResult(Path(run_dir), {}, None, role="launcher")  # another node writes the files
    metrics = json.loads((Path(run_dir) / METRICS_FILE).read_text(encoding="utf-8"))
    onnx_path = Path(run_dir) / metrics["onnx"]["path"] if metrics.get("onnx") else None
    return TrainResult(Path(run_dir), metrics, onnx_path, role="launcher")
