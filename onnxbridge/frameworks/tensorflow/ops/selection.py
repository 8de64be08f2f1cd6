"""Ops whose output size depends on the data: Compress (``tf.gather`` of the kept positions), Unique
(``tf.unique`` over slices, plus ONNX's first-occurrence indices and sorted order), NonMaxSuppression
(``tf.image.non_max_suppression`` per batch and class)."""

from __future__ import annotations

from onnxbridge.codegen.writer import Code, call
from onnxbridge.frameworks.tensorflow.context import TensorFlowContext
from onnxbridge.frameworks.tensorflow.helpers import define
from onnxbridge.frameworks.tensorflow.registry import TF_OPS

COMPRESS = define("Compress", '''
class Compress(keras.layers.Layer):
    """The slices along axis (or elements of the flattened tensor) where the condition holds; a shorter
    condition drops the rest (ONNX Compress)."""

    def __init__(self, axis=None, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.axis = axis

    def call(self, x, condition):
        kept = tf.where(tf.cast(condition, tf.bool))[:, 0]
        if self.axis is None:
            return tf.gather(tf.reshape(x, [-1]), kept)
        return tf.gather(x, kept, axis=self.axis)
''')


@TF_OPS.register("Compress", since=9)
def compress(ctx: TensorFlowContext) -> None:
    """ONNX ``Compress`` (see the module docstring)."""
    axis = ctx.attr("axis")
    layer = ctx.layer(str(ctx.helper(COMPRESS)), module="",
                      axis=ctx.axis(axis, ctx.rank(0)) if axis is not None else None)
    ctx.emit(call(layer, ctx.tensor_arg(0), ctx.tensor_arg(1)))


UNIQUE = define("Unique", '''
class Unique(keras.layers.Layer):
    """ONNX Unique: the unique values (or slices along axis), the index of each one's first occurrence, the
    inverse indices and the counts; sorted ascending (slices lexicographically) unless sort is False."""

    def __init__(self, axis=None, sort=True, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.axis, self.sort = axis, sort

    def call(self, x):
        axis = 0 if self.axis is None else self.axis
        flat = tf.reshape(x, [-1]) if self.axis is None else x
        values, inverse = tf.raw_ops.UniqueV2(x=flat, axis=[axis], out_idx=tf.int64)
        n = tf.shape(values, out_type=tf.int64)[axis]
        positions = tf.range(tf.shape(flat, out_type=tf.int64)[axis])
        first = tf.math.unsorted_segment_min(positions, inverse, n)
        counts = tf.math.unsorted_segment_sum(tf.ones_like(inverse), inverse, n)
        if self.sort:
            # lexicographic order of the slices: stable sorts by each column, the last one first
            rows = tf.reshape(tf.experimental.numpy.moveaxis(values, axis, 0), [n, -1])
            order = tf.range(n)
            columns = 1 if self.axis is None else int(np.prod(x.shape)) // int(x.shape[axis])
            for column in reversed(range(columns)):
                keys = tf.gather(rows[:, column], order)
                order = tf.gather(order, tf.argsort(keys, stable=True))
            values = tf.gather(values, order, axis=axis)
            first, counts = tf.gather(first, order), tf.gather(counts, order)
            inverse = tf.gather(tf.cast(tf.argsort(order), tf.int64), inverse)
        return values, first, inverse, counts
''')


@TF_OPS.register("Unique", since=11)
def unique(ctx: TensorFlowContext) -> None:
    """ONNX ``Unique`` (see the module docstring)."""
    axis = ctx.attr("axis")
    if axis is not None and not all(isinstance(d, int) for d in ctx.shape(0)):
        ctx.fail("sorting slices needs the input's static shape")
    layer = ctx.layer(str(ctx.helper(UNIQUE)), module="", axis=ctx.axis(axis, ctx.rank(0)) if axis is not None else None,
                      sort=False if not int(ctx.attr("sorted", 1)) else None)
    ctx.outs(call(layer, ctx.tensor_arg(0)), [None] * 4)


NMS = define("NonMaxSuppression", '''
class NonMaxSuppression(keras.layers.Layer):
    """ONNX NonMaxSuppression with tf.image.non_max_suppression for each batch and class:
    [batch, class, box] rows of the boxes kept."""

    def __init__(self, center_point_box=False, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.center_point_box = center_point_box

    def call(self, boxes, scores, max_output=None, iou_threshold=None, score_threshold=None):
        limit = 0 if max_output is None else tf.maximum(tf.reshape(tf.cast(max_output, tf.int32), [-1])[0], 0)
        iou = 0.0 if iou_threshold is None else tf.reshape(iou_threshold, [-1])[0]
        floor = float("-inf") if score_threshold is None else tf.reshape(score_threshold, [-1])[0]
        if self.center_point_box:  # [x_center, y_center, width, height] -> [y1, x1, y2, x2]
            half = boxes[..., 2:] / 2
            boxes = tf.stack([boxes[..., 1] - half[..., 1], boxes[..., 0] - half[..., 0],
                              boxes[..., 1] + half[..., 1], boxes[..., 0] + half[..., 0]], -1)
        rows = [tf.zeros([0, 3], tf.int64)]
        for b in range(scores.shape[0]):
            for c in range(scores.shape[1]):
                kept = tf.cast(tf.image.non_max_suppression(boxes[b], scores[b, c], limit, iou, floor), tf.int64)
                column = tf.ones_like(kept)
                rows.append(tf.stack([column * b, column * c, kept], 1))
        return tf.concat(rows, 0)
''')


@TF_OPS.register("NonMaxSuppression", since=10)
def non_max_suppression(ctx: TensorFlowContext) -> None:
    """ONNX ``NonMaxSuppression`` (see the module docstring)."""
    scores = ctx.shape(1)
    if len(scores) != 3 or not all(isinstance(d, int) for d in scores[:2]):
        ctx.fail("the numbers of batches and classes must be known when converting")
    layer = ctx.layer(str(ctx.helper(NMS)), module="",
                      center_point_box=True if int(ctx.attr("center_point_box", 0)) else None)
    args = [ctx.tensor_arg(i) if ctx.has(i) else Code("None") for i in range(5)]
    while args[-1] == "None":
        args.pop()
    ctx.emit(call(layer, *args))
