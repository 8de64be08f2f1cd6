"""``--to spec``: the hub model lifted to a spec (and its weights), checked by building it again."""

from __future__ import annotations

import os

import onnx

HOP = "onnx -> spec"


def lift_result(model: onnx.ModelProto, *, output: str | os.PathLike | None = None, verify: bool = True,
                atol: float, rtol: float):
    """A :class:`~onnxbridge.conversion.ConversionResult` whose value is the lifted :class:`Spec`.

    With ``output`` (a .yaml/.yml/.json path) the spec and its ``.safetensors`` weights are written. The
    check builds the spec again and compares it with ``model`` in onnxruntime.
    """
    from onnxbridge.frameworks.base import ConversionResult
    from onnxbridge.spec.io import save_spec
    from onnxbridge.spec.lift import lift_model
    from onnxbridge.spec.pipeline import build
    from onnxbridge.testing import check_onnx_parity

    lifted = lift_model(model)
    result = ConversionResult("spec", lifted.spec, model, notes=list(lifted.notes))
    counts = ", ".join(f"{n} {t}" for t, n in sorted(lifted.layer_types.items(), key=lambda kv: -kv[1])[:8])
    result.notes.append(f"{len(lifted.spec.layers)} layer(s): {counts}")
    if output is not None:
        result.files.extend(save_spec(lifted.spec, output))
    if verify:
        result.checks.append((HOP, check_onnx_parity(model, build(lifted.spec), atol=atol, rtol=rtol)))
    return result
