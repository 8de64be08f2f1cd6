"""Indexing: Gather (-> nn.Embedding on a constant table), Slice, GatherElements/ND, Scatter*, TopK, NonZero,
MaxUnpool (a scatter of the pooled values back to their positions)."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

from onnxbridge.codegen.writer import Code, fmt, join, lit
from onnxbridge.frameworks.torch.context import TorchContext, compact, fn, scalar
from onnxbridge.frameworks.torch.registry import TORCH_OPS
from onnxbridge.ir.dtypes import FLOAT_TYPES

REG = TORCH_OPS.register

_BIG = 2**31 - 1  # exporters write INT64_MAX / INT32_MAX for "to the end"


def _subscript(ctx: TorchContext, axis: int, index: Code, rank: int | None) -> list[Code]:
    """Index parts that put ``index`` at ``axis`` (``[:, idx]`` or ``[..., idx, :]``)."""
    if axis >= 0:
        return [Code(":")] * axis + [index]
    if rank is not None:
        return [Code(":")] * (axis + rank) + [index]
    return [Code("...")] + [index] + [Code(":")] * (-axis - 1)


@REG("Gather")
def gather(ctx: TorchContext) -> None:
    """ONNX ``Gather``: an ``nn.Embedding`` for a float table looked up by ids, indexing otherwise."""
    axis = int(ctx.attr("axis", 0))
    table = ctx.param(0)
    rank = ctx.type(0).rank
    idx_const = ctx.const(1)
    if table is not None and idx_const is None and axis == 0 and len(table.shape) == 2 \
            and ctx.elem(0) in FLOAT_TYPES:
        num, dim = table.shape
        module = ctx.add_module(fn("nn.Embedding", lit(int(num)), lit(int(dim))), {"weight": table}, weight=0)
        ctx.emit(fmt("{}({})", module, ctx.t(1)))
        return
    x = ctx.t(0)
    if idx_const is not None and idx_const.ndim == 0:
        index = lit(int(idx_const))
    elif idx_const is not None and idx_const.ndim == 1 and idx_const.size <= 16:
        index = lit([int(v) for v in idx_const])
    else:
        index = ctx.t(1)
    ctx.emit(fmt("{}[{}]", x, join(_subscript(ctx, axis, index, rank))))


def _element_index(ctx: TorchContext, x: Code, axis: int) -> Code:
    """Input 1 (indices along ``axis``) as torch.gather/scatter take them: ONNX also counts from the end
    (``-1`` is the last), torch does not."""
    c = ctx.const(1)
    if c is not None and not (c < 0).any():
        return ctx.t(1)
    return fmt("{} % {}.shape[{}]", ctx.t(1), x, lit(axis))


@REG("GatherElements", since=11)
def gather_elements(ctx: TorchContext) -> None:
    """ONNX ``GatherElements`` as ``torch.gather`` (negative indices wrapped)."""
    axis = int(ctx.attr("axis", 0))
    x = ctx.t(0)
    ctx.emit(fn("torch.gather", x, lit(axis), _element_index(ctx, x, axis)))


@REG("GatherND", since=11)
def gather_nd(ctx: TorchContext) -> None:
    """ONNX ``GatherND`` as advanced indexing; with ``batch_dims`` through the ``onnx_gather_nd`` helper."""
    if int(ctx.attr("batch_dims", 0)):
        ctx.emit(fn(str(ctx.helper("onnx_gather_nd")), ctx.t(0), ctx.t(1), lit(int(ctx.attr("batch_dims")))))
        return
    ctx.emit(fmt("{}[tuple({}.movedim(-1, 0))]", ctx.t(0), ctx.t(1)))


@REG("ScatterElements", since=11)
def scatter_elements(ctx: TorchContext) -> None:
    """ONNX ``ScatterElements`` as ``scatter`` / ``scatter_reduce`` with its reduction."""
    axis = lit(int(ctx.attr("axis", 0)))
    reduction = ctx.attr("reduction", "none")
    x, upd = ctx.t(0), ctx.t(2)
    idx = _element_index(ctx, x, int(ctx.attr("axis", 0)))
    if reduction == "none":
        ctx.emit(fmt("{}.scatter({}, {}, {})", x, axis, idx, upd))
    elif reduction == "add":
        ctx.emit(fmt("{}.scatter_add({}, {}, {})", x, axis, idx, upd))
    else:
        reduce = {"mul": "prod", "max": "amax", "min": "amin"}[reduction]
        ctx.emit(fmt("{}.scatter_reduce({}, {}, {}, {})", x, axis, idx, upd, lit(reduce)))


# the deprecated Scatter is ScatterElements without a reduction
REG("Scatter", since=9)(scatter_elements)


@REG("MaxUnpool", since=9)
def max_unpool(ctx: TorchContext) -> None:
    """ONNX ``MaxUnpool`` as ``F.max_unpool{1,2,3}d`` to the output's spatial size; ONNX numbers the indices
    over the whole tensor, torch within each channel's plane (hence ``indices % plane``)."""
    nd = ctx.rank(0) - 2
    if nd not in (1, 2, 3):
        ctx.fail(f"torch unpools 1-D, 2-D or 3-D inputs, not {nd}-D ones")
    spatial = ctx.out_shape()[2:]
    if not all(isinstance(d, int) for d in spatial):
        ctx.fail("the output's spatial size must be known when converting")
    kernel = [int(k) for k in ctx.attr("kernel_shape")]
    strides = [int(v) for v in ctx.attr("strides", [1] * nd)]
    pads = [int(v) for v in ctx.attr("pads", [0] * 2 * nd)]
    # the padding only sets torch's default size, which the given output size may differ from by less than
    # a stride (the indices place every value anyway)
    padding = pads[:nd] if all(2 * p <= k for p, k in zip(pads[:nd], kernel)) else [0] * nd
    in_spatial = ctx.shape(0)[2:]
    for size, n, k, s, p in zip(spatial, in_spatial, kernel, strides, padding):
        default = (n - 1) * s - 2 * p + k if isinstance(n, int) else None
        if default is None or abs(size - default) >= s:
            ctx.fail(f"output size {tuple(spatial)} is too far from what torch's max_unpool allows for these "
                     f"kernel, strides and pads")
    plane = int(np.prod(spatial))
    kwargs = {"stride": compact(strides)} if strides != kernel else {}
    if any(padding):
        kwargs["padding"] = compact(padding)
    ctx.line("# ONNX numbers the indices over the whole tensor, torch within each channel")
    ctx.emit(fn(f"F.max_unpool{nd}d", ctx.t(0), fmt("{} % {}", ctx.t(1), lit(plane)), compact(kernel),
                output_size=lit(tuple(spatial)), **kwargs))


