"""``onnxbridge.convert``: any supported source -> ONNX (the hub) -> the requested target, verified.

Sources: an ONNX file or ``onnx.ModelProto``; a spec (``.yaml``/``.json``/:class:`Spec`); PyTorch
(``.pt2``, TorchScript ``.pt``, ``file.py:Name``, a live ``nn.Module``); TensorFlow/Keras (``.keras``,
``.h5``, a SavedModel directory, a live Keras model). Nothing converts framework-to-framework directly:
every path goes through ONNX, and every hop is checked with :mod:`onnxbridge.testing`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

from onnxbridge.errors import OnnxBridgeError
from onnxbridge.testing import ParityReport, is_torch_module

TARGETS = ("onnx", "torch", "tensorflow", "spec")


@dataclass
class ConversionResult:
    """What a conversion produced: the live object, the ONNX hub model, files written, parity checks."""

    target: str
    value: Any
    onnx_model: onnx.ModelProto
    files: list[Path] = field(default_factory=list)
    checks: list[tuple[str, ParityReport]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for _, r in self.checks)


def source_kind(source: Any) -> str:
    """Classify a source: 'onnx', 'spec', 'torch' or 'tensorflow' (raises for anything else)."""
    if isinstance(source, onnx.ModelProto):
        return "onnx"
    from onnxbridge.spec import Spec

    if isinstance(source, Spec):
        return "spec"
    if isinstance(source, (str, os.PathLike)):
        text = str(source)
        path = Path(text.split(":")[0] if text.count(":") == 1 and text.split(":")[0].endswith(".py") else text)
        suffix = path.suffix.lower()
        if suffix == ".onnx":
            return "onnx"
        if suffix in (".yaml", ".yml", ".json"):
            return "spec"
        if suffix in (".pt2", ".pt", ".pth", ".py"):
            return "torch"
        if suffix in (".keras", ".h5") or (path.is_dir() and (path / "saved_model.pb").exists()):
            return "tensorflow"
        if not path.exists():
            raise OnnxBridgeError(f"{path}: no such file", hint="check the path")
        raise OnnxBridgeError(
            f"{path}: unknown model format {suffix or '(no extension)'!r}",
            hint="expected .onnx, .yaml/.json (spec), .pt2/.pt/file.py:Name (PyTorch), "
                 ".keras/.h5 or a SavedModel directory (TensorFlow)")
    if is_torch_module(source):
        return "torch"
    if any((c.__module__ or "").startswith(("keras", "tensorflow", "tf_keras")) for c in type(source).__mro__):
        return "tensorflow"
    raise OnnxBridgeError(f"cannot convert a {type(source).__name__}",
                          hint="pass a file path, an onnx.ModelProto, a Spec, a torch.nn.Module or a Keras model")


class ParityError(OnnxBridgeError):
    """A conversion ran but its outputs differ from onnxruntime's beyond tolerance (exit code 1)."""

    exit_code = 1


def to_onnx(source: Any, *, example_inputs: Any = None, input_shapes: dict[str, tuple] | None = None,
            seed: int = 0, atol: float | None = None, rtol: float | None = None,
            verify: bool = True, **options: Any) -> ConversionResult:
    """Bring any source into ONNX. Framework imports are verified against the native model."""
    kind = source_kind(source)
    trust = options.pop("trust", False)
    if trust and kind != "tensorflow":
        raise OnnxBridgeError("trust applies to TensorFlow sources (SavedModels and .keras archives)",
                              hint="ONNX, spec and PyTorch files are never run as code, trusted or not")
    if kind == "onnx":
        from onnxbridge.ir import load_model

        model = source if isinstance(source, onnx.ModelProto) else load_model(source)
        return ConversionResult("onnx", model, model)
    if kind == "spec":
        from onnxbridge.spec import build

        model = build(source, seed=seed)
        return ConversionResult("onnx", model, model, notes=["built from the spec"])
    tol = _tolerances(atol, rtol)
    if kind == "torch":
        from onnxbridge.frameworks.torch.importer import import_to_onnx
    else:
        from onnxbridge.frameworks.tensorflow.importer import import_to_onnx

        options["trust"] = trust
    return import_to_onnx(source, example_inputs=example_inputs, input_shapes=input_shapes, verify=verify,
                          **tol, **options)


