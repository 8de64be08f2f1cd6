"""Shape and type rules: ONNX shape inference in plain words (every independent error), operand type
mismatches with the cast to insert, and hard-coded batch dimensions."""

from __future__ import annotations

import re
from collections.abc import Iterator

import onnx

from onnxbridge.checks.analysis import checker_problems, fixed_batch, type_mismatches
from onnxbridge.checks.context import FLOAT_TYPES, ModelContext, type_name
from onnxbridge.checks.registry import Finding, rule
from onnxbridge.checks.rules._util import listing

_BROADCAST_OPS = {"Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Mean", "Sum", "Equal", "Less",
                  "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Where", "PRelu",
                  "BitShift", "Expand"}
_TYPE_WORDS = ("inconsistent type", "bound to different types", "type mismatch")
_EXPLAINED_ELSEWHERE = ("No Op registered", "is not a registered function/op", "No opset import for domain")


@rule("OB200", family="shapes", level="error")
def shape_inference(ctx: ModelContext) -> Iterator[Finding]:
    """ONNX shape inference fails at a node; every independent failure is reported with the shapes involved."""
    if not ctx.inference_problems:
        return
    by_name: dict[str, list[int]] = {}
    for i, n in enumerate(ctx.nodes):
        by_name.setdefault(n.name, []).append(i)
    # nodes another rule already explains (type mismatches, checker errors) are not reported twice
    mismatched = {ctx.label(i) for i, _ in type_mismatches(ctx)} | {ctx.label(i) for i, _ in checker_problems(ctx)[1]}
    for p in ctx.inference_problems:
        if any(w in p.message for w in _TYPE_WORDS + _EXPLAINED_ELSEWHERE):
            continue  # explained by OB201 / OB112 / OB113
        idx = [i for i in by_name.get(p.node, []) if not p.op_type or ctx.nodes[i].op_type == p.op_type]
        if not p.node and not p.op_type:
            yield Finding(f"shape inference failed: {p.message}",
                          suggestion="check the declared shapes of the inputs, outputs and value_info")
            continue
        if not idx:  # e.g. a node inside a local function
            yield Finding(f"node {p.node!r} ({p.op_type}): {_lower_first(p.message)}",
                          nodes=(p.node,) if p.node else (),
                          suggestion=f"compare its inputs with what {p.op_type} accepts: "
                                     f"https://onnx.ai/onnx/operators/onnx__{p.op_type}.html")
            continue
        i = idx[0]
        if ctx.label(i) in mismatched:
            continue
        message, suggestion = explain(ctx, i, p.message)
        yield Finding(f"{ctx.describe(i)}: {message}", nodes=(ctx.label(i),),
                      tensors=tuple(n for n in ctx.nodes[i].input if n), suggestion=suggestion)


