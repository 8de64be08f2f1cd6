"""Readable names for generated code, read from what exporters leave in a model.

Exporter node names (``/layer1/layer1.0/conv1/Conv``), dynamo's ``namespace`` metadata, spec layer ids and
weight names (``layer1.0.conv1.weight``) become hints; :class:`onnxbridge.codegen.writer.NameScope` turns a
hint into a valid, unique identifier (never the raw text).

Example::

    layer_hint(conv_node, "features.0.weight")     # "features.0"
    value_hint("/layer1/Relu_output_0", relu_node)  # "layer1_relu"
    class_hint("torch_jit")                        # "Model"
"""

from __future__ import annotations

import re

import onnx


def is_generic_name(name: str) -> bool:
    """Whether a value name is an exporter's counter (``val_12``, ``onnx::Mul_3``) rather than a real name."""
    return not name or bool(_GENERIC_VALUE.match(name)) or name.startswith("/")


_GENERIC_VALUE = re.compile(r"^(val_\d+|getitem(_\d+)?|onnx::.*|\d+|_?v_?\d*|tmp\d*)$")
_WEIGHT_NAME = re.compile(r"^([A-Za-z_][\w.]*?)\.(weight|weight_ih_l0|bias|running_mean|scale|kernel)$")


def module_path(node: onnx.NodeProto) -> list[str]:
    """The module path an exporter recorded for ``node`` (``['layer1.0', 'conv1']``), or ``[]``.

    Reads TorchScript-exporter node names (``/layer1/layer1.0/conv1/Conv``), dynamo's ``namespace``
    metadata (``: Net/layer1: Sequential/layer1.0: Block/conv1: Conv2d/conv2d: aten.conv2d``) and
    spec layer names (``conv1`` or ``conv1/Add``). A segment that only prefixes the next one
    (``layer1`` before ``layer1.0``) is dropped.
    """
    parts: list[str] = []
    meta = {p.key: p.value for p in node.metadata_props}
    if node.name.startswith("/"):
        parts = [p for p in node.name.split("/")[1:-1] if p]
    elif "namespace" in meta:
        segments = meta["namespace"].split("/")
        parts = [s.split(":")[0].strip() for s in segments[1:-1]]
    elif node.name and not node.name.startswith("node_") and "/" in node.name:
        parts = [p for p in node.name.split("/")[:-1] if p]
    elif node.name and re.match(r"^[A-Za-z_][\w.]*$", node.name) and not node.name.startswith("node_") \
            and not re.match(rf"^{re.escape(node.op_type)}_*\d*$", node.name, re.IGNORECASE):
        parts = [node.name]
    parts = [p for p in parts if p and not p.startswith(":")]
    collapsed = [p for i, p in enumerate(parts) if not (i + 1 < len(parts) and parts[i + 1].startswith(p + "."))]
    return collapsed


def layer_hint(node: onnx.NodeProto, weight: str | None = None) -> str:
    """A readable name for the layer a node implements (a module attribute in generated code).

    Prefers the weight's own name (``layer1.0.conv1.weight`` -> ``layer1.0.conv1``), then the
    exporter's module path, then the node name, then the op type.
    """
    if weight:
        m = _WEIGHT_NAME.match(weight)
        if m:
            return m.group(1)
    path = module_path(node)
    if path:
        return ".".join(path)
    if node.name and not node.name.startswith("node_"):
        return node.name
    return _snake(node.op_type)


def value_hint(value: str, node: onnx.NodeProto | None) -> str:
    """A readable variable name for a value: from the module its node belongs to (the innermost two
    scopes, plus the op for non-layer ops), else from its own name if meaningful, else the op type."""
    path = _last_scopes(module_path(node)) if node is not None else []
    if path and node is not None:
        op = _snake(node.op_type)
        if _is_module_op(node.op_type) or _snake(path[-1]).startswith(op):
            return "_".join(path)
        return "_".join([*path, op])
    base = value.rsplit(":", 1)[0] if re.search(r":\d+$", value) else value
    if "/" in base and not base.startswith("/"):  # TensorFlow style a/b/c:0
        segs = [s for s in base.split("/") if s]
        base = "_".join(segs[-2:]) if len(segs) > 1 else segs[0]
    if base and not base.startswith("/") and not _GENERIC_VALUE.match(base):
        return base
    return _snake(node.op_type) if node is not None else "v"


def _last_scopes(path: list[str]) -> list[str]:
    """The innermost two named scopes of a module path, with their indices: ``layers.0.self_attn`` ->
    ``['layers', '0', 'self_attn']`` (local variable names need not repeat the whole path)."""
    parts = [p for seg in path for p in seg.split(".") if p]
    named = [i for i, p in enumerate(parts) if not p.isdigit()]
    return parts[named[-2]:] if len(named) >= 2 else parts


_MODULE_OPS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization", "LayerNormalization",
                         "InstanceNormalization", "GroupNormalization", "LSTM", "GRU", "RNN", "Gather", "PRelu"})


def _is_module_op(op_type: str) -> bool:
    return op_type in _MODULE_OPS


def _snake(text: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text).lower()


def class_hint(name: str, fallback: str = "Model") -> str:
    """The class name for a graph or function name; generic exporter names become ``fallback``."""
    if not name or name.lower() in {"main_graph", "torch_jit", "torch-jit-export", "tf2onnx", "graph", "model"}:
        return fallback
    return name
