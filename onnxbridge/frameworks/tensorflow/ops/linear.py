"""Matrix products: Gemm / MatMul with constant weights -> ``layers.Dense`` (bias Add fused), Einsum."""

from __future__ import annotations

import numpy as np
import onnx

from onnxbridge.codegen.writer import Code, call, dotted, lit
from onnxbridge.frameworks.tensorflow.context import TensorFlowContext, add_code
from onnxbridge.frameworks.tensorflow.registry import TF_OPS
from onnxbridge.ir.conventions import is_onnx_domain
from onnxbridge.ir.symbolic import Const, SymShape


def _ops(name: str) -> Code:
    return dotted("ops", name)


def dense_input(ctx: TensorFlowContext, kernel: np.ndarray) -> tuple[Code, np.ndarray, tuple | None]:
    """Input 0 for a Dense layer: a flattened channels-last tensor keeps its order (rows of the kernel
    are permuted instead of the activations); a tensor whose last axis stays last keeps its layout."""
    v = ctx.value(0)
    if v.feature_perm is not None and v.code is not None:
        ctx.uses.add(v.code)
        return v.code, kernel[v.feature_perm], None
    rank = ctx.rank(0)
    code, perm = ctx.x_any(0)
    if perm[-1] == rank - 1:
        return code, kernel, perm
    return ctx.x(0), kernel, None


def _bias_of(ctx: TensorFlowContext, units: int) -> tuple[np.ndarray | None, onnx.NodeProto | None]:
    """A constant bias [units] added right after this node (fused into Dense), and the Add node."""
    add = ctx.sole_reader(0)
    if add is None or add.op_type != "Add" or not is_onnx_domain(add.domain):
        return None, None
    other = add.input[1] if add.input[0] == ctx.node.output[0] else add.input[0]
    v = ctx.scope.values.get(other)
    if v is None or v.const is None:
        return None, None
    c = v.const
    if c.size != units or c.shape[-1:] != (units,) or c.ndim > ctx.out_rank():
        return None, None
    return c.reshape(units), add


@TF_OPS.register("Gemm")
def gemm(ctx: TensorFlowContext) -> None:
    """ONNX ``Gemm``: a Keras ``Dense`` for a constant weight (alpha and the bias folded in) applied to
    values computed from the model's inputs, matrix products otherwise."""
    alpha, beta = float(ctx.attr("alpha", 1.0)), float(ctx.attr("beta", 1.0))
    trans_a, trans_b = int(ctx.attr("transA", 0)), int(ctx.attr("transB", 0))
    b = ctx.const(1)
    c = ctx.const(2) if ctx.has(2) else None
    if b is not None and not trans_a and ctx.from_inputs(0):
        kernel = (b.T if trans_b else b) * np.float32(alpha) if alpha != 1.0 else (b.T if trans_b else b)
        units = kernel.shape[1]
        bias = None
        if ctx.has(2):
            if c is not None and c.size in (1, units) and (c.ndim < 2 or c.shape[0] == 1):
                bias = np.broadcast_to(c.reshape(-1), (units,)) * np.float32(beta)
        x, kernel, perm = dense_input(ctx, np.ascontiguousarray(kernel, dtype=np.float32))
        weights = [kernel] + ([np.asarray(bias, dtype=np.float32)] if bias is not None else [])
        layer = ctx.layer("Dense", weights=weights, units=int(units), use_bias=False if bias is None else None)
        y = call(layer, x)
        if ctx.has(2) and bias is None:
            cc = ctx.x(2)
            y = add_code(y, cc if beta == 1.0 else call(_ops("multiply"), cc, lit(beta)), _sizes(ctx.out_shape()),
                         _sizes(ctx.shape(2)))
        ctx.emit(y)
        return
    a = ctx.x(0)
    bb = ctx.x(1)
    if trans_a:
        a = call(_ops("transpose"), a)
    if trans_b:
        bb = call(_ops("transpose"), bb)
    y = call(_ops("matmul"), a, bb)
    if alpha != 1.0:
        y = call(_ops("multiply"), y, lit(alpha))
    if ctx.has(2):
        cc = ctx.x(2)
        y = add_code(y, cc if beta == 1.0 else call(_ops("multiply"), cc, lit(beta)), _sizes(ctx.out_shape()),
                     _sizes(ctx.shape(2)))
    ctx.emit(y)


