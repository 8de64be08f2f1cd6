"""Shapes: Reshape, Flatten, Transpose, Squeeze/Unsqueeze, Concat, Split, Expand, Tile, Shape, Range ...

Most of these are layout-aware: a Transpose only relabels the stored tensor, axes are remapped into the
stored layout, and a Reshape runs on the stored tensor whenever the axes it merges are stored in order
(a flattened channels-last feature map feeding a Dense layer keeps its order; the Dense rows are permuted).
"""

from __future__ import annotations

import numpy as np

from onnxbridge.codegen.writer import Code, call, dotted, lit
from onnxbridge.frameworks.tensorflow import layout as L
from onnxbridge.frameworks.tensorflow.context import TensorFlowContext, listing, slice_code, subscript
from onnxbridge.frameworks.tensorflow.registry import TF_OPS
from onnxbridge.ir import semantics
from onnxbridge.ir.symbolic import Dim, Elem, sym_binop

INT64_MAX = 2**63 - 1


def _ops(name: str) -> Code:
    return dotted("ops", name)


# -- reshape ---------------------------------------------------------------------------------------------
def _target_shape(ctx: TensorFlowContext) -> tuple:
    """The logical output shape of a Reshape/Flatten: what shape inference says, made sharper by the
    shape input when that is known (a symbolic dim of shape inference may really be a fixed size)."""
    out = ctx.out_type().shape
    dims = ctx.elems(1) if ctx.node.op_type == "Reshape" else None
    if dims is None:
        if out is None:
            ctx.fail("the output shape is unknown")
        return out
    in_shape = ctx.shape(0)
    resolved: list = []
    for k, d in enumerate(dims):
        if isinstance(d, Dim):
            shape = ctx.view.type(d.value).shape
            resolved.append(shape[d.axis] if shape and d.axis < len(shape) else None)
        elif isinstance(d, int) and d == 0 and not ctx.attr("allowzero", 0):
            resolved.append(in_shape[k])
        elif isinstance(d, int) and d >= 0:
            resolved.append(d)
        else:
            resolved.append(None)
    if resolved.count(None) == 1 and all(isinstance(d, int) for d in in_shape) and \
            all(isinstance(d, int) for d in resolved if d is not None):
        known = int(np.prod([d for d in resolved if d is not None]))
        if known:
            resolved[resolved.index(None)] = int(np.prod(in_shape)) // known
    elif [d for d in dims if isinstance(d, int) and d < 0] == [-1]:
        inferred = _inferred_size(ctx, dims, resolved, in_shape)
        if inferred is not None:
            resolved[dims.index(-1)] = inferred
    if out is None or len(out) != len(resolved):
        return tuple(resolved)
    return tuple(r if r is not None and (isinstance(r, int) or not isinstance(o, int)) else o
                 for o, r in zip(out, resolved))


def _inferred_size(ctx: TensorFlowContext, dims: list, resolved: list, in_shape: tuple) -> int | None:
    """The size a ``-1`` stands for when the input has run-time dims that the target keeps: each run-time
    dim of the input cancels against the same dim of the target (``x.view(x.shape[0], x.shape[1], -1)``
    of a (batch, seq, heads, size) tensor is (batch, seq, heads * size)); None when one does not cancel."""
    left = dict(enumerate(in_shape))  # input axes not matched by a target dim yet
    kept = 1
    for k, (d, r) in enumerate(zip(dims, resolved)):
        if isinstance(d, int) and d == -1:
            continue
        axis = None
        if isinstance(d, Dim) and d.value == ctx.node.input[0]:
            axis = d.axis
        elif isinstance(d, int) and d == 0 and not ctx.attr("allowzero", 0):
            axis = k
        elif isinstance(r, str):
            axis = next((a for a, s in left.items() if s == r), None)
        if axis is not None and axis in left:
            del left[axis]
        elif isinstance(r, int):
            kept *= r
        else:
            return None
    if kept <= 0 or not all(isinstance(s, int) for s in left.values()):
        return None
    total = int(np.prod(list(left.values()), dtype=np.int64))
    return total // kept if total % kept == 0 else None


