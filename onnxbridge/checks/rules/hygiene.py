"""Hygiene and numerics: broken or wasteful weights, inference-graph noise that can be folded away,
models too large for one file, and graph inputs that are really weights or captured state."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

import numpy as np
import onnx

from onnxbridge.checks.analysis import (
    EXTERNAL_MARKER,
    FOLD_OUTPUT_LIMIT,
    batchnorm_fusions,
    float64_via_cast,
    type_mismatches,
)
from onnxbridge.checks.context import FLOAT_TYPES, ModelContext
from onnxbridge.checks.registry import Finding, rule
from onnxbridge.checks.rules._util import agree, listing, plural
from onnxbridge.ir.io import PROTOBUF_LIMIT

_NONDETERMINISTIC = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
                     "Bernoulli", "Dropout"}
MIN_DUPLICATE_SIZE = 16  # elements: smaller duplicated initializers are not worth a diagnostic
_ARITHMETIC = {"MatMul", "Gemm", "Conv", "ConvTranspose", "Add", "Sub", "Mul", "Div", "BatchNormalization",
               "InstanceNormalization", "LayerNormalization", "Einsum", "Gather", "LSTM", "GRU", "RNN", "PRelu"}
# where a weight sits: op -> input positions
_WEIGHT_SLOTS = {"Conv": (1, 2), "ConvTranspose": (1, 2), "Gemm": (1, 2), "MatMul": (1,),
                 "BatchNormalization": (1, 2, 3, 4), "LayerNormalization": (1, 2), "InstanceNormalization": (1, 2),
                 "LSTM": (1, 2, 3), "GRU": (1, 2, 3), "RNN": (1, 2, 3), "Gather": (0,), "PRelu": (1,)}
_TENSOR_STYLE = re.compile(r"(:\d+$)|ReadVariableOp|/read$|^(p|b|c)_[A-Za-z]|Variable")


@rule("OB401", family="hygiene", level="error")
def non_finite_weights(ctx: ModelContext) -> Iterator[Finding]:
    """Weights containing NaN or infinity (a training run diverged, or a conversion overflowed)."""
    for name, t in ctx.initializers.items():
        if t.data_type not in FLOAT_TYPES:
            continue
        arr = ctx.array(name)
        if arr is None or arr.size == 0:
            continue
        bad = ~np.isfinite(arr.astype(np.float32) if arr.dtype == np.float16 else arr)
        count = int(bad.sum())
        if count:
            nans = int(np.isnan(arr).sum())
            users = [ctx.label(i) for i in ctx.consumers.get(name, ())]
            yield Finding(f"initializer {name!r} {list(arr.shape)} holds {count} non-finite value(s) "
                          f"({nans} NaN, {count - nans} inf) of {arr.size}; every output that depends on it will "
                          "be NaN or inf", tensors=(name,), nodes=tuple(users),
                          suggestion="retrain or reload the weights from the last good checkpoint; if the export "
                                     "overflowed (float16), export in float32")


@rule("OB402", family="hygiene", level="warning", fix="store-float32",
      fix_description="store the weights as float32 and drop the Cast nodes that converted them")
def float64_weights(ctx: ModelContext) -> Iterator[Finding]:
    """float64 weights in a float32 model: twice the size, and a Cast (or a type error) at every use."""
    if ctx.float_precision != onnx.TensorProto.FLOAT:
        return
    already = {n for _, info in type_mismatches(ctx) for n, _ in info["wrong"]}  # OB201 explains those
    doubles = [n for n, t in ctx.initializers.items() if t.data_type == onnx.TensorProto.DOUBLE
               and n not in already and n not in ctx.graph_inputs]
    if not doubles:
        return
    fixable = [n for n in doubles if float64_via_cast(ctx, n)]
    other = [n for n in doubles if n not in fixable]
    if fixable:
        yield Finding(f"{plural(len(fixable), 'initializer')} {agree(len(fixable), 'is', 'are')} stored as float64 in a float32 model and "
                      f"converted by a Cast at run time: {listing(fixable)}", tensors=tuple(fixable),
                      suggestion="store them as float32 (half the size, no Cast nodes)")
    if other:
        yield Finding(f"{plural(len(other), 'initializer')} {agree(len(other), 'is', 'are')} float64 in a float32 model and feed float64 "
                      f"computations: {listing(other)}", tensors=tuple(other), fixable=False,
                      suggestion="export the model in float32 (e.g. model.float() in PyTorch before export)")


@rule("OB403", family="hygiene", level="suggestion", fix="dedupe-initializers",
      fix_description="keep one copy of each duplicated initializer and point every user at it")
def duplicate_initializers(ctx: ModelContext) -> Iterator[Finding]:
    """Initializers with identical type, shape and values stored more than once (16+ elements, not all equal)."""
    groups: dict[tuple, list[str]] = {}
    for name, t in ctx.initializers.items():
        if name in ctx.graph_inputs or t.data_location == onnx.TensorProto.EXTERNAL:
            continue
        arr = ctx.array(name)
        # tiny tensors (shape constants, scalars) and single-valued ones (fresh zeros/ones of an untrained
        # model, meant to diverge in training) cost nothing and are often meant to stay separate
        if arr is None or arr.size < MIN_DUPLICATE_SIZE or (arr == arr.flat[0]).all():
            continue
        key = (t.data_type, tuple(t.dims), hashlib.blake2b(np.ascontiguousarray(arr).tobytes(), digest_size=16).digest())
        groups.setdefault(key, []).append(name)
    for (dtype, dims, _), names in groups.items():
        if len(names) > 1:
            size = int(np.prod(dims)) if dims else 1
            yield Finding(f"{len(names)} initializers hold the same {list(dims)} "
                          f"{onnx.TensorProto.DataType.Name(dtype).lower()} values ({size} element(s) each): "
                          f"{listing(names)}", tensors=tuple(names),
                          suggestion=f"keep {names[0]!r} and point the users of the others at it")


@rule("OB404", family="hygiene", level="suggestion", fix="remove-identity",
      fix_description="remove Identity nodes (consumers read the original tensor)")
def identity_nodes(ctx: ModelContext) -> Iterator[Finding]:
    """Identity nodes (and chains of them): no-ops an exporter left behind."""
    found = []
    for i, node in enumerate(ctx.nodes):
        if node.op_type != "Identity" or node.domain not in ("", "ai.onnx") or not node.input:
            continue
        if node.output[0] in ctx.output_names and node.input[0] in ctx.graph_inputs:
            continue  # ONNX needs a node between a graph input and a graph output
        found.append(i)
    if found:
        chained = sum(1 for i in found if any(ctx.nodes[p].op_type == "Identity"
                                              for p in ctx.producers.get(ctx.nodes[i].input[0], ())))
        chain = f", {chained} of them chained after another Identity" if chained else ""
        yield Finding(f"{plural(len(found), 'Identity node')} {agree(len(found), 'copies', 'copy')} tensors for nothing{chain}: "
                      f"{listing(ctx.label(i) for i in found)}", nodes=tuple(ctx.label(i) for i in found),
                      suggestion="remove them; consumers can read the original tensors")


@rule("OB405", family="hygiene", level="suggestion", fix="remove-dropout",
      fix_description="remove Dropout nodes (they do nothing at inference)")
def dropout_nodes(ctx: ModelContext) -> Iterator[Finding]:
    """Dropout in an inference graph: it does nothing but costs a copy."""
    removable: list[int] = []
    kept: list[int] = []
    for i, node in enumerate(ctx.nodes):
        if node.op_type != "Dropout" or node.domain not in ("", "ai.onnx"):
            continue
        training = node.input[2] if len(node.input) > 2 and node.input[2] else None
        mask_used = len(node.output) > 1 and node.output[1] and (
            node.output[1] in ctx.consumers or node.output[1] in ctx.output_names)
        train_const = training is not None and not (ctx.is_constant(training) and not bool(ctx.array(training)))
        (kept if mask_used or train_const else removable).append(i)
    if removable:
        yield Finding(f"{plural(len(removable), 'Dropout node')} in an inference graph {agree(len(removable), 'does', 'do')} nothing: "
                      f"{listing(ctx.label(i) for i in removable)}", nodes=tuple(ctx.label(i) for i in removable),
                      suggestion="remove them (export with model.eval() / training=False to avoid them)")
    if kept:
        yield Finding(f"{plural(len(kept), 'Dropout node')} {agree(len(kept), 'uses', 'use')} a training mode input or a mask output, so they "
                      f"may not be no-ops: {listing(ctx.label(i) for i in kept)}", fixable=False,
                      nodes=tuple(ctx.label(i) for i in kept),
                      suggestion="export the model in inference mode so Dropout becomes a no-op")


def foldable_nodes(ctx: ModelContext) -> list[int]:
    """Nodes whose inputs are all constants (initializers, Constant outputs, other foldable results).

    Identity nodes are OB404's; they pass constness on without being reported here.
    """
    constant = {n for n in ctx.initializers if n not in ctx.graph_inputs}
    for node in ctx.nodes:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            constant.update(node.output)
    for node in ctx.nodes:  # constness flows through Identity copies
        if node.op_type == "Identity" and node.input and node.input[0] in constant:
            constant.update(node.output)
    found: list[int] = []
    seen: set[int] = set()
    changed = True
    while changed:  # one pass suffices for a sorted graph; more only for unsorted ones
        changed = False
        for i, node in enumerate(ctx.nodes):
            if i in seen or node.op_type in ("Constant", "Identity") or node.op_type in _NONDETERMINISTIC \
                    or ctx.is_local_function(node) or node.domain not in ("", "ai.onnx"):
                continue
            ins = [n for n in node.input if n]
            if not ins or any(n not in constant for n in ins) or any(
                    a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
                continue
            if any(_too_big(ctx, o) for o in node.output):
                continue
            seen.add(i)
            found.append(i)
            constant.update(node.output)
            changed = True
    return sorted(found)


def _too_big(ctx: ModelContext, name: str) -> bool:
    shape = ctx.shape(name)
    if shape is None or any(not isinstance(d, int) for d in shape):
        return False
    return int(np.prod([d for d in shape if isinstance(d, int)])) > FOLD_OUTPUT_LIMIT if shape else False


@rule("OB406", family="hygiene", level="suggestion", fix="fold-constants",
      fix_description="compute constant subgraphs once and store their results as initializers")
def foldable_constants(ctx: ModelContext) -> Iterator[Finding]:
    """Subgraphs that only compute on constants: they can be computed once, ahead of time."""
    # a Cast of a float64 weight in a float32 model is OB402's (storing the weight as float32 removes it)
    found = [i for i in foldable_nodes(ctx) if not (
        ctx.nodes[i].op_type == "Cast" and ctx.float_precision == onnx.TensorProto.FLOAT
        and ctx.initializers.get(ctx.nodes[i].input[0]) is not None
        and ctx.initializers[ctx.nodes[i].input[0]].data_type == onnx.TensorProto.DOUBLE
        and float64_via_cast(ctx, ctx.nodes[i].input[0]))]
    if found:
        ops = sorted({ctx.nodes[i].op_type for i in found})
        yield Finding(f"{plural(len(found), 'node')} ({', '.join(ops)}) {agree(len(found), 'computes', 'compute')} only on constants and can be "
                      f"folded: {listing(ctx.label(i) for i in found)}", nodes=tuple(ctx.label(i) for i in found),
                      suggestion="fold them ahead of time (onnxbridge check --fix, or onnxscript's optimizer)")


@rule("OB407", family="hygiene", level="suggestion", fix="fuse-batchnorm",
      fix_description="fold BatchNormalization into the weights and bias of the preceding Conv/Gemm")
def foldable_batchnorm(ctx: ModelContext) -> Iterator[Finding]:
    """BatchNormalization right after a Conv/Gemm with constant weights: it can be folded into them."""
    for p, i in batchnorm_fusions(ctx):
        yield Finding(f"{ctx.describe(i)} follows {ctx.describe(p)} and can be folded into its weights and bias "
                      "(one op instead of two at inference)", nodes=(ctx.label(i), ctx.label(p)),
                      suggestion=f"fold {ctx.label(i)!r} into {ctx.label(p)!r}: W' = W*gamma/sqrt(var+eps), "
                                 "b' = (b-mean)*gamma/sqrt(var+eps)+beta")


def inline_bytes(model: onnx.ModelProto) -> int:
    """Bytes of tensor data stored inside the protobuf (initializers and Constant nodes of the main graph)."""
    total = 0
    for t in model.graph.initializer:
        if t.data_location != onnx.TensorProto.EXTERNAL:
            total += t.ByteSize()
    for node in model.graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR and attr.t.data_location != onnx.TensorProto.EXTERNAL:
                total += attr.t.ByteSize()
    return total


@rule("OB408", family="hygiene", level="error", fix="external-data",
      fix_description="save the weights as external data beside the .onnx file")
def needs_external_data(ctx: ModelContext) -> Iterator[Finding]:
    """The model holds more than 2 GB of inline data: protobuf cannot write it as one file."""
    if ctx.options.get("stored_external") or any(p.key == EXTERNAL_MARKER for p in ctx.model.metadata_props):
        return  # the file keeps (or will keep) its weights outside the protobuf
    limit = int(ctx.options.get("size_limit", PROTOBUF_LIMIT))
    size = inline_bytes(ctx.model)
    if size > limit:
        yield Finding(f"the model holds {size / 2**30:.2f} GiB of inline tensor data ({size} bytes), over the "
                      f"{limit / 2**30:.2f} GiB a single protobuf file can hold; it cannot be saved as one file",
                      suggestion="save it with external data: onnx.save_model(model, path, "
                                 "save_as_external_data=True, location='model.onnx.data')")


@rule("OB409", family="hygiene", level="warning")
def captured_state_inputs(ctx: ModelContext) -> Iterator[Finding]:
    """Graph inputs that look like weights or captured variables rather than data (an exporter failure mode)."""
    if len(ctx.real_inputs) < 2:
        return
    for vi in ctx.real_inputs:
        tt = vi.type.tensor_type
        if tt.elem_type not in FLOAT_TYPES or not tt.HasField("shape"):
            continue
        static = all(d.HasField("dim_value") for d in tt.shape.dim)
        users = ctx.consumers.get(vi.name, [])
        if not static or not users or any(ctx.nodes[i].op_type not in _ARITHMETIC for i in users):
            continue
        in_weight_slot = all(any(pos < len(ctx.nodes[i].input) and ctx.nodes[i].input[pos] == vi.name
                                 for pos in _WEIGHT_SLOTS.get(ctx.nodes[i].op_type, ())) for i in users)
        tensor_style = bool(_TENSOR_STYLE.search(vi.name))
        if not (tensor_style or in_weight_slot):
            continue
        why = "its name is a framework tensor/variable name" if tensor_style else "it sits where weights go"
        yield Finding(f"graph input {vi.name!r} {_shape_text(vi)} looks like a weight or captured state rather than "
                      f"data ({why}, and it only feeds {listing(ctx.describe(i) for i in users)}); callers would "
                      "have to feed the trained values on every call", tensors=(vi.name,),
                      nodes=tuple(ctx.label(i) for i in users),
                      suggestion="freeze it: export from a frozen graph/with the variables captured as constants "
                                 "(tf2onnx from_function on a tf.function, torch.onnx.export of the module), or "
                                 "supply its value as an initializer; if it really is an input, ignore this")


def _shape_text(vi: onnx.ValueInfoProto) -> str:
    dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in vi.type.tensor_type.shape.dim]
    return "[" + ", ".join(str(d) for d in dims) + "]"
