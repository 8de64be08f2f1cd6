"""Convolutions and pooling: Conv -> nn.Conv*d, ConvTranspose -> nn.ConvTranspose*d, pools -> F.*pool*d."""

from __future__ import annotations

import math

import numpy as np

from onnxbridge.codegen.writer import Code, fmt, join, lit
from onnxbridge.frameworks.torch.context import TorchContext, compact, fn
from onnxbridge.frameworks.torch.registry import TORCH_OPS

REG = TORCH_OPS.register


def torch_pad(pads: list[int]) -> Code:
    """ONNX spatial pads (begins then ends) as an ``F.pad`` tuple (last dim first)."""
    nd = len(pads) // 2
    order = []
    for i in reversed(range(nd)):
        order += [pads[i], pads[i + nd]]
    return lit(tuple(order))


def _kernel_attrs(ctx: TorchContext, kernel: list[int]) -> tuple[list[int], list[int]]:
    nd = len(kernel)
    strides = [int(s) for s in ctx.attr("strides", [1] * nd)] or [1] * nd
    dilations = [int(d) for d in ctx.attr("dilations", [1] * nd)] or [1] * nd
    return strides, dilations


@REG("Conv")
def conv(ctx: TorchContext) -> None:
    """ONNX ``Conv`` (1-D to 3-D) as an ``nn.Conv*d`` module for constant weights, ``F.conv*d`` otherwise."""
    weight = ctx.param(1)
    w_shape = weight.shape if weight is not None else ctx.type(1).static_shape
    kernel = [int(k) for k in ctx.attr("kernel_shape", [])] or (list(w_shape[2:]) if w_shape else [])
    nd = len(kernel)
    if nd not in (1, 2, 3):
        ctx.fail(f"{nd}-D convolution (torch has 1-D to 3-D)")
    strides, dilations = _kernel_attrs(ctx, kernel)
    pads = ctx.spatial_pads(kernel, strides, dilations)
    groups = int(ctx.attr("group", 1))
    x = ctx.t(0)
    symmetric = pads[:nd] == pads[nd:]
    if not symmetric:
        x = fn("F.pad", x, torch_pad(pads))
    padding = pads[:nd] if symmetric else [0] * nd
    kwargs = {}
    if any(s != 1 for s in strides):
        kwargs["stride"] = compact(strides)
    if any(padding):
        kwargs["padding"] = compact(padding)
    if any(d != 1 for d in dilations):
        kwargs["dilation"] = compact(dilations)
    if groups != 1:
        kwargs["groups"] = lit(groups)
    bias = ctx.param(2)
    if weight is not None and (bias is not None or not ctx.has(2)):
        if not ctx.has(2):
            kwargs["bias"] = lit(False)
        ctor = fn(f"nn.Conv{nd}d", lit(int(weight.shape[1]) * groups), lit(int(weight.shape[0])), compact(kernel), **kwargs)
        params = {"weight": weight}
        if bias is not None:
            params["bias"] = bias
        module = ctx.add_module(ctor, params)
        ctx.emit(fmt("{}({})", module, x))
        return
    kwargs.pop("bias", None)
    ctx.emit(fn(f"F.conv{nd}d", x, ctx.t(1), ctx.t(2) if ctx.has(2) else Code("None"), **kwargs))


