"""Ops that read an image at computed positions: GridSample, AffineGrid, Col2Im and DeformConv, as helper layers
built on ``tf.gather_nd`` and segment sums (TensorFlow has no grid sampler, fold or deformable convolution).

The helpers work in ONNX's channels-first layout, for any number of spatial axes where ONNX allows it.
"""

from __future__ import annotations

from typing import Any

from onnxbridge.codegen.writer import Code, call
from onnxbridge.frameworks.tensorflow.context import TensorFlowContext
from onnxbridge.frameworks.tensorflow.helpers import define
from onnxbridge.frameworks.tensorflow.registry import TF_OPS

GRID_SAMPLE = define("GridSample", '''
class GridSample(keras.layers.Layer):
    """ONNX GridSample for any number of spatial axes: x [N, C, *spatial] read at the normalised positions of
    grid [N, *out, axes] (x first), nearest, (multi)linear or cubic (a = -0.75), with zeros, border or
    reflection padding."""

    def __init__(self, mode="linear", padding_mode="zeros", align_corners=False, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.mode, self.padding_mode, self.align_corners = mode, padding_mode, align_corners

    @staticmethod
    def _reflect(p, low, high):
        span = high - low
        below, above = low - p, p - high
        turns_below, turns_above = tf.floor(below / span), tf.floor(above / span)
        rest_below, rest_above = below - turns_below * span, above - turns_above * span
        from_below = tf.where(tf.math.floormod(turns_below, 2) == 0, low + rest_below, high - rest_below)
        from_above = tf.where(tf.math.floormod(turns_above, 2) == 0, high - rest_above, low + rest_above)
        return tf.where(p < low, from_below, tf.where(p > high, from_above, p))

    def call(self, x, grid):
        axes = len(x.shape) - 2
        sizes = tf.shape(x)[2:]
        pixels = tf.transpose(x, [0, *range(2, axes + 2), 1])
        positions, bounds = [], []
        for d in range(axes):
            size = tf.cast(sizes[d], grid.dtype)
            g = grid[..., axes - 1 - d]
            p = (g + 1) / 2 * (size - 1) if self.align_corners else ((g + 1) * size - 1) / 2
            if self.mode == "nearest":
                p = tf.round(p)
            low, high = (0.0, size - 1) if self.align_corners else (-0.5, size - 0.5)
            if self.padding_mode == "border":
                p = tf.where((p < low) | (p > high), tf.clip_by_value(p, 0.0, size - 1), p)
            elif self.padding_mode == "reflection":
                p = self._reflect(p, low, high)
            positions.append(p)
            bounds.append((low, high))

        def fetch(indices):
            valid = None
            clipped = []
            for d, i in enumerate(indices):
                size = sizes[d]
                if self.padding_mode == "zeros":
                    inside = (i >= 0) & (i < size)
                    valid = inside if valid is None else valid & inside
                elif self.padding_mode == "reflection":
                    low, high = bounds[d]
                    i = tf.cast(self._reflect(tf.cast(i, grid.dtype), low, high), tf.int32)
                clipped.append(tf.clip_by_value(i, 0, size - 1))
            values = tf.gather_nd(pixels, tf.stack(clipped, -1), batch_dims=1)
            return values if valid is None else values * tf.cast(valid, values.dtype)[..., None]

        if self.mode == "nearest":
            out = fetch([tf.cast(p, tf.int32) for p in positions])
        else:
            starts = [tf.floor(p) for p in positions]
            fractions = [p - s for p, s in zip(positions, starts)]
            if self.mode == "linear":
                taps = [(0, lambda t: 1 - t), (1, lambda t: t)]
            else:
                a = -0.75
                taps = [(-1, lambda t: ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a),
                        (0, lambda t: ((a + 2) * t - (a + 3)) * t * t + 1),
                        (1, lambda t: ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1),
                        (2, lambda t: ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a)]
            corners = [[]]
            for _ in range(axes):
                corners = [corner + [tap] for corner in corners for tap in taps]
            out = 0
            for corner in corners:
                weight = 1
                indices = []
                for d, (offset, coefficient) in enumerate(corner):
                    weight = weight * coefficient(fractions[d])
                    indices.append(tf.cast(starts[d], tf.int32) + offset)
                out = out + fetch(indices) * tf.cast(weight, x.dtype)[..., None]
        return tf.transpose(out, [0, axes + 1, *range(1, axes + 1)])
''')

_MODES = {"bilinear": "linear", "linear": "linear", "nearest": "nearest", "bicubic": "cubic", "cubic": "cubic"}


