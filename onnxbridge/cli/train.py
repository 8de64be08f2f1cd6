"""``onnxbridge train``: train a spec or ONNX model in PyTorch or TensorFlow, locally or distributed."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from onnxbridge.cli.common import OutputFormat, console, print_json, reports_errors, shown
from onnxbridge.frameworks.bridges import names

#: Which framework trains: every registered bridge (the first is the default).
# the members come from the registered bridges, which a static checker cannot enumerate
Framework = Enum("Framework", {name: name for name in names()}, type=str)  # type: ignore[misc]
_FRAMEWORKS = " or ".join(names())


@reports_errors
def command(
    network: str = typer.Argument(..., show_default=False, help="A spec (.yaml/.json) or an ONNX model."),
    output: Path = typer.Option(None, "-o", "--output", help="RUN_DIR: checkpoints, metrics.json, curves.png, "
                                "model.onnx. It must be new or empty (continue a run with --resume)."),
    framework: Framework = typer.Option(next(iter(Framework)), "--framework", "-f", help=f"{_FRAMEWORKS}."),
    data: str = typer.Option(None, "--data", help="digits, iris, wine, breast_cancer, npz:PATH, csv:PATH or "
                             "images:DIR (default: the spec's data: section)."),
    target: str = typer.Option(None, "--target", help="The label array (npz) or column (csv)."),
    task: str = typer.Option(None, "--task", help="auto, classification or regression."),
    split: float = typer.Option(None, "--split", help="Validation fraction (default 0.2)."),
    scale: str = typer.Option(None, "--scale", help="Feature scaling: standard, minmax, max or none."),
    epochs: int = typer.Option(20, "--epochs", help="Epochs to train."),
    batch_size: int = typer.Option(32, "--batch-size", help="The global batch size (split across processes)."),
    lr: float = typer.Option(1e-3, "--lr", help="Learning rate."),
    optimizer: str = typer.Option("adam", "--optimizer", help="adam, adamw or sgd (momentum 0.9)."),
    schedule: str = typer.Option("cosine", "--schedule", help="The learning rate over the run: cosine (from "
                                 "--lr down to 0 over all epochs' steps) or constant."),
    loss: str = typer.Option("auto", "--loss", help="auto, cross_entropy, mse or bce."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N."),
    amp: bool = typer.Option(False, "--amp", help="Mixed precision (float16 on CUDA, bfloat16 on the CPU)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the weights, the split, the batch order and dropout."),
    patience: int = typer.Option(5, "--patience", help="Early stopping: epochs without a better validation "
                                 "loss (0: off)."),
    resume: Path = typer.Option(None, "--resume", help="Continue RUN_DIR from its last checkpoint."),
    export_to: str = typer.Option(None, "--export-to", help="Also convert the trained network to this framework "
                                  f"({_FRAMEWORKS}), parity checked."),
    nproc: int = typer.Option(1, "--nproc", help="Processes on this node: torchrun workers (PyTorch) or local "
                              "MultiWorkerMirroredStrategy workers (TensorFlow)."),
    nnodes: int = typer.Option(1, "--nnodes", help="PyTorch: machines in the run."),
    node_rank: int = typer.Option(0, "--node-rank", help="PyTorch: this machine's rank (0 hosts the rendezvous)."),
    master_addr: str = typer.Option("127.0.0.1", "--master-addr", help="PyTorch: address of node 0."),
    master_port: int = typer.Option(29500, "--master-port", help="PyTorch: rendezvous port on node 0."),
    connect_timeout: float = typer.Option(60.0, "--connect-timeout", help="Seconds to wait for the master / "
                                          "the other processes."),
    workers: str = typer.Option(None, "--workers", help="TensorFlow: every worker as host:port, comma-separated "
                                "(MultiWorkerMirroredStrategy; worker 0 is the chief)."),
    worker_index: int = typer.Option(0, "--worker-index", help="TensorFlow: this worker's index in --workers."),
    emit_launch: Path = typer.Option(None, "--emit-launch", help="Write launch files for a cluster into this "
                                     "directory (torchrun per node, Slurm, Kubeflow) instead of training."),
    image: str = typer.Option(None, "--image", help="--emit-launch: the container image for Kubeflow manifests."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bars and per-epoch lines."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table or json (the final metrics)."),
) -> None:
    """Train a network on its data in PyTorch or TensorFlow, then export the trained network to ONNX.

    Every epoch is checkpointed (safetensors + JSON) in RUN_DIR; metrics.json and curves.png are kept
    up to date. With --nproc/--nnodes (PyTorch) the run goes through torchrun and DDP; with --nproc or
    --workers (TensorFlow) through MultiWorkerMirroredStrategy.
    """
    from onnxbridge.training.api import train

    result = train(
        network, output=output, resume=resume, emit_launch=emit_launch, image=image,
        framework=framework.value, data=data, target=target, task=task, split=split, scale=scale, epochs=epochs,
        batch_size=batch_size, lr=lr, optimizer=optimizer, schedule=schedule, loss=loss, device=device, amp=amp, seed=seed,
        patience=patience, export_to=export_to, nproc=nproc, nnodes=nnodes, node_rank=node_rank,
        master_addr=master_addr, master_port=master_port, connect_timeout=connect_timeout,
        workers=[w.strip() for w in workers.split(",") if w.strip()] if workers else [],
        worker_index=worker_index, progress=progress and fmt is OutputFormat.table)
    if emit_launch is not None:
        if fmt is OutputFormat.json:
            print_json({"launch_files": result.launched})
            return
        console.print(f"wrote {len(result.launched)} launch file(s) to [bold]{shown(str(emit_launch))}[/]:")
        for f in result.launched:
            console.print(f"  {shown(f)}")
        return
    if not result.metrics:
        return  # not the reporting process: rank 0 (the chief) reports
    if fmt is OutputFormat.json:
        if result.role != "worker":
            print_json(result.metrics)
        return
    if result.role != "launcher":  # a local launch: rank 0 has printed it already
        _print_summary(result)


def _print_summary(result) -> None:
    m = result.metrics
    final = m.get("final", {})
    metric = m.get("metric", "accuracy")
    value = final.get(f"val_{metric}", final.get(metric))
    shown_value = "" if value is None else (f"{value:.2%}" if metric == "accuracy" else f"{value:.4f}")
    stopped = " (stopped early)" if m.get("stopped_early") else ""
    console.print(f"trained {shown(m.get('network', ''))} with {m.get('framework')} on {m.get('device')} "
                  f"({m.get('world_size')} process{'es' if m.get('world_size', 1) > 1 else ''}): "
                  f"{m.get('epochs_run')} epoch(s){stopped}, validation {metric} [bold]{shown_value}[/]")
    onnx = m.get("onnx") or {}
    if onnx:
        checks = "; ".join(f"{shown(h)}: {'ok' if c['ok'] else 'FAILED'} (max abs {c['max_abs_error']:.1e})"
                           for h, c in onnx.get("checks", {}).items())
        agree = onnx.get("prediction_agreement")
        agree_text = f", onnxruntime agrees on {agree:.2%} of the validation predictions" if agree is not None else ""
        console.print(f"exported {shown(str(result.run_dir / onnx['path']))} ({checks}){agree_text}")
        other = onnx.get("export_to")
        if other:
            console.print(f"converted to {other['framework']}: {shown(str(result.run_dir / other['path']))} "
                          + ", ".join(f"{shown(h)} {'ok' if c['ok'] else 'FAILED'}" for h, c in other["checks"].items()))
    files = [f for f in ("metrics.json", m.get("curves")) if f]
    console.print(f"run directory {shown(str(result.run_dir))}: {', '.join(files)}, checkpoints/")
