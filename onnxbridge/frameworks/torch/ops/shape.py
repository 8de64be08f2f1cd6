"""Shape ops: Reshape (-> flatten where it is one), Transpose, (Un)Squeeze, Concat, Split, Expand, Tile, ...

Shape arithmetic known at conversion time (``Shape -> Gather -> Concat -> Reshape``) is folded by
:mod:`onnxbridge.ir.folding`; these converters then see ``x.shape[0]``-style elements and write
``x.reshape(x.shape[0], -1)`` or ``torch.flatten(x, 1)``. Shape and Size themselves only produce code
when the rank is unknown.
"""

from __future__ import annotations

import math

import numpy as np

from onnxbridge.codegen.writer import Code, fmt, join, lit
from onnxbridge.frameworks.torch.context import TorchContext, fn, scalar
from onnxbridge.frameworks.torch.registry import TORCH_OPS
from onnxbridge.ir import semantics
from onnxbridge.ir.symbolic import Elem

REG = TORCH_OPS.register


def input_dims(ctx: TorchContext, i: int = 0) -> list[Elem] | None:
    """Input ``i``'s dims: static sizes as ints, the others as ``Dim`` (``x.shape[k]`` at run time)."""
    return ctx.view.dims(ctx.input_name(i))


@REG("Shape")
def shape_(ctx: TorchContext) -> None:
    """ONNX ``Shape`` (with ``start`` / ``end``) as a tensor of ``x.shape``."""
    x = ctx.t(0)
    start, end = ctx.attr("start"), ctx.attr("end")
    dims = fmt("{}.shape", x)
    if start is not None or end is not None:
        dims = fmt("{}.shape[{}:{}]", x, lit(int(start or 0)), lit(int(end)) if end is not None else Code(""))
    ctx.emit(fn("torch.tensor", dims, dtype=Code("torch.int64"), device=fmt("{}.device", x)))


@REG("Size")
def size(ctx: TorchContext) -> None:
    """ONNX ``Size`` as a tensor of ``x.numel()``."""
    x = ctx.t(0)
    ctx.emit(fn("torch.tensor", fmt("{}.numel()", x), dtype=Code("torch.int64"), device=fmt("{}.device", x)))


@REG("Constant")
def constant(ctx: TorchContext) -> None:
    """ONNX ``Constant``: its output is the tensor expression of the value it holds."""
    ctx.alias(ctx.tensor(ctx.node.output[0], ctx.node))


@REG("Reshape", since=5)
def reshape(ctx: TorchContext) -> None:
    """ONNX ``Reshape`` with a constant or computed shape, ``allowzero`` honoured."""
    x = ctx.t(0)
    allowzero = int(ctx.attr("allowzero", 0))
    elems = ctx.elems(1)
    if elems is None:
        shape = ctx.t(1)
        if allowzero:
            ctx.emit(fmt("{}.reshape({}.tolist())", x, shape))
        else:  # a 0 copies the input's size at that position
            ctx.emit(fmt("{}.reshape([d if d != 0 else {}.shape[i] for i, d in enumerate({}.tolist())])", x, x, shape))
        return
    dims = input_dims(ctx)
    resolved: list[Elem] = []
    for i, e in enumerate(elems):
        if e == 0 and not allowzero:
            if dims is None or i >= len(dims):
                ctx.fail("a 0 in the target shape copies an input dim, but the input rank is unknown")
            resolved.append(dims[i])
        else:
            resolved.append(e)
    if dims is not None:
        if resolved == dims or (all(isinstance(d, int) for d in dims) and
                                _same_static(resolved, [int(d) for d in dims])):  # type: ignore[arg-type]
            ctx.alias(x)
            return
        k = len(resolved) - 1
        if k >= 1 and resolved[-1] == -1 and k <= len(dims) - 1 and resolved[:k] == dims[:k]:
            if k == len(dims) - 1:  # the same shape
                ctx.alias(x)
            else:
                ctx.emit(fn("torch.flatten", x, lit(k)))
            return
    ctx.emit(fmt("{}.reshape({})", x, join([ctx.elem_code(e) for e in resolved]) if resolved else Code("()")))


def _same_static(target: list[Elem], shape: list[int]) -> bool:
    if len(target) != len(shape) or not all(isinstance(t, int) for t in target):
        return False
    known = [t for t in target if t != -1]
    return [t if t != -1 else s for t, s in zip(target, shape)] == shape and len(known) >= len(shape) - 1


