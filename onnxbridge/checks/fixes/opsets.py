"""Opset fixes: import the domains the nodes use, and convert a model to the opset its newest op needs.

Raising an opset is a conversion, not a relabelling: ops change between versions (an attribute becomes an
input, a default changes). ``onnx.version_converter`` knows each change and rewrites the nodes; the result is
kept only when it gives the original's outputs (the original run in ONNX's reference evaluator, with each
op the old opset lacks as defined in the first opset that has it).
"""

from __future__ import annotations

import re

import onnx

from onnxbridge.checks.analysis import first_opset, ops_missing_from_opset, used_ops
from onnxbridge.checks.context import ModelContext
from onnxbridge.checks.fixes import FixRefused, fix_pass
from onnxbridge.checks.rules._util import listing, plural

# "No Adapter For And", "No Adapter From Version $16 for LayerNormalization"
_NO_ADAPTER = re.compile(r"No Adapter (?:(?:From|To) Version \$?\d+ )?For (\w+)", re.IGNORECASE)


@fix_pass("add-opset-import", order=10)
def add_opset_import(model: onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """Import the domains the nodes use (the default domain at the newest opset of the model's IR version)."""
    ctx = ModelContext.from_model(model)
    missing: dict[str, set[str]] = {}
    for domain, op, _ in used_ops(ctx):
        if domain not in ctx.opsets:
            missing.setdefault(domain, set()).add(op)
    if not missing:
        raise FixRefused("every domain is imported")
    out = onnx.ModelProto()
    out.CopyFrom(model)
    added = []
    for domain, ops in sorted(missing.items()):
        if domain == "":
            unknown = sorted(op for op in ops if first_opset(op) is None)
            if unknown:
                raise FixRefused(f"{listing(unknown)} are not ONNX operators; cannot choose an opset")
            # the exporter most likely used the newest opset of the model's IR version
            version = max((opset for _, irv, opset, *_ in onnx.helper.VERSION_TABLE if irv == model.ir_version),
                          default=0)
            need = max(first_opset(op) or 1 for op in ops)
            if version < need:
                raise FixRefused(f"IR version {model.ir_version} predates opset {need}, which the ops need")
        elif any((domain, op) in ctx.functions for op in ops):
            version = 1  # a domain of local functions
        else:
            raise FixRefused(f"domain {domain!r} is not ONNX's and has no local functions; its version is unknown")
        out.opset_import.add(domain=domain, version=version)
        added.append(f"{domain or 'ai.onnx'} {version}")
    return out, f"imported {', '.join(added)}"


@fix_pass("raise-opset", order=11)
def raise_opset(model: onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """Convert the model to the first opset that has every op it uses, if its outputs stay the same.

    ``onnx.version_converter`` rewrites the ops that changed between the two versions; the result must give
    the original's outputs (see :func:`_verify`).
    """
    ctx = ModelContext.from_model(model)
    old = ctx.opsets.get("")
    if old is None:
        raise FixRefused("the model does not import the default domain")
    missing = {op: since for (domain, op), since in ops_missing_from_opset(ctx).items() if domain == ""}
    if not missing:
        raise FixRefused(f"every op of the default domain exists in opset {old}")
    unknown = sorted(op for op, since in missing.items() if since is None)
    if unknown:
        raise FixRefused(f"{listing(unknown)} {'is' if len(unknown) == 1 else 'are'} not ONNX operators in any opset")
    new = max(v for v in missing.values() if v is not None)
    _check_functions(model, old, new)
    converted = _convert(model, set(missing), old, new)
    steps = _version_changes(ctx, old, new, set(missing))
    note = _verify(model, converted, old, new)
    changed = f"; converted {listing(steps)}" if steps else "; no other op in use changed"
    return converted, (f"converted the model from opset {old} to {new} with onnx.version_converter, for "
                       f"{listing(sorted(missing))}{changed}; {note}")


def _check_functions(model: onnx.ModelProto, old: int, new: int) -> None:
    """onnx.version_converter leaves local functions alone: their imports can move only when no op in their
    bodies changed between the two versions."""
    for f in model.functions:
        if not any(o.domain in ("", "ai.onnx") and o.version == old for o in f.opset_import):
            continue
        for node in f.node:
            if node.domain not in ("", "ai.onnx"):
                continue
            try:
                before = onnx.defs.get_schema(node.op_type, max_inclusive_version=old).since_version
            except onnx.defs.SchemaError:
                raise FixRefused(f"local function {f.name!r} uses {node.op_type}, which opset {old} lacks; "
                                 "onnx.version_converter does not convert function bodies") from None
            after = onnx.defs.get_schema(node.op_type, max_inclusive_version=new).since_version
            if before != after:
                raise FixRefused(f"local function {f.name!r} uses {node.op_type}, which changed in opset {after}; "
                                 "onnx.version_converter does not convert function bodies")


def _convert(model: onnx.ModelProto, too_new: set[str], old: int, new: int) -> onnx.ModelProto:
    from onnx import version_converter

    # the converter looks for an adapter for every node whose op changes on the way, and an op that does not
    # exist yet at the old opset has none: those nodes ride along in a placeholder domain
    taken = {o.domain for o in model.opset_import}
    parked = "onnxbridge.parked"
    while parked in taken:
        parked += "_"
    work = onnx.ModelProto()
    work.CopyFrom(model)
    for node in _all_nodes(work.graph):
        if node.domain in ("", "ai.onnx") and node.op_type in too_new:
            node.domain = parked
    work.opset_import.add(domain=parked, version=1)
    try:
        out = version_converter.convert_version(work, new)
    except Exception as exc:  # noqa: BLE001 - the converter raises RuntimeError/ValidationError/...
        m = _NO_ADAPTER.search(str(exc))
        if m:
            op = m.group(1)
            raise FixRefused(f"onnx.version_converter has no adapter for {op} ({_step(op, old, new)}): {op} blocks "
                             f"the conversion from opset {old} to {new}; re-export the model at opset {new}") from None
        first = str(exc).strip().splitlines()
        raise FixRefused(f"onnx.version_converter cannot convert opset {old} to {new}: "
                         f"{first[0][:200] if first else type(exc).__name__}") from None
    for node in _all_nodes(out.graph):
        if node.domain == parked:
            node.domain = ""
    keep = [o for o in out.opset_import if o.domain != parked]
    del out.opset_import[:]
    out.opset_import.extend(keep)
    for f in out.functions:
        for o in f.opset_import:
            if o.domain in ("", "ai.onnx") and o.version == old:
                o.version = new
    need_ir = onnx.helper.find_min_ir_version_for(list(out.opset_import), ignore_unknown=True)
    if out.ir_version < need_ir:
        out.ir_version = need_ir
    try:
        onnx.checker.check_model(out, full_check=True)
    except Exception as exc:  # noqa: BLE001
        raise FixRefused(f"the model converted to opset {new} does not pass the ONNX checker "
                         f"({str(exc).strip().splitlines()[0][:200]})") from None
    return out


def _step(op: str, old: int, new: int) -> str:
    """``And 1 -> 7``: the op's definition at the old opset and the next one on the way to the new."""
    try:
        before = onnx.defs.get_schema(op, max_inclusive_version=old).since_version
        later = sorted({s.since_version for s in onnx.defs.get_all_schemas_with_history()
                        if s.name == op and s.domain == "" and before < s.since_version <= new})
    except onnx.defs.SchemaError:
        return f"opset {old} -> {new}"
    return f"{op} {before} -> {later[0]}" if later else f"{op} {before}"


def _all_nodes(graph: onnx.GraphProto):
    for node in graph.node:
        yield node
        for attr in node.attribute:
            for g in ([attr.g] if attr.type == onnx.AttributeProto.GRAPH else
                      attr.graphs if attr.type == onnx.AttributeProto.GRAPHS else []):
                yield from _all_nodes(g)


def _version_changes(ctx: ModelContext, old: int, new: int, too_new: set[str]) -> list[str]:
    """``Relu 6 -> 14`` for each op in use whose definition changed between the two opsets."""
    steps = []
    for op in sorted({op for domain, op, _ in used_ops(ctx) if domain == "" and op not in too_new}):
        before = onnx.defs.get_schema(op, max_inclusive_version=old).since_version
        after = onnx.defs.get_schema(op, max_inclusive_version=new).since_version
        if before != after:
            steps.append(f"{op} {before} -> {after}")
    return steps


def _verify(original: onnx.ModelProto, converted: onnx.ModelProto, old: int, new: int) -> str:
    """Compare the converted model (onnxruntime) with the original (reference evaluator); refuse on a change."""
    from onnxbridge.checks.verify import RunFailed, compare_models, evaluate, make_inputs

    try:
        feeds = make_inputs(original)
        expected, _ = evaluate(original, feeds)
    except RunFailed as exc:
        raise FixRefused(f"the conversion to opset {new} cannot be verified: the original {exc}") from None
    report, note = compare_models(original, converted, feeds=feeds, expected=expected)
    if report is None:
        raise FixRefused(f"the conversion to opset {new} cannot be verified: {note}")
    if not report.ok:
        raise FixRefused(f"converting opset {old} to {new} changes the outputs ({report.summary()})")
    return f"outputs unchanged ({plural(len(report.outputs), 'output')}, max abs error {report.max_abs:.1e})"
