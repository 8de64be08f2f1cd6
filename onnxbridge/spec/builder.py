"""GraphBuilder: what a layer's ``lower`` uses to emit ONNX nodes, weights and constants.

The same builder writes the main graph and the bodies of block functions. In the main graph a weight
becomes an initializer; inside a block function it becomes a formal input of the function (ONNX
functions cannot hold initializers), and the caller passes its own initializer — so every instance of
a block has its own weights while the block's structure is written once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from onnxbridge.ir.conventions import BLOCKS_DOMAIN
from onnxbridge.spec.init import init_weight
from onnxbridge.spec.registry import Weight
from onnxbridge.spec.types import NUMPY_DTYPES
from onnxbridge.spec.weights import WeightStore


@dataclass
class FunctionTable:
    """Block functions of one model, shared by all builders; equal bodies are written once."""

    functions: dict[str, onnx.FunctionProto] = field(default_factory=dict)
    #: operator domains other than the default one that nodes use, with their versions
    domains: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, fn: onnx.FunctionProto) -> str:
        """Register ``fn`` under ``name`` (or ``name_2``... when a different body already has it)."""
        candidate, n = name, 2
        while candidate in self.functions:
            if _same_body(self.functions[candidate], fn):
                return candidate
            candidate, n = f"{name}_{n}", n + 1
        fn.name = candidate
        self.functions[candidate] = fn
        return candidate


def _same_body(a: onnx.FunctionProto, b: onnx.FunctionProto) -> bool:
    a2, b2 = onnx.FunctionProto(), onnx.FunctionProto()
    a2.CopyFrom(a)
    b2.CopyFrom(b)
    a2.name = b2.name = ""
    return a2.SerializeToString(deterministic=True) == b2.SerializeToString(deterministic=True)


class GraphBuilder:
    """Collects nodes, initializers (or function weight inputs) and constants while lowering."""

    def __init__(self, *, opset: int, seed: int, functions: FunctionTable, in_function: bool = False,
                 weight_prefix: str = "", store: WeightStore | None = None):
        self.opset = opset
        self.seed = seed
        self.functions = functions
        self.in_function = in_function
        self.weight_prefix = weight_prefix
        #: stored weights (a spec's weights file) used where their shapes fit
        self.store = store if store is not None else WeightStore(None)
        #: domains this builder's nodes use (a function imports them too)
        self.domains: dict[str, int] = {}
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        #: in a function: (formal input name, weight spec) for each weight, in order
        self.weight_inputs: list[tuple[str, Weight]] = []
        self.scope = ""
        self._names: set[str] = set()
        self._layer_start = 0

    # -- naming ------------------------------------------------------------------------------
    def fresh(self, hint: str) -> str:
        """A tensor/node name not used yet in this graph, made from ``hint``."""
        base = f"{self.scope}/{hint}" if self.scope else hint
        name, n = base, 2
        while name in self._names:
            name, n = f"{base}_{n}", n + 1
        self._names.add(name)
        return name

    def begin_layer(self, layer_id: str) -> None:
        """Start emitting the nodes of layer ``layer_id``: they are named in its scope."""
        self.scope = layer_id
        self._layer_start = len(self.nodes)

    def end_layer(self) -> None:
        """A layer lowered to a single node gets the layer id as its node name."""
        added = self.nodes[self._layer_start:]
        if len(added) == 1 and self.scope not in self._names:
            added[0].name = self.scope
            self._names.add(self.scope)
        self.scope = ""

    # -- emitting ----------------------------------------------------------------------------
    def node(self, op_type: str, inputs: list[str], outputs: list[str] | int = 1, *, domain: str = "",
             **attrs: Any) -> list[str]:
        """Add a node; ``outputs`` are names or a count of fresh names. Returns the output names."""
        if isinstance(outputs, int):
            outputs = [self.fresh(f"{op_type}_output_{i}" if outputs > 1 else op_type) for i in range(outputs)]
        name = self.fresh(op_type)
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, list(inputs), list(outputs), name=name, domain=domain or None,
                                           **attrs))
        return list(outputs)

    def op(self, op_type: str, *inputs: str, **attrs: Any) -> str:
        """Add a single-output node and return its output name."""
        return self.node(op_type, list(inputs), 1, **attrs)[0]

    def weight(self, local_name: str, spec: Weight) -> str:
        """A learnable tensor of the current layer, named ``<layer>.<local_name>``."""
        name = f"{self.scope}.{local_name}" if self.scope else local_name
        if self.in_function:
            self.weight_inputs.append((name, spec))
            self._names.add(name)
            return name
        full = f"{self.weight_prefix}{name}"
        self.initializers.append(numpy_helper.from_array(self._value(spec, full), full))
        self._names.add(full)
        return full

    def add_initializer(self, full_name: str, spec: Weight) -> str:
        """A weight with an explicit full name (used to feed a block function's weight inputs)."""
        if self.in_function:
            self.weight_inputs.append((full_name, spec))
            return full_name
        full = f"{self.weight_prefix}{full_name}"
        self.initializers.append(numpy_helper.from_array(self._value(spec, full), full))
        return full

    def _value(self, spec: Weight, full: str) -> np.ndarray:
        dtype = NUMPY_DTYPES.get(spec.dtype, np.float32)
        stored = self.store.take(full, spec.shape, dtype)
        if stored is not None:
            return stored
        self.store.initialised(full)
        return init_weight(spec, full, self.seed)

    def use_domain(self, domain: str, version: int) -> None:
        """Record that a node uses operator ``domain`` at ``version`` (for the opset imports)."""
        if domain in ("", "ai.onnx"):
            return
        self.domains[domain] = version
        self.functions.domains.setdefault(domain, version)

    def const(self, value: np.ndarray | list | int | float, hint: str = "const", dtype: type | None = None) -> str:
        """A constant tensor (an initializer in the main graph, a Constant node in a function)."""
        array: np.ndarray = np.asarray(value, dtype=dtype if dtype is not None else
                           (np.int64 if np.asarray(value).dtype.kind in "iu" else np.float32))
        name = self.fresh(hint)
        tensor = numpy_helper.from_array(array, name)
        if self.in_function:
            self.nodes.append(helper.make_node("Constant", [], [name], name=self.fresh(f"{hint}_Constant"),
                                               value=tensor))
        else:
            self.initializers.append(tensor)
        return name

    def const_tensor(self, tensor: onnx.TensorProto, hint: str = "const") -> str:
        """A constant given as an ONNX tensor (any element type), like :meth:`const`."""
        name = self.fresh(hint)
        t = onnx.TensorProto()
        t.CopyFrom(tensor)
        t.name = name
        if self.in_function:
            self.nodes.append(helper.make_node("Constant", [], [name], name=self.fresh(f"{hint}_Constant"), value=t))
        else:
            self.initializers.append(t)
        return name

    def ints(self, values: list[int] | tuple[int, ...], hint: str = "shape") -> str:
        """A 1-D int64 constant (shapes, axes, pads)."""
        return self.const(np.asarray(list(values), dtype=np.int64), hint)

    def function_proto(self, name: str, inputs: list[str], outputs: list[str], doc: str = "") -> onnx.FunctionProto:
        """This builder's nodes as an ONNX local function (weights appended to its inputs)."""
        imports = [helper.make_opsetid("", self.opset), helper.make_opsetid(BLOCKS_DOMAIN, 1)]
        imports += [helper.make_opsetid(d, v) for d, v in sorted(self.domains.items()) if d != BLOCKS_DOMAIN]
        return helper.make_function(
            BLOCKS_DOMAIN, name, inputs + [w for w, _ in self.weight_inputs], outputs, self.nodes,
            opset_imports=imports, doc_string=doc or None)
