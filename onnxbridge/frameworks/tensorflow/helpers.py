"""Helper layers written into the generated module when an op needs TensorFlow code that Keras ops lack.

Each entry returns the source lines of one small ``keras.layers.Layer`` class: run-time shapes (a Keras
functional model only sees static shapes while it is built), scatter/gather by index, and resizing
with TF1 corner conventions. The text is fixed here (no model data goes into it); converters only
instantiate these classes with literal arguments.
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
    "Reduce": _lines('''
class Reduce(keras.layers.Layer):
    """An ONNX reduction (sum, mean, max, min, prod, l1, l2, sum_square, log_sum, log_sum_exp) over axes
    known at run time: all axes when none are given, unless noop_with_empty_axes."""

    def __init__(self, op, keepdims=True, noop_with_empty_axes=False, shape=None, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.op, self.keepdims, self.noop = op, keepdims, noop_with_empty_axes
        self.out_shape = shape

    def call(self, x, axes):
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
    """Reshape to a shape computed at run time (``-1`` infers one dim; ``copy_zeros``: 0 keeps that dim)."""

    def __init__(self, copy_zeros=False, **kwargs):
        super().__init__(**kwargs)
        self.copy_zeros = copy_zeros

    def call(self, x, shape):
        shape = tf.cast(shape, tf.int64)
        if self.copy_zeros:
            dims = tf.concat([tf.shape(x, out_type=tf.int64), tf.zeros_like(shape)], 0)[:tf.size(shape)]
            shape = tf.where(tf.equal(shape, 0), dims, shape)
        return tf.reshape(x, shape)
'''),
    "BroadcastTo": _lines('''
class BroadcastTo(keras.layers.Layer):
    """Broadcast both ways to a shape computed at run time (ONNX Expand)."""

    def call(self, x, shape):
        return x * tf.ones(tf.cast(shape, tf.int64), dtype=x.dtype)
'''),
    "Fill": _lines('''
class Fill(keras.layers.Layer):
    """A tensor of one value, of a shape computed at run time (ONNX ConstantOfShape)."""

    def __init__(self, value, dtype, **kwargs):
        super().__init__(**kwargs)
        self.value = value
        self.fill_dtype = dtype

    def call(self, shape):
        return tf.fill(tf.cast(shape, tf.int64), tf.constant(self.value, dtype=self.fill_dtype))
'''),
    "Range": _lines('''
class Range(keras.layers.Layer):
    """``start, start + delta, ...`` below ``limit``, bounds known at run time (ONNX Range)."""

    def call(self, start, limit, delta):
        # one-element vectors count as scalars (ONNX's own function bodies pass them)
        return tf.range(tf.reshape(start, []), tf.reshape(limit, []), tf.reshape(delta, []))
'''),
    "ConstantLike": _lines('''
class ConstantLike(keras.layers.Layer):
    """A fixed tensor as a model output (Keras outputs must come from a layer fed by an input)."""

    def __init__(self, value, **kwargs):
        super().__init__(**kwargs)
        self.value = value

    def call(self, anchor):
        return tf.constant(self.value)
'''),
    "GatherND": _lines('''
class GatherND(keras.layers.Layer):
    """``tf.gather_nd`` (ONNX GatherND)."""

    def __init__(self, batch_dims=0, **kwargs):
        super().__init__(**kwargs)
        self.batch_dims = batch_dims

    def call(self, x, indices):
        return tf.gather_nd(x, indices, batch_dims=self.batch_dims)
'''),
    "ScatterND": _lines('''
class ScatterND(keras.layers.Layer):
    """Write (or add, multiply, take the max/min of) updates at N-d indices (ONNX ScatterND)."""

    def __init__(self, reduction="none", **kwargs):
        super().__init__(**kwargs)
        self.reduction = reduction

    def call(self, x, indices, updates):
        op = {"none": tf.tensor_scatter_nd_update, "add": tf.tensor_scatter_nd_add,
              "max": tf.tensor_scatter_nd_max, "min": tf.tensor_scatter_nd_min}[self.reduction]
        return op(x, indices, updates)
'''),
    "ScatterElements": _lines('''
class ScatterElements(keras.layers.Layer):
    """Write (or add ...) updates along one axis at per-element indices (ONNX ScatterElements)."""

    def __init__(self, axis, reduction="none", **kwargs):
        super().__init__(**kwargs)
        self.axis = axis
        self.reduction = reduction

    def call(self, x, indices, updates):
        indices = tf.cast(indices, tf.int64)
        dim = tf.shape(x, out_type=tf.int64)[self.axis]
        indices = tf.where(indices < 0, indices + dim, indices)
        grids = tf.meshgrid(*[tf.range(n) for n in tf.unstack(tf.shape(indices, out_type=tf.int64))], indexing="ij")
        grids[self.axis] = indices
        coords = tf.stack(grids, axis=-1)
        op = {"none": tf.tensor_scatter_nd_update, "add": tf.tensor_scatter_nd_add,
              "max": tf.tensor_scatter_nd_max, "min": tf.tensor_scatter_nd_min}[self.reduction]
        return op(x, coords, updates)
'''),
    "ReverseSequence": _lines('''
class ReverseSequence(keras.layers.Layer):
    """Reverse the first ``lengths[b]`` steps of each sequence (ONNX ReverseSequence)."""

    def __init__(self, time_axis, batch_axis, **kwargs):
        super().__init__(**kwargs)
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
    "MaxPoolDilated": _lines('''
class MaxPoolDilated(keras.layers.Layer):
    """Max pooling with dilated windows on a channels-last tensor."""

    def __init__(self, pool_size, strides, dilation_rate, **kwargs):
        super().__init__(**kwargs)
        self.pool_size, self.strides, self.dilation_rate = list(pool_size), list(strides), list(dilation_rate)

    def call(self, x):
        return tf.nn.pool(x, self.pool_size, "MAX", strides=self.strides, padding="VALID",
                          dilations=self.dilation_rate)
'''),
}
