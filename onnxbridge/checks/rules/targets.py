"""Target compatibility: ops a framework bridge's converter cannot handle (one rule per bridge), and nodes an
onnxruntime execution provider cannot run — every one listed at once.

The converters' own registries answer for them (through the bridges, loaded lazily; a converter that is not
installed or not written yet is reported as "not checked", never guessed). onnxruntime answers from its kernel
registry (op, version range and element types per execution provider), confirmed on CPU by loading the
model in a real session.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

import onnx

from onnxbridge.checks.context import ModelContext
from onnxbridge.checks.registry import Finding, rule
from onnxbridge.checks.rules._util import listing
from onnxbridge.frameworks.base import Bridge
from onnxbridge.frameworks.bridges import bridges, get_bridge
from onnxbridge.frameworks.registry import OpRegistry
from onnxbridge.ir.dtypes import onnx_type_name


def converter_registry(framework: str) -> OpRegistry:
    """The converter registry of the bridge called ``framework``, every op registered.

    Raises ImportError (with the reason) when the converter or its framework is not available.
    """
    bridge = get_bridge(framework)
    try:
        registry = bridge.op_registry()
    except ModuleNotFoundError as exc:
        if exc.name and not exc.name.startswith("onnxbridge"):
            raise ImportError(f"{exc.name} is not installed") from None
        raise ImportError(f"onnxbridge has no {bridge.display_name} converter") from None
    if not registry.keys():
        raise ImportError(f"the {bridge.display_name} converter has no op converters registered yet")
    return registry


def _converter_findings(ctx: ModelContext, bridge: Bridge) -> Iterator[Finding]:
    try:
        registry = converter_registry(bridge.name)
    except Exception as exc:  # noqa: BLE001 - any failure to import the converter means "not checked"
        ctx.cache.setdefault("_not_checked", []).append(
            (bridge.name, f"the {bridge.display_name} converter is not available ({exc})"))
        return
    nodes = list(ctx.nodes) + [n for f in ctx.model.functions for n in f.node]
    missing = registry.missing(_walk(nodes), dict(ctx.opsets), set(ctx.functions))
    for op, labels in sorted(missing.items()):
        version = ctx.opsets.get(op.split("::")[0] if "::" in op else "", ctx.opsets.get(""))
        yield Finding(f"the {bridge.display_name} converter cannot convert {op} (opset {version}): {listing(labels)}",
                      nodes=tuple(labels),
                      suggestion=f"replace {op} with supported ops before converting (docs/support-matrix.md "
                                 f"lists them), or run this part in onnxruntime")


def _walk(nodes):
    from onnxbridge.ir.nodes import walk_nodes

    return walk_nodes(nodes)


def _converter_rule(bridge: Bridge) -> Callable[[ModelContext], Iterator[Finding]]:
    def rule_fn(ctx: ModelContext) -> Iterator[Finding]:
        if bridge.name in ctx.targets:
            yield from _converter_findings(ctx, bridge)

    rule_fn.__name__ = rule_fn.__qualname__ = f"{bridge.name}_converter"
    rule_fn.__doc__ = (f"Ops the ONNX -> {bridge.display_name} converter has no rule for "
                       f"(checked with --target {bridge.name}).")
    return rule_fn


# one rule per framework bridge (OB301 PyTorch, OB302 TensorFlow): its code is the bridge's ``check_code``
for _bridge in bridges():
    rule(_bridge.check_code, family="targets", level="error")(_converter_rule(_bridge))


# ---- onnxruntime ---------------------------------------------------------------------------------------

@functools.cache
def _kernels(provider: str) -> dict[tuple[str, str], list[tuple[int, int, dict[str, list[str]]]]]:
    from onnxruntime.capi import onnxruntime_pybind11_state as ortc

    table: dict[tuple[str, str], list[tuple[int, int, dict[str, list[str]]]]] = {}
    for k in ortc.get_all_opkernel_def():
        if k.provider == provider:
            domain = "" if k.domain == "ai.onnx" else k.domain
            start, end = k.version_range
            table.setdefault((domain, k.op_name), []).append((start, end, dict(k.type_constraints)))
    return table


def _ort_type_name(elem: int) -> str:
    """onnxruntime's spelling of an element type in kernel constraints (``tensor(float)``'s ``float``)."""
    return onnx_type_name(elem).lower()




def _unsupported(ctx: ModelContext, provider: str) -> dict[str, tuple[list[str], str]]:
    """``{"Relu with T=int64": ([node labels], why)}`` for nodes without a kernel in ``provider``; ``why`` is
    ``"op"`` (no kernel for the op at all), ``"version"`` (none for this opset version) or ``"types"``."""
    kernels = _kernels(provider)
    found: dict[str, tuple[list[str], str]] = {}

    def add(what: str, why: str, label: str) -> None:
        found.setdefault(what, ([], why))[0].append(label)

    for i, node in enumerate(ctx.nodes):
        domain = "" if node.domain == "ai.onnx" else node.domain
        if ctx.is_local_function(node) or (node.op_type == "Constant" and not domain):
            continue
        version = ctx.opsets.get(domain)
        if version is None:
            continue
        op = f"{domain}::{node.op_type}" if domain else node.op_type
        try:
            schema = onnx.defs.get_schema(node.op_type, max_inclusive_version=version, domain=domain)
        except onnx.defs.SchemaError:
            if (domain, node.op_type) not in kernels:
                add(op, "op", ctx.label(i))
            continue
        candidates = [k for k in kernels.get((domain, node.op_type), []) if k[0] <= schema.since_version <= k[1]]
        if not candidates:
            # both exist on OpSchema at run time; onnx's stubs do not declare them
            if schema.has_function or schema.has_context_dependent_function:  # type: ignore[attr-defined]
                continue  # onnxruntime expands it into its function body
            why = "version" if (domain, node.op_type) in kernels else "op"
            add(f"{op} (opset {schema.since_version})", why, ctx.label(i))
            continue
        bound = _bound_types(ctx, node, schema)
        if any(_types_ok(bound, k[2]) for k in candidates):
            continue
        types = ", ".join(f"{p}={_ort_type_name(t)}" for p, t in sorted(bound.items()))
        add(f"{op} with {types}", "types", ctx.label(i))
    return found


def _kernel_advice(what: str, why: str, provider: str) -> str:
    """What to do about a node ``provider`` has no kernel for, by the reason it has none."""
    if why == "types":
        return ("cast to a supported element type around the node, or replace the op; onnxruntime's "
                "OperatorKernels.md lists the supported types")
    if why == "version":
        return (f"onnxruntime's {provider} has this op, but not as defined in this opset: convert the model to an "
                "opset it supports (onnx.version_converter) or replace the op")
    op = what.split(" ")[0]
    return (f"onnxruntime has no kernel for {op} at all: load the custom-op library that implements it "
            "(SessionOptions.register_custom_ops_library), or replace it with standard ONNX operators")


def _bound_types(ctx: ModelContext, node: onnx.NodeProto, schema: onnx.defs.OpSchema) -> dict[str, int]:
    bound: dict[str, int] = {}
    for formals, actual in ((schema.inputs, node.input), (schema.outputs, node.output)):
        for pos, name in enumerate(actual):
            if not name or not formals:
                continue
            formal = formals[min(pos, len(formals) - 1)]
            et = ctx.elem_type(name)
            if et:
                bound.setdefault(formal.type_str, et)
    return bound


def _types_ok(bound: dict[str, int], constraints: dict[str, list[str]]) -> bool:
    for param, allowed in constraints.items():
        et = bound.get(param)
        if et is None:
            continue
        name = _ort_type_name(et) if et else None
        if name is None or not any(a in (f"tensor({name})", f"seq(tensor({name}))") for a in allowed):
            return False
    return True


def _session_error(ctx: ModelContext, provider: str) -> str | None:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        ort.InferenceSession(ctx.model.SerializeToString(), opts, providers=[provider])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        return str(exc).strip().splitlines()[0][:400]
    return None


@rule("OB303", family="targets", level="error")
def onnxruntime_cpu(ctx: ModelContext) -> Iterator[Finding]:
    """Nodes onnxruntime's CPU execution provider has no kernel for (checked with --target cpu)."""
    if "cpu" not in ctx.targets:
        return
    unsupported = _unsupported(ctx, "CPUExecutionProvider")
    error = _session_error(ctx, "CPUExecutionProvider")
    if error is None:
        return  # the model loads: whatever the kernel table suggested, onnxruntime copes (e.g. by expansion)
    for what, (labels, why) in sorted(unsupported.items()):
        yield Finding(f"onnxruntime's CPU execution provider cannot run {what}: {listing(labels)}",
                      nodes=tuple(labels), suggestion=_kernel_advice(what, why, "CPU execution provider"))
    if not unsupported:
        yield Finding(f"onnxruntime (CPU) cannot load the model: {error}",
                      suggestion="fix the errors above first; if there are none, the message names the node")


