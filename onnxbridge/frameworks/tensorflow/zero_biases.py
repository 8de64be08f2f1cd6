"""Zero-valued biases of a Keras model put back into its tf2onnx export.

A freshly initialised (or zero-trained) Conv or Dense layer has a bias of zeros; TensorFlow's graph
optimiser folds ``x + 0`` away before tf2onnx sees it, so the ONNX Conv has no bias input and the MatMul no
bias Add, and every target made from it declares the layer ``bias=False``: a layer that was trainable
loses its bias. These passes find such biases on the source's variables (``stem/bias``) and give the
layer's Conv, ConvTranspose or MatMul a zero bias again (numerically the same graph).

Example::

    restore_zero_biases(onnx_model, zero_biases(keras_model))
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

_UNIQUE_SUFFIX = re.compile(r"^(.+?)_\d+$")


def zero_biases(source: Any) -> dict[str, int]:
    """``{layer name: bias size}`` for every ``bias`` variable of ``source`` (a Keras model or a loaded
    SavedModel) that holds only zeros."""
    found: dict[str, int] = {}
    for variable in getattr(source, "variables", None) or []:
        path = str(getattr(variable, "path", None) or getattr(variable, "name", "")).split(":")[0]
        parts = path.split("/")
        if len(parts) < 2 or parts[-1] != "bias":
            continue
        value = np.asarray(variable.numpy() if hasattr(variable, "numpy") else variable)
        if value.ndim == 1 and not np.any(value):
            found[parts[-2]] = int(value.shape[0])
    return found


def restore_zero_biases(model: onnx.ModelProto, biases: dict[str, int]) -> list[str]:
    """Give each bias-less Conv/ConvTranspose/MatMul of a layer in ``biases`` its zero bias, in place;
    returns the layers that got one back. Nodes are matched by their layer scope (``stem/convolution``)."""
    if not biases:
        return []
    graph = model.graph
    weights = {i.name: i for i in graph.initializer}
    taken = {n for node in graph.node for n in node.output} | {i.name for i in graph.input} | set(weights)
    made: dict[str, str] = {}  # layer -> bias initializer (a layer called twice shares its bias)
    node_names = {n.name for n in graph.node}  # with the Adds made here: ONNX wants node names unique
    nodes: list[onnx.NodeProto] = []
    for node in graph.node:
        nodes.append(node)
        layer = _layer_of(node, biases)
        if layer is None or len(node.input) < 2 or node.input[1] not in weights:
            continue
        weight = weights[node.input[1]]
        size = _bias_size(node, weight, graph)
        if size != biases[layer]:
            continue
        bias = made.get(layer)
        if bias is None:
            bias = made[layer] = _fresh(f"{layer}.bias", taken)
            dtype = helper.tensor_dtype_to_np_dtype(weight.data_type)
            graph.initializer.append(numpy_helper.from_array(np.zeros(size, dtype=dtype), bias))
        if node.op_type == "MatMul":
            before = _fresh(f"{node.output[0]}_before_bias", taken)
            add = helper.make_node("Add", [before, bias], [node.output[0]],
                                   name=_fresh(f"{layer}/BiasAdd", node_names))
            node.output[0] = before
            nodes.append(add)
        else:
            node.input.append(bias)
    if made:
        del graph.node[:]
        graph.node.extend(nodes)
    return sorted(made)


def _layer_of(node: onnx.NodeProto, biases: dict[str, int]) -> str | None:
    if node.op_type not in ("Conv", "ConvTranspose", "MatMul") or "/" not in node.name:
        return None
    for scope in reversed(node.name.split("/")[:-1]):
        for name in (scope, m.group(1) if (m := _UNIQUE_SUFFIX.match(scope)) else None):
            if name in biases:
                return name
    return None


def _bias_size(node: onnx.NodeProto, weight: onnx.TensorProto, graph: onnx.GraphProto) -> int | None:
    """The bias size this node would take, or None when it already has a bias."""
    dims = list(weight.dims)
    if node.op_type == "Conv":
        return dims[0] if len(node.input) == 2 and dims else None
    if node.op_type == "ConvTranspose":
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        return dims[1] * group if len(node.input) == 2 and len(dims) > 1 else None
    constants = {i.name for i in graph.initializer}
    if len(dims) != 2 or any(n.op_type == "Add" and node.output[0] in n.input and set(n.input) & constants
                             for n in graph.node):
        return None  # MatMul: only a plain 2-D weight, and not when a constant Add (a bias) follows already
    return dims[1]


def _fresh(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    taken.add(candidate)
    return candidate
