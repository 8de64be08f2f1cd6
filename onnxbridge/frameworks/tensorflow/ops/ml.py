"""The classic machine-learning domain (``ai.onnx.ml``): Binarizer, ArrayFeatureExtractor, LabelEncoder (numeric
or string keys and values) and TreeEnsemble (every tree walked at once, one level per step)."""

from __future__ import annotations

import numpy as np

from onnxbridge.codegen.writer import call, dotted, lit
from onnxbridge.frameworks.tensorflow.context import TensorFlowContext
from onnxbridge.frameworks.tensorflow.helpers import define
from onnxbridge.frameworks.tensorflow.registry import TF_OPS
from onnxbridge.ir.dtypes import NP_DTYPES, elem_of
from onnxbridge.ir.ml_tables import label_tables, tree_tables

ML = "ai.onnx.ml"


def _register(op: str, since: int):
    return TF_OPS.register(op, since=since, domain=ML)


def _ops(name: str, *args, **kwargs):
    return call(dotted("ops", name), *args, **kwargs)


@_register("Binarizer", 1)
def binarizer(ctx: TensorFlowContext) -> None:
    """ONNX ``Binarizer`` (see the module docstring)."""
    x, perm = ctx.x_any(0)
    above = _ops("greater", x, lit(float(np.float32(ctx.attr("threshold", 0.0)))))
    ctx.emit(_ops("cast", above, lit(ctx.dtype(ctx.elem(0)))), perm=perm)


@_register("ArrayFeatureExtractor", 1)
def array_feature_extractor(ctx: TensorFlowContext) -> None:
    """ONNX ``ArrayFeatureExtractor`` (see the module docstring)."""
    picked = _ops("take", ctx.x(0), _ops("reshape", ctx.x(1), lit((-1,))), axis=lit(-1))
    if ctx.rank(0) == 1:  # a vector gives one row, as onnxruntime does
        picked = _ops("reshape", picked, lit((1, -1)))
    ctx.emit(picked)


LABELS = define("LabelEncoder", '''
class LabelEncoder(keras.layers.Layer):
    """ONNX LabelEncoder: each value's position among the keys picks its value; values not among the keys
    get the default (keys and values are numbers or strings)."""

    def __init__(self, keys, values, default, values_dtype, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.keys, self.values, self.default, self.values_dtype = keys, values, default, values_dtype

    def call(self, x):
        match = tf.equal(x[..., None], tf.constant(self.keys, dtype=x.dtype))
        found = tf.gather(tf.constant(self.values, self.values_dtype), tf.argmax(tf.cast(match, tf.int32), -1))
        return tf.where(tf.reduce_any(match, -1), found, tf.constant(self.default, self.values_dtype))
''')


@_register("LabelEncoder", 2)
def label_encoder(ctx: TensorFlowContext) -> None:
    """ONNX ``LabelEncoder`` (see the module docstring)."""
    try:
        keys, values, default = label_tables(ctx.attrs)
    except ValueError as exc:
        ctx.fail(str(exc))
    dtype = "string" if values.dtype == object else ctx.dtype(elem_of(values.dtype))
    layer = ctx.layer(str(ctx.helper(LABELS)), module="", keys=keys.tolist(), values=values.tolist(),
                      default=default.tolist()[0], values_dtype=dtype)
    ctx.emit(call(layer, ctx.x(0)))


TREES = define("TreeEnsemble", '''
class TreeEnsemble(keras.layers.Layer):
    """ONNX TreeEnsemble: every tree walked at once, one level per step, then the reached leaves' weights
    aggregated per target ("sum", "average", "min" or "max"). The tables are the node attributes."""

    def __init__(self, trees, n_targets, aggregate, depth, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.trees, self.n_targets, self.aggregate, self.depth = trees, n_targets, aggregate, depth

    def call(self, x):
        (roots, root_leafs, features, splits, modes, true_ids, false_ids, true_leafs, false_leafs, missing_true,
         members, leaf_targets, leaf_weights) = [tf.constant(t) for t in self.trees]
        n = tf.shape(x)[0]
        node = tf.tile(roots[None], [n, 1])
        leaf = tf.tile(root_leafs[None], [n, 1])
        for _ in range(self.depth):
            at = tf.where(leaf, tf.zeros_like(node), node)
            v = tf.gather(x, tf.gather(features, at), batch_dims=1)
            s = tf.cast(tf.gather(splits, at), x.dtype)
            member = tf.reduce_any(tf.equal(v[..., None], tf.cast(tf.gather(members, at), x.dtype)), -1)
            tests = tf.stack([v <= s, v < s, v >= s, v > s, tf.equal(v, s), tf.not_equal(v, s), member], -1)
            go = tf.gather(tests, tf.gather(modes, at), batch_dims=2)
            go = go | (tf.gather(missing_true, at) & tf.math.is_nan(v))
            node = tf.where(leaf, node, tf.where(go, tf.gather(true_ids, at), tf.gather(false_ids, at)))
            leaf = leaf | tf.where(go, tf.gather(true_leafs, at), tf.gather(false_leafs, at))
        weights = tf.cast(tf.gather(leaf_weights, node), x.dtype)
        targets = tf.one_hot(tf.gather(leaf_targets, node), self.n_targets, dtype=x.dtype)
        if self.aggregate in ("sum", "average"):
            out = tf.einsum("nt,ntk->nk", weights, targets)
            return out / tf.cast(tf.size(roots), x.dtype) if self.aggregate == "average" else out
        start = x.dtype.max if self.aggregate == "min" else x.dtype.min
        picked = tf.where(targets > 0, weights[..., None], tf.fill(tf.shape(targets), tf.constant(start, x.dtype)))
        return tf.reduce_min(picked, 1) if self.aggregate == "min" else tf.reduce_max(picked, 1)
''')


@_register("TreeEnsemble", 5)
def tree_ensemble(ctx: TensorFlowContext) -> None:
    """ONNX ``TreeEnsemble`` (see the module docstring)."""
    if ctx.rank(0) != 2:
        ctx.fail(f"the features must be [N, F], got rank {ctx.rank(0)}")
    try:
        t = tree_tables(ctx.attrs, np.dtype(NP_DTYPES.get(ctx.elem(0) or 0, np.float32)))
    except ValueError as exc:
        ctx.fail(str(exc))
    arrays = t.arrays()
    trees = [a.tolist() for a in arrays]
    layer = ctx.layer(str(ctx.helper(TREES)), module="", trees=trees, n_targets=t.n_targets, aggregate=t.aggregate,
                      depth=t.depth)
    ctx.emit(call(layer, ctx.x(0)))
