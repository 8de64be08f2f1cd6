"""Spec rules, in layer terms: structure problems, and each kind of layer shape problem with its own code
(the layer shape rules raise ``LayerShapeError(needs, suggestion, code=...)``), plus unused layers.

These are what the browser builder shows live next to each layer.
"""

from __future__ import annotations

from collections.abc import Iterator

from onnxbridge.checks.analysis import unused_layers
from onnxbridge.checks.registry import Finding, rule
from onnxbridge.checks.spec import SpecContext, layer_of


@rule("OB500", family="spec", level="error", scope="spec")
def spec_structure(ctx: SpecContext) -> Iterator[Finding]:
    """The spec does not resolve: unknown layer types, bad parameters, dangling references, cycles."""
    for problem in ctx.structure:
        suggestion = None
        if "unknown layer type" in problem:
            suggestion = "use a type from 'onnxbridge layers' or define a block with that name"
        elif "does not name a layer" in problem:
            suggestion = "point 'input' at an existing layer id or graph input"
        elif "cycle" in problem:
            suggestion = "break the cycle: a layer cannot depend on its own output"
        elif "parameter" in problem:
            suggestion = "fix the parameter (see 'onnxbridge layers TYPE' for what each layer accepts)"
        yield Finding(problem, layers=layer_of(problem), suggestion=suggestion)


def _layer_findings(ctx: SpecContext, code: str, default_hint: str) -> Iterator[Finding]:
    for p in ctx.layer_problems:
        if p.code == code:
            yield Finding(p.message, layers=(p.path,), suggestion=p.suggestion or default_hint,
                          fixable=p.top_level)


@rule("OB501", family="spec", level="error", scope="spec", fix="insert-flatten",
      fix_description="insert a Flatten layer before it")
def dense_after_nd(ctx: SpecContext) -> Iterator[Finding]:
    """A dense layer (Linear) receives a tensor with spatial dims (e.g. 4-D after a convolution)."""
    for p in ctx.layer_problems:
        if p.code == "OB501":
            yield Finding(p.message, layers=(p.path,), suggestion=p.suggestion or "insert a Flatten before it",
                          fixable=p.top_level and bool(p.in_ranks) and p.in_ranks[0] > 3)


@rule("OB502", family="spec", level="error", scope="spec")
def merge_mismatch(ctx: SpecContext) -> Iterator[Finding]:
    """An element-wise merge (Add, Mul...) receives tensors whose shapes differ (e.g. channels at a shortcut)."""
    yield from _layer_findings(ctx, "OB502", "project the shortcut with a 1x1 Conv so the channels match")


@rule("OB503", family="spec", level="error", scope="spec")
def kernel_too_large(ctx: SpecContext) -> Iterator[Finding]:
    """A convolution or pooling window is larger than its (padded) input."""
    yield from _layer_findings(ctx, "OB503", "use a smaller kernel_size or add padding")


@rule("OB504", family="spec", level="error", scope="spec")
def pooled_to_zero(ctx: SpecContext) -> Iterator[Finding]:
    """A pooling layer shrinks a spatial dimension to zero."""
    yield from _layer_findings(ctx, "OB504", "remove this pooling or an earlier downsampling layer")


@rule("OB505", family="spec", level="error", scope="spec")
def recurrent_rank(ctx: SpecContext) -> Iterator[Finding]:
    """A recurrent layer (LSTM, GRU, RNN) is fed data that is not [batch, seq, features] (e.g. 4-D images)."""
    yield from _layer_findings(ctx, "OB505", "reshape the input to [batch, seq, features] first")


@rule("OB506", family="spec", level="error", scope="spec")
def spatial_rank(ctx: SpecContext) -> Iterator[Finding]:
    """A convolution, pooling or normalisation layer gets a tensor of the wrong rank (e.g. 2-D into Conv2d)."""
    yield from _layer_findings(ctx, "OB506", "reshape the input to [batch, channels, spatial...]")


@rule("OB507", family="spec", level="error", scope="spec")
def layer_dtype(ctx: SpecContext) -> Iterator[Finding]:
    """A layer gets the wrong element type (e.g. token ids into a float layer, or floats into an Embedding)."""
    yield from _layer_findings(ctx, "OB507", "insert an Embedding for token ids, or fix the input's dtype")


@rule("OB509", family="spec", level="error", scope="spec")
def other_layer_problem(ctx: SpecContext) -> Iterator[Finding]:
    """Any other layer shape problem (the message says what the layer needs)."""
    yield from _layer_findings(ctx, "OB509", "change the layer's parameters or its input to match")


@rule("OB520", family="spec", level="warning", scope="spec", fix="remove-unused-layers",
      fix_description="delete layers whose output nothing reads")
def unused_layer(ctx: SpecContext) -> Iterator[Finding]:
    """A layer whose output no other layer and no graph output reads (computed for nothing)."""
    for layer_id in unused_layers(ctx):
        yield Finding(f"layer {layer_id} is computed but nothing reads its output", layers=(layer_id,),
                      suggestion=f"remove {layer_id}, or use it: set another layer's 'input' to {layer_id!r} or "
                                 "add it to 'outputs'")