@rule("OB304", family="targets", level="warning")
def onnxruntime_cuda(ctx: ModelContext) -> Iterator[Finding]:
    """Nodes the CUDA execution provider has no kernel for: they fall back to the CPU (checked with --target cuda)."""
    if "cuda" not in ctx.targets:
        return
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        ctx.cache.setdefault("_not_checked", []).append(
            ("cuda", "this onnxruntime has no CUDA execution provider (install onnxruntime-gpu on a machine with "
                     "an NVIDIA GPU); CUDA support was not checked"))
        return
    for what, (labels, why) in sorted(_unsupported(ctx, "CUDAExecutionProvider").items()):
        advice = ("change the element type or replace the op so the whole graph stays on the GPU" if why == "types"
                  else "replace the op (or convert to an opset the CUDA provider supports) so the whole graph "
                       "stays on the GPU")
        yield Finding(f"the CUDA execution provider has no kernel for {what}; these nodes run on the CPU, "
                      f"with copies between devices: {listing(labels)}", nodes=tuple(labels), suggestion=advice)


@rule("OB309", family="targets", level="warning")
def target_not_checked(ctx: ModelContext) -> Iterator[Finding]:
    """A requested target could not be checked (its converter or execution provider is not available here)."""
    for target, reason in ctx.cache.get("_not_checked", []):
        yield Finding(f"target {target!r} was not checked: {reason}",
                      suggestion="install what is missing and check again")