@REG("Flatten")
def flatten(ctx: TorchContext) -> None:
    """ONNX ``Flatten`` at ``axis`` to two dims (``torch.flatten``, ``reshape`` or two ``flatten`` calls)."""
    axis = int(ctx.attr("axis", 1))
    rank = ctx.type(0).rank
    x = ctx.t(0)
    if axis < 0:
        if rank is None:
            ctx.fail("a negative axis needs a known input rank")
        axis += rank
    if axis == 0:
        ctx.emit(fmt("{}.reshape(1, -1)", x))
    elif rank is not None and axis == rank:  # (a 1-D input with axis 1 too: torch.flatten(x, 1) needs 2-D)
        ctx.emit(fmt("{}.reshape(-1, 1)", x))
    elif axis == 1:
        ctx.emit(fn("torch.flatten", x, lit(1)))
    else:
        ctx.emit(fmt("{}.flatten({}).flatten(0, {})", x, lit(axis), lit(axis - 1)))


@REG("Transpose")
def transpose(ctx: TorchContext) -> None:
    """ONNX ``Transpose`` as ``permute`` (dims reversed when ``perm`` is missing)."""
    x = ctx.t(0)
    perm = ctx.attr("perm")
    rank = ctx.type(0).rank
    if perm is None:
        if rank is None:
            ctx.emit(fmt("{}.permute(*reversed(range({}.dim())))", x, x))
            return
        perm = list(reversed(range(rank)))
    perm = [int(p) for p in perm]
    moved = [i for i, p in enumerate(perm) if p != i]
    if not moved:
        ctx.alias(x)
    elif len(moved) == 2:
        ctx.emit(fmt("{}.transpose({}, {})", x, lit(moved[0]), lit(moved[1])))
    else:
        ctx.emit(fmt("{}.permute({})", x, join([lit(p) for p in perm])))


class _Runtime:
    """A parameter known only at run time."""


def _axes_attr_or_input(ctx: TorchContext, input_since: int) -> list[int] | _Runtime | None:
    if ctx.opset >= input_since:
        if not ctx.has(1):
            return None
        axes = ctx.ints(1)
        return _Runtime() if axes is None else axes
    axes = ctx.attr("axes")
    return None if axes is None else [int(a) for a in axes]


@REG("Unsqueeze")
def unsqueeze(ctx: TorchContext) -> None:
    """ONNX ``Unsqueeze`` (axes as attribute before opset 13, as input from 13; ``onnx_unsqueeze`` when they
    are known only at run time)."""
    axes = _axes_attr_or_input(ctx, 13) or []
    rank = ctx.type(0).rank
    x = ctx.t(0)
    if isinstance(axes, _Runtime):
        ctx.emit(fn(str(ctx.helper("onnx_unsqueeze")), x, ctx.t(1)))
        return
    if any(a < 0 for a in axes):
        if rank is None:  # the helper counts from the end at run time
            ctx.emit(fn(str(ctx.helper("onnx_unsqueeze")), x, lit(axes)))
            return
        axes = [ctx.axis(a, rank + len(axes)) for a in axes]
    for a in sorted(axes):
        x = fmt("{}.unsqueeze({})", x, lit(a))
    ctx.emit(x)


@REG("Squeeze")
def squeeze(ctx: TorchContext) -> None:
    """ONNX ``Squeeze`` (axes as attribute before opset 13, as input from 13, constant or known at run time)."""
    axes = _axes_attr_or_input(ctx, 13)
    x = ctx.t(0)
    if isinstance(axes, _Runtime):
        ctx.emit(fmt("{}.squeeze(tuple({}.tolist()))", x, ctx.t(1)))
    elif not axes:
        ctx.emit(fmt("{}.squeeze()", x))
    elif len(axes) == 1:
        ctx.emit(fmt("{}.squeeze({})", x, lit(axes[0])))
    else:
        ctx.emit(fmt("{}.squeeze({})", x, lit(tuple(axes))))


@REG("Concat", since=4)
def concat(ctx: TorchContext) -> None:
    """ONNX ``Concat`` as ``torch.cat`` along its axis."""
    parts = [ctx.t(i) for i in range(ctx.n_inputs) if ctx.has(i)]
    if len(parts) == 1:
        ctx.alias(parts[0])
        return
    ctx.emit(fn("torch.cat", fmt("[{}]", join(parts)), lit(int(ctx.attr("axis")))))


