"""PyTorch -> ONNX with ``torch.onnx.export``, verified against the PyTorch model itself.

Sources: a live ``nn.Module``, an ExportedProgram file (``.pt2``, ``torch.export.load``), a TorchScript
archive (``.pt``/``.pth``, ``torch.jit.load``; pickled state dicts are refused: we never unpickle user
files), or ``file.py:Name`` (a class with no required arguments, or a zero-argument factory).

The dynamo exporter runs first; when it fails, the TorchScript exporter runs and the dynamo error is
reported in ``ConversionResult.notes``. Dim 0 of the inputs is exported symbolic (``batch``) by default.

Example::

    result = import_to_onnx(net, input_shapes={"image": (1, 3, 32, 32)})
    result.onnx_model, result.checks, result.notes
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import io
import logging
import os
import pickle  # noqa: S403 - only for its error type; nothing is unpickled
import re
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from onnxbridge.errors import MissingDependencyError, ModelLoadError, OnnxBridgeError
from onnxbridge.frameworks.base import ConversionResult
from onnxbridge.frameworks.inputs import InputSpec, as_specs
from onnxbridge.frameworks.torch.safe_load import UnpicklingRefused, no_unpickling
from onnxbridge.testing import DEFAULT_ATOL, DEFAULT_BATCH, DEFAULT_RTOL, check_parity

HOP = "PyTorch -> ONNX"
EXPORTERS = ("auto", "dynamo", "torchscript")
BATCH_DIM = "batch"


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise MissingDependencyError("torch", "torch") from None
    return torch


# --------------------------------------------------------------------------------------------------
# input specs
# --------------------------------------------------------------------------------------------------
# --------------------------------------------------------------------------------------------------
# loading sources
# --------------------------------------------------------------------------------------------------
def check_source_path(source: Any) -> None:
    """The checks on a file source that need no torch (missing, empty, no name after ``file.py``), so a
    mistyped path is reported at once instead of after importing torch."""
    if not isinstance(source, (str, os.PathLike)):
        return
    text = str(source)
    match = re.fullmatch(r"(.+\.py):([A-Za-z_]\w*)", text)
    path = Path(match.group(1) if match else text)
    if not match and path.suffix == ".py":
        raise OnnxBridgeError(f"{path}: name the class or factory to use, e.g. {path}:Net")
    if not path.is_file():
        raise ModelLoadError(f"{path}: {'is a directory' if path.is_dir() else 'no such file'}",
                             hint="check the path")
    if not match and path.stat().st_size == 0:
        raise ModelLoadError(f"{path}: the file is empty")


def load_torch_source(source: Any) -> tuple[Any, str]:
    """The PyTorch object behind ``source`` and a label for messages.

    Returns an ``nn.Module``, a ``torch.jit.ScriptModule`` or a ``torch.export.ExportedProgram``.
    """
    check_source_path(source)
    torch = _torch()
    if isinstance(source, (torch.nn.Module, torch.export.ExportedProgram)):
        return source, type(source).__name__
    text = str(source)
    match = re.fullmatch(r"(.+\.py):([A-Za-z_]\w*)", text)
    if match:
        return _load_python(Path(match.group(1)), match.group(2)), text
    path = Path(text)
    if path.suffix == ".py":
        raise OnnxBridgeError(f"{path}: name the class or factory to use, e.g. {path}:Net")
    if not path.exists():
        raise ModelLoadError(f"{path}: no such file", hint="check the path")
    if path.stat().st_size == 0:
        raise ModelLoadError(f"{path}: the file is empty")
    if path.suffix == ".pt2":
        try:
            with _quiet(), no_unpickling():  # torch logs the failure with a traceback before raising it
                return torch.export.load(str(path)), text
        except Exception as exc:  # noqa: BLE001 - torch raises many kinds here
            if _refused_unpickling(exc):
                raise ModelLoadError(
                    f"{path}: the archive holds pickled Python objects (sample inputs, weights or constants); "
                    "onnxbridge does not unpickle files (that can run arbitrary code)",
                    hint="save the program again with plain tensors as example inputs and weights, or load it "
                         "yourself in code you trust and pass the module") from None
            raise ModelLoadError(f"{path}: not a loadable ExportedProgram ({_first_line(exc)})",
                                 hint="save it with torch.export.save(torch.export.export(model, args), path)") from None
    if path.suffix in (".pt", ".pth"):
        try:
            with _quiet():  # torch.jit.load warns that TorchScript is deprecated
                return torch.jit.load(str(path), map_location="cpu"), text
        except Exception as exc:  # noqa: BLE001
            if _is_pickle_archive(path):
                raise ModelLoadError(
                    f"{path}: a pickled torch.save() file, not a TorchScript archive; onnxbridge does not unpickle "
                    "files (that can run arbitrary code)",
                    hint="save a TorchScript archive (torch.jit.save), an ExportedProgram (.pt2), or use "
                         "file.py:ClassName") from None
            raise ModelLoadError(f"{path}: not a TorchScript archive ({_first_line(exc)})",
                                 hint="save it with torch.jit.save(torch.jit.script(model), path)") from None
    raise OnnxBridgeError(f"{path}: unknown PyTorch file type {path.suffix!r}",
                          hint="expected .pt2 (ExportedProgram), .pt/.pth (TorchScript) or file.py:Name")


def _refused_unpickling(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a refusal to unpickle objects."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (UnpicklingRefused, pickle.UnpicklingError)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _is_pickle_archive(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
        return any(n.endswith("data.pkl") for n in names) and not any("code/" in n for n in names)
    except (zipfile.BadZipFile, OSError):
        with open(path, "rb") as f:
            return f.read(2) == b"\x80\x02"


def _load_python(path: Path, name: str) -> Any:
    torch = _torch()
    if not path.is_file():
        raise ModelLoadError(f"{path}: no such file", hint="check the path")
    spec = importlib.util.spec_from_file_location(f"onnxbridge_user_{abs(hash(str(path.resolve())))}", path)
    if spec is None or spec.loader is None:
        raise ModelLoadError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the user's file raised
        raise ModelLoadError(f"{path}: importing it raised {type(exc).__name__}: {_first_line(exc)}") from None
    target = getattr(module, name, None)
    if target is None:
        found = sorted(n for n, v in vars(module).items() if inspect.isclass(v) and issubclass(v, torch.nn.Module)
                       and v.__module__ == module.__name__)
        raise OnnxBridgeError(f"{path}: has no {name!r}",
                              hint=f"modules defined there: {', '.join(found)}" if found else "check the name")
    if not callable(target):
        raise OnnxBridgeError(f"{path}:{name} is not a class or a function")
    required = _required_params(target)
    if required:
        raise OnnxBridgeError(f"{path}:{name} needs arguments ({', '.join(required)})",
                              hint="point at a zero-argument factory function that builds the model")
    try:
        model = target()
    except Exception as exc:  # noqa: BLE001
        raise OnnxBridgeError(f"{path}:{name}() raised {type(exc).__name__}: {_first_line(exc)}") from None
    if not isinstance(model, torch.nn.Module):
        raise OnnxBridgeError(f"{path}:{name}() returned a {type(model).__name__}, not a torch.nn.Module")
    return model


def _required_params(target: Any) -> list[str]:
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return []
    return [p.name for p in sig.parameters.values()
            if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD,
                                                                   p.KEYWORD_ONLY)]


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _first_line(exc: BaseException) -> str:
    lines = [ln for ln in _ANSI.sub("", str(exc)).strip().splitlines() if ln.strip()]
    return lines[0][:200] if lines else type(exc).__name__


# --------------------------------------------------------------------------------------------------
# example inputs
# --------------------------------------------------------------------------------------------------
def _example_args(obj: Any, example_inputs: Any, specs: list[InputSpec], dynamic_batch: bool,
                  seed: int) -> tuple[tuple, list[str] | None]:
    torch = _torch()
    if example_inputs is not None:
        items = example_inputs if isinstance(example_inputs, (tuple, list)) else (example_inputs,)
        args = tuple(torch.from_numpy(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a for a in items)
        return args, [s.name for s in specs] if specs and len(specs) == len(args) else None
    if specs:
        gen = torch.Generator().manual_seed(seed)
        high = _int_input_high(obj)
        made: list[Any] = []
        for s in specs:
            shape = s.example_shape(DEFAULT_BATCH if dynamic_batch else 1)
            if not dynamic_batch:
                shape = tuple(d if isinstance(d, int) and d > 0 else 1 for d in s.shape)
            dtype = getattr(torch, s.dtype)
            if dtype.is_floating_point:
                made.append(torch.randn(shape, generator=gen).to(dtype))
            elif dtype == torch.bool:
                made.append(torch.randint(0, 2, shape, generator=gen).bool())
            else:
                made.append(torch.randint(0, high, shape, generator=gen).to(dtype))
        return tuple(made), [s.name for s in specs]
    stored = getattr(obj, "example_inputs", None)
    if isinstance(obj, torch.export.ExportedProgram) and stored:
        return tuple(stored[0]), None
    raise OnnxBridgeError("example inputs are needed to export this PyTorch model",
                          hint="pass --input NAME:1x3x224x224[:dtype] (one per input) or example_inputs=")


def _int_input_high(obj: Any) -> int:
    """The bound of the random integer inputs made for ``obj``: 10, or the row count of its smallest
    embedding table when that is less (which input feeds which table is not known before the export, and
    an id past a table's end fails: BERT's token-type table has two rows)."""
    torch = _torch()
    high = 10
    if isinstance(obj, torch.nn.Module):
        for sub in obj.modules():
            if isinstance(sub, (torch.nn.Embedding, torch.nn.EmbeddingBag)):
                high = min(high, max(int(sub.num_embeddings), 1))
    return high


def _input_names(obj: Any, args: tuple, names: list[str] | None) -> list[str]:
    if names:
        return names
    torch = _torch()
    forward = obj.forward if isinstance(obj, torch.nn.Module) and not isinstance(obj, torch.jit.ScriptModule) else None
    params: list[str] = []
    if forward is not None:
        try:
            params = [p.name for p in inspect.signature(forward).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            params = []
    if isinstance(obj, torch.export.ExportedProgram):
        params = [s.arg.name for s in obj.graph_signature.input_specs if s.kind.name == "USER_INPUT"]
    if len(params) >= len(args):
        return params[:len(args)]
    return [f"input_{i}" for i in range(len(args))]


# --------------------------------------------------------------------------------------------------
# export
# --------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """torch.onnx prints progress and many warnings; keep the user's terminal readable."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _batch_can_vary(obj: Any) -> bool:
    """False for an ExportedProgram traced with a fixed batch size: it cannot be exported with a symbolic
    one (trying would only export it twice)."""
    torch = _torch()
    if not isinstance(obj, torch.export.ExportedProgram):
        return True
    users = {s.arg.name for s in obj.graph_signature.input_specs if s.kind.name == "USER_INPUT"}
    for node in obj.graph.nodes:
        val = node.meta.get("val") if node.op == "placeholder" and node.name in users else None
        shape = getattr(val, "shape", None)
        if shape is not None and len(shape) and not isinstance(shape[0], int):
            return True
    return False


