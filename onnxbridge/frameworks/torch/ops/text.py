"""Text features: TfIdfVectorizer over integer tokens (n-gram counts with skips, as vectorised window
comparisons). PyTorch has no string tensors, so string pools and the string ops are refused."""

from __future__ import annotations

from onnxbridge.codegen.writer import lit
from onnxbridge.frameworks.torch.context import TorchContext, fn
from onnxbridge.frameworks.torch.helpers import define
from onnxbridge.frameworks.torch.registry import TORCH_OPS
from onnxbridge.ir.ml_tables import tfidf_pools

TFIDF = define("_tfidf_vectorizer", '''
def _tfidf_vectorizer(x, pools, output_size, max_skip=0, mode="TF", weights=None):
    """ONNX TfIdfVectorizer: how often each pool n-gram occurs in each row of tokens (items skip_distance
    apart, for every distance up to max_skip + 1; unigrams once), as counts (TF), weights where present
    (IDF) or weighted counts (TFIDF), at each n-gram's output position."""
    rows = x if x.dim() == 2 else x.reshape(1, -1)
    counts = torch.zeros(rows.shape[0], output_size, device=x.device)
    for size, grams, where in pools:
        grams = torch.tensor(grams, dtype=rows.dtype, device=x.device)
        spread = F.one_hot(torch.tensor(where, device=x.device), output_size).float()
        for distance in range(1, max_skip + 2) if size > 1 else [1]:
            span = (size - 1) * distance + 1
            if span > rows.shape[1]:
                break
            windows = rows.unfold(1, span, 1)[..., ::distance]
            hits = (windows[:, :, None, :] == grams[None, None]).all(-1)
            counts = counts + hits.sum(1).float() @ spread
    if mode != "TF":
        weights = torch.ones(output_size, device=x.device) if weights is None else torch.tensor(weights, device=x.device)
        counts = counts * weights if mode == "TFIDF" else torch.where(counts > 0, weights, 0.0)
    return counts if x.dim() == 2 else counts[0]
''')


@TORCH_OPS.register("TfIdfVectorizer", since=9)
def tfidf_vectorizer(ctx: TorchContext) -> None:
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
    ctx.emit(fn(ctx.helper(TFIDF), ctx.t(0), lit(pools), lit(width), **kwargs))
