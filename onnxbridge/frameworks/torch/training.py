"""Training in PyTorch: the module our converter generates, a plain loop, DDP when torchrun started us.

The module is the converter's own output (``model.py`` executed), switched to train mode; BatchNorm and
Dropout behave as in any ``nn.Module``. Data comes from :class:`EpochBatches`: batches sliced from the
arrays of :mod:`onnxbridge.training.data` in the epoch's order, one share of every global batch per process
as a ``DistributedSampler`` deals them. The loop itself is what one writes by hand::

    for inputs, target in batches:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(*inputs), target)
        loss.backward()
        optimizer.step()

The bridge (:meth:`TorchBridge.train <onnxbridge.frameworks.torch.bridge.TorchBridge.train>`) calls
:func:`train`; torchrun's command lines are in :mod:`.launch`.
"""

from __future__ import annotations

import copy
import time
from contextlib import nullcontext
from datetime import timedelta
from typing import Any

import numpy as np

from onnxbridge.errors import OnnxBridgeError
from onnxbridge.frameworks.base import weights_digest
from onnxbridge.frameworks.torch.launch import torchrun_env
from onnxbridge.training.checkpoint import latest_checkpoint, save_checkpoint
from onnxbridge.training.options import lr_factor
from onnxbridge.training.run import Run

EVAL_BATCH = 512


def _torch() -> Any:
    from onnxbridge.frameworks.torch.exporter import _torch as load

    return load()


# -- distributed -------------------------------------------------------------------------------------
def init_distributed(device: str, timeout: float) -> dict[str, int] | None:
    """Join the process group torchrun set up (gloo on CPU, nccl on CUDA); None when not distributed."""
    env = torchrun_env()
    if env is None or env["world"] == 1:
        return None
    import torch.distributed as dist

    if not dist.is_initialized():
        # torchrun's rendezvous already waited --connect-timeout for the other nodes; this timeout bounds
        # each collective, which may wait for rank 0 writing a checkpoint on a slow disk
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo",
                                timeout=timedelta(seconds=max(timeout, 1800.0)))
    return env


def leave_distributed() -> None:
    """Destroy the process group, if this process joined one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


# -- the model ---------------------------------------------------------------------------------------
def resolve_device(requested: str, local_rank: int = 0) -> str:
    """``auto`` -> cuda when available, else cpu; under torchrun each process takes its local GPU."""
    torch = _torch()
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise OnnxBridgeError(f"--device {requested}: CUDA is not available here", hint="use --device cpu")
        if requested == "cuda" or torchrun_env() is not None:
            index = local_rank if requested == "cuda" else int(requested.split(":")[1])
            requested = f"cuda:{index}"
        if int(requested.split(":")[1]) >= torch.cuda.device_count():
            raise OnnxBridgeError(f"--device {requested}: this machine has {torch.cuda.device_count()} GPU(s)")
    return requested


def build_module(onnx_model: Any, device: str, placed: bool) -> Any:
    """The converter's module (verified against onnxruntime), in train mode with training-time settings.

    ``placed``: the spec put layers on devices, and each layer trains where it was placed.
    """
    from onnxbridge.conversion import ParityError
    from onnxbridge.frameworks.torch.exporter import export_from_onnx

    result = export_from_onnx(onnx_model, device=None if placed else device)
    for hop, report in result.checks:
        if not report.ok:
            raise ParityError(f"{hop}: {report.summary()}")
    module = result.value
    _batchnorm_momentum(module, onnx_model)
    return module.train()


def _batchnorm_momentum(module: Any, onnx_model: Any) -> None:
    """Give each BatchNorm the momentum its ONNX node records (inference code does not need it)."""
    torch = _torch()
    momentum = {n.name: a.f for n in onnx_model.graph.node if n.op_type == "BatchNormalization"
                for a in n.attribute if a.name == "momentum"}
    for name, sub in module.named_modules():
        if isinstance(sub, torch.nn.modules.batchnorm._BatchNorm) and name.split(".")[-1] in momentum:
            sub.momentum = 1.0 - momentum[name.split(".")[-1]]


def make_optimizer(name: str, params: Any, lr: float) -> Any:
    """The torch optimizer ``name`` (``sgd`` with momentum 0.9, ``adam`` or ``adamw``) over ``params``."""
    torch = _torch()
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    return {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[name](params, lr=lr)


class Loss:
    """The objective's loss and metric on torch tensors (class axis last, as in the ONNX output)."""

    def __init__(self, objective: Any):
        torch = _torch()
        self.F = torch.nn.functional
        self.torch = torch
        self.kind, self.form = objective.kind, objective.form

    def __call__(self, out: Any, target: Any) -> Any:
        """The objective's loss of model output ``out`` against ``target`` (MSE, binary or multiclass
        cross-entropy)."""
        F = self.F
        out = out.float()
        if self.kind == "regression":
            return F.mse_loss(out, target)
        if self.kind == "binary":
            t = target.to(out.dtype)
            if self.form == "probs":
                return F.binary_cross_entropy(out.clamp(1e-7, 1 - 1e-7), t)
            return F.binary_cross_entropy_with_logits(out, t)
        flat, t = out.reshape(-1, out.shape[-1]), target.reshape(-1)
        if self.form == "probs":
            return F.nll_loss(self.torch.log(flat.clamp(1e-7, 1.0)), t)
        return F.cross_entropy(flat, t)

    def score(self, out: Any, target: Any) -> Any:
        """Summed metric over the batch: correct predictions, or absolute errors."""
        out = out.float()
        if self.kind == "regression":
            return (out - target).abs().mean(dim=tuple(range(1, out.ndim))).sum() if out.ndim > 1 \
                else (out - target).abs().sum()
        if self.kind == "binary":
            threshold = 0.5 if self.form == "probs" else 0.0
            return ((out > threshold).long() == target).float().mean(dim=tuple(range(1, out.ndim))).sum()
        if out.ndim == 2:  # one label per sample: the count of hits (the general form takes three ops more)
            return (out.argmax(-1) == target).sum()
        hits = (out.argmax(-1) == target).float()
        return hits.reshape(len(hits), -1).mean(1).sum()