def emit_reshape(ctx: TensorFlowContext, x: Code, stored_in: tuple, stored_out: tuple, perm) -> bool:
    """Write ``x`` reshaped to ``stored_out`` (dims int or symbolic) as output 0 stored with ``perm``.

    False when the target has several dims known only at run time (the caller computes it then).
    """
    unknown = [k for k, d in enumerate(stored_out) if not isinstance(d, int)]
    if not unknown:
        ctx.emit(call(_ops("reshape"), x, lit(tuple(int(d) for d in stored_out))), perm=perm)
        return True
    if len(unknown) == 1:
        target = tuple(-1 if k == unknown[0] else int(d) for k, d in enumerate(stored_out))
        ctx.emit(call(_ops("reshape"), x, lit(target)), perm=perm)
        return True
    if stored_in and unknown[0] == 0 and stored_out[0] is not None and stored_out[0] == stored_in[0] \
            and len(unknown) == 2:
        # the batch stays first: a Keras Reshape layer keeps it and infers one more dim
        rest = tuple(-1 if not isinstance(d, int) else int(d) for d in stored_out[1:])
        ctx.emit(call(ctx.layer("Reshape", target_shape=rest), x), perm=perm)
        return True
    return False


def _dynamic_reshape(ctx: TensorFlowContext, out_shape: tuple) -> None:
    """Reshape to a target only known at run time (a ``DynamicReshape`` helper on the ONNX layout), told the
    sizes known now (``out_shape``): the layers after it build their weights from them."""
    node = ctx.node
    x = ctx.x(0)
    in_shape = ctx.shape(0)
    copy_zeros = False
    if node.op_type == "Flatten":
        axis = ctx.axis(ctx.attr("axis", 1), len(in_shape))
        first: Elem = 1
        for k, d in enumerate(in_shape[:axis]):
            first = sym_binop("*", first, d if isinstance(d, int) else Dim(node.input[0], k))
        shape = ctx.scope.sym_code([first, -1], False, ctx.uses)
    else:
        dims = ctx.elems(1)
        if dims is not None:
            if not ctx.attr("allowzero", 0):
                dims = [Dim(node.input[0], k) if isinstance(d, int) and d == 0 else d for k, d in enumerate(dims)]
            shape = ctx.scope.sym_code(dims, False, ctx.uses)
        else:
            shape = ctx.x(1)
            copy_zeros = not ctx.attr("allowzero", 0)
    static = tuple(int(d) if isinstance(d, int) else None for d in out_shape)
    layer = ctx.layer(str(ctx.helper("DynamicReshape")), module="", copy_zeros=copy_zeros or None,
                      static_shape=static if any(d is not None for d in static) else None)
    ctx.emit(call(layer, x, shape))


def _same_shape(a: tuple, b: tuple) -> bool:
    """Whether two shapes are surely equal: the same static sizes, and at most one size known only at run
    time, at the same place in both (the element count then fixes it)."""
    if len(a) != len(b):
        return False
    unknown = [k for k, (x, y) in enumerate(zip(a, b)) if not (isinstance(x, int) and isinstance(y, int))]
    if len(unknown) > 1 or any(a[k] != b[k] for k in range(len(a)) if k not in unknown):
        return False
    return not unknown or not (isinstance(a[unknown[0]], int) or isinstance(b[unknown[0]], int))


def _reshape(ctx: TensorFlowContext) -> None:
    node = ctx.node
    in_shape = tuple(ctx.shape(0))
    out_shape = tuple(_target_shape(ctx))
    v = ctx.value(0)
    if _same_shape(in_shape, out_shape):
        # a reshape to the shape the tensor has (a squeeze-excite's [-1, C, 1, 1] after pooling): no code,
        # and the tensor keeps its layout (a reshape of a channels-last tensor would need two transposes)
        ctx.alias(0, keep_perm=True)
        return
    if v.const is None and v.feature_perm is None and not L.is_identity(v.layout):
        out_perm = L.reshape_in_layout(in_shape, out_shape, v.layout)
        if out_perm is not None:
            x, perm = ctx.x_any(0)
            if emit_reshape(ctx, x, L.stored_shape(in_shape, perm), L.stored_shape(out_shape, out_perm), out_perm):
                return
        groups = L.reshape_groups(in_shape, out_shape)
        consumers = ctx.readers(node.output[0])
        flat = (len(out_shape) == 2 and v.layout[0] == 0 and groups is not None and groups[0] == ([0], [0])
                and all(isinstance(d, int) for d in in_shape[1:]) and consumers
                and not ctx.is_output(node.output[0])
                and all(c.op_type in ("Gemm", "MatMul") and c.input[0] == node.output[0] for c in consumers))
        if flat:
            # flatten the channels-last tensor as stored; the Dense layer after it takes its rows in this order
            rest = in_shape[1:]
            order = np.arange(int(np.prod(rest))).reshape(rest).transpose([p - 1 for p in v.layout[1:]]).reshape(-1)
            x, _ = ctx.x_any(0)
            ctx.emit(call(_ops("reshape"), x, lit((-1, int(np.prod(rest))))), feature_perm=order)
            return
    if not emit_reshape(ctx, ctx.x(0), in_shape, out_shape, None):
        _dynamic_reshape(ctx, out_shape)


