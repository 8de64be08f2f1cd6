"""Shape and type fixes: casts for mismatched operands, and a symbolic batch dimension."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from onnxbridge.checks.analysis import fixed_batch, type_mismatches
from onnxbridge.checks.context import ModelContext, type_name
from onnxbridge.checks.fixes import FixRefused, fix_pass
from onnxbridge.checks.rules._util import listing, unique_name

BATCH_DIM = "batch"


@fix_pass("insert-cast", order=35)
def insert_cast(model: onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """Make operands agree: convert constant operands to the expected type, or insert a Cast before the node."""
    ctx = ModelContext.from_model(model)
    mismatches = type_mismatches(ctx)
    if not mismatches:
        raise FixRefused("no operand type mismatch")
    # a constant is converted in place only if every node that reads it wants the same new type
    wanted: dict[str, set[int]] = {}  # operand -> the types its readers expect
    wrong_at: dict[str, set[int]] = {}  # operand -> the nodes where it has the wrong type
    for i, info in mismatches:
        for name, _ in info["wrong"]:
            wanted.setdefault(name, set()).add(info["expected"])
            wrong_at.setdefault(name, set()).add(i)
    convertible = {n for n in wanted if ctx.is_constant(n) and len(wanted[n]) == 1
                   and set(ctx.consumers.get(n, ())) <= wrong_at[n]}
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    inits = {t.name: t for t in g.initializer}
    done = []
    for name in sorted(convertible):
        t = inits[name]
        to = next(iter(wanted[name]))
        arr = numpy_helper.to_array(t).astype(onnx.helper.tensor_dtype_to_np_dtype(to))
        t.CopyFrom(numpy_helper.from_array(arr, name))
        done.append(f"stored {name!r} as {type_name(to)}")
    taken = {n for node in g.node for n in list(node.input) + list(node.output)} | set(inits)
    new_nodes: list[onnx.NodeProto] = []
    targets = {i: info for i, info in mismatches}
    for i, node in enumerate(g.node):
        target = targets.get(i)
        if target is not None:
            for name, _ in info["wrong"]:
                if name in convertible:
                    continue
                cast_out = unique_name(f"{name}_as_{type_name(info['expected'])}", taken)
                cast_name = unique_name(f"{node.name or node.op_type}_cast_{name}", taken)
                new_nodes.append(helper.make_node("Cast", [name], [cast_out], name=cast_name, to=info["expected"]))
                for pos, inp in enumerate(node.input):
                    if inp == name:
                        node.input[pos] = cast_out
                done.append(f"inserted Cast(to={onnx.TensorProto.DataType.Name(info['expected'])}) on {name!r}")
        new_nodes.append(node)
    del g.node[:]
    g.node.extend(new_nodes)
    # declared types of the converted constants are stale now
    keep = [vi for vi in g.value_info if vi.name not in convertible]
    del g.value_info[:]
    g.value_info.extend(keep)
    return out, "; ".join(done)


@fix_pass("symbolic-batch", order=100)
def symbolic_batch(model: onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """Make dimension 0 of the inputs and outputs symbolic, and check it against the original.

    Reshape targets that repeat the fixed batch size get -1 (or 0, "copy", when -1 is taken). The result is
    accepted only if a batch of twice the size gives, sample block by sample block, the original's
    outputs — so a batch size baked in anywhere else makes the fix refuse instead of breaking the model.
    """
    ctx = ModelContext.from_model(model)
    batch = fixed_batch(ctx)
    if batch is None:
        raise FixRefused("the batch dimension is not fixed on every input and output")
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    inits = {t.name: t for t in g.initializer}
    for vi in list(g.input) + list(g.output):
        if vi.name in inits or not vi.type.tensor_type.HasField("shape"):
            continue
        dims = vi.type.tensor_type.shape.dim
        if dims and dims[0].HasField("dim_value") and dims[0].dim_value == batch:
            dims[0].dim_param = BATCH_DIM
    del g.value_info[:]  # intermediate shapes carry the old batch; inference recomputes them
    reshapes = _free_reshapes(ctx, out, batch)
    _verify_batch(model, out, batch)
    extra = f"; Reshape targets of {listing(reshapes)} now follow the batch" if reshapes else ""
    return out, f"made dimension 0 of the inputs and outputs symbolic ('{BATCH_DIM}', was {batch}){extra}"


def _free_reshapes(ctx: ModelContext, out: onnx.ModelProto, batch: int) -> list[str]:
    """Reshape nodes whose constant target starts with the batch size now start with 0 (copy dim 0)."""
    inits = {t.name: t for t in out.graph.initializer}
    changed = []
    for i, node in enumerate(out.graph.node):
        if node.op_type != "Reshape" or len(node.input) < 2 or node.input[1] not in inits:
            continue
        allowzero = any(a.name == "allowzero" and a.i for a in node.attribute)
        shape_in = ctx.shape(node.input[0])
        target = numpy_helper.to_array(inits[node.input[1]])
        if target.ndim != 1 or not target.size or int(target[0]) != batch or not shape_in or shape_in[0] != batch:
            continue
        if len(ctx.consumers.get(node.input[1], ())) > 1:
            continue  # shared target: leave it (the check below decides whether the fix holds)
        fixed = target.copy()
        if -1 not in target:
            fixed[0] = -1  # "whatever is left": the batch, as the other dims are given
        elif not allowzero:
            fixed[0] = 0  # "copy dimension 0 of the input"
        else:
            continue
        inits[node.input[1]].CopyFrom(numpy_helper.from_array(fixed.astype(np.int64), node.input[1]))
        changed.append(ctx.label(i))
    return changed


def _verify_batch(original: onnx.ModelProto, fixed: onnx.ModelProto, batch: int) -> None:
    from onnxbridge.checks.verify import RunFailed, run
    from onnxbridge.testing import compare_outputs, random_inputs

    try:
        onnx.checker.check_model(fixed, full_check=True)
    except Exception as exc:  # noqa: BLE001
        raise FixRefused(f"with a symbolic batch the model no longer checks: {str(exc).splitlines()[0]}") from None
    chunks = [random_inputs(original, seed=s) for s in (1, 2)]
    try:
        expected = [run(original, c) for c in chunks]
    except RunFailed as exc:
        raise FixRefused(f"the original model does not run in onnxruntime, so the fix cannot be checked ({exc})") from None
    joined = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    try:
        actual = run(fixed, joined)
    except RunFailed as exc:
        raise FixRefused(f"a batch of {2 * batch} does not run: something else hard-codes batch {batch} ({exc})") from None
    names = [o.name for o in original.graph.output]
    stacked = [np.concatenate([e[k] for e in expected]) for k in range(len(names))]
    report = compare_outputs(stacked, actual, names)
    if not report.ok:
        raise FixRefused(f"a batch of {2 * batch} runs but mixes samples ({report.summary()}); the batch size "
                         "is baked into the computation")
