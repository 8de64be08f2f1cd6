"""Lower a resolved plan to an ONNX model: layers to ONNX ops, block instances to local functions."""

from __future__ import annotations

import functools
import json

import onnx
from onnx import helper

from onnxbridge.errors import OnnxBridgeError, SpecError
from onnxbridge.ir.conventions import BLOCKS_DOMAIN
from onnxbridge.spec.builder import FunctionTable, GraphBuilder
from onnxbridge.spec.plan import Plan, PlanNode, Ref, ShapeReport
from onnxbridge.spec.registry import DEFAULT_OPSET, targeting_opset
from onnxbridge.spec.schema import Spec
from onnxbridge.spec.types import TensorInfo, elem_type
from onnxbridge.spec.weights import WeightStore

__all__ = ["DEFAULT_OPSET", "IR_VERSION", "MAX_SEED", "MIN_OPSET", "check_opset", "check_ops_exist", "check_seed",
           "lower_plan"]
# the lowerings emit opset-13 forms at the oldest (axes of Squeeze/Unsqueeze/ReduceSum as inputs,
# Dropout's ratio as an input); newer ops (LayerNormalization: 17) are checked per model
MIN_OPSET = 13
MAX_SEED = 2**32 - 1
IR_VERSION = 8  # the IR that goes with opset 18; functions need IR >= 8
PRODUCER = "onnxbridge"
DEVICES_PROP = "onnxbridge.devices"


def lower_plan(spec: Spec, plan: Plan, report: ShapeReport, *, seed: int = 0, opset: int = DEFAULT_OPSET,
               store: WeightStore | None = None) -> onnx.ModelProto:
    """The ONNX model for a fully inferred plan: stored weights where ``store`` has them, else seeded ones.

    Raises :class:`SpecError` for an opset the spec cannot be written in (too old for an op it uses, newer
    than onnx or onnxruntime know) and :class:`OnnxBridgeError` for a seed numpy cannot take.
    """
    check_seed(seed)
    check_opset(opset, oldest=1 if _only_onnx_ops(plan) else MIN_OPSET)
    with targeting_opset(opset):
        return _lower(spec, plan, report, seed, opset, store)


def _lower(spec: Spec, plan: Plan, report: ShapeReport, seed: int, opset: int,
           store: WeightStore | None) -> onnx.ModelProto:
    functions = FunctionTable()
    b = GraphBuilder(opset=opset, seed=seed, functions=functions, store=store)
    names: dict[Ref, str] = {(n, 0): n for n in plan.input_names}
    outputs = spec.output_specs()
    # a layer output that is a graph output takes the output's name directly (no Identity node)
    wanted: dict[Ref, str] = {}
    for o, ref in zip(outputs, plan.outputs):
        if ref not in wanted and ref[0] not in plan.input_names:
            wanted[ref] = o.name
    devices = _lower_scope(plan, b, names, wanted)
    for o, ref in zip(outputs, plan.outputs):
        if names[ref] != o.name:  # an input or a twice-used tensor passed straight out
            b.node("Identity", [names[ref]], [o.name])
    graph = helper.make_graph(
        b.nodes, spec.name,
        inputs=[_value_info(n, report.inputs[n]) for n in plan.input_names],
        outputs=[_value_info(o.name, report.outputs[o.name]) for o in outputs],
        initializer=b.initializers,
        doc_string=spec.description or None,
    )
    opsets = [helper.make_opsetid("", opset)]
    if functions.functions:
        opsets.append(helper.make_opsetid(BLOCKS_DOMAIN, 1))
    opsets += [helper.make_opsetid(d, v) for d, v in sorted(functions.domains.items()) if d != BLOCKS_DOMAIN]
    ir_version = IR_VERSION if opset <= 18 else max(IR_VERSION, onnx.helper.find_min_ir_version_for(
        [helper.make_opsetid("", opset)], ignore_unknown=True))
    model = helper.make_model(graph, opset_imports=opsets, producer_name=PRODUCER, ir_version=ir_version,
                              functions=list(functions.functions.values()))
    props = {"onnxbridge.spec": json.dumps(spec.to_dict(), separators=(",", ":")), "onnxbridge.seed": str(seed)}
    if devices:
        # per-node placement for the framework code generators: {"node name": "cuda:1", ...}
        props[DEVICES_PROP] = json.dumps(devices, separators=(",", ":"))
    helper.set_model_props(model, props)
    if opset != DEFAULT_OPSET:  # the default is what every lowering is tested at
        check_ops_exist(model, opset)
    return model