TF_OPS.register("Reshape", since=5)(_reshape)


@TF_OPS.register("Flatten")
def flatten(ctx: TensorFlowContext) -> None:
    """ONNX ``Flatten``: a reshape to two dims, once its ``axis`` is known to be in ``[-rank, rank]``."""
    rank = len(ctx.shape(0))
    axis = int(ctx.attr("axis", 1))
    if not -rank <= axis <= rank:
        ctx.fail(f"axis {axis} is out of range for rank {rank} (Flatten takes -{rank} to {rank})")
    _reshape(ctx)


@TF_OPS.register("Transpose")
def transpose(ctx: TensorFlowContext) -> None:
    """ONNX ``Transpose``, folded into the tensor's stored layout where it only changes the layout."""
    rank = ctx.rank(0)
    onnx_perm = list(ctx.attr("perm", list(range(rank))[::-1]))
    v = ctx.value(0)
    if v.feature_perm is not None or v.code is None:
        ctx.emit(call(_ops("transpose"), ctx.x(0), lit(tuple(onnx_perm))))
        return
    # no code: the stored tensor stays, only its permutation changes
    ctx.alias(0, perm=L.through_transpose(v.layout, onnx_perm))


class _Runtime:
    """A parameter known only at run time."""


def _axes(ctx: TensorFlowContext, since_input: int) -> list[int] | _Runtime | None:
    if ctx.opset >= since_input:
        if not ctx.has(1):
            return None
        axes = ctx.ints(1)
        return _Runtime() if axes is None else axes
    return ctx.attr("axes")


def _runtime_axes(ctx: TensorFlowContext, helper: str) -> None:
    """(Un)squeeze at axes known at run time: a helper layer on the ONNX layout, told the output's shape."""
    layer = ctx.layer(str(ctx.helper(helper)), module="", shape=ctx.static_out_shape())
    ctx.emit(call(layer, ctx.x(0), ctx.x(1)), perm=L.identity(ctx.out_rank()))


@TF_OPS.register("Squeeze")
def squeeze(ctx: TensorFlowContext) -> None:
    """ONNX ``Squeeze`` of the given axes (every size-1 axis of a static shape when none are given; the
    ``SqueezeAxes`` helper when they are known only at run time)."""
    rank = ctx.rank(0)
    axes = _axes(ctx, 13)
    if isinstance(axes, _Runtime):
        _runtime_axes(ctx, "SqueezeAxes")
        return
    if axes is None:
        shape = ctx.shape(0)
        if not all(isinstance(d, int) for d in shape):
            ctx.fail("Squeeze without axes needs a static shape")
        axes = [k for k, d in enumerate(shape) if d == 1]
    axes = sorted(ctx.axis(a, rank) for a in axes)
    if not axes:
        ctx.alias(0, keep_perm=True)
        return
    x, perm = ctx.x_any(0)
    stored, out_perm = L.after_removing(perm, axes)
    if ctx.scope.functional:
        # x[:, 0]: Keras checks ops.squeeze against its own static shape, which can miss a size-1 dim that
        # ONNX knows (after a slice of a run-time length, say); indexing needs no such proof
        items = [slice_code(None, None)] * (max(stored) + 1)
        for a in stored:
            items[a] = lit(0)
        ctx.emit(subscript(x, items), perm=out_perm)
        return
    ctx.emit(call(_ops("squeeze"), x, axis=lit(tuple(stored) if len(stored) > 1 else stored[0])), perm=out_perm)


