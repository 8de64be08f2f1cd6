"""The classic machine-learning domain (``ai.onnx.ml``): Binarizer, ArrayFeatureExtractor, LabelEncoder (numeric
keys; PyTorch has no string tensors) and TreeEnsemble (every tree walked at once, one level per step)."""

from __future__ import annotations

import numpy as np

from onnxbridge.codegen.writer import Code, fmt, join, lit
from onnxbridge.frameworks.torch.context import ParamRef, TorchContext, fn, scalar
from onnxbridge.frameworks.torch.registry import TORCH_OPS
from onnxbridge.ir.dtypes import NP_DTYPES
from onnxbridge.ir.ml_tables import label_tables, tree_tables
from onnxbridge.ir.types import TensorType

ML = "ai.onnx.ml"


def _register(op: str, since: int):
    return TORCH_OPS.register(op, since=since, domain=ML)


def _constant(ctx: TorchContext, array: np.ndarray, hint: str) -> Code:
    """A constant table as a buffer of the module (a literal when it is tiny)."""
    array = np.asarray(array)
    if array.size <= 8 and array.dtype.kind in "iub":
        return fn("torch.tensor", lit(array.tolist()), device=ctx.device())
    return ctx.add_tensor(ParamRef(TensorType(None, array.shape), array=array), hint, parameter=False)


@_register("Binarizer", 1)
def binarizer(ctx: TorchContext) -> None:
    """ONNX ``Binarizer`` (see the module docstring)."""
    threshold = scalar(np.float32(ctx.attr("threshold", 0.0)))
    ctx.emit(fmt("({} > {}).to({}.dtype)", ctx.t(0), threshold, ctx.t(0)))


@_register("ArrayFeatureExtractor", 1)
def array_feature_extractor(ctx: TorchContext) -> None:
    """ONNX ``ArrayFeatureExtractor`` (see the module docstring)."""
    index = ctx.ints(1)
    picked = fmt("{}[..., {}]", ctx.t(0), lit(index) if index is not None else fmt("{}.reshape(-1)", ctx.t(1)))
    if ctx.rank(0) == 1:  # a vector gives one row, as onnxruntime does
        picked = fmt("{}.reshape(1, -1)", picked)
    ctx.emit(picked)


@_register("LabelEncoder", 2)
def label_encoder(ctx: TorchContext) -> None:
    """ONNX ``LabelEncoder`` (see the module docstring)."""
    try:
        keys, values, default = label_tables(ctx.attrs)
    except ValueError as exc:
        ctx.fail(str(exc))
    if keys.dtype == object or values.dtype == object:
        ctx.fail("PyTorch has no string tensors: string keys or values cannot be converted")
    if keys.dtype.kind == "f":
        keys = keys.astype(np.dtype(NP_DTYPES.get(ctx.elem(0) or 0, np.float32)))
    key_table, value_table = _constant(ctx, keys, "label_keys"), _constant(ctx, values, "label_values")
    match = ctx.temp("match")
    ctx.line("{} = {}.unsqueeze(-1) == {}", match, ctx.t(0), key_table)
    found = fmt("{}[{}.int().argmax(-1)]", value_table, match)
    ctx.emit(fn("torch.where", fmt("{}.any(-1)", match), found, scalar(default[0])))


@_register("TreeEnsemble", 5)
def tree_ensemble(ctx: TorchContext) -> None:
    """ONNX ``TreeEnsemble`` (see the module docstring)."""
    if ctx.rank(0) != 2:
        ctx.fail(f"the features must be [N, F], got rank {ctx.rank(0)}")
    try:
        t = tree_tables(ctx.attrs, np.dtype(NP_DTYPES.get(ctx.elem(0) or 0, np.float32)))
    except ValueError as exc:
        ctx.fail(str(exc))
    arrays = t.arrays()
    names = ["tree_roots", "root_leafs", "features", "splits", "modes", "true_ids", "false_ids", "true_leafs",
             "false_leafs", "missing_true", "members", "leaf_targets", "leaf_weights"]
    tables = fmt("({})", join([_constant(ctx, a, f"trees_{n}") for a, n in zip(arrays, names)]))
    ctx.emit(fn(ctx.helper("onnx_tree_ensemble"), ctx.t(0), tables, lit(t.n_targets), lit(t.aggregate), lit(t.depth)))
