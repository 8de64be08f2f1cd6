"""Text features: TfIdfVectorizer over integer tokens (n-gram counts with skips, as vectorised window
comparisons). PyTorch has no string tensors, so string pools and the string ops are refused."""

from __future__ import annotations

from onnxbridge.codegen.writer import lit
from onnxbridge.frameworks.torch.context import TorchContext, fn
from onnxbridge.frameworks.torch.registry import TORCH_OPS
from onnxbridge.ir.ml_tables import tfidf_pools


@TORCH_OPS.register("TfIdfVectorizer", since=9)
def tfidf_vectorizer(ctx: TorchContext) -> None:
    """ONNX ``TfIdfVectorizer`` (see the module docstring)."""
    if "pool_strings" in ctx.attrs:
        ctx.fail("PyTorch has no string tensors: a pool of strings cannot be converted")
    try:
        pools, width = tfidf_pools(ctx.attrs)
    except (KeyError, ValueError) as exc:
        ctx.fail(f"the n-gram pool is not complete: {exc}")
    mode = ctx.attr("mode", "TF")
    if mode not in ("TF", "IDF", "TFIDF"):
        ctx.fail(f"mode {mode!r} is not TF, IDF or TFIDF")
    if ctx.rank(0) not in (1, 2):
        ctx.fail("the tokens must be [C] or [N, C]")
    kwargs = {}
    if int(ctx.attr("max_skip_count", 0)):
        kwargs["max_skip"] = lit(int(ctx.attr("max_skip_count")))
    if mode != "TF":
        kwargs["mode"] = lit(mode)
    if ctx.attr("weights") is not None:
        kwargs["weights"] = lit([float(w) for w in ctx.attr("weights")])
    ctx.emit(fn(ctx.helper("onnx_tfidf_vectorizer"), ctx.t(0), lit(pools), lit(width), **kwargs))
