"""Helper functions written into the generated ``model.py`` when an op needs more than one torch call.

Each entry is the fixed source of one module-level function (no model data goes into it); converters call
it with tensors and literal arguments (``y = onnx_pad(x, pads, 'edge')``), so
``forward`` keeps one statement per node. The TensorFlow bridge has the same kind of table
(``frameworks/tensorflow/helpers.py``).
"""

from __future__ import annotations

from collections.abc import Callable


def _lines(text: str) -> Callable[[], list[str]]:
    body = text.strip("\n").split("\n")
    return lambda: list(body)


HELPERS: dict[str, Callable[[], list[str]]] = {
    "onnx_reduce": _lines('''
def onnx_reduce(x, axes, op, keepdims=True, noop_with_empty_axes=False):
    """An ONNX reduction (op: sum, mean, max, min, prod, l1, l2, sum_square, log_sum, log_sum_exp) over
    axes known at run time: all axes when none are given, unless noop_with_empty_axes. The max or min of
    nothing is the lowest or highest value of the type, as in ONNX.
    """
    rank = x.dim()
    dims = sorted({int(a) % rank for a in axes}) if rank else []
    if not dims:
        if noop_with_empty_axes:
            return x
        dims = list(range(rank))
    if op in ("max", "min") and any(x.shape[d] == 0 for d in dims):
        if x.dtype == torch.bool:
            low, high = False, True
        elif x.dtype.is_floating_point:
            low, high = -float("inf"), float("inf")
        else:
            low, high = torch.iinfo(x.dtype).min, torch.iinfo(x.dtype).max
        shape = [1 if d in dims else n for d, n in enumerate(x.shape)]
        y = torch.full(shape, low if op == "max" else high, dtype=x.dtype, device=x.device)
        return y if keepdims else y.reshape([n for d, n in enumerate(shape) if d not in dims])
    if op == "prod":
        for d in reversed(dims):
            x = torch.prod(x, d, keepdim=keepdims)
        return x
    if op == "l2":
        return torch.linalg.vector_norm(x, 2.0, dim=dims, keepdim=keepdims).to(x.dtype)
    if op == "log_sum_exp":
        return torch.logsumexp(x, dim=dims, keepdim=keepdims)
    if op in ("max", "min"):
        return (torch.amax if op == "max" else torch.amin)(x, dim=dims, keepdim=keepdims)
    if op == "mean":
        return torch.mean(x, dim=dims, keepdim=keepdims)
    y = torch.sum(x.abs() if op == "l1" else x * x if op == "sum_square" else x, dim=dims, keepdim=keepdims)
    return torch.log(y) if op == "log_sum" else y
'''),
    "onnx_pad": _lines('''
def onnx_pad(x, pads, mode="constant", value=0.0, axes=None):
    """ONNX Pad: pads lists the amounts before every axis, then after every axis (of axes only, when
    given); negative amounts crop. mode: 'constant' (value), 'edge' (repeat the border), 'reflect'
    (mirror it, border excluded) or 'wrap'.
    """
    rank = x.dim()
    pads = [int(p) for p in pads]
    if axes is not None:
        axes = [int(a) % rank for a in axes]
        full = [0] * (2 * rank)
        for k, axis in enumerate(axes):
            full[axis], full[axis + rank] = pads[k], pads[k + len(axes)]
        pads = full
    if mode == "constant":
        pairs = [amount for axis in reversed(range(rank)) for amount in (pads[axis], pads[axis + rank])]
        return F.pad(x, pairs, value=value)
    for axis in range(rank):
        begin, end = pads[axis], pads[axis + rank]
        if begin == 0 and end == 0:
            continue
        size = x.shape[axis]
        index = torch.arange(-begin, size + end, device=x.device)
        if mode == "edge":
            index = index.clamp(0, size - 1)
        elif mode == "reflect":
            period = max(2 * size - 2, 1)
            index = index.remainder(period)
            index = torch.where(index >= size, period - index, index)
        else:
            index = index.remainder(size)
        x = x.index_select(axis, index)
    return x
'''),
}
