"""Element-wise math: unary functions, broadcasting binary ops, comparisons, logic, Where, Cast, BitCast,
BitShift, Trilu, CumSum.

All of these are layout-agnostic: they run on tensors in whatever layout they are stored in
(channels-last inside a CNN), and broadcast constants are permuted to match at conversion time.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

from onnxbridge.codegen.writer import Code, call, dotted, lit
from onnxbridge.frameworks.tensorflow import layout as L
from onnxbridge.frameworks.tensorflow.context import TensorFlowContext, add_code
from onnxbridge.frameworks.tensorflow.helpers import define
from onnxbridge.frameworks.tensorflow.registry import TF_OPS
from onnxbridge.ir.semantics import broadcast_shapes


def _ops(name: str) -> Code:
    return dotted("ops", name)


_UNARY = {
    "Abs": "abs", "Neg": "negative", "Exp": "exp", "Log": "log", "Sqrt": "sqrt", "Reciprocal": "reciprocal",
    "Floor": "floor", "Ceil": "ceil", "Round": "round", "Sign": "sign", "Sin": "sin", "Cos": "cos", "Tan": "tan",
    "Asin": "arcsin", "Acos": "arccos", "Atan": "arctan", "Sinh": "sinh", "Cosh": "cosh", "Asinh": "arcsinh",
    "Acosh": "arccosh", "Atanh": "arctanh", "Erf": "erf", "Not": "logical_not", "IsNaN": "isnan",
}


def _unary(fn: str):
    def convert(ctx: TensorFlowContext) -> None:
        x, perm = ctx.x_any(0)
        ctx.emit(call(_ops(fn), x), perm=perm)

    convert.__name__ = f"convert_{fn}"
    return convert


for _op, _fn in _UNARY.items():
    TF_OPS.register(_op)(_unary(_fn))


@TF_OPS.register("IsInf", since=10)
def is_inf(ctx: TensorFlowContext) -> None:
    """ONNX ``IsInf``, detecting positive, negative or both infinities."""
    x, perm = ctx.x_any(0)
    pos, neg = ctx.attr("detect_positive", 1), ctx.attr("detect_negative", 1)
    if pos and neg:
        expr = call(_ops("isinf"), x)
    elif pos:
        expr = call(_ops("equal"), x, lit(float("inf")))
    elif neg:
        expr = call(_ops("equal"), x, lit(-float("inf")))
    else:
        expr = call(_ops("zeros_like"), x, dtype=lit("bool"))
    ctx.emit(expr, perm=perm)


_BINARY = {"Add": "add", "Sub": "subtract", "Mul": "multiply", "Equal": "equal", "Less": "less",
           "Greater": "greater", "LessOrEqual": "less_equal", "GreaterOrEqual": "greater_equal",
           "And": "logical_and", "Or": "logical_or", "Xor": "logical_xor"}
_BITWISE = {"BitwiseAnd": "bitwise_and", "BitwiseOr": "bitwise_or", "BitwiseXor": "bitwise_xor"}


def _float_scalar(ctx: TensorFlowContext, i: int, other: int, rank: int) -> Code | None:
    """Input ``i`` as a Python float when it is a one-element float constant that broadcasting only
    spreads over the other input (``x + 3.0``, not ``x + np.array([[[[3.0]]]])``: Keras and TensorFlow's graph
    optimiser treat such an array as a bias, and a constant 1x1x1x1 bias after a convolution has been seen
    to break TensorFlow's graph rewriting)."""
    c = ctx.const(i)
    if c is None or c.size != 1 or c.dtype.kind != "f" or ctx.const(other) is not None or ctx.rank(other) != rank:
        return None
    value = c.reshape(-1)[0]
    return lit(float(str(value)) if c.dtype == np.float32 else float(value))


def _binary(fn: str):
    def convert(ctx: TensorFlowContext) -> None:
        rank = ctx.out_rank()
        (a, b), perm = ctx.aligned([0, 1], rank)
        if fn in ("add", "subtract", "multiply"):
            a = _float_scalar(ctx, 0, 1, rank) or a
            b = _float_scalar(ctx, 1, 0, rank) or b
        if fn == "add":
            ctx.emit(add_code(a, b, ctx.stored_shape(0, rank, perm), ctx.stored_shape(1, rank, perm)), perm=perm)
            return
        ctx.emit(call(_ops(fn), a, b), perm=perm)

    convert.__name__ = f"convert_{fn}"
    return convert


for _op, _fn in _BINARY.items():
    TF_OPS.register(_op)(_binary(_fn))
for _op, _fn in _BITWISE.items():
    TF_OPS.register(_op, since=18)(_binary(_fn))
TF_OPS.register("BitwiseNot", since=18)(_unary("bitwise_invert"))


def _unsigned(ctx: TensorFlowContext, remainder: bool) -> bool:
    """Division or remainder of unsigned integers (floor and truncation agree); uint64 through a helper
    layer: Keras would compute it as uint32, TensorFlow has the kernels. False for other types."""
    elem = ctx.elem(0)
    if elem not in (TensorProto.UINT8, TensorProto.UINT16, TensorProto.UINT32, TensorProto.UINT64):
        return False
    (a, b), perm = ctx.aligned([0, 1], ctx.out_rank())
    if elem == TensorProto.UINT64:
        ctx.emit(call(call(ctx.helper("UnsignedDivide"), remainder=lit(remainder)), a, b), perm=perm)
    else:
        ctx.emit(call(_ops("mod" if remainder else "floor_divide"), a, b), perm=perm)
    return True


@TF_OPS.register("Div")
def div(ctx: TensorFlowContext) -> None:
    """ONNX ``Div``: true division for floats, division truncated toward zero for integers."""
    if _unsigned(ctx, remainder=False):
        return
    (a, b), perm = ctx.aligned([0, 1], ctx.out_rank())
    integer = np.dtype(ctx.dtype(ctx.out_elem())).kind in "iu"
    if integer:
        # ONNX integer division truncates toward zero (Python's // floors): divide the magnitudes
        magnitude = call(_ops("floor_divide"), call(_ops("abs"), a), call(_ops("abs"), b))
        ctx.emit(call(_ops("multiply"), call(_ops("multiply"), call(_ops("sign"), a), call(_ops("sign"), b)),
                        magnitude), perm=perm)
        return
    ctx.emit(call(_ops("divide"), a, b), perm=perm)


@TF_OPS.register("Pow")
def pow_(ctx: TensorFlowContext) -> None:
    """ONNX ``Pow``, with a constant scalar exponent written as ``square``, ``sqrt`` and the like where exact."""
    c = ctx.const(1)
    if c is not None and c.size == 1 and not ctx.is_instance_const(1):
        x, perm = ctx.x_any(0)
        e = float(c.reshape(-1)[0])
        if e == 2.0:
            ctx.emit(call(_ops("square"), x), perm=perm)
            return
        if e == 0.5:
            ctx.emit(call(_ops("sqrt"), x), perm=perm)
            return
        if e == 1.0:
            ctx.alias(0, keep_perm=True)
            return
        ctx.emit(call(_ops("power"), x, lit(e if np.dtype(ctx.dtype(ctx.elem(0))).kind == "f" else int(e))), perm=perm)
        return
    (a, b), perm = ctx.aligned([0, 1], ctx.out_rank())
    if ctx.dtype(ctx.elem(1)) != ctx.dtype(ctx.elem(0)):
        b = call(_ops("cast"), b, lit(ctx.dtype(ctx.elem(0))))
    ctx.emit(call(_ops("power"), a, b), perm=perm)


@TF_OPS.register("Mod", since=10)
def mod(ctx: TensorFlowContext) -> None:
    """ONNX ``Mod``: C ``fmod`` (the dividend's sign) with ``fmod=1``, Python's modulo (the divisor's sign)
    otherwise."""
    if _unsigned(ctx, remainder=True):
        return
    (a, b), perm = ctx.aligned([0, 1], ctx.out_rank())
    if ctx.attr("fmod", 0):
        # C fmod: the sign of the dividend
        expr = call(_ops("multiply"), call(_ops("sign"), a),
                    call(_ops("mod"), call(_ops("abs"), a), call(_ops("abs"), b)))
    else:
        expr = call(_ops("mod"), a, b)
    ctx.emit(expr, perm=perm)


def _variadic(fn: str, mean: bool = False):
    def convert(ctx: TensorFlowContext) -> None:
        idx = [i for i in range(ctx.n_inputs) if ctx.has(i)]
        rank = ctx.out_rank()
        codes, perm = ctx.aligned(idx, rank)
        expr, shape = codes[0], ctx.stored_shape(idx[0], rank, perm)
        for i, c in zip(idx[1:], codes[1:]):
            other = ctx.stored_shape(i, rank, perm)
            expr = add_code(expr, c, shape, other) if fn == "add" else call(_ops(fn), expr, c)
            shape = tuple(d if isinstance(d, int) else None for d in broadcast_shapes(shape, other))
        if mean and len(codes) > 1:
            expr = call(_ops("divide"), expr, lit(float(len(codes))))
        ctx.emit(expr, perm=perm)

    return convert


# opset 6 wants equal shapes, which broadcasting (from opset 8) covers
TF_OPS.register("Max", since=6)(_variadic("maximum"))
TF_OPS.register("Min", since=6)(_variadic("minimum"))
TF_OPS.register("Sum", since=6)(_variadic("add"))
TF_OPS.register("Mean", since=6)(_variadic("add", mean=True))


BIT_SHIFT = define("BitShift", '''
class BitShift(keras.layers.Layer):
    """ONNX BitShift: x shifted left (or right) by y bits; a shift outside [0, bits) gives what the sign fill
    alone gives: 0, or -1 for a negative x shifted right (TensorFlow clamps the shift instead)."""

    def __init__(self, left=True, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.left = left

    def call(self, x, y):
        bits = x.dtype.size * 8
        inside = tf.logical_and(y >= 0, y < bits)
        y = tf.where(inside, y, tf.zeros_like(y))
        if self.left:
            return tf.where(inside, tf.bitwise.left_shift(x, y), tf.zeros_like(x))
        fill = tf.zeros_like(x) if x.dtype.is_unsigned else tf.bitwise.right_shift(x, tf.cast(bits - 1, x.dtype))
        return tf.where(inside, tf.bitwise.right_shift(x, y), fill)
''')


@TF_OPS.register("BitShift", since=11)
def bit_shift(ctx: TensorFlowContext) -> None:
    """ONNX ``BitShift`` as ``ops.left_shift`` / ``ops.right_shift`` for constant shifts inside ``[0, bits)``;
    else (and for uint64, which Keras computes as uint32) the ``BitShift`` helper, which gives ONNX's answer
    for the shifts outside."""
    left = ctx.attr("direction") == "LEFT"
    elem = ctx.elem(0)
    bits = np.dtype(ctx.dtype(elem)).itemsize * 8
    amounts = ctx.const(1)
    (x, y), perm = ctx.aligned([0, 1], ctx.out_rank())
    if amounts is not None and elem != TensorProto.UINT64 and bool(np.all((amounts >= 0) & (amounts < bits))):
        ctx.emit(call(_ops("left_shift" if left else "right_shift"), x, y), perm=perm)
        return
    layer = ctx.layer(str(ctx.helper(BIT_SHIFT)), module="", left=None if left else False)
    ctx.emit(call(layer, x, y), perm=perm)


@TF_OPS.register("BitCast", since=26)
def bit_cast(ctx: TensorFlowContext) -> None:
    """ONNX ``BitCast`` as ``ops.view``: the same bits read as another type of the same width (a cast to or
    from bool, which TensorFlow cannot view: its bytes hold 0 or 1)."""
    x, perm = ctx.x_any(0)
    to = int(ctx.attr("to"))
    fn = "cast" if TensorProto.BOOL in (to, ctx.elem(0)) else "view"
    ctx.emit(call(_ops(fn), x, lit(ctx.dtype(to))), perm=perm)


@TF_OPS.register("Where", since=9)
def where(ctx: TensorFlowContext) -> None:
    """ONNX ``Where`` as ``ops.where``, operands aligned to one layout."""
    (c, a, b), perm = ctx.aligned([0, 1, 2], ctx.out_rank())
    ctx.emit(call(_ops("where"), c, a, b), perm=perm)


@TF_OPS.register("Cast", since=6)
def cast(ctx: TensorFlowContext) -> None:
    """ONNX ``Cast`` as ``ops.cast`` (an alias when the type already matches)."""
    to = ctx.dtype(ctx.attr("to"))
    x, perm = ctx.x_any(0)
    if ctx.dtype(ctx.elem(0)) == to:
        ctx.alias(0, keep_perm=True)
        return
    ctx.emit(call(_ops("cast"), x, lit(to)), perm=perm)


@TF_OPS.register("CastLike", since=15)
def cast_like(ctx: TensorFlowContext) -> None:
    """ONNX ``CastLike`` as ``ops.cast`` to the second input's type."""
    to = ctx.dtype(ctx.elem(1))
    x, perm = ctx.x_any(0)
    ctx.emit(call(_ops("cast"), x, lit(to)), perm=perm)


@TF_OPS.register("Identity")
def identity(ctx: TensorFlowContext) -> None:
    """ONNX ``Identity``: the output is the input, no code written."""
    ctx.alias(0, keep_perm=True)


@TF_OPS.register("Dropout")
def dropout(ctx: TensorFlowContext) -> None:
    """ONNX ``Dropout`` as a Keras ``Dropout`` layer when it has a rate (so the model trains alike), the
    identity otherwise."""
    ratio = ctx.const(1) if ctx.has(1) else np.asarray(ctx.attr("ratio", 0.5), dtype=np.float32)
    if not ctx.has_output(1) and not ctx.has(2) and ratio is not None and 0.0 < float(ratio) < 1.0:
        # a Keras Dropout layer is the identity at inference and drops under fit(), so the generated
        # model trains like the network it came from
        x, perm = ctx.x_any(0)
        ctx.emit(call(ctx.layer("Dropout", rate=float(np.float32(ratio))), x), 0, perm=perm)
        return
    ctx.alias(0, keep_perm=True)
    if ctx.has_output(1):  # at inference nothing is dropped: the mask is all true
        x, perm = ctx.x_any(0)
        ctx.emit(call(dotted("ops", "ones_like"), x, dtype=lit("bool")), 1, perm=perm)


@TF_OPS.register("Trilu", since=14)
def trilu(ctx: TensorFlowContext) -> None:
    """ONNX ``Trilu`` as ``ops.triu`` / ``ops.tril`` with a constant diagonal offset, the ``Trilu`` helper for
    one known at run time."""
    k = ctx.ints(1) if ctx.has(1) else [0]
    if k is None:  # known at run time
        layer = ctx.layer(str(ctx.helper("Trilu")), module="", upper=bool(ctx.attr("upper", 1)))
        ctx.emit(call(layer, ctx.x(0), ctx.x(1)))
        return
    fn = "triu" if ctx.attr("upper", 1) else "tril"
    ctx.emit(call(_ops(fn), ctx.x(0), k=lit(int(k[0]))))


@TF_OPS.register("CumSum", since=11)
def cumsum(ctx: TensorFlowContext) -> None:
    """ONNX ``CumSum`` along a constant axis (the ``CumSum`` helper for one known at run time), exclusive and
    reverse as asked."""
    rank = ctx.rank(0)
    axis = ctx.ints(1)
    if axis is None:  # known at run time
        layer = ctx.layer(str(ctx.helper("CumSum")), module="", exclusive=bool(ctx.attr("exclusive", 0)) or None,
                          reverse=bool(ctx.attr("reverse", 0)) or None)
        ctx.emit(call(layer, ctx.x(0), ctx.x(1)))
        return
    x, perm = ctx.x_any(0)
    a = L.stored_axis(perm, ctx.axis(axis[0], rank))
    reverse, exclusive = ctx.attr("reverse", 0), ctx.attr("exclusive", 0)
    src = call(_ops("flip"), x, axis=lit(a)) if reverse else x
    y = call(_ops("cumsum"), src, axis=lit(a))
    if exclusive:
        y = call(_ops("subtract"), y, src)
    if reverse:
        y = call(_ops("flip"), y, axis=lit(a))
    ctx.emit(y, perm=perm)