def _batch_inputs(args: tuple) -> list[bool]:
    """Which inputs get a symbolic dim 0: those whose dim 0 matches the first tensor input's."""
    torch = _torch()
    tensors = [a for a in args if isinstance(a, torch.Tensor) and a.dim() > 0]
    if not tensors:
        return [False] * len(args)
    batch = tensors[0].shape[0]
    return [isinstance(a, torch.Tensor) and a.dim() > 0 and a.shape[0] == batch for a in args]


def _export_dynamo(obj: Any, args: tuple, names: list[str], dynamic: list[bool], opset: int | None) -> onnx.ModelProto:
    torch = _torch()
    kwargs: dict[str, Any] = {}
    if any(dynamic) and not isinstance(obj, torch.export.ExportedProgram):
        kwargs["dynamic_shapes"] = tuple({0: torch.export.Dim.AUTO} if d else None for d in dynamic)
    with _quiet():
        program = torch.onnx.export(obj, args, dynamo=True, input_names=names, opset_version=opset, verbose=False,
                                    **kwargs)
    return program.model_proto


def _export_dynamo_or_decomposed(obj: Any, args: tuple, names: list[str], dynamic: list[bool],
                                 opset: int | None) -> tuple[onnx.ModelProto, str]:
    """The dynamo export; for an ExportedProgram it refuses as loaded (a view of a tensor whose strides
    the program recorded, as Swin's window partition and T5's relative positions make), the export of
    the same program decomposed to core ATen ops first (``ep.run_decompositions()``)."""
    torch = _torch()
    try:
        return _export_dynamo(obj, args, names, dynamic, opset), ""
    except Exception:
        if not isinstance(obj, torch.export.ExportedProgram):
            raise
    with _quiet():
        decomposed = obj.run_decompositions()
    return _export_dynamo(decomposed, args, names, dynamic, opset), ", after ep.run_decompositions()"


