"""Hygiene fixes: remove inference no-ops, fold constants and BatchNorms, deduplicate and shrink weights,
and move big weights to external data."""

from __future__ import annotations

import numpy as np
import onnx
import onnx_ir as ir
from onnx_ir.passes.common import DeduplicateInitializersPass, RemoveUnusedNodesPass

from onnxbridge.checks.analysis import EXTERNAL_MARKER, FOLD_OUTPUT_LIMIT, batchnorm_fusions, float64_via_cast
from onnxbridge.checks.context import ModelContext
from onnxbridge.checks.fixes import FixRefused, fix_pass
from onnxbridge.checks.fixes._ir import bypass, quiet, read, run_ir
from onnxbridge.checks.rules._util import plural


def _removable_dropout(node: ir.Node) -> bool:
    if node.op_type != "Dropout" or node.domain != "":
        return False
    if len(node.outputs) > 1 and (node.outputs[1].uses() or node.outputs[1].is_graph_output()):
        return False
    training = node.inputs[2] if len(node.inputs) > 2 else None
    if training is not None:
        value = training.const_value
        if value is None or bool(np.asarray(value.numpy()).item()):
            return False
    return True


def _bypass_all(model: onnx.ModelProto, removable, what: str, refusal: str) -> tuple[onnx.ModelProto, str]:
    """Bypass (and so remove) every node for which ``removable(node)`` holds; refuse when there is none."""
    removed = 0

    def edit(m: ir.Model) -> bool:
        nonlocal removed
        for node in list(m.graph):
            if removable(node) and bypass(node):
                removed += 1
        return removed > 0

    out, _ = run_ir(model, edit)
    if not removed:
        raise FixRefused(refusal)
    return out, f"removed {plural(removed, what)}"


@fix_pass("remove-dropout", order=50)
def remove_dropout(model: onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """Remove Dropout nodes that are no-ops (inference mode, mask unused)."""
    return _bypass_all(model, _removable_dropout, "Dropout node", "no Dropout node can be removed safely")


@fix_pass("remove-identity", order=55)
def remove_identity(model: onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """Remove Identity nodes, keeping those ONNX needs (between a graph input and a graph output).

    onnx-ir's IdentityEliminationPass would also rename a tensor that is itself a graph output, losing
    that output, so the shared bypass helper (which keeps such nodes) does the work.
    """
    return _bypass_all(model, lambda n: n.op_type == "Identity" and n.domain == "" and len(n.inputs) == 1,
                       "Identity node", "no Identity node can be removed")


@fix_pass("store-float32", order=60)
def store_float32(model: onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """Store float64 weights that are only cast to float32 as float32, and drop those Casts."""
    ctx = ModelContext.from_model(model)
    names = {n for n, t in ctx.initializers.items() if t.data_type == onnx.TensorProto.DOUBLE
             and n not in ctx.graph_inputs and float64_via_cast(ctx, n)}
    if not names:
        raise FixRefused("no float64 weight is only cast to float32")
    casts = 0

    def edit(m: ir.Model) -> bool:
        nonlocal casts
        for name in names:
            value = m.graph.initializers[name]
            assert value.const_value is not None  # an initializer holds its tensor
            value.const_value = ir.tensor(value.const_value.numpy().astype(np.float32), name=name)
            value.dtype = ir.DataType.FLOAT
            for user, _ in list(value.uses()):
                if bypass(user):
                    casts += 1
        return True

    out, _ = run_ir(model, edit)
    return out, f"stored {plural(len(names), 'weight')} as float32 and removed {plural(casts, 'Cast node')}"


@fix_pass("fold-constants", order=70)
def fold_constants(model: onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """Fold subgraphs computed only from constants (onnxscript's optimizer), then drop what they leave unused."""
    from onnxscript.optimizer import fold_constants as fold

    before = len(model.graph.node)

    def edit(m: ir.Model) -> bool:
        fold(m, input_size_limit=FOLD_OUTPUT_LIMIT, output_size_limit=FOLD_OUTPUT_LIMIT)
        RemoveUnusedNodesPass()(m)
        return True

    out, _ = run_ir(model, edit)
    folded = before - len(out.graph.node)
    if folded <= 0:
        raise FixRefused("onnxscript's constant folding found nothing it can fold")
    return out, f"folded constant subgraphs ({plural(folded, 'node')} fewer)"


@fix_pass("fuse-batchnorm", order=75)
def fuse_batchnorm(model: onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """Fold BatchNormalization into the preceding Conv/ConvTranspose/Gemm (onnxscript's rewrite rules)."""
    from onnxscript.rewriter import rewrite
    from onnxscript.rewriter.rules.common import (
        fuse_batchnorm_into_conv_rule,
        fuse_batchnorm_into_conv_transpose_rule,
        fuse_batchnorm_into_gemm_rule,
    )

    pairs = batchnorm_fusions(ModelContext.from_model(model))
    if not pairs:
        raise FixRefused("no BatchNormalization directly follows a Conv/Gemm with constant weights")
    before = sum(1 for n in model.graph.node if n.op_type == "BatchNormalization")
    # the rewrite creates a new Conv/Gemm computing the BatchNorm's output: it keeps the old node's name
    names = {model.graph.node[bn].output[0]: model.graph.node[p].name for p, bn in pairs}
    with quiet():
        m = rewrite(read(model), pattern_rewrite_rules=[
            fuse_batchnorm_into_conv_rule, fuse_batchnorm_into_conv_transpose_rule, fuse_batchnorm_into_gemm_rule])
        out = ir.to_proto(m)
    taken = {n.name for n in out.graph.node}
    for node in out.graph.node:
        old = names.get(node.output[0]) if node.output else None
        if old and node.op_type in ("Conv", "ConvTranspose", "Gemm") and old not in taken:
            taken.discard(node.name)
            node.name = old
            taken.add(old)
    fused = before - sum(1 for n in out.graph.node if n.op_type == "BatchNormalization")
    if not fused:
        raise FixRefused("onnxscript's BatchNorm fusion rules did not match (e.g. unsupported attributes)")
    return out, f"folded {plural(fused, 'BatchNormalization node')} into the preceding Conv/Gemm"


@fix_pass("dedupe-initializers", order=80)
def dedupe_initializers(model: onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """Keep one copy of identical initializers (onnx-ir's DeduplicateInitializersPass)."""
    before = len(model.graph.initializer)
    out, modified = run_ir(model, DeduplicateInitializersPass())
    removed = before - len(out.graph.initializer)
    if not modified or not removed:
        raise FixRefused("no duplicated initializers")
    return out, f"removed {plural(removed, 'duplicated initializer')}"


@fix_pass("external-data", order=200)
def external_data(model: onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """Mark the model to be written with its weights as external data beside the .onnx file.

    The weights cannot move before the output path is known, so the model carries a metadata marker
    that ``write_model`` honours (and removes) when it writes the file.
    """
    if any(p.key == EXTERNAL_MARKER for p in model.metadata_props):
        raise FixRefused("the model is already marked for external data")
    out = onnx.ModelProto()
    out.CopyFrom(model)
    out.metadata_props.add(key=EXTERNAL_MARKER, value="true")
    return out, "the weights will be written as external data (<output>.data beside the .onnx file)"