@REG("ScatterND", since=11)
def scatter_nd(ctx: TorchContext) -> None:
    """ONNX ``ScatterND`` as ``index_put`` (reduction none or add); mul, max and min through the
    ``onnx_scatter_nd`` helper."""
    reduction = ctx.attr("reduction", "none")
    if reduction in ("mul", "max", "min"):
        ctx.emit(fn(str(ctx.helper("onnx_scatter_nd")), ctx.t(0), ctx.t(1), ctx.t(2), lit(reduction)))
        return
    if reduction not in ("none", "add"):
        ctx.fail(f"reduction={reduction!r} is not an ONNX ScatterND reduction")
    args = [fmt("tuple({}.movedim(-1, 0))", ctx.t(1)), ctx.t(2)]
    if reduction == "add":
        args.append(Code("accumulate=True"))
    ctx.emit(fmt("{}.index_put({})", ctx.t(0), join(args)))


@REG("Slice")
def slice_(ctx: TorchContext) -> None:
    """ONNX ``Slice`` (bounds as attributes before opset 10, as inputs from 10) as indexing (negative steps
    through ``flip``); bounds, axes or steps known only at run time go through ``onnx_slice``."""
    start_vals: list[int | None]
    end_vals: list[int | None]
    axes: list[int] | None
    steps: list[int] | None
    if ctx.opset < 10:
        starts = [int(v) for v in ctx.attr("starts")]
        ends = [int(v) for v in ctx.attr("ends")]
        axes = [int(v) for v in ctx.attr("axes", range(len(starts)))]
        steps = [1] * len(starts)
        start_codes, end_codes = [lit(v) for v in starts], [lit(v) for v in ends]
        start_vals, end_vals = list(starts), list(ends)
    else:
        start_vals, start_codes = _bounds(ctx, 1)
        end_vals, end_codes = _bounds(ctx, 2)
        n = len(start_codes)
        axes = ctx.ints(3) if ctx.has(3) else list(range(n))
        steps = ctx.ints(4) if ctx.has(4) else [1] * n
        if axes is None or steps is None or (ctx.type(0).rank is None and any(a < 0 for a in axes)) or \
                any(s < 0 for s in steps) and (None in start_vals or None in end_vals):
            _runtime_slice(ctx)
            return
    rank = ctx.type(0).rank
    shape = ctx.type(0).shape
    if rank is not None:
        axes = [ctx.axis(a, rank) for a in axes]
    if any(a < 0 for a in axes) and not all(a < 0 for a in axes):
        ctx.fail("mixed negative and positive axes need a known input rank")
    x = ctx.t(0)
    parts: dict[int, Code] = {}
    post: list[tuple[int, Code]] = []
    for a, s_code, e_code, s, e, step in zip(axes, start_codes, end_codes, start_vals, end_vals, steps):
        dim = shape[a] if shape is not None and isinstance(shape[a], int) else None
        if step > 0:
            start = Code("") if s == 0 else s_code
            end = Code("") if e is not None and (e >= _BIG or (dim is not None and e >= dim)) else e_code
            parts[a] = fmt("{}:{}", start, end) if step == 1 else fmt("{}:{}:{}", start, end, lit(step))
        elif step == -1 and s is not None and e is not None and (s == -1 or s >= _BIG or (dim is not None and s >= dim - 1)) \
                and (e <= -_BIG or (dim is not None and e < -dim)):
            post.append((a, fmt("flip({})", lit(a))))
        elif dim is not None and s is not None and e is not None:
            picked = list(range(dim))[slice(s, e, step)]
            post.append((a, fmt("[{}]", join(_subscript(ctx, a, lit(picked), rank)))))
        else:
            ctx.fail("a negative step needs a static size and constant bounds")
    if parts:
        if all(a < 0 for a in parts):
            order = sorted(parts)
            index = [Code("...")] + [parts.get(a, Code(":")) for a in range(order[0], 0)]
        else:
            index = [parts.get(a, Code(":")) for a in range(max(parts) + 1)]
        x = fmt("{}[{}]", x, join(index))
    for _, op in post:
        x = fmt("{}.{}", x, op) if str(op).startswith("flip") else fmt("{}{}", x, op)
    ctx.emit(x)