@TF_OPS.register("Unsqueeze")
def unsqueeze(ctx: TensorFlowContext) -> None:
    """ONNX ``Unsqueeze`` at the given axes (the ``UnsqueezeAxes`` helper when they are known only at run time)."""
    axes = _axes(ctx, 13)
    if isinstance(axes, _Runtime):
        _runtime_axes(ctx, "UnsqueezeAxes")
        return
    if axes is None:
        ctx.fail("Unsqueeze needs axes")
    out_rank = ctx.rank(0) + len(axes)
    axes = sorted(ctx.axis(a, out_rank) for a in axes)
    x, perm = ctx.x_any(0)
    positions, out_perm = L.after_inserting(perm, axes)
    for pos in positions:
        x = call(_ops("expand_dims"), x, lit(pos))
    ctx.emit(x, perm=out_perm)


@TF_OPS.register("Concat", since=4)
def concat(ctx: TensorFlowContext) -> None:
    """ONNX ``Concat`` along its axis in the inputs' shared layout, empty inputs dropped."""
    rank = ctx.out_rank()
    axis = ctx.axis(ctx.attr("axis"), rank)
    idx = [i for i in range(ctx.n_inputs) if ctx.has(i)]
    # empty inputs (a 0-sized constant) add nothing
    idx = [i for i in idx if (c := ctx.const(i)) is None or c.size > 0]
    if len(idx) == 1:
        ctx.alias(idx[0], keep_perm=True)
        return
    codes, perm = ctx.aligned(idx, rank)
    ctx.emit(call(_ops("concatenate"), listing(codes), axis=lit(L.stored_axis(perm, axis))), perm=perm)


