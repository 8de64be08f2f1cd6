"""One graph as lift sees it: the nodes that compute something, with Identity and Dropout seen through.

A :class:`Scope` wraps the framework-neutral :class:`~onnxbridge.ir.view.GraphView` (values'
types, constants folded at conversion time, weights passed into block functions) and adds what lifting
needs: only *live* nodes (needed by an output and not constant), inputs read through aliases
(``y = Identity(x)`` and inference-mode Dropout are ``x``), and the users of every value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx

from onnxbridge.ir.nodes import node_attrs, node_inputs
from onnxbridge.ir.symbolic import Const, Placeholder
from onnxbridge.ir.types import TensorType
from onnxbridge.ir.view import GraphView


@dataclass
class Scope:
    """The main graph or one block function body, ready for matching."""

    view: GraphView
    nodes: list[onnx.NodeProto]
    alias: dict[str, str] = field(default_factory=dict)
    _users: dict[str, list[onnx.NodeProto]] = field(default_factory=dict)
    _producer: dict[str, onnx.NodeProto] = field(default_factory=dict)
    _position: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for i, node in enumerate(self.nodes):
            self._position[id(node)] = i
            for o in node.output:
                if o:
                    self._producer[o] = node
            for name in node_inputs(node):
                self._users.setdefault(self.canon(name), []).append(node)

    # -- values -------------------------------------------------------------------------------
    @property
    def opset(self) -> int:
        """The ONNX opset of the graph."""
        return self.view.opset

    @property
    def inputs(self) -> list[str]:
        """The scope's inputs."""
        return list(self.view.inputs)

    @property
    def outputs(self) -> list[str]:
        """The scope's outputs, seen through aliases."""
        return [self.canon(o) for o in self.view.outputs]

    def canon(self, value: str) -> str:
        """The value ``value`` really is (through Identity / Dropout chains)."""
        seen = 0
        while value in self.alias and seen < 1000:
            value = self.alias[value]
            seen += 1
        return value

    def ins(self, node: onnx.NodeProto) -> list[str]:
        """``node``'s inputs seen through aliases ("" for omitted ones)."""
        return [self.canon(i) if i else "" for i in node.input]

    def inp(self, node: onnx.NodeProto, k: int) -> str:
        """Input ``k`` of ``node`` seen through aliases ("" when it is omitted or missing)."""
        return self.canon(node.input[k]) if k < len(node.input) and node.input[k] else ""

    def type(self, value: str) -> TensorType:
        """The tensor type of ``value`` (seen through aliases)."""
        return self.view.type(self.canon(value))

    def shape(self, value: str) -> tuple | None:
        """The shape of ``value``, or None when it is not known."""
        return self.type(value).shape

    def dims(self, value: str) -> tuple:
        """The shape of ``value`` where its rank is known (checked by the caller); empty when it is not."""
        return self.type(value).shape or ()

    def rank(self, value: str) -> int | None:
        """The rank of ``value``, or None when it is not known."""
        return self.type(value).rank

    def elem(self, value: str) -> int | None:
        """The ONNX element type of ``value``, or None when it is not known."""
        return self.type(value).elem

    def const(self, value: str) -> np.ndarray | None:
        """The value of a constant (an initializer, a Constant node, folded arithmetic), else None."""
        if not value:
            return None
        k = self.view.known.get(self.canon(value))
        return k.array if isinstance(k, Const) else self.view.const(self.canon(value))

    def is_weight(self, value: str) -> bool:
        """A constant, or a weight passed into a block function (its value differs per instance)."""
        if not value:
            return False
        return isinstance(self.view.known.get(self.canon(value)), (Const, Placeholder))

    def weight_shape(self, value: str) -> tuple[int, ...] | None:
        """The static shape of the constant or weight ``value``, or None when it is neither."""
        k = self.view.known.get(self.canon(value))
        if isinstance(k, Const):
            return tuple(int(d) for d in k.array.shape)
        if isinstance(k, Placeholder):
            return k.type.static_shape
        return None

    def weight_elem(self, value: str) -> int | None:
        """The ONNX element type of the constant or weight ``value``, or None when it is neither."""
        k = self.view.known.get(self.canon(value))
        if isinstance(k, Const):
            return onnx.helper.np_dtype_to_tensor_dtype(k.array.dtype)
        if isinstance(k, Placeholder):
            return k.type.elem
        return None

    def is_dynamic(self, value: str) -> bool:
        """Computed at run time (a graph input or a node's output that is not constant)."""
        return bool(value) and not self.is_weight(value)

    # -- structure ------------------------------------------------------------------------------
    def producer(self, value: str) -> onnx.NodeProto | None:
        """The node that computes ``value``, or None for inputs and constants."""
        return self._producer.get(self.canon(value))

    def users(self, value: str) -> list[onnx.NodeProto]:
        """The nodes that read ``value``."""
        return list(self._users.get(self.canon(value), []))

    def is_output(self, value: str) -> bool:
        """Whether ``value`` is one of the scope's outputs."""
        return self.canon(value) in set(self.outputs)

    def only_user(self, value: str) -> onnx.NodeProto | None:
        """The single node reading ``value`` when nothing else does (and it is not an output)."""
        users = self.users(value)
        if len(users) != 1 or self.is_output(value):
            return None
        return users[0]

    def private(self, value: str, within: list[onnx.NodeProto]) -> bool:
        """Whether only nodes in ``within`` read ``value`` (and it is not an output of the scope)."""
        ids = {id(n) for n in within}
        return not self.is_output(value) and all(id(u) in ids for u in self.users(value))

    def position(self, node: onnx.NodeProto) -> int:
        """The index of ``node`` in the scope's node list."""
        return self._position[id(node)]

    def attrs(self, node: onnx.NodeProto) -> dict:
        """The attributes of ``node`` as Python values, by name."""
        return node_attrs(node)


def live_nodes(view: GraphView) -> list[onnx.NodeProto]:
    """The nodes an output needs whose results are not known at conversion time, in order."""
    needed = set(view.outputs)
    live: list[onnx.NodeProto] = []
    for node in reversed(view.nodes):
        outs = [o for o in node.output if o]
        if not any(o in needed for o in outs):
            continue
        if all(isinstance(view.known.get(o), (Const, Placeholder)) for o in outs):
            continue  # folded: its outputs are constants
        live.append(node)
        needed.update(node_inputs(node))
    return list(reversed(live))


def make_scope(view: GraphView) -> Scope:
    """The live nodes of ``view`` with Identity and inference-mode Dropout replaced by aliases."""
    nodes = live_nodes(view)
    alias: dict[str, str] = {}
    kept = []
    for node in nodes:
        if node.domain in ("", "ai.onnx") and _is_pass_through(node, view):
            alias[node.output[0]] = node.input[0]
            continue
        kept.append(node)
    return Scope(view, kept, alias)


def _is_pass_through(node: onnx.NodeProto, view: GraphView) -> bool:
    if not node.input or not node.input[0] or not node.output or not node.output[0]:
        return False
    if node.op_type == "Identity":
        return True
    if node.op_type != "Dropout":
        return False
    if len(node.output) > 1 and node.output[1] and (node.output[1] in view.consumers or node.output[1] in view.outputs):
        return False  # the mask is used
    if len(node.input) > 2 and node.input[2]:
        training = view.const(node.input[2])
        if training is None or bool(np.asarray(training).reshape(-1)[0]):
            return False
    return True