@TF_OPS.register("GridSample", since=16)
def grid_sample(ctx: TensorFlowContext) -> None:
    """ONNX ``GridSample`` (see the module docstring)."""
    mode = _MODES.get(ctx.attr("mode", "bilinear" if ctx.opset < 20 else "linear"))
    padding = ctx.attr("padding_mode", "zeros")
    if mode is None or padding not in ("zeros", "border", "reflection"):
        ctx.fail(f"mode {ctx.attr('mode')!r} with padding {padding!r} is not an ONNX GridSample mode")
    layer = ctx.layer(str(ctx.helper(GRID_SAMPLE)), module="", mode=mode if mode != "linear" else None,
                      padding_mode=padding if padding != "zeros" else None,
                      align_corners=True if int(ctx.attr("align_corners", 0)) else None)
    ctx.emit(call(layer, ctx.x(0), ctx.x(1)))


AFFINE_GRID = define("AffineGrid", '''
class AffineGrid(keras.layers.Layer):
    """ONNX AffineGrid: the normalised positions (x first) that the affine maps theta [N, axes, axes + 1] take
    the pixel centres (or corners) of an image of size [N, C, *spatial] to."""

    def __init__(self, align_corners=False, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.align_corners = align_corners

    def call(self, theta, size):
        axes = theta.shape[-1] - 1
        spatial = tf.cast(tf.reshape(size, [-1])[2:], tf.int32)
        lines = []
        for d in range(axes):
            steps = tf.range(spatial[d], dtype=theta.dtype)
            length = tf.cast(spatial[d], theta.dtype)
            if self.align_corners:
                lines.append(tf.where(length > 1, steps * 2 / tf.maximum(length - 1, 1) - 1, tf.zeros_like(steps)))
            else:
                lines.append((2 * steps + 1) / length - 1)
        mesh = tf.meshgrid(*lines, indexing="ij")
        base = tf.stack([mesh[axes - 1 - k] for k in range(axes)] + [tf.ones_like(mesh[0])], -1)
        points = tf.einsum("pk,nck->npc", tf.reshape(base, [-1, axes + 1]), theta)
        return tf.reshape(points, tf.concat([tf.shape(theta)[:1], spatial, [axes]], 0))
''')


@TF_OPS.register("AffineGrid", since=20)
def affine_grid(ctx: TensorFlowContext) -> None:
    """ONNX ``AffineGrid`` (see the module docstring)."""
    layer = ctx.layer(str(ctx.helper(AFFINE_GRID)), module="",
                      align_corners=True if int(ctx.attr("align_corners", 0)) else None)
    ctx.emit(call(layer, ctx.x(0), ctx.tensor_arg(1)))


COL2IM = define("Col2Im", '''
class Col2Im(keras.layers.Layer):
    """ONNX Col2Im for any number of spatial axes: each column entry of x [N, C * prod(block), blocks] is added
    into the image at its block position (entries falling into the padding are dropped)."""

    def __init__(self, dilations, pads, strides, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.dilations, self.pads, self.strides = list(dilations), list(pads), list(strides)

    def call(self, x, image_shape, block_shape):
        axes = len(self.strides)
        image, block = tf.cast(tf.reshape(image_shape, [-1]), tf.int64), tf.cast(tf.reshape(block_shape, [-1]), tf.int64)
        dilations, strides = tf.constant(self.dilations, tf.int64), tf.constant(self.strides, tf.int64)
        begins, ends = tf.constant(self.pads[:axes], tf.int64), tf.constant(self.pads[axes:], tf.int64)
        counts = (image + begins + ends - dilations * (block - 1) - 1) // strides + 1

        def grid(sizes):
            mesh = tf.meshgrid(*[tf.range(sizes[d]) for d in range(axes)], indexing="ij")
            return tf.reshape(tf.stack(mesh, -1), [-1, axes])

        kernel, starts = grid(block), grid(counts)
        positions = starts[None] * strides + kernel[:, None] * dilations - begins
        inside = tf.reshape(tf.reduce_all((positions >= 0) & (positions < image), -1), [-1])
        steps = tf.math.cumprod(image, exclusive=True, reverse=True)
        flat = tf.reshape(tf.reduce_sum(positions * steps, -1), [-1])
        n, width = tf.shape(x, out_type=tf.int64)[0], tf.shape(x, out_type=tf.int64)[1] // tf.reduce_prod(block)
        columns = tf.transpose(tf.reshape(x, tf.stack([n, width, -1])), [2, 0, 1])
        summed = tf.math.unsorted_segment_sum(tf.boolean_mask(columns, inside), tf.boolean_mask(flat, inside),
                                              tf.reduce_prod(image))
        return tf.reshape(tf.transpose(summed, [1, 2, 0]), tf.concat([tf.stack([n, width]), image], 0))
''')


@TF_OPS.register("Col2Im", since=18)
def col2im(ctx: TensorFlowContext) -> None:
    """ONNX ``Col2Im`` (see the module docstring)."""
    shape = ctx.type(1).shape
    axes = shape[0] if shape else None
    if not isinstance(axes, int):
        ctx.fail("the number of image axes (the length of image_shape) must be known")
    layer = ctx.layer(str(ctx.helper(COL2IM)), module="", dilations=[int(v) for v in ctx.attr("dilations", [1] * axes)],
                      pads=[int(v) for v in ctx.attr("pads", [0] * 2 * axes)],
                      strides=[int(v) for v in ctx.attr("strides", [1] * axes)])
    ctx.emit(call(layer, ctx.x(0), ctx.tensor_arg(1), ctx.tensor_arg(2)))