@REG("ConvTranspose")
def conv_transpose(ctx: TorchContext) -> None:
    """ONNX ``ConvTranspose`` as an ``nn.ConvTranspose*d`` module or ``F.conv_transpose*d``, output padding
    and shape resolved."""
    weight = ctx.param(1)
    w_shape = weight.shape if weight is not None else ctx.type(1).static_shape
    if w_shape is None:
        ctx.fail("the weight shape must be known")
    kernel = [int(k) for k in ctx.attr("kernel_shape", [])] or list(w_shape[2:])
    nd = len(kernel)
    if nd not in (1, 2, 3):
        ctx.fail(f"{nd}-D transposed convolution (torch has 1-D to 3-D)")
    strides, dilations = _kernel_attrs(ctx, kernel)
    groups = int(ctx.attr("group", 1))
    out_pad = [int(p) for p in ctx.attr("output_padding", [0] * nd)] or [0] * nd
    pads = ctx.transposed_pads(kernel, strides, dilations, out_pad)
    for i in range(nd):  # an output_shape beyond the convolution's: more output padding
        if pads[i + nd] < 0:
            out_pad[i], pads[i + nd] = out_pad[i] - pads[i + nd], 0
            if out_pad[i] >= max(strides[i], dilations[i]):
                ctx.fail(f"output_shape needs output padding {out_pad[i]}, torch takes less than the stride "
                         "or dilation")
    padding = [min(pads[i], pads[i + nd]) for i in range(nd)]
    crop = [(pads[i] - padding[i], pads[i + nd] - padding[i]) for i in range(nd)]
    kwargs = {}
    if any(s != 1 for s in strides):
        kwargs["stride"] = compact(strides)
    if any(padding):
        kwargs["padding"] = compact(padding)
    if any(out_pad):
        kwargs["output_padding"] = compact(out_pad)
    if groups != 1:
        kwargs["groups"] = lit(groups)
    bias = ctx.param(2)
    if weight is not None and (bias is not None or not ctx.has(2)):
        if not ctx.has(2):
            kwargs["bias"] = lit(False)
        if any(d != 1 for d in dilations):
            kwargs["dilation"] = compact(dilations)
        ctor = fn(f"nn.ConvTranspose{nd}d", lit(int(w_shape[0])), lit(int(w_shape[1]) * groups), compact(kernel),
                  **kwargs)
        params = {"weight": weight}
        if bias is not None:
            params["bias"] = bias
        y = fmt("{}({})", ctx.add_module(ctor, params), ctx.t(0))
    else:
        kwargs.pop("bias", None)
        if any(d != 1 for d in dilations):
            kwargs["dilation"] = compact(dilations)
        y = fn(f"F.conv_transpose{nd}d", ctx.t(0), ctx.t(1), ctx.t(2) if ctx.has(2) else Code("None"), **kwargs)
    if any(b or e for b, e in crop):
        index = [Code(":"), Code(":")] + [fmt("{}:{}", lit(b) if b else Code(""), lit(-e) if e else Code(""))
                                          for b, e in crop]
        y = fmt("{}[{}]", y, join(index))
    ctx.emit(y)


def _pool_common(ctx: TorchContext) -> tuple[int, list[int], list[int], list[int], list[int], bool]:
    kernel = [int(k) for k in ctx.attr("kernel_shape")]
    nd = len(kernel)
    if nd not in (1, 2, 3):
        ctx.fail(f"{nd}-D pooling (torch has 1-D to 3-D)")
    strides, dilations = _kernel_attrs(ctx, kernel)
    pads = ctx.spatial_pads(kernel, strides, dilations)
    return nd, kernel, strides, dilations, pads, bool(ctx.attr("ceil_mode", 0))


def _pool_kwargs(kernel: list[int], strides: list[int], padding: list[int], ceil: bool,
                 dilations: list[int] | None = None) -> dict[str, Code]:
    kwargs: dict[str, Code] = {}
    if strides != kernel:
        kwargs["stride"] = compact(strides)
    if any(padding):
        kwargs["padding"] = compact(padding)
    if dilations and any(d != 1 for d in dilations):
        kwargs["dilation"] = compact(dilations)
    if ceil:
        kwargs["ceil_mode"] = lit(True)
    return kwargs


