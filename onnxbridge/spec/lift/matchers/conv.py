"""Conv -> Conv1d/2d/3d, ConvTranspose -> ConvTranspose1d/2d."""

from __future__ import annotations

import onnx

from onnxbridge.spec.lift.draft import Draft, WeightSource
from onnxbridge.spec.lift.matchers import matcher
from onnxbridge.spec.lift.matchers.common import attr, collapse, float32, float32_weight, one_output
from onnxbridge.spec.lift.scope import Scope


def _padding(pads: list[int], n: int) -> int | list[int]:
    begins, ends = pads[:n], pads[n:]
    if begins == ends:
        return collapse(begins)
    return [int(p) for p in pads]


@matcher("Conv")
def conv(scope: Scope, node: onnx.NodeProto) -> Draft | None:
    """``Conv1d`` / ``Conv2d`` / ``Conv3d`` for an ONNX ``Conv`` with float32 weights."""
    x, w, b = scope.inp(node, 0), scope.inp(node, 1), scope.inp(node, 2)
    rank = scope.rank(x)
    if rank not in (3, 4, 5) or not float32(scope, x) or not float32_weight(scope, w) or not one_output(node, scope):
        return None
    if b and not float32_weight(scope, b):
        return None
    wshape = scope.weight_shape(w)
    channels = scope.dims(x)[1]
    if wshape is None or len(wshape) != rank or not isinstance(channels, int):
        return None
    n = rank - 2
    group = int(attr(node, "group", 1))
    if wshape[1] * group != channels:
        return None
    kernel = list(attr(node, "kernel_shape", wshape[2:]))
    if list(kernel) != list(wshape[2:]):
        return None
    if b and scope.weight_shape(b) != (wshape[0],):
        return None
    params: dict = {"out_channels": int(wshape[0]), "kernel_size": collapse(kernel)}
    strides = list(attr(node, "strides", [1] * n))
    dilations = list(attr(node, "dilations", [1] * n))
    auto_pad = attr(node, "auto_pad", "NOTSET")
    if strides != [1] * n:
        params["stride"] = collapse(strides)
    if auto_pad == "SAME_UPPER":
        params["padding"] = "same"
    elif auto_pad == "VALID":
        params["padding"] = "valid"
    elif auto_pad in ("NOTSET", ""):
        pads = list(attr(node, "pads", [0] * (2 * n)))
        if any(pads):
            params["padding"] = _padding(pads, n)
    else:  # SAME_LOWER has no spec equivalent
        return None
    if dilations != [1] * n:
        params["dilation"] = collapse(dilations)
    if group != 1:
        params["groups"] = group
    weights = {"weight": WeightSource(w)}
    if b:
        weights["bias"] = WeightSource(b)
    else:
        params["bias"] = False
    return Draft(f"Conv{n}d", params, [x], [node.output[0]], [node], weights)


@matcher("ConvTranspose")
def conv_transpose(scope: Scope, node: onnx.NodeProto) -> Draft | None:
    """``ConvTranspose1d`` / ``ConvTranspose2d`` for an ONNX ``ConvTranspose`` with float32 weights."""
    x, w, b = scope.inp(node, 0), scope.inp(node, 1), scope.inp(node, 2)
    rank = scope.rank(x)
    if rank not in (3, 4) or not float32(scope, x) or not float32_weight(scope, w) or not one_output(node, scope):
        return None
    if b and not float32_weight(scope, b):
        return None
    wshape = scope.weight_shape(w)
    channels = scope.dims(x)[1]
    if wshape is None or len(wshape) != rank or wshape[0] != channels:
        return None
    n = rank - 2
    if attr(node, "auto_pad", "NOTSET") not in ("NOTSET", "") or attr(node, "output_shape") is not None:
        return None
    kernel = list(attr(node, "kernel_shape", wshape[2:]))
    if kernel != list(wshape[2:]):
        return None
    pads = list(attr(node, "pads", [0] * (2 * n)))
    if pads[:n] != pads[n:]:
        return None  # the spec pads both sides alike
    group = int(attr(node, "group", 1))
    if b and scope.weight_shape(b) != (int(wshape[1]) * group,):
        return None
    params: dict = {"out_channels": int(wshape[1]) * group, "kernel_size": collapse(kernel)}
    strides = list(attr(node, "strides", [1] * n))
    output_padding = list(attr(node, "output_padding", [0] * n))
    dilations = list(attr(node, "dilations", [1] * n))
    if strides != [1] * n:
        params["stride"] = collapse(strides)
    if any(pads):
        params["padding"] = collapse(pads[:n])
    if any(output_padding):
        params["output_padding"] = collapse(output_padding)
    if dilations != [1] * n:
        params["dilation"] = collapse(dilations)
    if group != 1:
        params["groups"] = group
    weights = {"weight": WeightSource(w)}
    if b:
        weights["bias"] = WeightSource(b)
    else:
        params["bias"] = False
    return Draft(f"ConvTranspose{n}d", params, [x], [node.output[0]], [node], weights)