@REG("Split", since=2)
def split(ctx: TorchContext) -> None:
    """ONNX ``Split`` into equal parts or given sizes (as attribute before opset 13, as input from 13, constant or
    known at run time)."""
    axis = int(ctx.attr("axis", 0))
    n = len(ctx.node.output)
    if ctx.opset >= 13:
        sizes = ctx.ints(1) if ctx.has(1) else None
        if ctx.has(1) and sizes is None:  # known at run time
            _unpack(ctx, n, fn("torch.split", ctx.t(0), fmt("{}.tolist()", ctx.t(1)), lit(axis)))
            return
    else:
        sizes = [int(s) for s in ctx.attr("split", [])] or None
    x = ctx.t(0)
    if sizes is None:
        shape = ctx.type(0).shape
        dim = shape[axis] if shape is not None and -len(shape) <= axis < len(shape) else None
        chunks = int(ctx.attr("num_outputs", n))
        if isinstance(dim, int):
            size = math.ceil(dim / chunks) if ctx.opset >= 18 else dim // chunks
            sizes = [size] * (chunks - 1) + [dim - size * (chunks - 1)]
        else:
            _unpack(ctx, n, fn("torch.chunk", x, lit(chunks), lit(axis)))
            return
    if len(set(sizes)) == 1:
        _unpack(ctx, n, fn("torch.split", x, lit(sizes[0]), lit(axis)))
    else:
        _unpack(ctx, n, fn("torch.split", x, lit(list(sizes)), lit(axis)))


def _unpack(ctx: TorchContext, n: int, expr: Code) -> None:
    targets = ctx.targets(n)
    ctx.line("{} = {}", fmt("{},", targets) if n == 1 else targets, expr)


@REG("Expand", since=8)
def expand(ctx: TorchContext) -> None:
    """ONNX ``Expand`` as ``expand`` to the broadcast of the input shape and the target."""
    x = ctx.t(0)
    target = ctx.elems(1)
    dims = input_dims(ctx)
    if target is None:
        ctx.emit(fmt("{}.expand(torch.broadcast_shapes({}.shape, tuple({}.tolist())))", x, x, ctx.t(1)))
        return
    if dims is None:
        ctx.emit(fmt("{}.expand(torch.broadcast_shapes({}.shape, ({},)))", x, x,
                     join([ctx.elem_code(e) for e in target])))
        return
    rank = max(len(target), len(dims))
    t_full = [1] * (rank - len(target)) + list(target)
    d_full: list[Elem | None] = [None] * (rank - len(dims)) + list(dims)
    out: list[Elem] = []
    for t, d in zip(t_full, d_full):
        if t == 1:
            out.append(-1 if d is not None else 1)  # ONNX keeps the input's size where the target says 1
        elif d is not None and (d == t or (isinstance(d, int) and d != 1)):
            out.append(-1)
        else:
            out.append(t)
    if len(out) == len(dims) and all(e == -1 for e in out):
        ctx.alias(x)
        return
    ctx.emit(fmt("{}.expand({})", x, join([ctx.elem_code(e) for e in out])))


@REG("Tile", since=6)
def tile(ctx: TorchContext) -> None:
    """ONNX ``Tile`` as ``repeat``."""
    ctx.emit(fmt("{}.repeat({})", ctx.t(0), ctx.seq(1)))


@REG("ConstantOfShape", since=9)
def constant_of_shape(ctx: TorchContext) -> None:
    """ONNX ``ConstantOfShape`` as ``torch.zeros``, ``torch.ones`` or ``torch.full`` of the given shape."""
    value = ctx.attr("value")
    value = np.zeros(1, dtype=np.float32) if value is None else np.asarray(value)
    elem = ctx.out_type().elem or onnx_elem(value)
    kwargs = {} if value.dtype == np.float32 else {"dtype": ctx.dtype(elem)}
    kwargs["device"] = ctx.device()
    elems = ctx.elems(0)
    if elems is None:
        shape = fmt("{}.tolist()", ctx.t(0))
    elif not elems:
        shape = Code("()")
    else:
        shape = join([ctx.elem_code(e) for e in elems])
        if len(elems) == 1 and value.reshape(-1)[0] not in (0, 1):
            shape = fmt("({},)", shape)
        elif value.reshape(-1)[0] not in (0, 1):
            shape = fmt("({})", shape)
    v = value.reshape(-1)[0]
    if v == 0 and value.dtype != np.bool_:
        ctx.emit(fn("torch.zeros", shape, **kwargs))
    elif v == 1 and value.dtype != np.bool_:
        ctx.emit(fn("torch.ones", shape, **kwargs))
    else:
        ctx.emit(fn("torch.full", shape, scalar(value), **kwargs))


def onnx_elem(value: np.ndarray) -> int:
    """The ONNX element type of a numpy array's dtype."""
    from onnx import helper

    return int(helper.np_dtype_to_tensor_dtype(value.dtype))


@REG("Range", since=11)
def range_(ctx: TorchContext) -> None:
    """ONNX ``Range`` as ``torch.arange``."""
    args = []
    for i in range(3):
        c = ctx.const(i)
        if c is not None:
            args.append(scalar(c))
            continue
        elems = ctx.elems(i)
        args.append(ctx.elem_code(elems[0]) if elems else fmt("{}.item()", ctx.t(i)))
    ctx.emit(fn("torch.arange", *args, dtype=ctx.dtype(ctx.elem(0) or ctx.out_type().elem), device=ctx.device()))