# -- the data ----------------------------------------------------------------------------------------
class EpochBatches:
    """This process's share of every global batch of an epoch, as tensors.

    The epoch's order is :meth:`TrainData.epoch_order <onnxbridge.training.data.TrainData.epoch_order>`
    (the same in every framework). Rank ``r`` of ``W`` takes positions ``r, r+W, r+2W ...`` of each global
    batch, as a ``DistributedSampler`` without shuffling would deal them, so a ``W``-process run takes the
    single-process batches, shared out. Batches are sliced straight from tensors: a ``DataLoader`` over a
    sampler builds a Python list of positions per batch, about a tenth of a small network's step on the CPU.
    """

    def __init__(self, run: Run):
        torch = _torch()
        data = run.data
        self.inputs = [torch.from_numpy(x) for x in data.x_train]
        self.target = torch.from_numpy(data.y_train)
        self.data, self.batch, self.rank, self.world = data, run.options.batch_size, run.rank, run.world
        self.order = torch.from_numpy(data.epoch_order(0))

    def set_epoch(self, epoch: int) -> None:
        """Take ``epoch``'s sample order."""
        self.order = _torch().from_numpy(self.data.epoch_order(epoch))

    def __len__(self) -> int:
        return len(self.order) // self.batch

    def __iter__(self) -> Any:
        for start in range(0, len(self) * self.batch, self.batch):
            idx = self.order[start + self.rank:start + self.batch:self.world]
            yield [x[idx] for x in self.inputs], self.target[idx]


