"""After training: the trained network back to ONNX (through the project's importers, parity checked),
its predictions on the validation set compared between the framework and onnxruntime, and on request
converted on to another framework. The framework's bridge gives the object to export and its predictions."""

from __future__ import annotations

from typing import Any

import numpy as np

from onnxbridge.frameworks.bridges import get_bridge
from onnxbridge.ir import save_model
from onnxbridge.training.run import ONNX_FILE, Run


def export_trained(run: Run, trained: Any) -> dict[str, Any]:
    """Write ``RUN_DIR/model.onnx`` from the trained live object and return what was checked."""
    from onnxbridge.conversion import convert_with_report, to_onnx
    from onnxbridge.testing import run_onnxruntime

    bridge = get_bridge(run.options.framework)
    data = run.data
    sample = [x[:4] for x in (data.x_val if data.n_val else data.x_train)]
    module, example_inputs = bridge.exportable(trained, sample)
    result = to_onnx(module, example_inputs=example_inputs)
    model = result.onnx_model
    path = save_model(model, run.run_dir / ONNX_FILE)
    checks = {hop: {"ok": r.ok, "max_abs_error": _max_abs(r)} for hop, r in result.checks}
    inputs = data.x_val if data.n_val else data.x_train[:512]
    names = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    ours = bridge.predict(module, list(inputs))
    theirs = np.asarray(run_onnxruntime(model, dict(zip(names, inputs)))[0], dtype=np.float32)
    info: dict[str, Any] = {"path": path.name, "checks": checks,
                            "max_abs_diff": float(np.max(np.abs(ours - theirs))) if ours.size else 0.0}
    if run.objective.kind == "multiclass":
        info["prediction_agreement"] = float(np.mean(ours.argmax(-1) == theirs.argmax(-1)))
    elif run.objective.kind == "binary":
        threshold = 0.5 if run.objective.form == "probs" else 0.0
        info["prediction_agreement"] = float(np.mean((ours > threshold) == (theirs > threshold)))
    if run.options.export_to and run.options.export_to != run.options.framework:
        other = run.options.export_to
        converted = convert_with_report(model, other, output=run.run_dir / other)
        info["export_to"] = {"framework": other, "path": other,
                             "checks": {hop: {"ok": r.ok, "max_abs_error": _max_abs(r)}
                                        for hop, r in converted.checks}}
    return info


def _max_abs(report: Any) -> float:
    return float(report.max_abs)
