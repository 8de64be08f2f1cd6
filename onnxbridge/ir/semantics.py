"""ONNX semantics both bridges must get the same: padding (``auto_pad``), broadcasting, axes.

Each function follows the ONNX operator spec and raises :class:`ValueError` (with a one-line reason) for
what cannot be worked out from what is known; converters turn that into their node's failure.

Padding, per the Conv / pooling spec: ``SAME_UPPER`` and ``SAME_LOWER`` pad so that
``output = ceil(input / stride)``; the total is split evenly and an odd unit goes at the **end** for
``SAME_UPPER`` and at the **beginning** for ``SAME_LOWER``. For ConvTranspose the total comes from the
output size (``output_shape``, or ``input * stride`` for ``auto_pad``), split the same way.

Example::

    conv_pads("SAME_LOWER", None, kernel=[2], strides=[1], dilations=[1], in_spatial=[8])   # [1, 0]
    broadcast_shapes((2, 1, 4), (3, 1))                                                    # (2, 3, 4)
    normalise_axis(-1, 4)                                                                   # 3
"""

from __future__ import annotations

from collections.abc import Sequence

Size = int | str | None  # a dim: a size, a symbolic name, or unknown


def normalise_axis(axis: int, rank: int) -> int:
    """``axis`` in ``[0, rank)`` (a negative axis counts from the end); ValueError when out of range."""
    if not -rank <= axis < max(rank, 1):
        raise ValueError(f"axis {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def same_total(size: Size, kernel: int, stride: int, dilation: int) -> int | None:
    """The total padding ``SAME_*`` needs on one axis, or None when it depends on an unknown size."""
    effective = (kernel - 1) * dilation + 1
    if isinstance(size, int):
        out = -(-size // stride)
        return max((out - 1) * stride + effective - size, 0)
    if stride == 1:
        return effective - 1  # output = input: the total does not depend on the size
    return None


def split_total(total: int, auto_pad: str) -> tuple[int, int]:
    """(begin, end) for a total padding: the odd unit at the end for SAME_UPPER, at the beginning otherwise."""
    small, big = total // 2, total - total // 2
    return (small, big) if auto_pad == "SAME_UPPER" else (big, small)


def conv_pads(auto_pad: str, pads: Sequence[int] | None, kernel: Sequence[int], strides: Sequence[int],
              dilations: Sequence[int], in_spatial: Sequence[Size] | None) -> list[int]:
    """ONNX ``pads`` (all begins, then all ends) of a Conv or pooling node, with ``auto_pad`` resolved."""
    nd = len(kernel)
    if auto_pad in ("NOTSET", ""):
        given = [int(p) for p in pads or []]
        return given if given else [0] * 2 * nd
    if auto_pad == "VALID":
        return [0] * 2 * nd
    if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        raise ValueError(f"auto_pad={auto_pad!r} is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER")
    begins, ends = [], []
    for i in range(nd):
        size = in_spatial[i] if in_spatial is not None and len(in_spatial) == nd else None
        total = same_total(size, int(kernel[i]), int(strides[i]), int(dilations[i]))
        if total is None:
            raise ValueError(f"auto_pad={auto_pad} with stride {strides[i]} needs a static input size")
        begin, end = split_total(total, auto_pad)
        begins.append(begin)
        ends.append(end)
    return begins + ends


def conv_transpose_pads(auto_pad: str, pads: Sequence[int] | None, output_shape: Sequence[int] | None,
                        kernel: Sequence[int], strides: Sequence[int], dilations: Sequence[int],
                        output_padding: Sequence[int], in_spatial: Sequence[Size] | None) -> list[int]:
    """ONNX ``pads`` of a ConvTranspose node: given, or worked out from ``output_shape`` / ``auto_pad`` (a
    negative end pad: the output grows there, as with more ``output_padding``)."""
    nd = len(kernel)
    if not output_shape and auto_pad in ("NOTSET", "", "VALID"):
        given = [int(p) for p in pads or []] if auto_pad != "VALID" else []
        return given or [0] * 2 * nd
    if in_spatial is None or len(in_spatial) != nd or not all(isinstance(d, int) for d in in_spatial):
        raise ValueError("output_shape/auto_pad needs a static input size")
    sizes = [int(d) for d in in_spatial]  # type: ignore[arg-type]
    target = [int(v) for v in output_shape[-nd:]] if output_shape else [sizes[i] * strides[i] for i in range(nd)]
    begins, ends = [], []
    for i in range(nd):
        full = strides[i] * (sizes[i] - 1) + output_padding[i] + (kernel[i] - 1) * dilations[i] + 1
        total = full - target[i]
        # an explicit output_shape splits like SAME_LOWER; one larger than the convolution produces grows it
        # at the end (a negative end pad, like more output_padding)
        begin, end = split_total(total, auto_pad) if total >= 0 else (0, total)
        begins.append(begin)
        ends.append(end)
    return begins + ends


def align_rank(shape: Sequence[Size], rank: int) -> tuple[Size, ...]:
    """``shape`` with leading 1s up to ``rank`` (how ONNX broadcasting lines up a lower-rank operand)."""
    return (1,) * (rank - len(shape)) + tuple(shape)


def broadcast_shapes(*shapes: Sequence[Size]) -> tuple[Size, ...]:
    """The shape ONNX multidirectional (numpy-style) broadcasting gives; ValueError when sizes clash.

    A symbolic dim broadcast against 1 stays; two different symbolic dims give None (unknown).
    """
    rank = max((len(s) for s in shapes), default=0)
    out: list[Size] = []
    for dims in zip(*(align_rank(s, rank) for s in shapes)):
        sizes = {d for d in dims if d != 1}
        if not sizes:
            out.append(1)
        elif len(sizes) == 1:
            out.append(sizes.pop())
        elif all(isinstance(d, int) for d in sizes):
            raise ValueError(f"shapes {[tuple(s) for s in shapes]} do not broadcast")
        else:
            ints = {d for d in sizes if isinstance(d, int)}
            out.append(ints.pop() if len(ints) == 1 else None)
    return tuple(out)


def keeps_shape(shape: Sequence[Size], other: Sequence[Size]) -> bool:
    """Whether broadcasting ``other`` against ``shape`` leaves ``shape`` as it is (rank and sizes)."""
    if len(other) > len(shape):
        return False
    return all(o == 1 or o == s for o, s in zip(align_rank(other, len(shape)), shape))


def center_crop_pad(in_size: int, out_size: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """ONNX ``CenterCropPad`` along one axis: the window ``(start, stop)`` of the input that is kept and the
    zeros ``(before, after)`` put around it. The window starts half the excess in, rounded down; padding
    puts an odd one after.

    >>> center_crop_pad(7, 4), center_crop_pad(3, 6)
    (((1, 5), (0, 0)), ((0, 3), (1, 2)))
    """
    start = max(in_size - out_size, 0) // 2
    extra = max(out_size - in_size, 0)
    return (start, start + min(in_size, out_size)), (extra // 2, extra - extra // 2)


# ONNX's recurrent activation functions, and how many of activation_alpha / activation_beta each reads
RECURRENT_ACTIVATIONS = {"sigmoid": (0, 0), "tanh": (0, 0), "relu": (0, 0), "softsign": (0, 0), "softplus": (0, 0),
                         "leakyrelu": (1, 0), "thresholdedrelu": (1, 0), "elu": (1, 0), "hardsigmoid": (1, 1),
                         "affine": (1, 1), "scaledtanh": (1, 1)}


def recurrent_activation_params(activations: Sequence[str], alphas: Sequence[float],
                                betas: Sequence[float]) -> tuple[list[float | None], list[float | None]]:
    """Each activation's alpha and beta (None: its default) from an LSTM/GRU/RNN's ``activation_alpha`` and
    ``activation_beta``: the activations that take a parameter read the next value in order, as
    onnxruntime reads them."""
    alpha_list, beta_list = [float(a) for a in alphas], [float(b) for b in betas]
    out_alphas: list[float | None] = []
    out_betas: list[float | None] = []
    for name in activations:
        n_alpha, n_beta = RECURRENT_ACTIVATIONS[name.lower()]
        out_alphas.append(alpha_list.pop(0) if n_alpha and alpha_list else None)
        out_betas.append(beta_list.pop(0) if n_beta and beta_list else None)
    return out_alphas, out_betas


def pool_out_size(size: int, kernel: int, stride: int, dilation: int, begin: int, end: int, ceil: bool) -> int:
    """How many windows a pooling takes along one axis (ONNX, as onnxruntime counts them): with ``ceil``, a
    last window that would start in the end padding is dropped."""
    room = size + begin + end - dilation * (kernel - 1) - 1
    count = (-(-room // stride) if ceil else room // stride) + 1
    if ceil and (count - 1) * stride >= size + begin:
        count -= 1
    return count