# -- the loop ----------------------------------------------------------------------------------------
def train(run: Run, *, resume: Any = None) -> Any:
    """Train ``run`` in this process (one rank of a DDP run when torchrun started it); return the trained
    module."""
    torch = _torch()
    opts = run.options
    env = torchrun_env()
    dist_env = init_distributed(opts.device if opts.device != "auto" else
                                ("cuda" if torch.cuda.is_available() else "cpu"), opts.connect_timeout)
    if dist_env is not None:
        run.rank, run.world = dist_env["rank"], dist_env["world"]
    local_rank = env["local_rank"] if env else 0
    placed = _placed(run.onnx_model) and opts.device == "auto"
    device = resolve_device(opts.device, local_rank) if not placed else "cpu"
    run.device = "per-layer placement" if placed else device
    torch.manual_seed(opts.seed + run.rank)
    module = build_module(run.onnx_model, device, placed)
    model = module
    if dist_env is not None:
        from torch.nn.parallel import DistributedDataParallel

        on_cuda = device.startswith("cuda") and not placed
        model = DistributedDataParallel(module, device_ids=[torch.device(device).index] if on_cuda else None)
    optimizer = make_optimizer(opts.optimizer, module.parameters(), opts.lr)
    amp_device = "cuda" if device.startswith("cuda") else "cpu"
    amp_dtype = torch.float16 if amp_device == "cuda" else torch.bfloat16
    scaler = torch.amp.GradScaler(amp_device, enabled=opts.amp and amp_device == "cuda")
    loss_fn = Loss(run.objective)
    batches = EpochBatches(run)
    total_steps = opts.epochs * len(batches)
    in_device, out_device = _io_devices(module, device, placed)
    moved = in_device.type != "cpu" or out_device.type != "cpu"  # the batches are sliced on the CPU
    scheduled = opts.schedule != "constant"
    # one autocast context, entered afresh each step (it keeps no state between uses)
    autocast = torch.autocast(amp_device, dtype=amp_dtype) if opts.amp else nullcontext()
    if resume is not None:
        ckpt = latest_checkpoint(resume)
        run.restore(ckpt.state, ckpt.epoch)
        module.load_state_dict({k: torch.from_numpy(v) for k, v in ckpt.model.items()})
        _load_optimizer(optimizer, ckpt.optimizer, ckpt.state.get("optimizer", {}))
        if "scaler" in ckpt.state:
            scaler.load_state_dict(ckpt.state["scaler"])
        torch.set_rng_state(torch.from_numpy(ckpt.optimizer[f"rng.{run.rank}"]))
    reporter = run.make_reporter()
    stop = run.start_epoch >= opts.epochs
    try:
        for epoch in range(run.start_epoch, opts.epochs):
            if stop:
                break
            reporter.start_epoch(epoch)
            batches.set_epoch(epoch)
            model.train()
            # summed where the output is: reading them back every batch would wait for the GPU each time
            loss_sum = torch.zeros((), dtype=torch.float64, device=out_device)
            score_sum = torch.zeros((), dtype=torch.float64, device=out_device)
            seen = 0
            began = time.perf_counter()
            for i, (inputs, target) in enumerate(batches):
                if scheduled:  # the step's rate; Keras' CosineDecay does the same
                    rate = opts.lr * lr_factor(opts.schedule, epoch * len(batches) + i, total_steps)
                    for group in optimizer.param_groups:
                        group["lr"] = rate
                if moved:
                    inputs = [x.to(in_device, non_blocking=True) for x in inputs]
                    target = target.to(out_device, non_blocking=True)
                optimizer.zero_grad(set_to_none=True)
                with autocast:
                    out = model(*inputs)
                loss = loss_fn(out, target)
                if scaler.is_enabled():
                    scaler.scale(loss).backward()
                    scaler.step(optimizer)
                    scaler.update()
                else:  # the plain step: the disabled scaler's calls cost a little every batch
                    loss.backward()
                    optimizer.step()
                n = len(target)
                loss_sum += loss.detach() * n
                score_sum += loss_fn.score(out.detach(), target)
                seen += n
                reporter.step()
            if out_device.type == "cuda":
                torch.cuda.synchronize(out_device)  # the GPU may still be running the epoch's last steps
            elapsed = time.perf_counter() - began
            totals = torch.stack([loss_sum, score_sum, torch.tensor(float(seen), dtype=torch.float64,
                                                                    device=out_device)])
            if dist_env is not None:
                import torch.distributed as dist

                dist.all_reduce(totals)
                # DDP keeps the parameters equal; each rank's BatchNorm statistics saw its own share of
                # the batches: all ranks take their mean (as the TensorFlow workers do)
                for buffer in module.buffers():
                    if buffer.is_floating_point():
                        dist.all_reduce(buffer, op=dist.ReduceOp.SUM)
                        buffer /= run.world
                    else:
                        dist.broadcast(buffer, 0)
            record = {"epoch": epoch + 1, "loss": float(totals[0] / totals[2])}
            record[run.objective.metric] = float(totals[1] / totals[2])
            record.update(evaluate(module, run, loss_fn, in_device, out_device))
            record["samples_per_s"] = float(totals[2]) / elapsed if elapsed > 0 else 0.0
            record["seconds"] = round(elapsed, 4)
            stop = run.end_epoch(record)
            _save(run, module, optimizer, scaler, epoch + 1, dist_env is not None)
    finally:
        reporter.close()
    if dist_env is not None:
        state = {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}
        run.extra["replicas"] = _replica_digests(state, run)
    return module