def _export_torchscript(obj: Any, args: tuple, names: list[str], dynamic: list[bool],
                        opset: int | None) -> onnx.ModelProto:
    torch = _torch()
    if isinstance(obj, torch.export.ExportedProgram):
        obj = obj.module()
    buffer = io.BytesIO()
    axes = {n: {0: BATCH_DIM} for n, d in zip(names, dynamic) if d}
    with _quiet():
        torch.onnx.export(obj, args, buffer, dynamo=False, input_names=names, dynamic_axes=axes or None,
                          opset_version=opset or 17)
    return onnx.load_from_string(buffer.getvalue())


def _rename_batch(model: onnx.ModelProto, names: list[str], dynamic: list[bool]) -> None:
    """Call the exported symbolic dim 0 ``batch`` everywhere (dynamo names it ``s77`` or similar)."""
    symbols = set()
    for vi in model.graph.input:
        if vi.name in names and dynamic[names.index(vi.name)]:
            dims = vi.type.tensor_type.shape.dim
            if dims and dims[0].dim_param and dims[0].dim_param != BATCH_DIM:
                symbols.add(dims[0].dim_param)
    if not symbols:
        return
    for vi in list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info):
        for d in vi.type.tensor_type.shape.dim:
            if d.dim_param in symbols:
                d.dim_param = BATCH_DIM


