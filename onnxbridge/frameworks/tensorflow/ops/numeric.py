"""Numerical algorithms that are not element-wise: CumProd (``tf.math.cumprod``), Det (``ops.det``)."""

from __future__ import annotations

from typing import Any

from onnxbridge.codegen.writer import call, dotted
from onnxbridge.frameworks.tensorflow import layout as L
from onnxbridge.frameworks.tensorflow.context import TensorFlowContext
from onnxbridge.frameworks.tensorflow.helpers import define
from onnxbridge.frameworks.tensorflow.registry import TF_OPS

CUMPROD = define("CumProd", '''
class CumProd(keras.layers.Layer):
    """Cumulative product along an axis (fixed, or given at run time), optionally exclusive or reversed."""

    def __init__(self, axis=None, exclusive=False, reverse=False, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.axis, self.exclusive, self.reverse = axis, exclusive, reverse

    def call(self, x, axis=None):
        axis = self.axis if axis is None else tf.reshape(tf.cast(axis, tf.int32), [])
        return tf.math.cumprod(x, axis=axis, exclusive=self.exclusive, reverse=self.reverse)
''')


@TF_OPS.register("CumProd", since=26)
def cumprod(ctx: TensorFlowContext) -> None:
    """ONNX ``CumProd`` (see the module docstring)."""
    options: dict[str, Any] = {"exclusive": bool(ctx.attr("exclusive", 0)) or None, "reverse": bool(ctx.attr("reverse", 0)) or None}
    axis = ctx.ints(1)
    if axis is not None:
        if len(axis) != 1:
            ctx.fail(f"the axis must have one element, got {len(axis)}")
        x, perm = ctx.x_any(0)
        layer = ctx.layer(str(ctx.helper(CUMPROD)), module="", axis=L.stored_axis(perm, ctx.axis(axis[0], ctx.rank(0))), **options)
        ctx.emit(call(layer, x), perm=perm)
        return
    layer = ctx.layer(str(ctx.helper(CUMPROD)), module="", **options)
    ctx.emit(call(layer, ctx.x(0), ctx.x(1)))


@TF_OPS.register("Det", since=11)
def det(ctx: TensorFlowContext) -> None:
    """ONNX ``Det`` (see the module docstring)."""
    ctx.emit(call(dotted("ops", "det"), ctx.x(0)))

