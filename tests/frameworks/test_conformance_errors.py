"""Every ONNX node conformance case (``onnx.backend.test``) through both code generators: each one either
converts or ends in an OnnxBridgeError naming what is unsupported, never in a raw traceback.

Code generation needs neither torch nor TensorFlow; running the results is the op tables' job.
"""

from __future__ import annotations

import warnings

import pytest

from onnxbridge.errors import OnnxBridgeError


def _cases():
    from onnx.backend.test.case import node

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return node.collect_testcases(None)


@pytest.mark.parametrize("bridge", ["torch", "tensorflow"])
def test_conformance_cases_convert_or_fail_cleanly(bridge):
    if bridge == "torch":
        from onnxbridge.frameworks.torch.codegen import generate
    else:
        from onnxbridge.frameworks.tensorflow.codegen import generate
    cases = _cases()
    converted, raw = 0, []
    for case in cases:
        try:
            generate(case.model)
            converted += 1
        except OnnxBridgeError:
            pass
        except Exception as exc:  # noqa: BLE001 - what this test looks for
            raw.append(f"{case.name}: {type(exc).__name__}: {str(exc)[:120]}")
    assert len(cases) > 1000 and converted > len(cases) // 3, (len(cases), converted)
    assert not raw, f"{len(raw)} raw tracebacks: {raw[:10]}"
