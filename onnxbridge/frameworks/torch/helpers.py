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
