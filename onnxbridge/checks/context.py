"""What rules look at: an ONNX model indexed once (producers, consumers, constants, inferred types).

Indexing is done once per check and shared by every rule, so a check of a 10,000-node model stays a
handful of linear passes. Shape inference runs lazily, the first time a rule asks for a type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import ClassVar

import numpy as np
import onnx
from onnx import numpy_helper

from onnxbridge.ir.nodes import node_inputs
from onnxbridge.ir.traversal import consumers, producers, topological_order

# "(op_type:MatMul, node name: mm): [ShapeInferenceError] Incompatible dimensions ..."
_INFERENCE_LINE = re.compile(r"\(op_type:([^,]+), node name: (.*?)\): \[(\w+)\] (.*)")
# errors that only repeat an earlier one (a node whose input could not be inferred)
_CASCADE = ("expected to have type but instead is null", "Input type was null")


@dataclass(frozen=True)
class InferenceProblem:
    """One error reported by ONNX shape inference, attributed to a node."""

    op_type: str
    node: str
    kind: str
    message: str


@dataclass
class ModelContext:
    """An ONNX model plus the indexes the rules share. Build it with :meth:`from_model`."""

    #: the rules that look at it (``@rule(..., scope="onnx")``) and what their messages call it
    scope: ClassVar[str] = "onnx"
    subject: ClassVar[str] = "model"

    model: onnx.ModelProto
    targets: tuple[str, ...] = ()
    options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        g = self.model.graph
        self.graph = g
        self.nodes: list[onnx.NodeProto] = list(g.node)
        self.initializers: dict[str, onnx.TensorProto] = {}
        for t in g.initializer:
            self.initializers.setdefault(t.name, t)
        self.sparse_initializers = {t.values.name for t in g.sparse_initializer}
        self.graph_inputs: dict[str, onnx.ValueInfoProto] = {i.name: i for i in g.input}
        #: inputs a caller must feed (not backed by an initializer)
        self.real_inputs = [i for i in g.input if i.name not in self.initializers]
        self.graph_outputs: list[onnx.ValueInfoProto] = list(g.output)
        self.output_names = {o.name for o in g.output}
        self.producers: dict[str, list[int]] = producers(self.nodes)
        self.consumers: dict[str, list[int]] = consumers(self.nodes)
        self.opsets: dict[str, int] = {}
        self.opset_entries: list[tuple[str, int]] = []
        for o in self.model.opset_import:
            domain = "" if o.domain == "ai.onnx" else o.domain
            self.opset_entries.append((domain, o.version))
            self.opsets.setdefault(domain, o.version)
        self.functions = {(f.domain, f.name): f for f in self.model.functions}
        #: results one rule computes and others reuse (cycles, live nodes, type mismatches...)
        self.cache: dict = {}

    @classmethod
    def from_model(cls, model: onnx.ModelProto, *, targets: tuple[str, ...] = (), options: dict | None = None
                   ) -> ModelContext:
        """A context for checking ``model`` against ``targets``, with rule ``options``."""
        return cls(model, tuple(targets), dict(options or {}))

    # ---- names --------------------------------------------------------------------------------------

    def label(self, index: int) -> str:
        """A node's name, or a stand-in such as ``<Relu #12>`` when it has none."""
        node = self.nodes[index]
        return node.name or f"<{node.op_type} #{index}>"

    def describe(self, index: int) -> str:
        """``node 'conv1' (Conv)`` for messages."""
        return f"node {self.label(index)!r} ({self.nodes[index].op_type})"

    def is_defined_outside_nodes(self, name: str) -> bool:
        """Whether ``name`` is a graph input or an (ordinary or sparse) initializer, defined before any node
        runs."""
        return name in self.graph_inputs or name in self.initializers or name in self.sparse_initializers

    def is_constant(self, name: str) -> bool:
        """An initializer that a caller cannot override (not also a graph input)."""
        return name in self.initializers and name not in self.graph_inputs

    def is_constant_value(self, name: str) -> bool:
        """A constant initializer, or one reached through Identity copies / a Constant node."""
        for _ in range(16):
            if self.is_constant(name):
                return True
            producers = self.producers.get(name, [])
            if len(producers) != 1:
                return False
            node = self.nodes[producers[0]]
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
                return True
            if node.op_type != "Identity" or not node.input:
                return False
            name = node.input[0]
        return False

    def array(self, name: str) -> np.ndarray | None:
        """The initializer ``name`` as a numpy array; None if there is none or its data is malformed."""
        t = self.initializers.get(name)
        if t is None:
            return None
        try:
            return numpy_helper.to_array(t)
        except Exception:  # noqa: BLE001 - malformed tensor data is reported by the checker rule
            return None

    def opset_for(self, node: onnx.NodeProto) -> int | None:
        """The opset version the model imports for ``node``'s domain (``ai.onnx`` counted as the default
        domain)."""
        return self.opsets.get("" if node.domain in ("", "ai.onnx") else node.domain)

    def is_local_function(self, node: onnx.NodeProto) -> bool:
        """Whether ``node`` calls one of the model's local functions."""
        return (node.domain, node.op_type) in self.functions

    # ---- types --------------------------------------------------------------------------------------

    @cached_property
    def checkable(self) -> onnx.ModelProto:
        """The model as ONNX's checker and shape inference can take it: itself, or for a model over
        protobuf's 2 GiB limit a copy without its weights' data (which neither of them reads)."""
        from onnxbridge.ir.io import fits_in_protobuf, without_weight_data

        return self.model if fits_in_protobuf(self.model) else without_weight_data(self.model)

    def _infer(self) -> None:
        # ONNX infers in node order: an unsorted graph is analysed in sorted order (same nodes, same names)
        model = self.sorted_model(self.checkable)
        # strict inference first: on a valid model its result is all we need (one pass, in C++)
        try:
            self._inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
            self._problems: list[InferenceProblem] = []
            return
        except Exception as exc:  # noqa: BLE001 - onnx raises InferenceError, ValidationError and others
            self._problems = parse_inference_errors(str(exc))
        try:  # then everything that can be inferred despite the errors
            self._inferred = onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False)
        except Exception:  # noqa: BLE001 - e.g. a malformed graph; rules then see only declared types
            self._inferred = self.checkable

    def topological_order(self) -> list[int] | None:
        """Node indices in a stable topological order, or None when the graph has a cycle."""
        return topological_order(self.nodes)

    def is_sorted(self) -> bool:
        """Whether every node reads only tensors defined before it (graph inputs, initializers, earlier
        nodes)."""
        defined = set(self.graph_inputs) | set(self.initializers) | self.sparse_initializers
        for node in self.nodes:
            if any(n and n not in defined and n in self.producers for n in node_inputs(node)):
                return False
            defined.update(node.output)
        return True

    def sorted_model(self, model: onnx.ModelProto | None = None) -> onnx.ModelProto:
        """``model`` (default: the model itself) if sorted, else a copy with its nodes in topological order
        (if there is one). ``model`` must have the same nodes as this context's model."""
        model = self.model if model is None else model
        if self.is_sorted():
            return model
        order = self.topological_order()
        if order is None:
            return model
        copy = onnx.ModelProto()
        copy.CopyFrom(model)
        del copy.graph.node[:]
        copy.graph.node.extend(self.nodes[i] for i in order)
        return copy

    @cached_property
    def inferred(self) -> onnx.ModelProto:
        """The model with ONNX shape inference applied (as far as it gets past errors)."""
        self._infer()
        return self._inferred

    @cached_property
    def types(self) -> dict[str, onnx.TypeProto]:
        """Every tensor's type: declared (inputs, outputs, value_info), initializers, then inferred."""
        out: dict[str, onnx.TypeProto] = {}
        g = self.inferred.graph
        for vi in list(g.value_info) + list(g.output) + list(g.input):
            if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type:
                out[vi.name] = vi.type
        for name, t in self.initializers.items():
            tp = onnx.TypeProto()
            tp.tensor_type.elem_type = t.data_type
            for d in t.dims:
                tp.tensor_type.shape.dim.add().dim_value = d
            out[name] = tp
        return out

    def elem_type(self, name: str) -> int | None:
        """The ONNX element type of tensor ``name``, or None when it is not known."""
        tp = self.types.get(name)
        return tp.tensor_type.elem_type if tp is not None and tp.tensor_type.elem_type else None

    def shape(self, name: str) -> list[int | str | None] | None:
        """The shape as a list (ints, symbolic names, or None for unknown dims), or None if unknown rank."""
        tp = self.types.get(name)
        if tp is None or not tp.tensor_type.HasField("shape"):
            return None
        return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tp.tensor_type.shape.dim]

    def shape_text(self, name: str) -> str:
        """The shape of tensor ``name`` for messages: ``[1, 3, ?]``, or ``[?]`` when it is not known."""
        shape = self.shape(name)
        if shape is None:
            return "[?]"
        return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"

    @cached_property
    def inference_problems(self) -> list[InferenceProblem]:
        """Every independent error of strict ONNX shape inference (cascading ones dropped)."""
        _ = self.inferred
        return self._problems

    # ---- model-wide facts ---------------------------------------------------------------------------

    @cached_property
    def float_precision(self) -> int | None:
        """The element type of the real float inputs/outputs (FLOAT for a float32 model), if uniform."""
        kinds = {v.type.tensor_type.elem_type for v in self.real_inputs + self.graph_outputs
                 if v.type.tensor_type.elem_type in FLOAT_TYPES}
        return kinds.pop() if len(kinds) == 1 else None


FLOAT_TYPES = (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16,
               onnx.TensorProto.BFLOAT16)


def type_name(elem_type: int | None) -> str:
    """``float32`` for FLOAT, as people say it."""
    if not elem_type:
        return "unknown"
    try:
        return str(onnx.helper.tensor_dtype_to_np_dtype(elem_type))
    except Exception:  # noqa: BLE001 - e.g. string or float8 types
        return onnx.TensorProto.DataType.Name(elem_type).lower()


def parse_inference_errors(text: str) -> list[InferenceProblem]:
    """Split ONNX's inference error text into per-node problems (one per line)."""
    problems = []
    seen = set()
    for m in _INFERENCE_LINE.finditer(text):
        op, node, kind, message = m.group(1), m.group(2), m.group(3), m.group(4).strip()
        if any(c in message for c in _CASCADE):
            continue
        key = (node, message)
        if key not in seen:
            seen.add(key)
            problems.append(InferenceProblem(op.strip(), node, kind, message))
    if not problems and not any(c in text for c in _CASCADE):
        problems.append(InferenceProblem("", "", "InferenceError", text.strip().splitlines()[0][:300]))
    return problems
