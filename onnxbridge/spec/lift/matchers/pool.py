"""MaxPool / AveragePool -> MaxPool1d/2d, AvgPool1d/2d; global pooling (and ReduceMean over every
spatial axis) -> GlobalAvgPool / GlobalMaxPool."""

from __future__ import annotations

import onnx

from onnxbridge.spec.lift.draft import Draft
from onnxbridge.spec.lift.matchers import matcher
from onnxbridge.spec.lift.matchers.common import attr, collapse, float32, one_output
from onnxbridge.spec.lift.scope import Scope


@matcher("MaxPool", "AveragePool")
def pool(scope: Scope, node: onnx.NodeProto) -> Draft | None:
    """A max or average pooling layer for an ONNX ``MaxPool`` / ``AveragePool`` with explicit pads."""
    x = scope.inp(node, 0)
    rank = scope.rank(x)
    if rank not in (3, 4) or not float32(scope, x) or not one_output(node, scope) or scope.opset < 10:
        return None
    n = rank - 2
    if attr(node, "auto_pad", "NOTSET") not in ("NOTSET", "") or int(attr(node, "storage_order", 0)):
        return None
    if list(attr(node, "dilations", [1] * n)) != [1] * n:
        return None
    kernel = [int(k) for k in attr(node, "kernel_shape")]
    strides = [int(s) for s in attr(node, "strides", [1] * n)]
    pads = [int(p) for p in attr(node, "pads", [0] * (2 * n))]
    if any(max(pads[i], pads[i + n]) * 2 > kernel[i] for i in range(n)):
        return None  # the spec allows at most half the window
    params: dict = {"kernel_size": collapse(kernel)}
    if strides != kernel:
        params["stride"] = collapse(strides)
    if any(pads):
        params["padding"] = collapse(pads[:n]) if pads[:n] == pads[n:] else pads
    if int(attr(node, "ceil_mode", 0)):
        params["ceil_mode"] = True
    kind = "MaxPool" if node.op_type == "MaxPool" else "AvgPool"
    if kind == "AvgPool":
        params["count_include_pad"] = bool(int(attr(node, "count_include_pad", 0)))
        if params["count_include_pad"]:
            del params["count_include_pad"]  # the spec's default
    return Draft(f"{kind}{n}d", params, [x], [node.output[0]], [node])


@matcher("GlobalAveragePool", "GlobalMaxPool")
def global_pool(scope: Scope, node: onnx.NodeProto) -> Draft | None:
    """``GlobalAvgPool`` / ``GlobalMaxPool`` for the ONNX global pooling ops."""
    x = scope.inp(node, 0)
    if (scope.rank(x) or 0) < 3 or not float32(scope, x):
        return None
    kind = "GlobalAvgPool" if node.op_type == "GlobalAveragePool" else "GlobalMaxPool"
    return Draft(kind, {}, [x], [node.output[0]], [node])


@matcher("ReduceMean", "ReduceMax")
def reduce_spatial(scope: Scope, node: onnx.NodeProto) -> Draft | None:
    """A mean (max) over every spatial axis, keeping the dims, is global pooling."""
    x = scope.inp(node, 0)
    rank = scope.rank(x)
    if rank is None or rank < 3 or not float32(scope, x) or not int(attr(node, "keepdims", 1)):
        return None
    axes = attr(node, "axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        c = scope.const(node.input[1])
        axes = None if c is None else [int(a) for a in c.reshape(-1)]
    if axes is None:
        return None
    if sorted(a % rank for a in axes) != list(range(2, rank)):
        return None
    kind = "GlobalAvgPool" if node.op_type == "ReduceMean" else "GlobalMaxPool"
    return Draft(kind, {}, [x], [node.output[0]], [node])