def import_to_onnx(source: Any, *, example_inputs: Any = None, input_shapes: Any = None, verify: bool = True,
                   atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL, exporter: str = "auto",
                   opset: int | None = None, dynamic_batch: bool = True, seed: int = 0) -> ConversionResult:
    """Export a PyTorch model (object or file) to ONNX and check it against the model itself.

    ``input_shapes`` maps input names to shapes (``{"image": (1, 3, 32, 32)}``, or ``(shape, dtype)``
    pairs, or :class:`InputSpec`); ``example_inputs`` gives tensors instead. ``exporter`` is ``auto``
    (dynamo, then TorchScript), ``dynamo`` or ``torchscript``.
    """
    if exporter not in EXPORTERS:
        raise OnnxBridgeError(f"unknown exporter {exporter!r}", hint=f"choose one of: {', '.join(EXPORTERS)}")
    check_source_path(source)
    torch = _torch()
    obj, label = load_torch_source(source)
    specs = as_specs(input_shapes)
    args, names = _example_args(obj, example_inputs, specs, dynamic_batch, seed)
    names = _input_names(obj, args, names)
    dynamic = _batch_inputs(args) if dynamic_batch and _batch_can_vary(obj) else [False] * len(args)
    module = obj.module() if isinstance(obj, torch.export.ExportedProgram) else obj
    notes: list[str] = []
    with _eval_mode(module):
        model, used = _run_exporters(obj, args, names, dynamic, opset, exporter, notes)
        if any(dynamic):
            _rename_batch(model, names, dynamic)
        result = ConversionResult("onnx", model, model, notes=notes)
        if not verify:
            return result
        report = _check(model, module, args, atol, rtol)
        if report.ok and any(dynamic):
            # exporters sometimes bake the example's size into a reshape: try another batch size
            other = _resized(args, dynamic, seed)
            try:
                other_ok = _check(model, module, other, atol, rtol).ok
            except Exception:  # noqa: BLE001 - onnxruntime or torch rejecting the other size is the same answer
                other_ok = False
            if not other_ok:
                notes.append(f"the {used} export only computes correctly at the example batch size; "
                             "exported again with a static batch")
                model, _ = _run_exporters(obj, args, names, [False] * len(args), opset, used, [])
                report = _check(model, module, args, atol, rtol)
                result.value = result.onnx_model = model
        result.checks.append((HOP, report))
    return result


