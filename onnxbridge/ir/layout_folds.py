"""Layout shuffles that exporters leave behind, folded away in place (the graph computes the same values).

- :func:`fold_transpose_pairs`: a Transpose of a Transpose becomes one Transpose, or nothing when the two
  cancel (tf2onnx writes ``NHWC -> NCHW`` after every ``NCHW -> NHWC`` between two channels-first ops).
- :func:`fold_conv1d`: tf2onnx lowers a Keras Conv1D to a ``(1, k)`` 2-D Conv between an Unsqueeze, a
  Transpose and a Squeeze; that is one Transpose to channels-first and a 1-D Conv.

Graph inputs and outputs keep their names; a value that is a graph output is never folded away.

Example::

    fold_conv1d(model)
    fold_transpose_pairs(model)
"""

from __future__ import annotations

from typing import Any

import onnx
from onnx import helper, numpy_helper

from onnxbridge.ir.traversal import consumers, producers


def fold_transpose_pairs(model: onnx.ModelProto) -> int:
    """Merge each Transpose that reads a Transpose into one (or drop both when they cancel); returns the
    number of Transposes removed."""
    graph = model.graph
    before = len(graph.node)
    changed = True
    while changed:
        changed = False
        nodes = list(graph.node)
        made = producers(nodes)
        outputs = {o.name for o in graph.output}
        for second in nodes:
            first = _producer(nodes, made, second.input[0]) if second.op_type == "Transpose" else None
            if first is None or first.op_type != "Transpose":
                continue
            p, q = _perm(first), _perm(second)
            if p is None or q is None or len(p) != len(q):
                continue
            composite = [p[i] for i in q]
            if composite == list(range(len(p))):
                if second.output[0] in outputs:
                    continue
                _rename_uses(graph, second.output[0], first.input[0])
                graph.node.remove(second)
            else:
                second.input[0] = first.input[0]
                _set_perm(second, composite)
            changed = True
            break
        _drop_dead(graph)
    return before - len(graph.node)


def fold_conv1d(model: onnx.ModelProto) -> int:
    """Turn a ``(1, k)`` 2-D Conv between ``Unsqueeze(axis 2)`` and ``Squeeze(axis 2)`` into a 1-D Conv;
    returns how many. The Conv's input may also be ``Unsqueeze(axis 1) -> Transpose(0, 3, 1, 2)`` of a
    channels-last ``[N, W, C]`` value: that becomes one ``Transpose(0, 2, 1)``."""
    graph = model.graph
    count = 0
    replaced: set[str] = set()
    for conv in [n for n in graph.node if n.op_type == "Conv"]:
        nodes = list(graph.node)
        made, read = producers(nodes), consumers(nodes)
        inits = {i.name: i for i in graph.initializer}
        chain = _conv1d_input(nodes, made, inits, conv)
        squeezes = [nodes[i] for i in read.get(conv.output[0], [])]
        if chain is None or len(squeezes) != 1 or conv.input[1] not in inits or \
                squeezes[0].op_type != "Squeeze" or _axes(squeezes[0], inits, 4) != [2]:
            continue
        squeeze = squeezes[0]
        private = [n.output[0] for n in chain] + [conv.output[0]]
        outputs = {o.name for o in graph.output}
        if any(len(read.get(v, [])) != 1 or v in outputs for v in private):
            continue
        conv1d = _as_conv1d(conv, inits[conv.input[1]], squeeze.output[0], graph,
                            shared=len(read.get(conv.input[1], [])) > 1)
        if conv1d is None:
            continue
        unsqueeze = chain[0]
        added = [conv1d]
        if len(chain) == 2:  # channels-last source: [N, W, C] -> [N, C, W]
            transpose = chain[1]
            added.insert(0, helper.make_node("Transpose", [unsqueeze.input[0]], [transpose.output[0]],
                                             name=transpose.name, perm=[0, 2, 1]))
            conv1d.input[0] = transpose.output[0]
        else:
            conv1d.input[0] = unsqueeze.input[0]
        at = nodes.index(unsqueeze)
        keep = [n for n in nodes if n not in (*chain, conv, squeeze)]
        keep[at:at] = added
        del graph.node[:]
        graph.node.extend(keep)
        _forget_shapes(graph, set(private))  # [N, C, 1, W] values are gone or now [N, C, W]
        replaced.add(conv.input[1])
        count += 1
    _drop_unused_initializers(graph, replaced)
    return count


def _conv1d_input(nodes: list[onnx.NodeProto], made: dict[str, list[int]], inits: dict[str, onnx.TensorProto],
                  conv: onnx.NodeProto) -> list[onnx.NodeProto] | None:
    """The nodes that make a Conv's ``[N, C, 1, W]`` input from a 3-D value ([Unsqueeze] or
    [Unsqueeze, Transpose]), or None."""
    pre = _producer(nodes, made, conv.input[0])
    if pre is None:
        return None
    if pre.op_type == "Unsqueeze" and _axes(pre, inits, 4) == [2]:
        return [pre]
    if pre.op_type == "Transpose" and _perm(pre) == [0, 3, 1, 2]:
        unsqueeze = _producer(nodes, made, pre.input[0])
        if unsqueeze is not None and unsqueeze.op_type == "Unsqueeze" and _axes(unsqueeze, inits, 4) == [1]:
            return [unsqueeze, pre]
    return None