def explain(ctx: ModelContext, i: int, message: str) -> tuple[str, str]:
    """Turn an ONNX inference message into plain words with the input shapes, and say what to do."""
    node = ctx.nodes[i]
    ins = [n for n in node.input if n]
    shapes = ", ".join(f"{n} {ctx.shape_text(n)}" for n in ins)
    op = node.op_type
    if op in ("MatMul", "Gemm") and len(ins) >= 2:
        a, b = ctx.shape(ins[0]), ctx.shape(ins[1])
        if a and b:
            attrs = {x.name: x.i for x in node.attribute}
            ka = a[-2] if op == "Gemm" and attrs.get("transA") else a[-1]
            kb = b[-1] if op == "Gemm" and attrs.get("transB") else (b[-2] if len(b) >= 2 else b[-1])
            return (f"cannot multiply {ins[0]} {ctx.shape_text(ins[0])} by {ins[1]} {ctx.shape_text(ins[1])}: "
                    f"the inner dimensions {ka} and {kb} must be equal",
                    f"make the inner dimensions agree: check the weight's orientation (transpose {ins[1]!r}?) "
                    f"or the Flatten/Reshape before this node")
    if op in _BROADCAST_OPS and len(ins) >= 2:
        return (f"cannot broadcast {shapes} together: each trailing dimension must be equal or 1",
                "reshape or transpose one operand so the shapes line up (numpy broadcasting rules)")
    if op == "Concat":
        axis = next((x.i for x in node.attribute if x.name == "axis"), None)
        return (f"cannot concatenate {shapes} on axis {axis}: all other dimensions must be equal",
                "make the non-concatenated dimensions agree (resize, pad or project one input)")
    if op == "Reshape" and len(ins) == 2:
        return (f"cannot reshape {ins[0]} {ctx.shape_text(ins[0])}: {_lower_first(message)}",
                "the target shape must hold the same number of elements; use -1 for one dimension to infer it")
    if op in ("Conv", "ConvTranspose") and len(ins) >= 2:
        return (f"{_lower_first(message)} (input {ins[0]} {ctx.shape_text(ins[0])}, weight {ins[1]} "
                f"{ctx.shape_text(ins[1])})",
                "the weight's input channels (times group) must equal the input's channels (dimension 1), "
                "and the input must be N, C, spatial...")
    return f"{_lower_first(message)} (inputs: {shapes or 'none'})", \
        f"compare the input shapes with what {op} accepts: https://onnx.ai/onnx/operators/onnx__{op}.html"


def _lower_first(text: str) -> str:
    text = re.sub(r"^\[\w+\]\s*", "", text.strip())
    return text[:1].lower() + text[1:] if text else text


# ---- types ---------------------------------------------------------------------------------------------


@rule("OB201", family="shapes", level="error", fix="insert-cast",
      fix_description="convert constant operands to the expected type, or insert a Cast before the node")
def operand_types(ctx: ModelContext) -> Iterator[Finding]:
    """Operands of one node that must share a type do not (e.g. a float64 bias added to float32 data)."""
    for i, info in type_mismatches(ctx):
        node = ctx.nodes[i]
        expected = info["expected"]
        to = onnx.TensorProto.DataType.Name(expected)
        wrong = info["wrong"]
        parts = [f"{n} is {type_name(et)}" for n, et in wrong]
        fixes = []
        for n, _ in wrong:
            if ctx.is_constant(n):
                fixes.append(f"store {n!r} as {type_name(expected)}")
            else:
                fixes.append(f"insert Cast(to={to}) on {n!r} before {ctx.label(i)!r}")
        yield Finding(f"{ctx.describe(i)} mixes element types: {', '.join(parts)} but the other operand is "
                      f"{type_name(expected)}; {node.op_type} needs them equal, so onnxruntime refuses the model",
                      nodes=(ctx.label(i),), tensors=tuple(n for n, _ in wrong),
                      suggestion="; ".join(fixes))


# ---- batch ---------------------------------------------------------------------------------------------


@rule("OB202", family="shapes", level="warning", fix="symbolic-batch", changes_outputs=False,
      fix_description="make dimension 0 of the inputs and outputs a symbolic 'batch' (checked by running "
                      "a larger batch against the original, sample by sample)")
def hard_coded_batch(ctx: ModelContext) -> Iterator[Finding]:
    """Inputs and outputs have a fixed batch dimension, so the model only runs on exactly that batch size."""
    if not ctx.real_inputs or any(vi.type.tensor_type.elem_type not in FLOAT_TYPES + (onnx.TensorProto.INT64,
                                                                                       onnx.TensorProto.INT32)
                                  for vi in ctx.real_inputs):
        return
    batch = fixed_batch(ctx)
    if batch is None:
        return
    names = [vi.name for vi in ctx.real_inputs] + [o.name for o in ctx.graph_outputs]
    yield Finding(f"the batch dimension is fixed to {batch} on {listing(names)}; the model rejects any other "
                  "batch size", tensors=tuple(names),
                  suggestion="make dimension 0 symbolic (e.g. 'batch'); when exporting from PyTorch pass "
                             "dynamic_shapes/dynamic_axes, from TensorFlow use None in the input signature")