@TF_OPS.register("Split", since=2)
def split(ctx: TensorFlowContext) -> None:
    """ONNX ``Split`` into equal parts or given sizes (the ``SplitSizes`` helper for sizes known at run time)."""
    node = ctx.node
    rank = ctx.rank(0)
    axis = ctx.axis(ctx.attr("axis", 0), rank)
    if ctx.opset >= 13:
        sizes = ctx.ints(1) if ctx.has(1) else None
        if ctx.has(1) and sizes is None:  # known at run time
            shapes = [ctx.static_out_shape(j) for j in range(len(node.output))]
            layer = ctx.layer(str(ctx.helper("SplitSizes")), module="", axis=axis, shapes=shapes)
            ctx.outs(call(layer, ctx.x(0), ctx.x(1)), [L.identity(rank)] * len(node.output))
            return
    else:
        sizes = ctx.attr("split")
    n = ctx.n_outputs if ctx.opset < 18 else int(ctx.attr("num_outputs", len(node.output)))
    dim = ctx.shape(0)[axis]
    if sizes is None:
        if not isinstance(dim, int):
            sections: Code = lit(n)
        elif dim % n == 0:
            sections = lit(n)
        else:  # opset 18: the last chunk is smaller
            chunk = -(-dim // n)
            sections = lit([chunk * (k + 1) for k in range(n - 1)])
    else:
        sections = lit(list(np.cumsum(sizes)[:-1].tolist())) if len(set(sizes)) > 1 else lit(len(sizes))
    x, perm = ctx.x_any(0)
    expr = call(_ops("split"), x, sections, axis=lit(L.stored_axis(perm, axis)))
    ctx.outs(expr, [perm] * len(node.output))


@TF_OPS.register("Expand", since=8)
def expand(ctx: TensorFlowContext) -> None:
    """ONNX ``Expand`` as a broadcast to the output's static shape, or to the shape followed symbolically."""
    node = ctx.node
    out_shape = ctx.out_type().shape
    fill = ctx.fill(0)
    if out_shape is None or not all(isinstance(d, int) for d in out_shape):
        dims = ctx.elems(1)
        in_shape = ctx.shape(0)
        if dims is not None and len(dims) == len(in_shape) and all(
                (isinstance(d, int) and (d == 1 or d == s)) or (isinstance(d, Dim) and d.value == node.input[0])
                for d, s in zip(dims, in_shape)):
            ctx.alias(0, keep_perm=True)  # broadcasting to its own shape
            return
        # a shape known at run time (often a zero initial RNN state, which the RNN then skips)
        shape = ctx.scope.sym_code(dims, False, ctx.uses) if dims is not None else ctx.x(1)
        layer = ctx.layer(str(ctx.helper("BroadcastTo")), module="", static_shape=ctx.known_out_shape())
        ctx.emit(call(layer, ctx.tensor_arg(0), shape), fill=fill)
        return
    x, perm = ctx.x_any(0)
    if len(perm) != len(out_shape):
        x, perm = ctx.x(0), L.identity(len(out_shape))
    ctx.emit(call(_ops("broadcast_to"), x, lit(L.stored_shape(tuple(out_shape), perm))), perm=perm, fill=fill)


@TF_OPS.register("Tile", since=6)
def tile(ctx: TensorFlowContext) -> None:
    """ONNX ``Tile``: ``ops.tile`` for constant repeats, the ``Tile`` helper for ones known at run time."""
    repeats = ctx.ints(1)
    if repeats is None:  # known at run time
        layer = ctx.layer(str(ctx.helper("Tile")), module="", shape=ctx.static_out_shape())
        ctx.emit(call(layer, ctx.x(0), ctx.x(1)))
        return
    x, perm = ctx.x_any(0)
    ctx.emit(call(_ops("tile"), x, lit(tuple(repeats[p] for p in perm))), perm=perm)


@TF_OPS.register("DepthToSpace", since=11)
def depth_to_space(ctx: TensorFlowContext) -> None:
    """ONNX ``DepthToSpace`` (DCR or CRD) as reshapes and a transpose, channels-last; static sizes only."""
    b = int(ctx.attr("blocksize"))
    n, c, h, w = ctx.shape(0)
    if not all(isinstance(d, int) for d in (c, h, w)):
        ctx.fail("DepthToSpace needs static channel and spatial sizes")
    x = ctx.x_cl(0)
    cc = c // (b * b)
    if ctx.attr("mode", "DCR") == "DCR":
        y = call(_ops("reshape"), x, lit((-1, h, w, b, b, cc)))
        y = call(_ops("transpose"), y, lit((0, 1, 3, 2, 4, 5)))
    else:
        y = call(_ops("reshape"), x, lit((-1, h, w, cc, b, b)))
        y = call(_ops("transpose"), y, lit((0, 1, 4, 2, 5, 3)))
    ctx.emit(call(_ops("reshape"), y, lit((-1, h * b, w * b, cc))), perm=L.channels_last(4))


@TF_OPS.register("SpaceToDepth")
def space_to_depth(ctx: TensorFlowContext) -> None:
    """ONNX ``SpaceToDepth`` (DCR or CRD) as reshapes and a transpose, channels-last; static sizes only."""
    b = int(ctx.attr("blocksize"))
    n, c, h, w = ctx.shape(0)
    if not all(isinstance(d, int) for d in (c, h, w)):
        ctx.fail("SpaceToDepth needs static channel and spatial sizes")
    x = ctx.x_cl(0)
    y = call(_ops("reshape"), x, lit((-1, h // b, b, w // b, b, c)))
    # DCR: the block's row and column, then the channel; CRD: the channel first
    y = call(_ops("transpose"), y, lit((0, 1, 3, 5, 2, 4) if ctx.attr("mode", "DCR") == "CRD" else (0, 1, 3, 2, 4, 5)))
    ctx.emit(call(_ops("reshape"), y, lit((-1, h // b, w // b, b * b * c))), perm=L.channels_last(4))


@TF_OPS.register("Size")
def size(ctx: TensorFlowContext) -> None:
    """ONNX ``Size`` of a static shape, as a constant."""
    shape = ctx.shape(0)
    if not all(isinstance(d, int) for d in shape):
        ctx.fail("Size of a tensor with run-time dims is not supported")
    ctx.set_const(0, np.asarray(int(np.prod(shape)), dtype=np.int64))


@TF_OPS.register("Shape")
def shape_op(ctx: TensorFlowContext) -> None:
    """ONNX ``Shape`` that could not be folded or followed: refused with a clear error."""
    # Shape is normally folded (static dims) or followed symbolically; reaching here means a rank is unknown
    ctx.fail("the shape of this tensor is not known well enough to follow")


@TF_OPS.register("ConstantOfShape", since=9)
def constant_of_shape(ctx: TensorFlowContext) -> None:
    """ONNX ``ConstantOfShape`` through the generated ``Fill`` helper layer, the fill value kept for later
    folding."""
    value = ctx.attr("value")
    array = np.asarray(value).reshape(-1)[0] if value is not None else np.asarray(0.0, dtype=np.float32)
    dims = ctx.elems(0)
    shape = ctx.scope.sym_code(dims, False, ctx.uses) if dims is not None else ctx.x(0)
    layer = ctx.layer(str(ctx.helper("Fill")), module="", value=array.item(), dtype=str(array.dtype),
                      static_shape=ctx.known_out_shape())
    # the fill value is kept too: a zero initial RNN state needs no code at all
    ctx.emit(call(layer, shape), fill=float(array))


@TF_OPS.register("Constant")
def constant(ctx: TensorFlowContext) -> None:
    """ONNX ``Constant`` left unevaluated (a sparse tensor): refused with a clear error."""
    # constants are evaluated before conversion; one that is not (a sparse tensor) is not supported
    ctx.fail("this kind of Constant is not supported")


@TF_OPS.register("Range", since=11)
def range_(ctx: TensorFlowContext) -> None:
    """ONNX ``Range``: a constant when its bounds are, the generated ``Range`` helper layer otherwise."""
    values = [ctx.const(i) for i in range(3)]
    consts = [v for v in values if v is not None]
    if len(consts) == len(values):
        start, limit, delta = (v.reshape(-1)[0] for v in consts)
        ctx.set_const(0, np.arange(start, limit, delta, dtype=consts[0].dtype))
        return
    layer = ctx.layer(str(ctx.helper("Range")), module="")
    # constants go in as arrays: a Keras layer only takes tensors positionally
    args = [ctx.tensor_arg(i) for i in range(3)]
    ctx.emit(call(layer, *args))


@TF_OPS.register("EyeLike", since=9)
def eye_like(ctx: TensorFlowContext) -> None:
    """ONNX ``EyeLike`` of a static shape, as a constant."""
    shape = ctx.shape(0)
    if not all(isinstance(d, int) for d in shape):
        ctx.fail("EyeLike of a tensor with run-time dims is not supported")
    dtype = ctx.dtype(ctx.attr("dtype") if ctx.attr("dtype") is not None else ctx.elem(0))
    ctx.set_const(0, np.eye(shape[0], shape[1], k=int(ctx.attr("k", 0)), dtype=dtype))


@TF_OPS.register("CenterCropPad", since=18)
def center_crop_pad(ctx: TensorFlowContext) -> None:
    """ONNX ``CenterCropPad`` to the output's shape (the target sizes may be known only at run time; shape
    inference or the graph gives the output's): a centred slice where the input is larger, ``ops.pad`` with
    zeros where it is smaller."""
    rank = ctx.rank(0)
    if ctx.out_type().shape is None:
        ctx.fail("the output's shape is unknown, so the sizes to crop or pad to are known only at run time")
    in_shape, out_shape = ctx.shape(0), ctx.out_shape()
    axes = sorted({ctx.axis(a, rank) for a in ctx.attr("axes", range(rank))})
    window, widths = [slice_code(None, None)] * rank, [(0, 0)] * rank
    for a in axes:
        n, m = in_shape[a], out_shape[a]
        if not (isinstance(n, int) and isinstance(m, int)):
            ctx.fail(f"the size of axis {a} before and after must be known when converting")
        (start, stop), widths[a] = semantics.center_crop_pad(n, m)
        if (start, stop) != (0, n):
            window[a] = slice_code(start, stop)
    y = ctx.x(0)
    if any(str(w) != ":" for w in window):
        y = subscript(y, window)
    if any(widths[a] != (0, 0) for a in range(rank)):
        y = call(_ops("pad"), y, lit(tuple(widths)))
    if y == ctx.x(0):
        ctx.alias(0)
    else:
        ctx.emit(y)