@REG("DepthToSpace")
def depth_to_space(ctx: TorchContext) -> None:
    """ONNX ``DepthToSpace``: ``F.pixel_shuffle`` for CRD, reshapes and a permute for DCR."""
    bs = int(ctx.attr("blocksize"))
    x = ctx.t(0)
    if ctx.attr("mode", "DCR") == "CRD":
        ctx.emit(fn("F.pixel_shuffle", x, lit(bs)))
        return
    dims = input_dims(ctx)
    if dims is None or len(dims) != 4:
        ctx.fail("the input must be 4-D with a known rank")
    b, c, h, w = (ctx.elem_code(d) for d in dims)
    ctx.emit(fmt("{}.reshape({}, {}, {}, {} // {}, {}, {}).permute(0, 3, 4, 1, 5, 2).reshape({}, {} // {}, {} * {}, "
                 "{} * {})", x, b, lit(bs), lit(bs), c, lit(bs * bs), h, w, b, c, lit(bs * bs), h, lit(bs), w, lit(bs)))


@REG("SpaceToDepth")
def space_to_depth(ctx: TorchContext) -> None:
    """ONNX ``SpaceToDepth`` as reshapes and a permute of a 4-D input (DCR), ``F.pixel_unshuffle`` (CRD)."""
    bs = int(ctx.attr("blocksize"))
    if ctx.attr("mode", "DCR") == "CRD":  # channel, then the row and column within the block
        ctx.emit(fn("F.pixel_unshuffle", ctx.t(0), lit(bs)))
        return
    dims = input_dims(ctx)
    if dims is None or len(dims) != 4:
        ctx.fail("the input must be 4-D with a known rank")
    x = ctx.t(0)
    b, c, h, w = (ctx.elem_code(d) for d in dims)
    ctx.emit(fmt("{}.reshape({}, {}, {} // {}, {}, {} // {}, {}).permute(0, 3, 5, 1, 2, 4).reshape({}, {} * {}, "
                 "{} // {}, {} // {})", x, b, c, h, lit(bs), lit(bs), w, lit(bs), lit(bs), b, c, lit(bs * bs),
                 h, lit(bs), w, lit(bs)))


@REG("EyeLike", since=9)
def eye_like(ctx: TorchContext) -> None:
    """ONNX ``EyeLike`` of a 2-D input as ``torch.eye`` shifted by ``k``."""
    dims = input_dims(ctx)
    if dims is None or len(dims) != 2:
        ctx.fail("the input must be 2-D")
    k = int(ctx.attr("k", 0))
    elem = int(ctx.attr("dtype", 0)) or ctx.elem(0)
    ones = fn("torch.ones", ctx.elem_code(dims[0]), ctx.elem_code(dims[1]), dtype=ctx.dtype(elem), device=ctx.device())
    ctx.emit(fmt("{}.tril({}).triu({})", ones, lit(k), lit(k)) if k else fmt("{}.tril(0).triu(0)", ones))


@REG("CenterCropPad", since=18)
def center_crop_pad(ctx: TorchContext) -> None:
    """ONNX ``CenterCropPad`` to the output's shape (the target sizes may be known only at run time; shape
    inference or the graph gives the output's): a centred slice where the input is larger, ``F.pad`` with
    zeros where it is smaller."""
    rank = ctx.rank(0)
    if ctx.out_type().shape is None:
        ctx.fail("the output's shape is unknown, so the sizes to crop or pad to are known only at run time")
    in_shape, out_shape = ctx.shape(0), ctx.out_shape()
    axes = sorted({ctx.axis(a, rank) for a in ctx.attr("axes", range(rank))})
    parts, pads = [Code(":")] * rank, [0] * (2 * rank)  # F.pad lists the last axis first
    for a in axes:
        n, m = in_shape[a], out_shape[a]
        if not (isinstance(n, int) and isinstance(m, int)):
            ctx.fail(f"the size of axis {a} before and after must be known when converting")
        (start, stop), (before, after) = semantics.center_crop_pad(n, m)
        if (start, stop) != (0, n):
            parts[a] = Code(f"{start}:{stop}")
        pads[2 * (rank - 1 - a)], pads[2 * (rank - 1 - a) + 1] = before, after
    y = ctx.t(0)
    if any(p != ":" for p in parts):
        last = max(k for k, p in enumerate(parts) if p != ":")
        y = fmt("{}[{}]", y, join(parts[: last + 1]))
    if any(pads):
        last = max(k for k, p in enumerate(pads) if p)
        y = fn("F.pad", y, lit(tuple(pads[: last + 1 + (last % 2 == 0)])))
    if y == ctx.t(0):
        ctx.alias(0)
    else:
        ctx.emit(y)