def check_seed(seed: object) -> int:
    """``seed`` when it is an integer numpy can seed with (0 to 2**32 - 1); otherwise a clear error."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise OnnxBridgeError(f"seed {seed!r} is not an integer from 0 to {MAX_SEED}",
                              hint="give a non-negative seed such as --seed 0")
    return seed


def check_opset(opset: object, *, oldest: int = MIN_OPSET) -> int:
    """``opset`` when onnx, onnxruntime and the lowerings all support it; otherwise a clear error.

    ``oldest`` is :data:`MIN_OPSET` for the layers' own lowerings; a spec of ``Op`` layers only (a model
    lifted as it stands) may keep any opset, its ops being checked against it by :func:`check_ops_exist`.
    """
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not oldest <= opset <= newest:
        raise SpecError(f"opset {opset!r} is not supported: specs build to opsets {oldest} to {newest} "
                        f"(onnx {onnx.__version__})", hint=f"use --opset {DEFAULT_OPSET} (the default)")
    if opset > DEFAULT_OPSET and not _runtime_runs(opset):
        import onnxruntime

        raise SpecError(f"opset {opset} is newer than onnxruntime {onnxruntime.__version__} runs",
                        hint=f"use --opset {DEFAULT_OPSET} (the default), or upgrade onnxruntime")
    return opset


@functools.cache
def _runtime_runs(opset: int) -> bool:
    """Whether onnxruntime loads a model of this opset (it refuses opsets newer than it knows)."""
    try:
        import onnxruntime as ort
    except ImportError:  # nothing to run it with here: the checker's word is all there is
        return True
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
    probe = helper.make_model(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "probe", [x], [y]),
                              opset_imports=[helper.make_opsetid("", opset)], ir_version=IR_VERSION)
    options = ort.SessionOptions()
    options.log_severity_level = 4
    try:
        ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception:  # noqa: BLE001 - onnxruntime raises its own exception types
        return False
    return True


def check_ops_exist(model: onnx.ModelProto, opset: int) -> None:
    """Refuse a model that uses an op its opset does not have, or that fails the checker at that opset.

    onnxruntime can crash (not raise) on such a model, so it must never get that far.
    """
    from onnxbridge.ir.opsets import missing_ops

    problems: dict[str, str] = {}  # one line per op: where it is first used
    for where, op, _, since in missing_ops(model):
        where = where.replace("node ", "layer ", 1).replace("function ", "block ", 1)  # the spec's words
        problems.setdefault(op, f"{where} uses {op}, which ONNX has from opset {since} on, not in opset {opset}")
    if problems:
        from onnxbridge.ir.opsets import first_version

        newest = max(first_version(op) for op in problems)
        lines = list(problems.values())
        raise SpecError(lines[0] if len(lines) == 1 else f"{len(lines)} problems: " + "; ".join(lines),
                        problems=lines, hint=f"build with --opset {newest} or newer")
    from onnxbridge.ir.io import fits_in_protobuf

    if not fits_in_protobuf(model):  # the checker takes such models only from a file
        return
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        first = str(exc).strip().splitlines()[0][:300]
        raise SpecError(f"the spec cannot be written in opset {opset}: {first}",
                        hint=f"build with --opset {DEFAULT_OPSET} (the default)") from None


def _only_onnx_ops(plan: Plan) -> bool:
    """Whether every layer, in blocks too, is an ``Op`` layer: an ONNX operator as it stands."""
    return all(_only_onnx_ops(n.block) if n.block is not None else n.type_name == "Op" for n in plan.nodes)


def _value_info(name: str, info: TensorInfo | None) -> onnx.ValueInfoProto:
    assert info is not None
    return helper.make_tensor_value_info(name, elem_type(info.dtype), list(info.shape))


def _output_names(node: PlanNode, wanted: dict[Ref, str], taken: set[str]) -> list[str]:
    count = len(node.out_infos or [None])
    names = []
    for i in range(count):
        name = wanted.get((node.id, i))
        if name is None:
            name = node.id if i == 0 else f"{node.id}_{i}"
            while i and name in taken:  # another layer is called "<id>_<i>"
                name += "_"
        names.append(name)
    return names


def _lower_scope(plan: Plan, b: GraphBuilder, names: dict[Ref, str], wanted: dict[Ref, str]) -> dict[str, str]:
    """Lower every node of ``plan``; returns {ONNX node name: device} for layers with a ``device``."""
    devices: dict[str, str] = {}
    taken = {n.id for n in plan.nodes} | set(plan.input_names) | set(wanted.values())
    for node in plan.nodes:
        first = len(b.nodes)
        inputs = [names[r] for r in node.inputs]
        outputs = _output_names(node, wanted, taken)
        if node.block is not None:
            _lower_block_instance(node, b, inputs, outputs)
        else:
            assert node.layer is not None
            b.begin_layer(node.id)
            node.layer.lower(node.params, b, inputs, node.in_infos, outputs)
            b.end_layer()
        for i, out in enumerate(outputs):
            names[(node.id, i)] = out
        if node.spec.device:
            devices.update({n.name: node.spec.device for n in b.nodes[first:]})
    return devices


def _lower_block_instance(node: PlanNode, b: GraphBuilder, inputs: list[str], outputs: list[str]) -> None:
    block = node.block
    assert block is not None
    fb = GraphBuilder(opset=b.opset, seed=b.seed, functions=b.functions, in_function=True, store=b.store)
    names: dict[Ref, str] = {(n, 0): n for n in block.input_names}
    formal_out = {ref: f"out_{i}" if ref[0] in block.input_names else None for i, ref in enumerate(block.outputs)}
    _lower_scope(block, fb, names, {})
    fn_outputs = []
    for i, ref in enumerate(block.outputs):
        if formal_out[ref]:  # an input passed straight through
            fb.node("Identity", [names[ref]], [f"out_{i}"])
            fn_outputs.append(f"out_{i}")
        else:
            fn_outputs.append(names[ref])
    fn = fb.function_proto(node.type_name, list(block.input_names), fn_outputs, block.description)
    fn_name = b.functions.add(node.type_name, fn)
    weight_args = [b.add_initializer(f"{node.id}.{formal}", spec) for formal, spec in fb.weight_inputs]
    b.begin_layer(node.id)
    b.node(fn_name, inputs + weight_args, outputs, domain=BLOCKS_DOMAIN)
    b.end_layer()
