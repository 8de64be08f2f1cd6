"""Every registered TensorFlow op converter, on one-node models from the shared table, against onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest

from tests.frameworks.op_cases import (
    CASES,
    LAYOUT_INPUTS,
    ORT_NO_LAYOUT,
    build_model,
    case_inputs,
    sequence_first_variant,
    xfail_reason,
)

tf = pytest.importorskip("tensorflow")

from onnxbridge.frameworks.tensorflow.exporter import export_from_onnx  # noqa: E402
from onnxbridge.frameworks.tensorflow.registry import load_ops  # noqa: E402
from onnxbridge.testing import check_parity  # noqa: E402

pytestmark = pytest.mark.tensorflow

# what TensorFlow/Keras cannot express (or onnxruntime cannot check); a fixed case shows up as XPASS
NO_INPUTS = "the graph has no inputs (its outputs are constants); a Keras functional model needs an input"
TF_XFAIL: dict[str, str] = {
    "Constant": NO_INPUTS,
    "IsNaN-const-folded": NO_INPUTS,
    "GroupNormalization-opset18-per-group": "onnxruntime implements opset-18 GroupNormalization with per-channel "
                                            "scale like opset 21, so the reference is wrong",
}


def _reason(case) -> str | None:
    return TF_XFAIL.get(case.id) or xfail_reason(case, "tensorflow")


def _params():
    return [pytest.param(case, id=case.id, marks=[pytest.mark.xfail(reason=_reason(case), strict=True)]
                         if _reason(case) else [])
            for case in CASES]


@pytest.mark.parametrize("case", _params())
def test_op(case):
    model = build_model(case)
    module = export_from_onnx(model, verify=False).value
    report = check_parity(model, module, inputs=case_inputs(case), atol=case.atol, rtol=case.rtol)
    assert report.ok, report.summary()


def test_every_registered_op_has_a_case():
    covered = {c.op for c in CASES}
    missing = sorted(load_ops().op_types() - covered)
    assert not missing, f"ops without a case in tests/frameworks/op_cases.py: {missing}"


@pytest.mark.parametrize("case", [c for c in CASES if c.xfail.get("*") == ORT_NO_LAYOUT], ids=lambda c: c.id)
def test_batch_first_recurrent_matches_sequence_first(case):
    """onnxruntime cannot run layout=1; compare with the same op at layout=0 (which is checked against it)."""
    seq_first = sequence_first_variant(case)
    reference_model = build_model(seq_first)
    reference = export_from_onnx(reference_model, verify=False).value
    assert check_parity(reference_model, reference, inputs=case_inputs(seq_first)).ok
    candidate = export_from_onnx(build_model(case), verify=False).value
    feeds = case_inputs(case)
    got = candidate(*[feeds[k] for k in sorted(feeds)])
    want = reference(*[np.swapaxes(feeds[k], 0, 1).copy() if int(k[1:]) in LAYOUT_INPUTS else feeds[k]
                       for k in sorted(feeds)])
    # layout=1 moves batch first in X, Y (batch, seq, dirs, hidden) and the states (batch, dirs, hidden)
    np.testing.assert_allclose(got[0].numpy(), np.transpose(want[0].numpy(), (2, 0, 1, 3)), atol=1e-5)
    for g, w in zip(got[1:], want[1:]):
        np.testing.assert_allclose(g.numpy(), np.swapaxes(w.numpy(), 0, 1), atol=1e-5)


@pytest.mark.parametrize("case", [c for c in CASES if c.label.startswith("float16-runtime")], ids=lambda c: c.id)
def test_float16_stays_float16(case):
    """Helper layers (run-time shapes and bounds) keep float16 values float16: Keras would cast them."""
    module = export_from_onnx(build_model(case), verify=False).value
    feeds = case_inputs(case)
    out = module(*[feeds[k] for k in sorted(feeds)])
    assert out.dtype == tf.float16, out.dtype