def _runtime_slice(ctx: TorchContext) -> None:
    """Slice with axes, steps or bounds known at run time: the helper applies Python's slice rules."""
    args = [ctx.t(0)]
    for i in (1, 2, 3, 4):
        if ctx.has(i):
            values = ctx.ints(i)
            args.append(lit(values) if values is not None else ctx.t(i))
        elif i == 3 and ctx.has(4):
            args.append(Code("None"))
    ctx.emit(fn(str(ctx.helper("onnx_slice")), *args))


def _bounds(ctx: TorchContext, i: int) -> tuple[list[int | None], list[Code]]:
    elems = ctx.elems(i)
    if elems is not None:
        values = [e if isinstance(e, int) else None for e in elems]
        return values, [ctx.elem_code(e) for e in elems]
    t = ctx.t(i)
    n = ctx.type(i).shape
    if n is None or not isinstance(n[0], int):
        return [None], [t]  # (an unknown number of) bounds known at run time: the helper reads them
    return [None] * n[0], [fmt("{}[{}]", t, lit(k)) for k in range(n[0])]


@REG("TopK")
def topk(ctx: TorchContext) -> None:
    """ONNX ``TopK`` as a stable ``torch.sort`` cut to K (ties keep the lower index first, as ONNX asks), K from
    the attribute before opset 10 and from the input after."""
    if ctx.opset < 10:
        k = lit(int(ctx.attr("k")))
    else:
        elems = ctx.elems(1)
        k = ctx.elem_code(elems[0]) if elems else fmt("int({})", ctx.t(1))
    dim = lit(int(ctx.attr("axis", -1)))
    # ONNX puts the lower index first among equal values; torch.topk orders ties as it likes, a stable
    # sort keeps them in index order
    kwargs = {"descending": lit(True)} if int(ctx.attr("largest", 1)) else {}
    values, indices = ctx.temp("values"), ctx.temp("indices")
    ctx.line("{}, {} = {}", values, indices, fn("torch.sort", ctx.t(0), dim=dim, stable=lit(True), **kwargs))
    ctx.line("{} = {}.narrow({}, 0, {}), {}.narrow({}, 0, {})", ctx.targets(2), values, dim, k, indices, dim, k)


