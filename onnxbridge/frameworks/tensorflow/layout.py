"""Layout bookkeeping: which tensors are stored channels-last while the ONNX graph sees them channels-first.

TensorFlow's CPU kernels for convolution and pooling only take NHWC, while ONNX graphs are NCHW. Instead
of transposing around every layer, the converter keeps, for every tensor, a permutation ``perm`` saying how
the stored tensor relates to the logical (ONNX) one::

    stored = transpose(logical, perm)        # perm[k] = which logical axis stored axis k holds

Layout-agnostic ops (activations, element-wise math) pass the permutation through; axis-taking ops (Concat,
Softmax, reductions, Squeeze ...) remap their axes; a Transpose node just changes the permutation (no
code at all). A real transpose is only written where an op needs a layout it does not have, typically at
the graph's inputs and outputs, so a converted CNN transposes once on the way in and once on the way out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

Perm = tuple[int, ...]


def identity(rank: int) -> Perm:
    """The permutation of a tensor stored exactly as ONNX sees it."""
    return tuple(range(rank))


def is_identity(perm: Sequence[int]) -> bool:
    """Whether ``perm`` leaves every axis in place."""
    return all(i == p for i, p in enumerate(perm))


def channels_last(rank: int) -> Perm:
    """NCW -> NWC, NCHW -> NHWC, NCDHW -> NDHWC (identity below rank 3)."""
    if rank < 3:
        return identity(rank)
    return (0, *range(2, rank), 1)


def inverse(perm: Sequence[int]) -> Perm:
    """The permutation that undoes ``perm``."""
    inv = [0] * len(perm)
    for k, p in enumerate(perm):
        inv[p] = k
    return tuple(inv)


def compose(first: Sequence[int], second: Sequence[int]) -> Perm:
    """The single permutation equal to ``transpose(transpose(x, first), second)``."""
    return tuple(first[k] for k in second)


def convert(src: Sequence[int], dst: Sequence[int]) -> Perm:
    """The transpose that turns a tensor stored with ``src`` into the same tensor stored with ``dst``."""
    return compose(inverse(src), dst)


def stored_axis(perm: Sequence[int], axis: int) -> int:
    """Where logical ``axis`` (already non-negative) lives in the stored tensor."""
    return list(perm).index(axis)


def stored_shape(shape: Sequence, perm: Sequence[int]) -> tuple:
    """The shape of the stored tensor: the logical ``shape`` permuted by ``perm``."""
    return tuple(shape[p] for p in perm)


def through_transpose(perm: Sequence[int], onnx_perm: Sequence[int]) -> Perm:
    """Permutation of ``Transpose(x, onnx_perm)``'s output when the stored tensor is left untouched."""
    inv = inverse(onnx_perm)
    return tuple(inv[p] for p in perm)


def after_removing(perm: Sequence[int], axes: Iterable[int]) -> tuple[list[int], Perm]:
    """Squeeze/reduce logical ``axes``: (stored axes to remove, permutation of the result)."""
    removed = sorted(set(axes))
    stored = sorted(stored_axis(perm, a) for a in removed)
    kept = [p for p in perm if p not in removed]
    return stored, tuple(p - sum(1 for a in removed if a < p) for p in kept)


def after_inserting(perm: Sequence[int], axes: Iterable[int]) -> tuple[list[int], Perm]:
    """Unsqueeze at logical ``axes`` of the output: (stored positions to insert, result permutation).

    A new axis goes right after the stored position of its logical left neighbour, so an identity
    permutation stays the identity.
    """
    new_axes = sorted(set(axes))
    rank = len(perm) + len(new_axes)
    old_to_new = [a for a in range(rank) if a not in new_axes]
    seq = [old_to_new[p] for p in perm]
    for a in new_axes:
        pos = 0 if a == 0 else seq.index(a - 1) + 1
        seq.insert(pos, a)
    positions = sorted(seq.index(a) for a in new_axes)
    return positions, tuple(seq)


def only_moves_unit_dims(shape: Sequence, perm: Sequence[int]) -> bool:
    """True when ``perm`` only moves size-1 axes, so stored and logical share one element order.

    Symbolic dims count as not 1.
    """
    non_unit = [p for p in perm if shape[p] != 1]
    return non_unit == sorted(non_unit)


def reshape_groups(src: Sequence, dst: Sequence) -> list[tuple[list[int], list[int]]] | None:
    """Split a reshape into groups of consecutive source axes that become consecutive target axes.

    ``[N, C, H, W] -> [N, C*H*W]`` gives ``[([0], [0]), ([1, 2, 3], [1])]``; size-1 axes form groups of
    their own. Symbolic dims only match the same symbol. None when the reshape cannot be grouped.
    """
    groups: list[tuple[list[int], list[int]]] = []
    i = j = 0
    while i < len(src) or j < len(dst):
        if i < len(src) and src[i] == 1:
            groups.append(([i], []))
            i += 1
            continue
        if j < len(dst) and dst[j] == 1:
            groups.append(([], [j]))
            j += 1
            continue
        if i >= len(src) or j >= len(dst):
            return None
        if not isinstance(src[i], int) or not isinstance(dst[j], int):
            if src[i] is not None and src[i] == dst[j]:
                groups.append(([i], [j]))
                i, j = i + 1, j + 1
                continue
            return None
        a, b = [i], [j]
        pa, pb = src[i], dst[j]
        i, j = i + 1, j + 1
        while pa != pb:
            if pa < pb:
                if i >= len(src) or not isinstance(src[i], int):
                    return None
                pa *= src[i]
                a.append(i)
                i += 1
            else:
                if j >= len(dst) or not isinstance(dst[j], int):
                    return None
                pb *= dst[j]
                b.append(j)
                j += 1
        groups.append((a, b))
    return groups


def reshape_in_layout(src: Sequence, dst: Sequence, perm: Sequence[int]) -> Perm | None:
    """The output permutation when ``reshape(src -> dst)`` can run on the tensor as stored with ``perm``.

    That is possible when every group of merged/split axes (see :func:`reshape_groups`) sits in the
    stored tensor contiguously and in its original order (size-1 axes may be anywhere). None otherwise.
    """
    groups = reshape_groups(src, dst)
    if groups is None:
        return None
    stored_pos = {a: k for k, a in enumerate(perm)}
    order: list[tuple[float, list[int]]] = []
    last, bumps = -1.0, 0
    for a, b in groups:
        real = [x for x in a if src[x] != 1]
        if real:
            positions = [stored_pos[x] for x in real]
            if positions != sorted(positions):
                return None
            # the group's real axes must be adjacent once size-1 axes are ignored
            between = [perm[k] for k in range(positions[0], positions[-1] + 1)]
            if any(src[x] != 1 for x in between if x not in real):
                return None
            last, bumps = float(positions[0]), 0
            anchor = last
        else:  # size-1 axes only: keep them right after the previous group
            bumps += 1
            anchor = last + bumps * 1e-3
        if b:
            order.append((anchor, b))
    order.sort(key=lambda t: t[0])
    out = [x for _, b in order for x in b]
    if sorted(out) != list(range(len(dst))):
        return None
    return tuple(out)