def _as_conv1d(conv: onnx.NodeProto, init: onnx.TensorProto, output: str, graph: onnx.GraphProto, *,
               shared: bool) -> onnx.NodeProto | None:
    """The 1-D Conv equal to a 2-D Conv whose first spatial axis is 1 wide (kernel, stride, dilation 1,
    no padding), writing ``output``; its input is left to the caller. None when the Conv is not one. The
    weight is reshaped in place unless another node reads it too (``shared``)."""
    weight = numpy_helper.to_array(init)
    attrs = {a.name: helper.get_attribute_value(a) for a in conv.attribute}
    kernel = list(attrs.get("kernel_shape", weight.shape[2:]))
    strides, dilations = list(attrs.get("strides", [1, 1])), list(attrs.get("dilations", [1, 1]))
    pads = list(attrs.get("pads", [0, 0, 0, 0]))
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    if weight.ndim != 4 or weight.shape[2] != 1 or kernel[0] != 1 or strides[0] != 1 or dilations[0] != 1 \
            or pads[0] != 0 or pads[2] != 0:
        return None
    new_weight = _fresh_name(f"{conv.input[1]}_1d", graph) if shared else conv.input[1]
    reshaped = numpy_helper.from_array(weight[:, :, 0, :], new_weight)
    if shared:
        graph.initializer.append(reshaped)
    else:
        init.CopyFrom(reshaped)
    conv_attrs: dict[str, Any] = {"kernel_shape": [kernel[1]], "strides": [strides[1]], "dilations": [dilations[1]],
                  "group": int(attrs.get("group", 1))}
    if auto_pad in ("", "NOTSET"):
        conv_attrs["pads"] = [pads[1], pads[3]]
    else:
        conv_attrs["auto_pad"] = auto_pad
    return helper.make_node("Conv", ["", new_weight, *conv.input[2:]], [output], name=conv.name, **conv_attrs)


def _producer(nodes: list[onnx.NodeProto], made: dict[str, list[int]], value: str) -> onnx.NodeProto | None:
    found = made.get(value, [])
    return nodes[found[0]] if len(found) == 1 else None


def _perm(node: onnx.NodeProto) -> list[int] | None:
    for a in node.attribute:
        if a.name == "perm":
            return list(a.ints)
    return None


def _set_perm(node: onnx.NodeProto, perm: list[int]) -> None:
    for a in node.attribute:
        if a.name == "perm":
            del a.ints[:]
            a.ints.extend(perm)


def _axes(node: onnx.NodeProto, inits: dict[str, onnx.TensorProto], rank: int) -> list[int] | None:
    """A (Un)Squeeze's axes from its attribute or constant input, normalised against ``rank``."""
    axes = next((list(a.ints) for a in node.attribute if a.name == "axes"), None)
    if axes is None and len(node.input) > 1 and node.input[1] in inits:
        axes = [int(v) for v in numpy_helper.to_array(inits[node.input[1]]).reshape(-1)]
    return None if axes is None else sorted(a + rank if a < 0 else a for a in axes)


def _rename_uses(graph: onnx.GraphProto, old: str, new: str) -> None:
    for node in graph.node:
        for k, name in enumerate(node.input):
            if name == old:
                node.input[k] = new
        for attr in node.attribute:  # subgraphs read outer values by name
            for sub in ([attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs)):
                _rename_uses(sub, old, new)


def _drop_dead(graph: onnx.GraphProto) -> None:
    """Remove Transposes whose output nothing reads (the first of a cancelled pair)."""
    while True:
        read = consumers(list(graph.node))
        outputs = {o.name for o in graph.output}
        dead = [n for n in graph.node if n.op_type == "Transpose" and n.output[0] not in read
                and n.output[0] not in outputs]
        if not dead:
            return
        for n in dead:
            graph.node.remove(n)


def _forget_shapes(graph: onnx.GraphProto, names: set[str]) -> None:
    keep = [vi for vi in graph.value_info if vi.name not in names]
    if len(keep) != len(graph.value_info):
        del graph.value_info[:]
        graph.value_info.extend(keep)


def _drop_unused_initializers(graph: onnx.GraphProto, candidates: set[str]) -> None:
    used = set(consumers(list(graph.node))) | {o.name for o in graph.output} | {i.name for i in graph.input}
    keep = [i for i in graph.initializer if i.name in used or i.name not in candidates]
    if len(keep) != len(graph.initializer):
        del graph.initializer[:]
        graph.initializer.extend(keep)


def _fresh_name(name: str, graph: onnx.GraphProto) -> str:
    taken = {i.name for i in graph.initializer} | {o for n in graph.node for o in n.output} | \
        {i.name for i in graph.input}
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    return candidate