@contextlib.contextmanager
def _eval_mode(module: Any) -> Iterator[None]:
    """Export and compare in eval mode; leave the user's module as it was."""
    training = bool(getattr(module, "training", False))
    try:
        if training:
            module.eval()
    except NotImplementedError:  # ExportedProgram modules are already traced for inference
        training = False
    try:
        yield
    finally:
        if training:
            module.train()


def _check(model: onnx.ModelProto, module: Any, args: tuple, atol: float, rtol: float) -> Any:
    feeds = {n: a.detach().cpu().numpy() for n, a in zip(_onnx_input_names(model), args)}
    return check_parity(model, module, inputs=feeds, atol=atol, rtol=rtol)


def _resized(args: tuple, dynamic: list[bool], seed: int) -> tuple:
    """Random inputs like ``args`` with one more row in each dynamic dim 0 (values in the examples' range)."""
    torch = _torch()
    gen = torch.Generator().manual_seed(seed + 1)
    out = []
    for a, d in zip(args, dynamic):
        if not d:
            out.append(a)
            continue
        shape = (a.shape[0] + 1, *a.shape[1:])
        if a.dtype.is_floating_point:
            out.append(torch.randn(shape, generator=gen).to(a.dtype))
        elif a.dtype == torch.bool:
            out.append(torch.randint(0, 2, shape, generator=gen).bool())
        else:
            low, high = (int(a.min()), int(a.max()) + 1) if a.numel() else (0, 1)
            out.append(torch.randint(low, high, shape, generator=gen).to(a.dtype))
    return tuple(out)


def _onnx_input_names(model: onnx.ModelProto) -> list[str]:
    inits = {i.name for i in model.graph.initializer}
    return [i.name for i in model.graph.input if i.name not in inits]


def _run_exporters(obj: Any, args: tuple, names: list[str], dynamic: list[bool], opset: int | None,
                   exporter: str, notes: list[str]) -> tuple[onnx.ModelProto, str]:
    """The exported model and which exporter made it ("dynamo" or "torchscript")."""
    torch = _torch()
    errors: list[str] = []
    scripted = isinstance(obj, torch.jit.ScriptModule)
    if exporter in ("auto", "dynamo") and not scripted:
        try:
            model, how = _export_dynamo_or_decomposed(obj, args, names, dynamic, opset)
            notes.append(f"exported with the dynamo exporter (torch.onnx.export(dynamo=True){how})")
            return model, "dynamo"
        except Exception as exc:  # noqa: BLE001 - any exporter failure falls back
            errors.append(f"dynamo exporter: {type(exc).__name__}: {_first_line(exc)}")
            if exporter == "dynamo":
                raise OnnxBridgeError(f"the dynamo exporter failed: {_first_line(exc)}",
                                      hint="try --exporter torchscript") from None
            notes.append(f"the dynamo exporter failed ({type(exc).__name__}: {_first_line(exc)}); "
                         "fell back to the TorchScript exporter")
    elif scripted and exporter == "dynamo":
        raise OnnxBridgeError("a TorchScript archive can only be exported with the TorchScript exporter",
                              hint="use --exporter torchscript or auto")
    try:
        model = _export_torchscript(obj, args, names, dynamic, opset)
    except Exception as exc:  # noqa: BLE001
        errors.append(f"TorchScript exporter: {type(exc).__name__}: {_first_line(exc)}")
        raise OnnxBridgeError("cannot export the model to ONNX: " + "; ".join(errors)) from None
    notes.append("exported with the TorchScript exporter (torch.onnx.export(dynamo=False))")
    return model, "torchscript"

