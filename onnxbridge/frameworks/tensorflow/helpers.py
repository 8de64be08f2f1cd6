"""Helper layers written into the generated module when an op needs TensorFlow code that Keras ops lack.

Each entry returns the source lines of one small ``keras.layers.Layer`` class: run-time shapes (a Keras
functional model only sees static shapes while it is built), scatter/gather by index, and resizing
with TF1 corner conventions. The text is fixed here (no model data goes into it); converters only
instantiate these classes with literal arguments. ``HELPER_NEEDS`` lists what a helper uses of the others.
"""

from __future__ import annotations

from collections.abc import Callable


def _lines(text: str) -> Callable[[], list[str]]:
    body = text.strip("\n").split("\n")
    return lambda: list(body)


def define(name: str, text: str) -> str:
    """Add the helper class ``name`` (its fixed source ``text``) for an op family to instantiate; returns
    ``name``. Families define their helpers beside their converters; a name is defined once."""
    if name in HELPERS:
        raise ValueError(f"the TensorFlow helper layer {name!r} is already defined")
    HELPERS[name] = _lines(text)
    return name


HELPERS: dict[str, Callable[[], list[str]]] = {
    "to_dense": _lines('''
def to_dense(*tensors):
    """The tensors as dense ones (Keras marks the product of a tensor and a constant as sparse)."""
    return [tf.sparse.to_dense(t) if isinstance(t, tf.SparseTensor) else t for t in tensors]
'''),
    "ResizeBilinear": _lines('''
class ResizeBilinear(keras.layers.Layer):
    """Bilinear resize of an NHWC tensor with corner-aligned or asymmetric sampling (TF1 conventions)."""

    def __init__(self, size, align_corners=False, **kwargs):
        super().__init__(**kwargs)
        self.size = tuple(size)
        self.align_corners = align_corners

    def call(self, x):
        return tf.compat.v1.image.resize_bilinear(x, self.size, align_corners=self.align_corners,
                                                  half_pixel_centers=False)
'''),
    "SqueezeAxes": _lines('''
class SqueezeAxes(keras.layers.Layer):
    """Remove size-1 axes known at run time (ONNX Squeeze); ``shape`` is the output's static shape."""

    def __init__(self, shape, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.out_shape = shape

    def call(self, x, axes):
        x, axes = to_dense(x, axes)
        rank = len(x.shape)
        axes = tf.math.floormod(tf.cast(tf.reshape(axes, [-1]), tf.int32), rank)
        keep = tf.reduce_all(tf.not_equal(tf.range(rank)[:, None], axes[None, :]), axis=1)
        return tf.ensure_shape(tf.reshape(x, tf.boolean_mask(tf.shape(x), keep)), self.out_shape)
'''),
    "UnsqueezeAxes": _lines('''
class UnsqueezeAxes(keras.layers.Layer):
    """Insert size-1 axes at positions known at run time (ONNX Unsqueeze); ``shape``: the output's."""

    def __init__(self, shape, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.out_shape = shape

    def call(self, x, axes):
        x, axes = to_dense(x, axes)
        rank = len(self.out_shape)
        axes = tf.math.floormod(tf.cast(tf.reshape(axes, [-1]), tf.int32), rank)
        new = tf.reduce_any(tf.equal(tf.range(rank)[:, None], axes[None, :]), axis=1)
        source = tf.maximum(tf.cumsum(tf.cast(tf.logical_not(new), tf.int32)) - 1, 0)
        dims = tf.where(new, 1, tf.gather(tf.concat([tf.shape(x), [1]], 0), source))
        return tf.ensure_shape(tf.reshape(x, dims), self.out_shape)
'''),
    "SliceAxes": _lines('''
class SliceAxes(keras.layers.Layer):
    """ONNX Slice with bounds, axes or steps known at run time (Python's slice rules, clamping included)."""

    def __init__(self, shape, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.out_shape = shape

    def call(self, x, starts, ends, axes=None, steps=None):
        x, starts, ends, axes, steps = to_dense(x, starts, ends, axes, steps)
        rank = len(x.shape)
        starts, ends = tf.cast(tf.reshape(starts, [-1]), tf.int64), tf.cast(tf.reshape(ends, [-1]), tf.int64)
        count = tf.size(starts)
        axes = tf.range(count) if axes is None else tf.math.floormod(tf.cast(tf.reshape(axes, [-1]), tf.int32), rank)
        steps = tf.ones([count], tf.int64) if steps is None else tf.cast(tf.reshape(steps, [-1]), tf.int64)
        where = axes[:, None]
        begin = tf.tensor_scatter_nd_update(tf.zeros([rank], tf.int64), where, starts)
        end = tf.tensor_scatter_nd_update(tf.shape(x, out_type=tf.int64), where, ends)
        strides = tf.tensor_scatter_nd_update(tf.ones([rank], tf.int64), where, steps)
        # begin/end beyond the dims clamp as in Python; INT64_MIN as a backwards end means "past the start"
        dims = tf.shape(x, out_type=tf.int64)
        end = tf.where((strides < 0) & (end < -dims), -dims - 1, end)
        return tf.ensure_shape(tf.strided_slice(x, begin, end, strides), self.out_shape)
'''),
    "SplitSizes": _lines('''
class SplitSizes(keras.layers.Layer):
    """Split into pieces of sizes known at run time (ONNX Split); ``shapes``: the outputs' static shapes."""

    def __init__(self, axis, shapes, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.axis, self.shapes = axis, shapes

    def call(self, x, sizes):
        x, sizes = to_dense(x, sizes)
        parts = tf.split(x, tf.cast(tf.reshape(sizes, [-1]), tf.int64), axis=self.axis, num=len(self.shapes))
        return [tf.ensure_shape(p, s) for p, s in zip(parts, self.shapes)]
'''),
    "CumSum": _lines('''
class CumSum(keras.layers.Layer):
    """Cumulative sum along an axis known at run time (ONNX CumSum)."""

    def __init__(self, exclusive=False, reverse=False, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.exclusive, self.reverse = exclusive, reverse

    def call(self, x, axis):
        x, axis = to_dense(x, axis)
        return tf.math.cumsum(x, axis=tf.reshape(axis, []), exclusive=self.exclusive, reverse=self.reverse)
'''),
    "Trilu": _lines('''
class Trilu(keras.layers.Layer):
    """The upper (or lower) triangle of the last two axes from diagonal k, known at run time (ONNX Trilu)."""

    def __init__(self, upper=True, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.upper = upper

    def call(self, x, k):
        x, k = to_dense(x, k)
        k = tf.cast(tf.reshape(k, []), tf.int64)
        shape = tf.shape(x, out_type=tf.int64)
        offset = tf.range(shape[-1])[None, :] - tf.range(shape[-2])[:, None]
        keep = offset >= k if self.upper else offset <= k
        return tf.where(keep, x, tf.zeros_like(x))
'''),
    "TopK": _lines('''
class TopK(keras.layers.Layer):
    """The k largest (or smallest) values along an axis and their indices, k known at run time (ONNX TopK;
    ties keep the lower index first)."""

    def __init__(self, axis=-1, largest=True, sorted=True, shape=None, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.axis, self.largest, self.sorted = axis, largest, sorted
        self.out_shape = shape

    def call(self, x, k):
        x, k = to_dense(x, k)
        rank = len(x.shape)
        axis = self.axis % rank
        order = list(range(rank))
        order[axis], order[-1] = order[-1], order[axis]
        x = tf.transpose(x, order)
        values, indices = tf.math.top_k(x if self.largest else -x, tf.cast(tf.reshape(k, []), tf.int32),
                                        sorted=self.sorted)
        values = tf.transpose(values if self.largest else -values, order)
        indices = tf.transpose(tf.cast(indices, tf.int64), order)
        return tf.ensure_shape(values, self.out_shape), tf.ensure_shape(indices, self.out_shape)
'''),
    "Tile": _lines('''
class Tile(keras.layers.Layer):
    """Repeat a tensor along each axis, the counts known at run time (ONNX Tile)."""

    def __init__(self, shape, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.out_shape = shape

    def call(self, x, repeats):
        x, repeats = to_dense(x, repeats)
        return tf.ensure_shape(tf.tile(x, tf.cast(tf.reshape(repeats, [-1]), tf.int64)), self.out_shape)
'''),
    "PadAxes": _lines('''
class PadAxes(keras.layers.Layer):
    """ONNX Pad with amounts (or the fill value) known at run time: pads lists the amounts before every
    axis, then after (of axes only, when given); negative amounts crop. Modes: constant, edge (repeat the
    border), reflect (mirror it, border excluded), wrap."""

    def __init__(self, mode="constant", shape=None, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.mode, self.out_shape = mode, shape

    def call(self, x, pads, value=None, axes=None):
        x, pads, value, axes = to_dense(x, pads, value, axes)
        rank = len(x.shape)
        pads = tf.cast(tf.reshape(pads, [2, -1]), tf.int64)
        if axes is not None:
            where = tf.math.floormod(tf.cast(tf.reshape(axes, [-1, 1]), tf.int32), rank)
            pads = tf.transpose(tf.tensor_scatter_nd_update(tf.zeros([rank, 2], tf.int64), where, tf.transpose(pads)))
        for axis in range(rank):
            begin, end = pads[0, axis], pads[1, axis]
            size = tf.shape(x, out_type=tf.int64)[axis]
            index = tf.range(-begin, size + end)
            if self.mode == "constant":
                inside = (index >= 0) & (index < size)
                picked = tf.gather(x, tf.clip_by_value(index, 0, tf.maximum(size - 1, 0)), axis=axis)
                mask = tf.reshape(inside, [-1 if a == axis else 1 for a in range(rank)])
                fill = tf.zeros([], x.dtype) if value is None else tf.cast(tf.reshape(value, []), x.dtype)
                x = tf.where(mask, picked, fill)
                continue
            if self.mode == "edge":
                index = tf.clip_by_value(index, 0, size - 1)
            elif self.mode == "reflect":
                period = tf.maximum(2 * size - 2, 1)
                index = tf.math.floormod(index, period)
                index = tf.where(index >= size, period - index, index)
            else:
                index = tf.math.floormod(index, size)
            x = tf.gather(x, index, axis=axis)
        return x if self.out_shape is None else tf.ensure_shape(x, self.out_shape)
'''),
    "OneHot": _lines('''
class OneHot(keras.layers.Layer):
    """One-hot rows (ONNX OneHot), depth and the off/on values known at run time; indices count from the
    end when negative, and those outside [-depth, depth) give a row of off values."""

    def __init__(self, axis=-1, shape=None, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.axis, self.out_shape = axis, shape

    def call(self, indices, depth, values):
        indices, depth, values = to_dense(indices, depth, values)
        depth = tf.cast(tf.reshape(depth, []), tf.int32)
        indices = tf.cast(indices, tf.int32)
        indices = tf.where(indices < 0, indices + depth, indices)
        values = tf.reshape(values, [-1])
        y = tf.one_hot(indices, depth, on_value=values[1], off_value=values[0], axis=self.axis)
        return y if self.out_shape is None else tf.ensure_shape(y, self.out_shape)
'''),
    "Reduce": _lines('''
class Reduce(keras.layers.Layer):
    """An ONNX reduction (sum, mean, max, min, prod, l1, l2, sum_square, log_sum, log_sum_exp) over axes
    known at run time: all axes when none are given, unless noop_with_empty_axes."""

    def __init__(self, op, keepdims=True, noop_with_empty_axes=False, shape=None, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.op, self.keepdims, self.noop = op, keepdims, noop_with_empty_axes
        self.out_shape = shape

    def call(self, x, axes):
        x, axes = to_dense(x, axes)
        rank = len(x.shape)
        axes = tf.math.floormod(tf.cast(tf.reshape(axes, [-1]), tf.int32), max(rank, 1))
        if not self.noop:
            axes = tf.cond(tf.size(axes) > 0, lambda: axes, lambda: tf.range(rank))
        kw = dict(axis=axes, keepdims=self.keepdims)
        if self.op in ("l1", "l2", "sum_square"):
            x = tf.abs(x) if self.op == "l1" else tf.square(x)
        reduce = {"mean": tf.reduce_mean, "max": tf.reduce_max, "min": tf.reduce_min, "prod": tf.reduce_prod,
                  "log_sum_exp": tf.reduce_logsumexp}.get(self.op, tf.reduce_sum)
        if x.dtype == tf.bool:
            reduce = tf.reduce_any if self.op == "max" else tf.reduce_all
        y = reduce(x, **kw)
        if self.op == "l2":
            y = tf.sqrt(y)
        elif self.op == "log_sum":
            y = tf.math.log(y)
        return y if self.out_shape is None else tf.ensure_shape(y, self.out_shape)
'''),
    "UnsignedDivide": _lines('''
class UnsignedDivide(keras.layers.Layer):
    """Division (or the remainder) of unsigned integers (Keras would compute uint64 as uint32)."""

    def __init__(self, remainder=False, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.remainder = remainder

    def call(self, a, b):
        a, b = to_dense(a, b)
        return tf.math.floormod(a, b) if self.remainder else tf.math.floordiv(a, b)
'''),
    "ShapeOf": _lines('''
class ShapeOf(keras.layers.Layer):
    """The run-time shape of a tensor as int64, its axes read in ``order``."""

    def __init__(self, order, **kwargs):
        super().__init__(**kwargs)
        self.order = list(order)

    def call(self, x):
        return tf.gather(tf.shape(x, out_type=tf.int64), self.order)
'''),
    "DynamicReshape": _lines('''
class DynamicReshape(keras.layers.Layer):
    """Reshape to a shape computed at run time (``-1`` infers one dim; ``copy_zeros``: 0 keeps that dim;
    ``static_shape``: the sizes known before it runs, which the layers after it build from)."""

    def __init__(self, copy_zeros=False, static_shape=None, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.copy_zeros = copy_zeros
        self.static_shape = static_shape

    def call(self, x, shape):
        shape = tf.cast(shape, tf.int64)
        if self.copy_zeros:
            dims = tf.concat([tf.shape(x, out_type=tf.int64), tf.zeros_like(shape)], 0)[:tf.size(shape)]
            shape = tf.where(tf.equal(shape, 0), dims, shape)
        y = tf.reshape(x, shape)
        return y if self.static_shape is None else tf.ensure_shape(y, self.static_shape)
'''),
    "BroadcastTo": _lines('''
class BroadcastTo(keras.layers.Layer):
    """Broadcast both ways to a shape computed at run time (ONNX Expand; ``static_shape``: the sizes known
    before it runs, which the layers after it build from)."""

    def __init__(self, static_shape=None, **kwargs):
        super().__init__(autocast=False, **kwargs)  # float16 stays float16
        self.static_shape = static_shape

    def call(self, x, shape):
        y = x * tf.ones(tf.cast(shape, tf.int64), dtype=x.dtype)
        return y if self.static_shape is None else tf.ensure_shape(y, self.static_shape)
'''),
    "Fill": _lines('''
class Fill(keras.layers.Layer):
    """A tensor of one value, of a shape computed at run time (ONNX ConstantOfShape; ``static_shape``: the
    sizes known before it runs, which the layers after it build from)."""

    def __init__(self, value, dtype, static_shape=None, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.value = value
        self.fill_dtype = dtype
        self.static_shape = static_shape

    def call(self, shape):
        y = tf.fill(tf.cast(shape, tf.int64), tf.constant(self.value, dtype=self.fill_dtype))
        return y if self.static_shape is None else tf.ensure_shape(y, self.static_shape)
'''),
    "Range": _lines('''
class Range(keras.layers.Layer):
    """``start, start + delta, ...`` below ``limit``, bounds known at run time (ONNX Range)."""

    def __init__(self, **kwargs):
        super().__init__(autocast=False, **kwargs)  # float16 bounds give a float16 range

    def call(self, start, limit, delta):
        # one-element vectors count as scalars (ONNX's own function bodies pass them)
        return tf.range(tf.reshape(start, []), tf.reshape(limit, []), tf.reshape(delta, []))
'''),
    "ConstantLike": _lines('''
class ConstantLike(keras.layers.Layer):
    """A fixed tensor as a model output (Keras outputs must come from a layer fed by an input)."""

    def __init__(self, value, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.value = value

    def call(self, anchor):
        return tf.constant(self.value)
'''),
    "GatherND": _lines('''
class GatherND(keras.layers.Layer):
    """``tf.gather_nd`` (ONNX GatherND)."""

    def __init__(self, batch_dims=0, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.batch_dims = batch_dims

    def call(self, x, indices):
        return tf.gather_nd(x, indices, batch_dims=self.batch_dims)
'''),
    "ScatterND": _lines('''
class ScatterND(keras.layers.Layer):
    """Write (or add, multiply, take the max/min of) updates at N-d indices (ONNX ScatterND)."""

    def __init__(self, reduction="none", **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.reduction = reduction

    def call(self, x, indices, updates):
        k = indices.shape[-1]
        indices = tf.cast(indices, tf.int64)
        indices = tf.where(indices < 0, indices + tf.shape(x, out_type=tf.int64)[:k], indices)
        if self.reduction == "mul":  # TensorFlow has no multiplying scatter: one update at a time
            at = tf.reshape(indices, [-1, k])
            rows = tf.reshape(updates, tf.concat([[-1], tf.shape(updates)[len(indices.shape) - 1:]], 0))
            step = lambda i, y: (i + 1, tf.tensor_scatter_nd_update(y, at[i:i + 1], tf.gather_nd(y, at[i:i + 1]) * rows[i:i + 1]))
            return tf.while_loop(lambda i, y: i < tf.shape(at)[0], step, (0, x))[1]
        op = {"none": tf.tensor_scatter_nd_update, "add": tf.tensor_scatter_nd_add,
              "max": tf.tensor_scatter_nd_max, "min": tf.tensor_scatter_nd_min}[self.reduction]
        return op(x, indices, updates)
'''),
    "ScatterElements": _lines('''
class ScatterElements(keras.layers.Layer):
    """Write (or add, multiply, take the max/min of) updates along one axis at per-element indices (ONNX
    ScatterElements)."""

    def __init__(self, axis, reduction="none", **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.axis = axis
        self.reduction = reduction

    def call(self, x, indices, updates):
        indices = tf.cast(indices, tf.int64)
        dim = tf.shape(x, out_type=tf.int64)[self.axis]
        indices = tf.where(indices < 0, indices + dim, indices)
        grids = tf.meshgrid(*[tf.range(n) for n in tf.unstack(tf.shape(indices, out_type=tf.int64))], indexing="ij")
        grids[self.axis] = indices
        coords = tf.stack(grids, axis=-1)
        if self.reduction == "mul":  # TensorFlow has no multiplying scatter: one update at a time
            at, rows = tf.reshape(coords, [-1, len(x.shape)]), tf.reshape(updates, [-1])
            step = lambda i, y: (i + 1, tf.tensor_scatter_nd_update(y, at[i:i + 1], tf.gather_nd(y, at[i:i + 1]) * rows[i:i + 1]))
            return tf.while_loop(lambda i, y: i < tf.shape(at)[0], step, (0, x))[1]
        op = {"none": tf.tensor_scatter_nd_update, "add": tf.tensor_scatter_nd_add,
              "max": tf.tensor_scatter_nd_max, "min": tf.tensor_scatter_nd_min}[self.reduction]
        return op(x, coords, updates)
'''),
    "ReverseSequence": _lines('''
class ReverseSequence(keras.layers.Layer):
    """Reverse the first ``lengths[b]`` steps of each sequence (ONNX ReverseSequence)."""

    def __init__(self, time_axis, batch_axis, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.time_axis, self.batch_axis = time_axis, batch_axis

    def call(self, x, lengths):
        return tf.reverse_sequence(x, tf.cast(lengths, tf.int64), seq_axis=self.time_axis,
                                   batch_axis=self.batch_axis)
'''),
    "NonZero": _lines('''
class NonZero(keras.layers.Layer):
    """Indices of the non-zero elements, one row per axis (ONNX NonZero)."""

    def call(self, x):
        return tf.transpose(tf.where(tf.not_equal(x, tf.zeros_like(x))))
'''),
    "LocalResponseNorm": _lines('''
class LocalResponseNorm(keras.layers.Layer):
    """Local response normalisation across channels of an NHWC tensor (ONNX LRN)."""

    def __init__(self, radius, bias, alpha, beta, **kwargs):
        super().__init__(**kwargs)
        self.radius, self.bias, self.alpha, self.beta = radius, bias, alpha, beta

    def call(self, x):
        return tf.nn.local_response_normalization(x, depth_radius=self.radius, bias=self.bias,
                                                  alpha=self.alpha, beta=self.beta)
'''),
    "ConvTransposeOp": _lines('''
class ConvTransposeOp(keras.layers.Layer):
    """A transposed convolution by a kernel computed at run time (channels-last, no padding)."""

    def __init__(self, strides, output_padding=None, **kwargs):
        super().__init__(**kwargs)
        self.strides, self.output_padding = strides, output_padding

    def call(self, x, kernel):
        return ops.conv_transpose(x, kernel, self.strides, padding="valid", output_padding=self.output_padding,
                                  data_format="channels_last")
'''),
}

#: helpers that use other helpers (written into the module with them)
HELPER_NEEDS: dict[str, tuple[str, ...]] = {name: ("to_dense",) for name in (
    "SqueezeAxes", "UnsqueezeAxes", "SliceAxes", "SplitSizes", "CumSum", "Trilu", "TopK", "Tile", "PadAxes", "OneHot",
    "Reduce", "UnsignedDivide")}