def evaluate(module: Any, run: Run, loss_fn: Loss, in_device: Any, out_device: Any) -> dict[str, float]:
    """Validation loss and metric (eval mode, no gradients); nothing when there is no validation split."""
    torch = _torch()
    data = run.data
    if data.n_val == 0:
        return {}
    module.eval()
    loss_sum = score_sum = 0.0
    with torch.no_grad():
        for start in range(0, data.n_val, EVAL_BATCH):
            inputs = [torch.from_numpy(x[start:start + EVAL_BATCH]).to(in_device) for x in data.x_val]
            target = torch.from_numpy(data.y_val[start:start + EVAL_BATCH]).to(out_device)
            out = module(*inputs)
            loss_sum += float(loss_fn(out, target)) * len(target)
            score_sum += float(loss_fn.score(out, target))
    module.train()
    metric = run.objective.metric
    return {"val_loss": loss_sum / data.n_val, f"val_{metric}": score_sum / data.n_val}


def predict(module: Any, inputs: list[np.ndarray]) -> np.ndarray:
    """The trained module's outputs on ``inputs`` (eval mode, CPU copy)."""
    torch = _torch()
    module.eval()
    device = _first_device(module)
    with torch.no_grad():
        out = module(*[torch.from_numpy(x).to(device) for x in inputs])
    return out.float().cpu().numpy()


def cpu_copy(module: Any) -> Any:
    """A CPU copy of the module for export (a placed module forgets its placement)."""
    copied = copy.deepcopy(module).cpu().eval()
    if isinstance(getattr(copied, "devices", None), dict):
        copied.devices = {k: "cpu" for k in copied.devices}
    return copied


# -- helpers -----------------------------------------------------------------------------------------
def _placed(onnx_model: Any) -> bool:
    from onnxbridge.runtime.layer_devices import read_placements

    return bool(read_placements(onnx_model))


def _first_device(module: Any) -> Any:
    devices = getattr(module, "devices", None)
    if isinstance(devices, dict) and "default" in devices:
        return devices["default"]
    return next(module.parameters()).device


def _io_devices(module: Any, device: str, placed: bool) -> tuple[Any, Any]:
    """Where inputs go and where the output comes out (differ with per-layer placement)."""
    torch = _torch()
    if not placed:
        return torch.device(device), torch.device(device)
    devices = module.devices
    placement = getattr(module, "PLACEMENT", {})
    last = list(placement.values())[-1] if placement else "default"
    return torch.device(devices["default"]), torch.device(devices.get(last, devices["default"]))


def _optimizer_tensors(optimizer: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The optimizer's state dict split into tensors (safetensors) and plain values (JSON)."""
    torch = _torch()
    sd = optimizer.state_dict()
    tensors: dict[str, np.ndarray] = {}
    plain: dict[str, Any] = {"param_groups": sd["param_groups"], "values": {}}
    for pid, entries in sd["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{pid}.{key}"] = value.detach().cpu().numpy()
            else:
                plain["values"][f"{pid}.{key}"] = value
    return tensors, plain


def _load_optimizer(optimizer: Any, tensors: dict[str, np.ndarray], plain: dict[str, Any]) -> None:
    torch = _torch()
    state: dict[int, dict[str, Any]] = {}
    for name, array in tensors.items():
        if name.startswith("state."):
            _, pid, key = name.split(".", 2)
            state.setdefault(int(pid), {})[key] = torch.from_numpy(array)
    for name, value in plain.get("values", {}).items():
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": plain["param_groups"]})


def _save(run: Run, module: Any, optimizer: Any, scaler: Any, epoch: int, distributed: bool) -> None:
    torch = _torch()
    tensors, plain = _optimizer_tensors(optimizer)
    rng = torch.get_rng_state()
    if distributed:
        import torch.distributed as dist

        states = [torch.empty_like(rng) for _ in range(run.world)]
        dist.all_gather(states, rng)
    else:
        states = [rng]
    if not run.chief:
        return
    for r, s in enumerate(states):
        tensors[f"rng.{r}"] = s.numpy()
    state = run.state()
    state["optimizer"] = plain
    if scaler.is_enabled():
        state["scaler"] = scaler.state_dict()
    save_checkpoint(run.run_dir, epoch=epoch, state=state, optimizer=tensors,
                    model={k: v.detach().cpu().numpy() for k, v in module.state_dict().items()})


def _replica_digests(state: dict[str, np.ndarray], run: Run) -> list[dict[str, Any]]:
    """Every rank's weights digest, gathered on every rank (as tensors: no pickled objects)."""
    torch = _torch()
    import torch.distributed as dist

    mine = torch.tensor(list(bytes.fromhex(weights_digest(state))), dtype=torch.uint8)
    gathered = [torch.empty_like(mine) for _ in range(run.world)]
    dist.all_gather(gathered, mine)
    return [{"rank": r, "sha256": bytes(t.tolist()).hex()} for r, t in enumerate(gathered)]
