"""ONNX rules both bridges share: padding per the spec (SAME_LOWER's odd unit first), broadcasting, axes.

The bridges' op tables (tests/frameworks/op_cases.py: ``same-lower`` cases) check the same rules against
onnxruntime; these pin the numbers themselves.
"""

from __future__ import annotations

import pytest

from onnxbridge.ir.semantics import (
    align_rank,
    broadcast_shapes,
    conv_pads,
    conv_transpose_pads,
    keeps_shape,
    normalise_axis,
    same_total,
    split_total,
)


def test_same_upper_puts_the_odd_unit_at_the_end_same_lower_at_the_beginning():
    # 8 wide, kernel 2, stride 1: one unit of padding in all
    assert conv_pads("SAME_UPPER", None, [2], [1], [1], [8]) == [0, 1]
    assert conv_pads("SAME_LOWER", None, [2], [1], [1], [8]) == [1, 0]
    # kernel 3, stride 2 on 8: ceil(8/2)=4 outputs need (4-1)*2+3-8 = 1
    assert conv_pads("SAME_LOWER", None, [3, 3], [2, 2], [1, 1], [8, 8]) == [1, 1, 0, 0]
    assert conv_pads("SAME_UPPER", None, [3, 3], [2, 2], [1, 1], [8, 8]) == [0, 0, 1, 1]
    # even totals split evenly either way
    assert conv_pads("SAME_LOWER", None, [3], [1], [1], [5]) == conv_pads("SAME_UPPER", None, [3], [1], [1], [5]) \
        == [1, 1]
    # dilation widens the window: kernel 2 dilated 3 covers 4
    assert conv_pads("SAME_LOWER", None, [2], [1], [3], [8]) == [2, 1]


def test_explicit_and_valid_pads():
    assert conv_pads("NOTSET", [0, 1, 2, 3], [3, 3], [1, 1], [1, 1], None) == [0, 1, 2, 3]
    assert conv_pads("", None, [3, 3], [1, 1], [1, 1], None) == [0, 0, 0, 0]
    assert conv_pads("VALID", [1, 1, 1, 1], [3, 3], [1, 1], [1, 1], None) == [0, 0, 0, 0]


def test_sizes_known_only_at_run_time():
    # stride 1 keeps the size: the total does not depend on it
    assert conv_pads("SAME_LOWER", None, [4], [1], [1], ["width"]) == [2, 1]
    assert same_total(None, 3, 2, 1) is None
    with pytest.raises(ValueError, match="needs a static input size"):
        conv_pads("SAME_UPPER", None, [3], [2], [1], ["width"])
    with pytest.raises(ValueError, match="auto_pad="):
        conv_pads("SAME_MIDDLE", None, [3], [1], [1], [8])


def test_transposed_convolution_pads():
    # 4 -> 8 with stride 2, kernel 3: full output 2*3+3 = 9, one unit to take away
    assert conv_transpose_pads("SAME_UPPER", None, None, [3], [2], [1], [0], [4]) == [0, 1]
    assert conv_transpose_pads("SAME_LOWER", None, None, [3], [2], [1], [0], [4]) == [1, 0]
    # an explicit output_shape splits like SAME_LOWER (the spec's "else" branch)
    assert conv_transpose_pads("NOTSET", None, [8], [3], [2], [1], [0], [4]) == [1, 0]
    assert conv_transpose_pads("NOTSET", None, [1, 1, 8], [3], [2], [1], [0], [4]) == [1, 0]  # N, C given too
    assert conv_transpose_pads("NOTSET", [1, 2], None, [3], [2], [1], [0], None) == [1, 2]
    # an output_shape beyond the full output grows it at the end (a negative end pad)
    assert conv_transpose_pads("NOTSET", None, [10], [3], [3], [1], [0], [3]) == [0, -1]
    with pytest.raises(ValueError, match="static input size"):
        conv_transpose_pads("SAME_UPPER", None, None, [3], [2], [1], [0], ["n"])


def test_split_total():
    assert split_total(3, "SAME_UPPER") == (1, 2) and split_total(3, "SAME_LOWER") == (2, 1)


def test_broadcasting():
    assert broadcast_shapes((2, 1, 4), (3, 1)) == (2, 3, 4)
    assert broadcast_shapes((), (5,)) == (5,)
    assert broadcast_shapes(("batch", 1), (1, 5)) == ("batch", 5)
    assert broadcast_shapes(("a", 3), ("b", 3)) == (None, 3)
    with pytest.raises(ValueError, match="do not broadcast"):
        broadcast_shapes((2, 3), (4, 3))
    assert align_rank((3,), 3) == (1, 1, 3)
    assert keeps_shape((2, 3, 4), (4,)) and keeps_shape((2, 3, 4), (3, 1)) and not keeps_shape((2, 3), (2, 2, 3))
    assert not keeps_shape((2, 1), (2, 5))


def test_axes():
    assert normalise_axis(-1, 4) == 3 and normalise_axis(0, 4) == 0 and normalise_axis(0, 0) == 0
    for bad in (4, -5):
        with pytest.raises(ValueError, match="out of range"):
            normalise_axis(bad, 4)
