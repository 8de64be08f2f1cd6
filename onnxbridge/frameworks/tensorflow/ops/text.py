"""Strings and text features: StringConcat, StringSplit, RegexFullMatch, StringNormalizer (``tf.strings``), and
TfIdfVectorizer (n-gram counts of integer or string tokens, with skips).

TensorFlow has string tensors; the helper layers take and give them as Keras string tensors.
"""

from __future__ import annotations

import onnx

from onnxbridge.codegen.writer import call, dotted, lit
from onnxbridge.frameworks.tensorflow.context import TensorFlowContext
from onnxbridge.frameworks.tensorflow.helpers import define
from onnxbridge.frameworks.tensorflow.registry import TF_OPS
from onnxbridge.ir.ml_tables import tfidf_pools

CONCAT = define("StringConcat", '''
class StringConcat(keras.layers.Layer):
    """Element-wise concatenation of two string tensors, broadcast against each other (ONNX StringConcat)."""

    def call(self, x, y):
        shape = tf.broadcast_dynamic_shape(tf.shape(x), tf.shape(y))
        return tf.strings.join([tf.broadcast_to(x, shape), tf.broadcast_to(y, shape)])
''')


@TF_OPS.register("StringConcat", since=20)
def string_concat(ctx: TensorFlowContext) -> None:
    """ONNX ``StringConcat`` (see the module docstring)."""
    ctx.emit(call(ctx.layer(str(ctx.helper(CONCAT)), module=""), ctx.tensor_arg(0), ctx.tensor_arg(1)))


SPLIT = define("StringSplit", '''
class StringSplit(keras.layers.Layer):
    """Each string split at a delimiter (or at runs of whitespace without one), at most maxsplit times, padded
    with empty strings to the longest split; also the number of pieces of each (ONNX StringSplit)."""

    def __init__(self, delimiter=None, maxsplit=-1, **kwargs):
        super().__init__(**kwargs)
        self.delimiter, self.maxsplit = delimiter, maxsplit

    def call(self, x):
        pieces = tf.strings.split(x, sep=self.delimiter, maxsplit=self.maxsplit)
        if self.delimiter is None:  # a whitespace split never gives empty pieces (as in Python)
            pieces = tf.ragged.boolean_mask(pieces, tf.strings.length(pieces) > 0)
        counts = pieces.row_lengths(axis=len(x.shape))
        return pieces.to_tensor(default_value=""), tf.cast(counts, tf.int64)
''')


@TF_OPS.register("StringSplit", since=20)
def string_split(ctx: TensorFlowContext) -> None:
    """ONNX ``StringSplit`` (see the module docstring)."""
    delimiter = ctx.attr("delimiter")
    layer = ctx.layer(str(ctx.helper(SPLIT)), module="", delimiter=delimiter or None,
                      maxsplit=int(ctx.attr("maxsplit")) if ctx.attr("maxsplit") is not None else None)
    ctx.outs(call(layer, ctx.tensor_arg(0)), [None, None])


@TF_OPS.register("RegexFullMatch", since=20)
def regex_full_match(ctx: TensorFlowContext) -> None:
    """ONNX ``RegexFullMatch`` (see the module docstring)."""
    # both ONNX and TensorFlow use RE2 syntax
    layer = ctx.layer(str(ctx.helper(REGEX)), module="", pattern=str(ctx.attr("pattern")))
    ctx.emit(call(layer, ctx.tensor_arg(0)))


REGEX = define("RegexFullMatch", '''
class RegexFullMatch(keras.layers.Layer):
    """Whether each string matches the RE2 pattern as a whole (tf.strings.regex_full_match)."""

    def __init__(self, pattern, **kwargs):
        super().__init__(**kwargs)
        self.pattern = pattern

    def call(self, x):
        return tf.strings.regex_full_match(x, self.pattern)
''')


NORMALIZER = define("StringNormalizer", '''
class StringNormalizer(keras.layers.Layer):
    """ONNX StringNormalizer: drops the stop words (ignoring case unless case_sensitive), then lower- or
    upper-cases what is left; all dropped gives one empty string. [C] or [1, C] in and out."""

    def __init__(self, stopwords=(), case_sensitive=False, case_change="NONE", **kwargs):
        super().__init__(**kwargs)
        self.stopwords, self.case_sensitive, self.case_change = list(stopwords), case_sensitive, case_change

    def call(self, x):
        flat = tf.reshape(x, [-1])
        keep = tf.ones_like(flat, dtype=tf.bool)
        if self.stopwords:
            words = tf.constant(self.stopwords)
            probe = flat if self.case_sensitive else tf.strings.lower(flat)
            words = words if self.case_sensitive else tf.strings.lower(words)
            keep = tf.reduce_all(tf.not_equal(probe[:, None], words[None, :]), -1)
        kept = tf.boolean_mask(flat, keep)
        if self.case_change == "LOWER":
            kept = tf.strings.lower(kept)
        elif self.case_change == "UPPER":
            kept = tf.strings.upper(kept)
        kept = tf.cond(tf.size(kept) > 0, lambda: kept, lambda: tf.constant([""]))
        return kept if len(x.shape) == 1 else kept[None, :]
''')