def _sizes(shape: tuple) -> tuple[int | None, ...]:
    return tuple(d if isinstance(d, int) else None for d in shape)


def _sequence_dense(ctx: TensorFlowContext, units: int
                    ) -> tuple[str, onnx.NodeProto, onnx.NodeProto | None, np.ndarray | None] | None:
    """A Keras ``Dense`` on a sequence as TensorFlow exports it (``Tensordot``): ``Reshape(x, [-1, features])
    -> MatMul -> Reshape(x's leading sizes + [units])``, maybe a bias ``Add`` after. Returns ``x``, the
    Reshape back, the Add and its bias (None without one), or None when the products are not exactly that."""
    flat = ctx.view.producer.get(ctx.node.input[0])
    back = ctx.sole_reader(0)
    if flat is None or flat.op_type != "Reshape" or back is None or back.op_type != "Reshape" or \
            back.input[0] != ctx.node.output[0] or ctx.rank(0) != 2:
        return None
    x = flat.input[0]
    dims = ctx.view.dims(x)
    v = ctx.scope.values.get(x)
    if dims is None or len(dims) < 3 or dims[-1] != ctx.shape(0)[-1] or v is None or v.code is None or \
            v.feature_perm is not None or v.layout[-1] != len(dims) - 1:
        return None
    k = ctx.view.known.get(back.input[1])
    target = list(k.elems) if isinstance(k, SymShape) else (
        [int(d) for d in k.array.reshape(-1)] if isinstance(k, Const) else None)
    if target is None or len(target) != len(dims) or target[-1] != units or \
            any(t != d for t, d in zip(target[:-1], dims[:-1])):
        return None
    readers = ctx.readers(back.output[0])
    if len(readers) == 1 and readers[0].op_type == "Add" and is_onnx_domain(readers[0].domain) and \
            not ctx.is_output(back.output[0]):
        other = readers[0].input[1] if readers[0].input[0] == back.output[0] else readers[0].input[0]
        c = ctx.scope.values.get(other)
        if c is not None and c.const is not None and c.const.shape == (units,):
            return x, back, readers[0], c.const
    return x, back, None, None


@TF_OPS.register("MatMul")
def matmul(ctx: TensorFlowContext) -> None:
    """ONNX ``MatMul``: a Keras ``Dense`` for a constant 2-D float weight (absorbing a following bias
    ``Add``) applied to values computed from the model's inputs (to the sequence itself when the product is
    a flattened Dense on a sequence), ``ops.matmul`` otherwise."""
    node = ctx.node
    w = ctx.const(1)
    if w is not None and w.ndim == 2 and ctx.rank(0) >= 2 and w.dtype.kind == "f" and ctx.from_inputs(0):
        units = w.shape[1]
        seq = _sequence_dense(ctx, units)
        if seq is not None:
            x, back, add, bias = seq
            v = ctx.scope.values[x]
            weights = [np.asarray(w)] + ([bias.astype(w.dtype)] if bias is not None else [])
            scope = node.name.split("/Tensordot/")[0] if "/Tensordot/" in node.name else None
            layer = ctx.layer("Dense", hint=scope, weights=weights, units=int(units),
                              use_bias=False if add is None else None)
            ctx.absorb(back)
            if add is not None:
                ctx.absorb(add)
            code = ctx.scope.view_code(v, v.layout, ctx.uses)
            ctx.define((add or back).output[0], call(layer, code), v.perm)
            return
        bias, add = _bias_of(ctx, units)
        x, kernel, perm = dense_input(ctx, np.asarray(w))
        weights = [kernel] + ([bias.astype(w.dtype)] if bias is not None else [])
        layer = ctx.layer("Dense", weights=weights, units=int(units), use_bias=False if bias is None else None)
        if add is not None:
            ctx.absorb(add)  # the bias Add is the Dense layer's own bias
        target = add.output[0] if add is not None else node.output[0]
        ctx.define(target, call(layer, x), perm)
        return
    ctx.emit(call(_ops("matmul"), ctx.x(0), ctx.x(1)))


@TF_OPS.register("Einsum", since=12)
def einsum(ctx: TensorFlowContext) -> None:
    """ONNX ``Einsum`` as ``ops.einsum``."""
    equation = ctx.attr("equation").replace(" ", "")
    args = [ctx.x(i) for i in range(ctx.n_inputs)]
    ctx.emit(call(_ops("einsum"), lit(equation), *args))