@REG("NonZero", since=9)
def nonzero(ctx: TorchContext) -> None:
    """ONNX ``NonZero`` as ``torch.nonzero(x).t()`` (indices as rows, the ONNX layout)."""
    ctx.emit(fmt("torch.nonzero({}).t()", ctx.t(0)))



@REG("OneHot", since=9)
def one_hot(ctx: TorchContext) -> None:
    """ONNX ``OneHot``, depth and values constant or known at run time."""
    depth, values = ctx.const(1), ctx.const(2)
    n = lit(int(np.asarray(depth).reshape(-1)[0])) if depth is not None else fmt("int({})", ctx.t(1))
    if values is not None:
        off, on = (scalar(v) for v in np.asarray(values).reshape(-1)[:2])
    else:
        off, on = fmt("{}[0]", ctx.t(2)), fmt("{}[1]", ctx.t(2))
    index = ctx.t(0) if ctx.elem(0) == TensorProto.INT64 else fmt("{}.long()", ctx.t(0))
    if not str(index).isidentifier():
        var = ctx.temp("index")
        ctx.line("{} = {}", var, index)
        index = var
    # ONNX counts indices in [-depth, depth) (negative ones from the end); others give a row of off values
    hot = ctx.temp("hot")
    ctx.line("{} = F.one_hot({} % {}, {}).bool() & ((({} >= -{}) & ({} < {})).unsqueeze(-1))", hot, index, n, n,
             index, n, index, n)
    y = fn("torch.where", hot, on, off)
    elem = ctx.out_elem()
    python_default = TensorProto.FLOAT if values is None or values.dtype.kind == "f" else TensorProto.INT64
    if values is not None and elem is not None and elem != python_default:
        y = fmt("{}.to({})", y, ctx.dtype(elem))
    axis = int(ctx.attr("axis", -1))
    if axis != -1:
        y = fmt("{}.movedim(-1, {})", y, lit(axis))
    ctx.emit(y)


@REG("ReverseSequence", since=10)
def reverse_sequence(ctx: TorchContext) -> None:
    """ONNX ``ReverseSequence`` (batch and time as the first two axes) as a per-sequence gather."""
    batch_axis, time_axis = int(ctx.attr("batch_axis", 1)), int(ctx.attr("time_axis", 0))
    rank = ctx.type(0).rank
    if rank is None or {batch_axis, time_axis} != {0, 1}:
        ctx.fail("needs a known rank with the batch and time axes first")
    x, lens = ctx.t(0), ctx.t(1)
    # position t of sequence b reads from lens[b] - 1 - t while t < lens[b], else stays put
    steps = ctx.temp("steps")
    ctx.line("{} = torch.arange({}.shape[{}], device={}.device)[:, None]", steps, x, lit(time_axis), x)
    order = ctx.temp("order")
    ctx.line("{} = torch.where({} < {}, {} - 1 - {}, {})", order, steps, lens, lens, steps, steps)
    if time_axis == 1:
        ctx.line("{} = {}.t()", order, order)
    index = fmt("{}.reshape({}.shape + (1,) * {}).expand_as({})", order, order, lit(rank - 2), x)
    ctx.emit(fn("torch.gather", x, lit(time_axis), index))
