"""Layer ids, input and output names for a lifted spec: readable, unique, and valid identifiers.

Exporters name nodes after the module or layer they come from: ``/layer1/layer1.0/conv1/Conv``
(torch.onnx, TorchScript), ``node_conv2d`` with a ``namespace`` entry (dynamo), ``mlp_1/fc1_1/MatMul``
(tf2onnx from Keras), ``conv1`` or ``conv1/Add`` (this project's own lowering). A layer's id is the
module path its nodes share (``layer1_0_conv1``), else the node's own name, else its operator.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable

import onnx

from onnxbridge.ir.naming import module_path

_GENERIC = re.compile(r"^(node_)?([A-Za-z]+)(__?\d+|_\d+)?$")
# ops that are a module of their own (a layer named by its path); others are named path + op
_MODULE_OPS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization", "LayerNormalization",
                         "InstanceNormalization", "GroupNormalization", "LSTM", "GRU", "RNN", "Gather"})


def identifier(text: str, fallback: str = "x") -> str:
    """``text`` as a Python-style identifier (``input.1`` -> ``input_1``, ``3d`` -> ``v3d``)."""
    out = re.sub(r"\W+", "_", text or "").strip("_")
    out = re.sub(r"_+", "_", out)
    if not out:
        out = fallback
    if out[0].isdigit():
        out = "v" + out
    if keyword.iskeyword(out) or out in ("None", "True", "False"):
        out += "_"
    return out


def _snake(text: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text).lower()


def node_path(node: onnx.NodeProto) -> list[str]:
    """The module path a node belongs to (``['layer1.0', 'conv1']``), dropping exporter counters."""
    path = module_path(node)
    if path:
        return path
    name = node.name or ""
    if "/" in name and not name.startswith("/"):
        return [p for p in name.split("/")[:-1] if p]
    return []


def hint_for(nodes: Iterable[onnx.NodeProto]) -> str:
    """A naming hint for a layer made of ``nodes``: the module path they share, else the first node's name."""
    nodes = list(nodes)
    if not nodes:
        return ""
    paths = [node_path(n) for n in nodes]
    common = paths[0]
    for p in paths[1:]:
        k = 0
        while k < min(len(common), len(p)) and common[k] == p[k]:
            k += 1
        common = common[:k]
    if common:
        named_by_path = len(nodes) == 1 and "/" in (nodes[0].name or "") and nodes[0].op_type not in _MODULE_OPS
        return "/".join(common + ([_snake(nodes[0].op_type)] if named_by_path else []))
    first = nodes[0]
    name = first.name or ""
    if name and "/" not in name and not _GENERIC.match(name):
        return name
    m = _GENERIC.match(name)
    if m and m.group(1):  # dynamo: node_conv2d -> conv2d
        return _snake(m.group(2))
    return _snake(first.op_type)


class Namer:
    """Hands out unique identifiers, trimming the prefix every hint shares (the model's own name)."""

    def __init__(self, reserved: Iterable[str] = ()):
        self.taken: set[str] = set(reserved)
        self.prefix: list[str] = []

    def learn_prefix(self, hints: list[str]) -> None:
        """Drop a first path segment every multi-segment hint starts with (``mlp_1/fc1_1`` -> ``fc1_1``)."""
        paths = [h.split("/") for h in hints if "/" in h]
        if len(paths) < 2 or len(paths) < len(hints) // 2:
            return
        first = {p[0] for p in paths}
        if len(first) == 1:
            self.prefix = [next(iter(first))]

    def name(self, hint: str, fallback: str = "layer", allowed: str | None = None) -> str:
        """A fresh identifier from ``hint``; ``allowed`` may be taken already and still be given (a layer
        named after the graph output it produces)."""
        base = self.base(hint, fallback)
        if base == allowed:
            self.taken.add(base)
            return base
        candidate, n = base, 2
        while candidate in self.taken:
            candidate, n = f"{base}_{n}", n + 1
        self.taken.add(candidate)
        return candidate

    def base(self, hint: str, fallback: str = "layer") -> str:
        """An identifier from a hierarchical name ``hint`` (``a/b/c`` -> ``a_b_c``), the model's own scope
        prefix dropped."""
        parts = [p for p in hint.split("/") if p]
        if self.prefix and parts[:len(self.prefix)] == self.prefix and len(parts) > len(self.prefix):
            parts = parts[len(self.prefix):]
            if self.prefix[-1].endswith("_1") and parts[0].endswith("_1") and len(parts[0]) > 2:
                parts[0] = parts[0][:-2]  # Keras names every layer scope <name>_1 inside the model's <model>_1
        return identifier("_".join(parts).replace(".", "_"), fallback)
