"""``onnxbridge.convert``: any supported source -> ONNX (the hub) -> the requested target, verified.

Sources: an ONNX file or ``onnx.ModelProto``; a spec (``.yaml``/``.json``/:class:`Spec`); PyTorch
(``.pt2``, TorchScript ``.pt``, ``file.py:Name``, a live ``nn.Module``); TensorFlow/Keras (``.keras``,
``.h5``, a SavedModel directory, a live Keras model). Nothing converts framework-to-framework directly:
every path goes through ONNX, and every hop is checked with :mod:`onnxbridge.testing`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import onnx

from onnxbridge.errors import OnnxBridgeError
from onnxbridge.frameworks.base import ConversionResult, ParityError
from onnxbridge.frameworks.bridges import bridge_of, bridges, get_bridge, names

__all__ = ["ConversionResult", "ParityError", "convert", "convert_with_report", "source_kind", "targets", "to_onnx"]


def targets() -> tuple[str, ...]:
    """What ``convert`` can produce: ``("onnx", "torch", "tensorflow", "spec")`` (onnx, every bridge, spec)."""
    return ("onnx", *names(), "spec")


def source_kind(source: Any) -> str:
    """Classify a source: 'onnx', 'spec' or a bridge's name ('torch', 'tensorflow'); raises for anything else."""
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
        for bridge in bridges():
            if bridge.recognises(path):
                return bridge.name
        if not path.exists():
            raise OnnxBridgeError(f"{path}: no such file", hint="check the path")
        formats = ", ".join(f"{b.source_formats} ({b.display_name})" for b in bridges())
        raise OnnxBridgeError(
            f"{path}: unknown model format {suffix or '(no extension)'!r}",
            hint=f"expected .onnx, .yaml/.json (spec), {formats}")
    owner = bridge_of(source)
    if owner is not None:
        return owner.name
    objects = " or ".join(b.live_objects for b in bridges())
    raise OnnxBridgeError(f"cannot convert a {type(source).__name__}",
                          hint=f"pass a file path, an onnx.ModelProto, a Spec, {objects}")


def to_onnx(source: Any, *, example_inputs: Any = None, input_shapes: dict[str, tuple] | None = None,
            seed: int = 0, atol: float | None = None, rtol: float | None = None,
            verify: bool = True, **options: Any) -> ConversionResult:
    """Bring any source into ONNX. Framework imports are verified against the native model."""
    kind = source_kind(source)
    trust = options.pop("trust", False)
    bridge = get_bridge(kind) if kind not in ("onnx", "spec") else None
    if trust and (bridge is None or bridge.trusted_sources is None):
        raise _trust_error()
    if kind == "onnx":
        from onnxbridge.ir import load_model

        model = source if isinstance(source, onnx.ModelProto) else load_model(source)
        return ConversionResult("onnx", model, model)
    if kind == "spec":
        from onnxbridge.spec import build

        model = build(source, seed=seed)
        return ConversionResult("onnx", model, model, notes=["built from the spec"])
    assert bridge is not None
    if bridge.trusted_sources is not None:
        options["trust"] = trust
    return bridge.import_to_onnx(source, example_inputs=example_inputs, input_shapes=input_shapes, verify=verify,
                                 **_tolerances(atol, rtol), **options)


def _trust_error() -> OnnxBridgeError:
    trusting = [b for b in bridges() if b.trusted_sources is not None]
    others = ["ONNX", "spec"] + [b.display_name for b in bridges() if b.trusted_sources is None]
    applies = "; ".join(f"{b.display_name} sources ({b.trusted_sources})" for b in trusting)
    return OnnxBridgeError(f"trust applies to {applies}",
                           hint=f"{', '.join(others[:-1])} and {others[-1]} files are never run as code, trusted or not")


def convert_with_report(source: Any, to: str, *, example_inputs: Any = None, output: str | os.PathLike | None = None,
                        input_shapes: dict[str, tuple] | None = None, verify: bool = True, seed: int = 0,
                        atol: float | None = None, rtol: float | None = None, **options: Any) -> ConversionResult:
    """Like :func:`convert`, but returns every hop's parity report and the files written."""
    if to not in targets():
        raise OnnxBridgeError(f"unknown target {to!r}", hint=f"choose one of: {', '.join(targets())}")
    import_options = _import_options()
    hub = to_onnx(source, example_inputs=example_inputs, input_shapes=input_shapes, seed=seed, atol=atol,
                  rtol=rtol, verify=verify, **{k: v for k, v in options.items() if k in import_options})
    export_options = {k: v for k, v in options.items() if k not in import_options}
    if to == "onnx":
        if output is not None:
            from onnxbridge.ir import save_model

            hub.files.append(save_model(hub.onnx_model, output))
        return hub
    if to == "spec":  # ONNX -> spec (lift), with the weights beside it
        from onnxbridge.spec.lift.convert import lift_result

        result = lift_result(hub.onnx_model, output=output, verify=verify, **_tolerances(atol, rtol))
    else:
        result = get_bridge(to).export_from_onnx(hub.onnx_model, output_dir=output, verify=verify,
                                                 **_tolerances(atol, rtol), **export_options)
    result.checks[:0] = hub.checks
    result.notes[:0] = hub.notes
    return result


def convert(source: Any, to: str, *, example_inputs: Any = None, output: str | os.PathLike | None = None,
            **options: Any) -> Any:
    """Convert ``source`` to ``to`` ("onnx", a bridge: "torch", "tensorflow", or "spec") and return the result.

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


def _import_options() -> set[str]:
    """Options that belong to the import hop (the rest go to the exporter): any bridge's import options."""
    return {option for b in bridges() for option in b.import_options}


def _tolerances(atol: float | None, rtol: float | None) -> dict[str, float]:
    from onnxbridge.testing import DEFAULT_ATOL, DEFAULT_RTOL

    return {"atol": DEFAULT_ATOL if atol is None else atol, "rtol": DEFAULT_RTOL if rtol is None else rtol}

