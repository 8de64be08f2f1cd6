"""ONNX -> a live ``torch.nn.Module`` and, on request, ``model.py`` + ``model.safetensors``, verified.

The live module is the generated source itself, executed: :func:`load_source` imports the text of
``model.py`` as a module and calls its ``load()`` with the state dict, so the object you get and the
file you ship are the same code. Both are checked against onnxruntime with :mod:`onnxbridge.testing`.

Example::

    result = export_from_onnx(onnx_model, output_dir="out/net")
    module = result.value                       # nn.Module in eval mode
    for hop, report in result.checks:
        print(hop, report.summary())
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.util
import linecache
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import onnx

from onnxbridge.errors import MissingDependencyError, OnnxBridgeError
from onnxbridge.frameworks.base import ConversionResult
from onnxbridge.frameworks.torch.codegen import WEIGHTS_FILE, GeneratedModule, generate
from onnxbridge.ir.io import atomic_output_dir
from onnxbridge.testing import DEFAULT_ATOL, DEFAULT_RTOL, check_parity, random_inputs

MODEL_FILE = "model.py"
HOP_LIVE = "ONNX -> torch (live module)"
HOP_DISK = "ONNX -> torch (model.py from disk)"


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise MissingDependencyError("torch", "torch") from None
    return torch


def export_from_onnx(model: onnx.ModelProto, *, output_dir: str | os.PathLike | None = None, verify: bool = True,
                     atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL, class_name: str | None = None,
                     seed: int = 0, device: str | None = None, **options: Any) -> ConversionResult:
    """Convert ``model`` to a live ``nn.Module`` (eval mode); with ``output_dir``, also write the package.

    The module takes the graph inputs positionally and returns one tensor or a tuple in graph output
    order. With ``verify`` (the default) the live module, and the generated ``model.py`` loaded back
    from disk, are compared with onnxruntime on random inputs; the reports are in ``result.checks``.
    Layers a spec placed on devices (``device: cuda:1``) go there, activations moving between them;
    ``device`` ("cpu", "cuda", "cuda:N") puts the whole live module on one device instead.
    """
    unknown = sorted(k for k, v in options.items() if v not in (None, False))
    if unknown:
        raise OnnxBridgeError(f"option(s) {', '.join(unknown)} do not apply to the torch target")
    _torch()
    from onnxbridge.frameworks.torch.devices import check_available
    from onnxbridge.runtime.layer_devices import check_device_name, read_placements

    if device is not None:
        device = check_device_name(device, where="device")
    check_available(device if device is not None else read_placements(model))
    generated = generate(model, class_name=class_name)
    module = load_source(generated.source, generated.state_dict, device=device)
    result = ConversionResult("torch", module, model,
                              notes=[f"generated class {generated.class_name} "
                                     f"(state dict of {sum(v.size for v in generated.state_dict.values()):,} values)"])
    feeds = random_inputs(model, seed=seed) if verify else None
    if verify:
        result.checks.append((HOP_LIVE, check_parity(model, module, inputs=feeds, atol=atol, rtol=rtol)))
    if output_dir is not None:
        result.files.extend(write_package(generated, output_dir))
        if verify:
            disk = load_package(output_dir, device=device)
            result.checks.append((HOP_DISK, check_parity(model, disk, inputs=feeds, atol=atol, rtol=rtol)))
    return result


def state_tensors(state: dict[str, np.ndarray]) -> dict[str, Any]:
    """numpy state dict -> torch tensors, copied into torch's own (aligned, unshared) memory like
    ``safetensors.torch.load_file`` gives."""
    from onnxbridge.frameworks.torch.arrays import tensor_from_numpy

    return {key: tensor_from_numpy(value).clone() for key, value in state.items()}


class _SourceLoader(importlib.abc.SourceLoader):
    """Imports a module from source text, with its lines registered for tracebacks."""

    def __init__(self, source: str, path: str):
        self.source = source
        self.path = path
        linecache.cache[path] = (len(source), None, source.splitlines(keepends=True), path)

    def get_filename(self, fullname: str) -> str:
        return self.path

    def get_data(self, path: str) -> bytes:
        return self.source.encode("utf-8")


def import_source(source: str, path: str | None = None) -> ModuleType:
    """Import generated source text as a fresh module (not added to ``sys.modules``, no bytecode cache).

    ``path`` becomes the module's ``__file__`` (``load()`` finds its weights beside it).
    """
    digest = hashlib.sha1(source.encode("utf-8")).hexdigest()[:12]
    name = f"onnxbridge_generated_{digest}"
    loader = _SourceLoader(source, path or f"<generated model.py {digest}>")
    spec = importlib.util.spec_from_loader(name, loader)  # sets __file__ from get_filename()
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def load_source(source: str, state: dict[str, np.ndarray], device: str | None = None) -> Any:
    """Run generated ``model.py`` text and return ``load(state)``: the live module in eval mode
    (on ``device`` when given)."""
    module = import_source(source)
    if device is None:
        return module.load(state_tensors(state))
    return module.load(state_tensors(state), device=device)


def write_package(generated: GeneratedModule, output_dir: str | os.PathLike) -> list[Path]:
    """Write ``model.py`` and ``model.safetensors`` into ``output_dir`` atomically."""
    from safetensors.torch import save_file

    target = Path(output_dir)
    with atomic_output_dir(target) as tmp:
        (tmp / MODEL_FILE).write_text(generated.source, encoding="utf-8")
        save_file(state_tensors(generated.state_dict), str(tmp / WEIGHTS_FILE),
                  metadata={"format": "pt", "class": generated.class_name})
    return [target / MODEL_FILE, target / WEIGHTS_FILE]


def load_package(output_dir: str | os.PathLike, device: str | None = None) -> Any:
    """Import ``model.py`` from ``output_dir`` the way a user would, and return its ``load()``
    (``load(device=device)`` when a device is given)."""
    path = Path(output_dir) / MODEL_FILE
    if not path.is_file():
        raise OnnxBridgeError(f"{path}: no such file", hint="convert the model with --to torch -o DIR first")
    module = import_source(path.read_text(encoding="utf-8"), str(path.resolve()))
    return module.load() if device is None else module.load(device=device)