def convert_with_report(source: Any, to: str, *, example_inputs: Any = None, output: str | os.PathLike | None = None,
                        input_shapes: dict[str, tuple] | None = None, verify: bool = True, seed: int = 0,
                        atol: float | None = None, rtol: float | None = None, **options: Any) -> ConversionResult:
    """Like :func:`convert`, but returns every hop's parity report and the files written."""
    if to not in TARGETS:
        raise OnnxBridgeError(f"unknown target {to!r}", hint=f"choose one of: {', '.join(TARGETS)}")
    hub = to_onnx(source, example_inputs=example_inputs, input_shapes=input_shapes, seed=seed, atol=atol,
                  rtol=rtol, verify=verify, **{k: v for k, v in options.items() if k in _IMPORT_OPTIONS})
    export_options = {k: v for k, v in options.items() if k not in _IMPORT_OPTIONS}
    if to == "onnx":
        if output is not None:
            from onnxbridge.ir import save_model

            hub.files.append(save_model(hub.onnx_model, output))
        return hub
    if to == "spec":  # ONNX -> spec (lift), with the weights beside it
        from onnxbridge.spec.lift.convert import lift_result

        result = lift_result(hub.onnx_model, output=output, verify=verify, **_tolerances(atol, rtol))
        result.checks[:0] = hub.checks
        result.notes[:0] = hub.notes
        return result
    if to == "torch":
        from onnxbridge.frameworks.torch.exporter import export_from_onnx
    else:
        from onnxbridge.frameworks.tensorflow.exporter import export_from_onnx
    result = export_from_onnx(hub.onnx_model, output_dir=output, verify=verify, **_tolerances(atol, rtol),
                              **export_options)
    result.checks[:0] = hub.checks
    result.notes[:0] = hub.notes
    return result


_IMPORT_OPTIONS = ("exporter", "opset", "dynamic_batch", "trust")


def convert(source: Any, to: str, *, example_inputs: Any = None, output: str | os.PathLike | None = None,
            **options: Any) -> Any:
    """Convert ``source`` to ``to`` ("onnx", "torch", "tensorflow" or "spec") and return the live result.

    ``source`` is a path (``.onnx``, spec ``.yaml``/``.json``, ``.pt2``, TorchScript ``.pt``,
    ``file.py:ClassOrFactory``, ``.keras``, ``.h5``, a SavedModel directory) or a live object
    (``onnx.ModelProto``, :class:`Spec`, ``torch.nn.Module``, a Keras model). The result is an
    ``onnx.ModelProto``, a ``torch.nn.Module`` in eval mode, a callable ``tf.Module``, or a :class:`Spec`
    holding the model's weights (``output=net.yaml`` writes it and ``net.safetensors``); converted models
    take inputs positionally in the ONNX graph's input order and return one tensor or a tuple.
    With ``output=DIR`` the artifacts are written too. Every hop is verified numerically; a
    :class:`ParityError` is raised (after writing) when outputs differ beyond tolerance.

    Example::

        module = onnxbridge.convert("models/digits_cnn.yaml", "torch", output="out/digits_torch")
    """
    result = convert_with_report(source, to, example_inputs=example_inputs, output=output, **options)
    for hop, report in result.checks:
        if not report.ok:
            raise ParityError(f"{hop}: {report.summary()}", hint="the converted model's outputs differ; "
                              "please report the model")
    return result.value


def _tolerances(atol: float | None, rtol: float | None) -> dict[str, float]:
    from onnxbridge.testing import DEFAULT_ATOL, DEFAULT_RTOL

    return {"atol": DEFAULT_ATOL if atol is None else atol, "rtol": DEFAULT_RTOL if rtol is None else rtol}