DEFORM = define("DeformConv2D", '''
class DeformConv2D(keras.layers.Layer):
    """ONNX DeformConv (2-D): each kernel tap reads the input bilinearly at its position moved by the offset
    (zero outside the image), scaled by the mask, then a grouped convolution of those taps."""

    def __init__(self, strides=(1, 1), pads=(0, 0), dilations=(1, 1), groups=1, offset_groups=1, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.strides, self.pads, self.dilations = list(strides), list(pads), list(dilations)
        self.groups, self.offset_groups = groups, offset_groups

    def call(self, x, weight, offset, bias=None, mask=None):
        n, c, h, w = tf.unstack(tf.shape(x))
        out_c, kh, kw = weight.shape[0], weight.shape[2], weight.shape[3]
        oh, ow = tf.shape(offset)[2], tf.shape(offset)[3]
        og = self.offset_groups
        offset = tf.reshape(offset, [n, og, kh, kw, 2, oh, ow])
        mask = tf.ones_like(offset[:, :, :, :, 0]) if mask is None else tf.reshape(mask, [n, og, kh, kw, oh, ow])
        dtype = x.dtype
        rows = tf.reshape(tf.range(kh, dtype=dtype) * self.dilations[0], [kh, 1, 1, 1]) + tf.reshape(
            tf.range(oh, dtype=dtype) * self.strides[0] - self.pads[0], [-1, 1])
        cols = tf.reshape(tf.range(kw, dtype=dtype) * self.dilations[1], [kw, 1, 1]) + (
            tf.range(ow, dtype=dtype) * self.strides[1] - self.pads[1])
        y, x_pos = rows + offset[:, :, :, :, 0], cols + offset[:, :, :, :, 1]
        planes = tf.reshape(x, [n, og, c // og, h * w])
        taps = 0
        for dy in (0, 1):
            for dx in (0, 1):
                ty, tx = tf.floor(y) + dy, tf.floor(x_pos) + dx
                inside = (ty >= 0) & (ty < tf.cast(h, dtype)) & (tx >= 0) & (tx < tf.cast(w, dtype))
                share = (1 - tf.abs(y - ty)) * (1 - tf.abs(x_pos - tx)) * mask * tf.cast(inside, dtype)
                index = tf.cast(tf.clip_by_value(ty, 0, tf.cast(h - 1, dtype)) * tf.cast(w, dtype)
                                + tf.clip_by_value(tx, 0, tf.cast(w - 1, dtype)), tf.int32)
                index = tf.reshape(index, [n, og, 1, -1])
                values = tf.gather(planes, tf.broadcast_to(index, [n, og, c // og, tf.shape(index)[-1]]), axis=3,
                                   batch_dims=3)
                taps = taps + values * tf.reshape(share, [n, og, 1, -1])
        taps = tf.reshape(taps, [n, self.groups, -1, oh * ow])
        kernel = tf.reshape(weight, [self.groups, out_c // self.groups, -1])
        out = tf.reshape(tf.einsum("gok,ngkl->ngol", kernel, taps), [n, out_c, oh, ow])
        return out if bias is None else out + tf.reshape(bias, [1, -1, 1, 1])
''')


@TF_OPS.register("DeformConv", since=19)
def deform_conv(ctx: TensorFlowContext) -> None:
    """ONNX ``DeformConv`` (see the module docstring)."""
    if ctx.rank(0) != 4:
        ctx.fail(f"only 2-D deformable convolution is supported; the input has rank {ctx.rank(0)}")
    if not all(isinstance(d, int) for d in ctx.shape(1)):
        ctx.fail("the weight's shape must be known when converting")
    pads = [int(v) for v in ctx.attr("pads", [0, 0, 0, 0])]
    if pads[:2] != pads[2:]:
        ctx.fail(f"uneven pads {pads} are not supported")
    options: dict[str, Any] = {}
    for key, name, default in (("strides", "strides", [1, 1]), ("pads", "pads", [0, 0, 0, 0]),
                               ("dilations", "dilations", [1, 1])):
        value = [int(v) for v in ctx.attr(name, default)][:2]
        if value != default[:2]:
            options[key] = value
    for key, name in (("groups", "group"), ("offset_groups", "offset_group")):
        if int(ctx.attr(name, 1)) != 1:
            options[key] = int(ctx.attr(name))
    layer = ctx.layer(str(ctx.helper(DEFORM)), module="", **options)
    args = [ctx.tensor_arg(i) if ctx.has(i) else Code("None") for i in range(5)]
    while args[-1] == "None":
        args.pop()
    ctx.emit(call(layer, *args))
