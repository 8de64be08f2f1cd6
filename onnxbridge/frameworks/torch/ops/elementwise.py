"""Element-wise math, comparisons and logic; Cast, BitCast, BitShift, Identity, Dropout, Where, CumSum, Trilu."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

from onnxbridge.codegen.writer import Code, fmt, lit
from onnxbridge.frameworks.torch.context import TorchContext, fn, scalar
from onnxbridge.frameworks.torch.ops._attention import prescale_of
from onnxbridge.frameworks.torch.registry import TORCH_OPS
from onnxbridge.frameworks.widening import SIGN_BIT
from onnxbridge.ir.dtypes import FLOAT_TYPES, INT_TYPES

REG = TORCH_OPS.register

_OPERATORS = {"Add": "{} + {}", "Sub": "{} - {}", "Mul": "{} * {}", "Equal": "{} == {}", "Greater": "{} > {}",
              "Less": "{} < {}", "GreaterOrEqual": "{} >= {}", "LessOrEqual": "{} <= {}"}
# numpy-style broadcasting from opset 7 (earlier versions had a ``broadcast`` attribute); 12 for the >=/<= ops
_SINCE = {"GreaterOrEqual": 12, "LessOrEqual": 12}


def _binary_operands(ctx: TorchContext) -> tuple[Code, Code]:
    return ctx.operand(0, 1), ctx.operand(1, 0)


def _operator(op: str) -> None:
    template = _OPERATORS[op]

    def convert(ctx: TorchContext) -> None:
        if op == "Mul":
            scale = prescale_of(ctx.view, ctx.node)
            if scale is not None:  # Q or K scaled before attention: the attention call takes the scale
                ctx.alias(ctx.t(0 if ctx.const(1) is not None else 1))
                ctx.prescales[ctx.node.output[0]] = scale
                return
        a, b = _binary_operands(ctx)
        ctx.emit(fmt(template, a, b))

    REG(op, since=_SINCE.get(op, 7))(convert)


for _op in _OPERATORS:
    _operator(_op)


def _uint64_divmod(ctx: TorchContext, remainder: bool) -> None:
    """Unsigned 64-bit division (or remainder), written on the int64 bits: torch has no uint64 kernels.

    Divisors below 2**63 use the signed division of ``a >>> 1`` and one correction (Hacker's Delight 9-3);
    larger ones divide at most once.
    """
    a, b, d, q = ctx.temp("a"), ctx.temp("b"), ctx.temp("d"), ctx.temp("q")
    low, big = lit(2**63 - 1), lit(SIGN_BIT)
    ctx.line("# unsigned 64-bit {} on the int64 bits (torch has no uint64 kernels)", Code(
        "remainder" if remainder else "division"))
    ctx.line("{}, {} = {}.view(torch.int64), {}.view(torch.int64)", a, b, ctx.t(0), ctx.t(1))
    ctx.line("{} = {}.clamp(min=1)", d, b)
    ctx.line("{} = ((({} >> 1) & {}) // {}) << 1", q, a, low, d)
    ctx.line("{} = {} + ((({} - {} * {}) ^ {}) >= ({} ^ {})).to(torch.int64)", q, q, a, q, d, big, d, big)
    ctx.line("{} = torch.where({} < 0, (({} ^ {}) >= ({} ^ {})).to(torch.int64), {})", q, b, a, big, b, big, q)
    result = fmt("({} - {} * {})", a, q, b) if remainder else q
    ctx.emit(fmt("{}.view(torch.uint64)", result))


@REG("Div", since=7)
def div(ctx: TorchContext) -> None:
    """ONNX ``Div``: true division for floats, ``rounding_mode="trunc"`` for integers (uint64 handled apart)."""
    if ctx.elem(0) == TensorProto.UINT64:
        _uint64_divmod(ctx, remainder=False)
        return
    a, b = _binary_operands(ctx)
    if ctx.elem(0) in INT_TYPES:
        ctx.emit(fn("torch.div", a, b, rounding_mode=lit("trunc")))
    else:
        ctx.emit(fmt("{} / {}", a, b))


@REG("Pow", since=7)
def pow_(ctx: TorchContext) -> None:
    """ONNX ``Pow``, with a constant scalar float exponent written as ``x * x``, ``sqrt`` and the like where
    exact; the result keeps the base's type."""
    exponent = ctx.const(1)
    if exponent is not None and exponent.size == 1 and ctx.elem(0) in FLOAT_TYPES \
            and (ctx.type(0).rank or 0) >= exponent.ndim:
        value = float(exponent.reshape(-1)[0])
        if value == 2.0:
            x = ctx.t(0)
            ctx.emit(fmt("{} * {}", x, x))
            return
        if value == 0.5:
            ctx.emit(fn("torch.sqrt", ctx.t(0)))
            return
        ctx.emit(fn("torch.pow", ctx.t(0), scalar(np.float32(value))))
        return
    y = fn("torch.pow", ctx.t(0), ctx.t(1))
    if ctx.elem(1) is not None and ctx.elem(0) is not None and ctx.elem(1) != ctx.elem(0):
        y = fmt("{}.to({})", y, ctx.dtype(ctx.elem(0)))  # ONNX keeps the base's type; torch promotes
    ctx.emit(y)


@REG("Mod", since=10)
def mod(ctx: TorchContext) -> None:
    """ONNX ``Mod`` as ``torch.fmod`` (``fmod=1``) or ``torch.remainder`` (uint64 handled apart)."""
    if ctx.elem(0) == TensorProto.UINT64:
        _uint64_divmod(ctx, remainder=True)
        return
    a, b = _binary_operands(ctx)
    ctx.emit(fn("torch.fmod" if ctx.attr("fmod", 0) else "torch.remainder", a, b))


def _variadic(op: str, api_name: str, clamp_kw: str) -> None:
    def convert(ctx: TorchContext) -> None:
        present = [i for i in range(ctx.n_inputs) if ctx.has(i)]
        if len(present) == 1:
            ctx.alias(ctx.t(present[0]))
            return
        if len(present) == 2:
            c = ctx.const(present[1])
            if c is not None and c.size == 1 and (ctx.type(present[0]).rank or 0) >= c.ndim \
                    and ctx.elem(present[0]) == ctx.elem(present[1]):
                ctx.emit(fn("torch.clamp", ctx.t(present[0]), **{clamp_kw: scalar(c)}))
                return
        acc = ctx.t(present[0])
        for i in present[1:]:
            acc = fn(api_name, acc, ctx.t(i))
        ctx.emit(acc)

    REG(op, since=6)(convert)  # opset 6 wants equal shapes, which broadcasting (from opset 8) covers


_variadic("Max", "torch.maximum", "min")
_variadic("Min", "torch.minimum", "max")


@REG("Sum", since=6)
def sum_(ctx: TorchContext) -> None:
    """ONNX ``Sum`` of any number of inputs."""
    parts = [ctx.t(i) for i in range(ctx.n_inputs) if ctx.has(i)]
    if len(parts) == 1:
        ctx.alias(parts[0])
    else:
        ctx.emit(Code(" + ".join(parts)))


@REG("Mean", since=6)
def mean(ctx: TorchContext) -> None:
    """ONNX ``Mean`` of any number of inputs."""
    parts = [ctx.t(i) for i in range(ctx.n_inputs) if ctx.has(i)]
    if len(parts) == 1:
        ctx.alias(parts[0])
    else:
        ctx.emit(fmt("({}) / {}", Code(" + ".join(parts)), lit(float(len(parts)))))


def _unary(op: str, api_name: str) -> None:
    def convert(ctx: TorchContext) -> None:
        ctx.emit(fn(api_name, ctx.t(0)))

    REG(op)(convert)  # every version: later ones only add element types


for _op, _api in [
    ("Abs", "torch.abs"), ("Neg", "torch.neg"), ("Exp", "torch.exp"), ("Log", "torch.log"), ("Sqrt", "torch.sqrt"),
    ("Reciprocal", "torch.reciprocal"), ("Floor", "torch.floor"), ("Ceil", "torch.ceil"), ("Round", "torch.round"),
    ("Sign", "torch.sign"), ("Sin", "torch.sin"), ("Cos", "torch.cos"), ("Tan", "torch.tan"), ("Asin", "torch.asin"),
    ("Acos", "torch.acos"), ("Atan", "torch.atan"), ("Sinh", "torch.sinh"), ("Cosh", "torch.cosh"),
    ("Asinh", "torch.asinh"), ("Acosh", "torch.acosh"), ("Atanh", "torch.atanh"), ("Erf", "torch.erf"),
    ("IsNaN", "torch.isnan"), ("Not", "torch.logical_not"), ("BitwiseNot", "torch.bitwise_not"),
]:
    _unary(_op, _api)


def _logical(op: str, api_name: str) -> None:
    def convert(ctx: TorchContext) -> None:
        ctx.emit(fn(api_name, ctx.t(0), ctx.t(1)))

    REG(op)(convert)


for _op, _api in [
    ("And", "torch.logical_and"), ("Or", "torch.logical_or"), ("Xor", "torch.logical_xor"),
    ("BitwiseAnd", "torch.bitwise_and"), ("BitwiseOr", "torch.bitwise_or"), ("BitwiseXor", "torch.bitwise_xor"),
]:
    _logical(_op, _api)


@REG("BitShift", since=11)
def bit_shift(ctx: TorchContext) -> None:
    """ONNX ``BitShift`` as ``x << y`` / ``x >> y``: torch's shifts already give what ONNX defines for a shift
    outside ``[0, bits)`` (0, or the sign fill of a right shift). uint16/uint32 shift in int64 (see
    ``widening.py``); uint64 shifts its int64 bits, to the right logically."""
    left = ctx.attr("direction") == "LEFT"
    if ctx.elem(0) != TensorProto.UINT64:
        a, b = _binary_operands(ctx)
        ctx.emit(fmt("{} << {}" if left else "{} >> {}", a, b))
        return
    if left:
        ctx.emit(fmt("({}.view(torch.int64) << {}.view(torch.int64)).view(torch.uint64)", ctx.t(0), ctx.t(1)))
        return
    a, s = ctx.temp("a"), ctx.temp("s")
    ctx.line("# a logical shift of the uint64 bits (torch shifts int64 arithmetically): clear the top s bits")
    ctx.line("{}, {} = {}.view(torch.int64), {}.view(torch.int64)", a, s, ctx.t(0), ctx.t(1))
    ctx.emit(fmt("torch.where(({} >= 0) & ({} < 64), ({} >> {}) & ((1 << (64 - {})) - 1), 0).view(torch.uint64)",
                 s, s, a, s, s))


@REG("BitCast", since=26)
def bit_cast(ctx: TorchContext) -> None:
    """ONNX ``BitCast`` as ``x.view(dtype)``: the same bits read as another type of the same width."""
    ctx.emit(fmt("{}.view({})", ctx.t(0), ctx.dtype(int(ctx.attr("to")))))


@REG("IsInf", since=10)
def is_inf(ctx: TorchContext) -> None:
    """ONNX ``IsInf`` as ``torch.isinf`` / ``isposinf`` / ``isneginf`` (all false when neither sign is asked
    for)."""
    pos, neg = int(ctx.attr("detect_positive", 1)), int(ctx.attr("detect_negative", 1))
    name = {(1, 1): "torch.isinf", (1, 0): "torch.isposinf", (0, 1): "torch.isneginf"}.get((pos, neg))
    if name is None:
        ctx.emit(fn("torch.zeros_like", ctx.t(0), dtype=Code("torch.bool")))
    else:
        ctx.emit(fn(name, ctx.t(0)))


@REG("Cast", since=6)
def cast(ctx: TorchContext) -> None:
    """ONNX ``Cast`` as ``.to(dtype)`` (an alias when the type already matches)."""
    to = int(ctx.attr("to"))
    if ctx.elem(0) == to:
        ctx.alias(ctx.t(0))
    else:
        ctx.emit(fmt("{}.to({})", ctx.t(0), ctx.dtype(to)))


@REG("CastLike", since=15)
def cast_like(ctx: TorchContext) -> None:
    """ONNX ``CastLike`` as ``.to()`` the second input's type."""
    target = ctx.elem(1)
    if target is not None and target == ctx.elem(0):
        ctx.alias(ctx.t(0))
    elif target is not None:
        ctx.emit(fmt("{}.to({})", ctx.t(0), ctx.dtype(target)))
    else:
        ctx.emit(fmt("{}.to({}.dtype)", ctx.t(0), ctx.t(1)))


def _identity(ctx: TorchContext) -> None:
    ctx.alias(ctx.t(0))


REG("Identity")(_identity)


@REG("Dropout")
def dropout(ctx: TorchContext) -> None:
    """ONNX ``Dropout`` as an ``nn.Dropout`` module when it has a rate (so the model trains alike), the
    identity otherwise."""
    # inference: the identity; the mask (if anyone reads it) is all ones
    x = ctx.t(0)
    mask = len(ctx.node.output) > 1 and ctx.used(1)
    ratio = ctx.const(1) if ctx.has(1) else np.asarray(ctx.attr("ratio", 0.5), dtype=np.float32)
    if not mask and not ctx.has(2) and ratio is not None and 0.0 < float(ratio) < 1.0:
        # an nn.Dropout module is the identity in eval mode and drops in train mode, so the
        # generated model trains like the network it came from
        module = ctx.add_module(fn("nn.Dropout", scalar(ratio)), {}, weight=None)
        ctx.emit(fmt("{}({})", module, x))
        return
    ctx.alias(x)
    if mask:
        ctx.emit(fn("torch.ones_like", x, dtype=Code("torch.bool")), 1)


@REG("Where", since=9)
def where(ctx: TorchContext) -> None:
    """ONNX ``Where`` as ``torch.where``."""
    a = ctx.operand(1, 2) if ctx.const(2) is None else ctx.t(1)
    b = ctx.operand(2, 1) if ctx.const(1) is None else ctx.t(2)
    ctx.emit(fn("torch.where", ctx.t(0), a, b))


@REG("Trilu", since=14)
def trilu(ctx: TorchContext) -> None:
    """ONNX ``Trilu`` as ``torch.triu`` / ``torch.tril``."""
    k = ctx.const(1) if ctx.has(1) else np.asarray(0)
    k_code = scalar(k) if k is not None else fmt("int({})", ctx.t(1))
    ctx.emit(fn("torch.triu" if int(ctx.attr("upper", 1)) else "torch.tril", ctx.t(0), k_code))


@REG("CumSum", since=11)
def cumsum(ctx: TorchContext) -> None:
    """ONNX ``CumSum`` along an axis constant or known at run time, exclusive and reverse as asked."""
    axis = ctx.ints(1)
    a = lit(axis[0]) if axis is not None else fmt("int({})", ctx.t(1))
    x = ctx.t(0)
    if int(ctx.attr("reverse", 0)):
        x = fmt("{}.flip({})", x, a)
    if int(ctx.attr("exclusive", 0)):
        # shift by one along the axis, so each position sums only what comes before it
        x = fmt("torch.cat([torch.zeros_like({}.narrow({}, 0, 1)), {}.narrow({}, 0, {}.shape[{}] - 1)], {})",
                x, a, x, a, x, a, a)
    elem = ctx.elem(0)
    # torch sums small integers into int64; ONNX keeps the input's type
    y = fn("torch.cumsum", x, a, **({"dtype": ctx.dtype(elem)} if elem in INT_TYPES and elem != TensorProto.INT64
                                    else {}))
    if int(ctx.attr("reverse", 0)):
        y = fmt("{}.flip({})", y, a)
    ctx.emit(y)