@REG("MaxPool")
def max_pool(ctx: TorchContext) -> None:
    """ONNX ``MaxPool`` as ``F.max_pool*d`` (asymmetric or large pads as an explicit pad); the Indices output
    from torch's (numbered per channel) through the ``onnx_pool_indices`` helper."""
    nd, kernel, strides, dilations, pads, ceil = _pool_common(ctx)
    x = ctx.t(0)
    limit = [((k - 1) * d + 1) // 2 for k, d in zip(kernel, dilations)]
    if pads[:nd] == pads[nd:] and all(p <= m for p, m in zip(pads[:nd], limit)):
        padding = pads[:nd]
    else:
        if ctx.used(1):
            ctx.fail("the Indices output with pads torch's max pooling does not take (uneven or wide)")
        x = fn("F.pad", x, torch_pad(pads), value=lit(-math.inf))
        padding = [0] * nd
    kwargs = _pool_kwargs(kernel, strides, padding, ceil, dilations)
    if not ctx.used(1):
        ctx.emit(fn(f"F.max_pool{nd}d", x, compact(kernel), **kwargs))
        return
    column_major = int(ctx.attr("storage_order", 0)) == 1
    if column_major and nd != 2:
        ctx.fail("storage_order=1 numbers the indices of 2-D pooling only")
    shape, indices = ctx.temp("pooled_shape"), ctx.temp("indices")
    ctx.line("{} = {}.shape", shape, ctx.t(0))  # read before the output may take the input's name
    ctx.line("{}, {} = {}", ctx.output_var(0), indices,
             fn(f"F.max_pool{nd}d", x, compact(kernel), **kwargs, return_indices=lit(True)))
    extra = {"column_major": lit(True)} if column_major else {}
    ctx.emit(fn(str(ctx.helper("onnx_pool_indices")), indices, shape, **extra), 1)


@REG("AveragePool")
def average_pool(ctx: TorchContext) -> None:
    """ONNX ``AveragePool`` as ``F.avg_pool*d``, padding counted or not as ``count_include_pad`` says; dilated
    windows through the ``onnx_dilated_pool`` helper."""
    nd, kernel, strides, dilations, pads, ceil = _pool_common(ctx)
    include_pad = bool(ctx.attr("count_include_pad", 0))
    if any(d != 1 for d in dilations):  # torch's average pooling has no dilation
        _dilated_pool(ctx, kernel, strides, pads, dilations, ceil, count_include_pad=include_pad)
        return
    x = ctx.t(0)
    name = f"F.avg_pool{nd}d"
    if pads[:nd] == pads[nd:] and all(p <= k // 2 for p, k in zip(pads[:nd], kernel)):
        kwargs = _pool_kwargs(kernel, strides, pads[:nd], ceil)
        if any(pads) and not include_pad:
            kwargs["count_include_pad"] = lit(False)
        ctx.emit(fn(name, x, compact(kernel), **kwargs))
        return
    kwargs = _pool_kwargs(kernel, strides, [0] * nd, ceil)
    padded = fn(name, fn("F.pad", x, torch_pad(pads)), compact(kernel), **kwargs)
    if include_pad:
        ctx.emit(padded)
        return
    # asymmetric padding that must not count: sum over the window divided by the number of real elements
    ones = fn("torch.ones_like", fmt("{}[{}]", x, join([Code(":1"), Code(":1")])))
    counts = fn(name, fn("F.pad", ones, torch_pad(pads)), compact(kernel), **kwargs)
    ctx.emit(fmt("{} / {}", padded, counts))


def _dilated_pool(ctx: TorchContext, kernel: list[int], strides: list[int], pads: list[int], dilations: list[int],
                  ceil: bool, **options: float | bool) -> None:
    """``onnx_dilated_pool(...)``: average or Lp pooling over dilated windows."""
    kwargs: dict[str, Code] = {}
    if ceil:
        kwargs["ceil_mode"] = lit(True)
    for name, value in options.items():
        if value:
            kwargs[name] = lit(value)
    ctx.emit(fn(str(ctx.helper("onnx_dilated_pool")), ctx.t(0), lit(kernel), lit(strides), lit(pads), lit(dilations),
                **kwargs))


def _global(kind: str):
    def convert(ctx: TorchContext) -> None:
        rank = ctx.type(0).rank
        x = ctx.t(0)
        if rank in (3, 4, 5):
            ctx.emit(fn(f"F.adaptive_{kind}_pool{rank - 2}d", x, lit(1)))
        else:
            method = "mean" if kind == "avg" else "amax"
            ctx.emit(fmt("{}.{}(dim=tuple(range(2, {}.dim())), keepdim=True)", x, Code(method), x))

    return convert


REG("GlobalAveragePool")(_global("avg"))
REG("GlobalMaxPool")(_global("max"))


@REG("LpPool", since=11)
def lp_pool(ctx: TorchContext) -> None:
    """ONNX ``LpPool`` as ``F.lp_pool*d`` (explicit pads applied first); dilated windows through the
    ``onnx_dilated_pool`` helper."""
    nd, kernel, strides, dilations, pads, ceil = _pool_common(ctx)
    p = float(ctx.attr("p", 2))
    if any(d != 1 for d in dilations):  # torch's Lp pooling has no dilation
        _dilated_pool(ctx, kernel, strides, pads, dilations, ceil, p=p)
        return
    x = ctx.t(0)
    if not any(pads):
        x_p = fmt("{}.abs().pow({})", x, lit(p))
    else:
        x_p = fn("F.pad", fmt("{}.abs().pow({})", x, lit(p)), torch_pad(pads))
    pooled = fn(f"F.avg_pool{nd}d", x_p, compact(kernel), **_pool_kwargs(kernel, strides, [0] * nd, ceil))
    ctx.emit(fmt("({} * {}).pow({})", pooled, lit(int(np.prod(kernel))), lit(1.0 / p)))


@REG("GlobalLpPool", since=2)
def global_lp_pool(ctx: TorchContext) -> None:
    """ONNX ``GlobalLpPool`` as the p-norm over the spatial dims."""
    x = ctx.t(0)
    ctx.emit(fmt("torch.linalg.vector_norm({}, {}, dim=tuple(range(2, {}.dim())), keepdim=True)",
                 x, lit(float(ctx.attr("p", 2))), x))