@TF_OPS.register("StringNormalizer", since=10)
def string_normalizer(ctx: TensorFlowContext) -> None:
    """ONNX ``StringNormalizer`` (see the module docstring)."""
    action = ctx.attr("case_change_action", "NONE")
    if action not in ("NONE", "LOWER", "UPPER"):
        ctx.fail(f"case_change_action {action!r} is not NONE, LOWER or UPPER")
    stopwords = [str(w) for w in ctx.attr("stopwords", [])]
    layer = ctx.layer(str(ctx.helper(NORMALIZER)), module="", stopwords=stopwords or None,
                      case_sensitive=True if int(ctx.attr("is_case_sensitive", 0)) else None,
                      case_change=action if action != "NONE" else None)
    ctx.emit(call(layer, ctx.x(0)))


TFIDF = define("TfIdfVectorizer", '''
class TfIdfVectorizer(keras.layers.Layer):
    """ONNX TfIdfVectorizer: how often each pool n-gram occurs in each row of tokens (items skip_distance
    apart, for every distance up to max_skip + 1; unigrams once), as counts (TF), weights where present
    (IDF) or weighted counts (TFIDF), at each n-gram's output position."""

    def __init__(self, pools, output_size, max_skip=0, mode="TF", gram_weights=None, **kwargs):
        super().__init__(**kwargs)
        self.pools, self.output_size, self.max_skip = pools, output_size, max_skip
        self.mode, self.gram_weights = mode, gram_weights

    def call(self, x):
        rows = x if len(x.shape) == 2 else x[None, :]
        length = rows.shape[1]
        counts = tf.zeros([tf.shape(rows)[0], self.output_size], tf.float32)
        for size, grams, where in self.pools:
            grams = tf.constant(grams, dtype=rows.dtype)
            spread = tf.one_hot(where, self.output_size)
            for distance in range(1, self.max_skip + 2) if size > 1 else [1]:
                span = (size - 1) * distance + 1
                if span > length:
                    break
                windows = tf.signal.frame(rows, span, 1, axis=1)[..., ::distance]
                hits = tf.reduce_all(tf.equal(windows[:, :, None, :], grams[None, None]), -1)
                counts += tf.matmul(tf.reduce_sum(tf.cast(hits, tf.float32), 1), spread)
        if self.mode != "TF":
            weights = tf.ones([self.output_size]) if self.gram_weights is None else tf.constant(self.gram_weights, tf.float32)
            counts = counts * weights if self.mode == "TFIDF" else tf.where(counts > 0, weights, tf.zeros_like(counts))
        return counts if len(x.shape) == 2 else counts[0]
''')


@TF_OPS.register("TfIdfVectorizer", since=9)
def tfidf_vectorizer(ctx: TensorFlowContext) -> None:
    """ONNX ``TfIdfVectorizer`` (see the module docstring)."""
    try:
        pools, width = tfidf_pools(ctx.attrs)
    except (KeyError, ValueError) as exc:
        ctx.fail(f"the n-gram pool is not complete: {exc}")
    mode = ctx.attr("mode", "TF")
    if mode not in ("TF", "IDF", "TFIDF"):
        ctx.fail(f"mode {mode!r} is not TF, IDF or TFIDF")
    if ctx.rank(0) not in (1, 2) or not isinstance(ctx.shape(0)[-1], int):
        ctx.fail("the tokens must be [C] or [N, C] with C known")
    weights = ctx.attr("weights")
    layer = ctx.layer(str(ctx.helper(TFIDF)), module="", pools=pools, output_size=width,
                      max_skip=int(ctx.attr("max_skip_count", 0)) or None, mode=mode if mode != "TF" else None,
                      gram_weights=[float(w) for w in weights] if weights is not None else None)
    tokens = ctx.x(0)
    if ctx.elem(0) == onnx.TensorProto.INT32:  # the pool holds int64 values
        tokens = call(dotted("ops", "cast"), tokens, lit("int64"))
    ctx.emit(call(layer, tokens))
