"""What makes a model invalid ONNX, found before any code generator reads it, each problem named.

Converters read nodes and weights trusting ONNX's rules (an op's input count, its attribute types, a
``perm`` that permutes the input's axes, weight bytes that fill the declared shape). A model that breaks
them, a mutated or hand-edited file, would otherwise crash a converter part-way. The same rules are what
onnxruntime enforces when it loads a model, so nothing it could run is refused here:

- :func:`node_problem`: the ONNX checker's verdict on one node (input and output counts, attributes);
- :func:`inference_problem`: the op's own ONNX type and shape rules on one node, given its known input
  types and small constant inputs (a ``perm`` out of range, operands that do not broadcast);
- :func:`recurrent_problem`: the weight shapes an LSTM, GRU or RNN must have for its input and
  ``hidden_size`` (ONNX's inference does not check them; onnxruntime refuses them when it runs);
- :func:`initializer_value`: a weight as numpy, or an :class:`InvalidModelError` naming it.

Example::

    problem = node_problem(node, {"": 17}, ir_version=8)     # None, or "has input size 2 not in range ..."
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import onnx
from onnx import helper, numpy_helper

from onnxbridge.errors import OnnxBridgeError
from onnxbridge.ir.conventions import is_onnx_domain
from onnxbridge.ir.nodes import node_label, subgraphs
from onnxbridge.ir.types import TensorType, value_info

# what the checker says of a node that other parts of onnxbridge report better (an op newer than the
# model's opset is a finding of `check` and a missing converter, not a malformed node)
_NOT_MALFORMED = ("No Op registered for", "No opset import for domain")
# the checker's verdicts on the node itself that are taken (it also checks the body of an op defined as an
# ONNX function, where it can refuse what onnxruntime runs: MeanVarianceNormalization's Constant)
_MALFORMED = ("has input size", "has output size", "Required attribute", "Unrecognized attribute",
              "Mismatched attribute type", "attribute type", "0-element but contains data", "raw_data size")

_INFERENCE_PREFIX = re.compile(r"^(\s*(\[\w+\]|\(op_type:[^)]*\)|Inference error\(s\)):?\s*)+")
_CONST_LIMIT = 4096  # known inputs up to this size are given to inference as values


class InvalidModelError(OnnxBridgeError):
    """A model breaks ONNX's rules (what onnxruntime refuses to load); ``problems`` names each node or weight."""

    def __init__(self, problems: list[str]):
        message = problems[0] if len(problems) == 1 else f"{len(problems)} problems: " + "; ".join(problems[:8])
        if len(problems) > 8:
            message += f"; and {len(problems) - 8} more"
        super().__init__(message, problems=problems,
                         hint="the model is not valid ONNX (onnxruntime refuses it too); 'onnxbridge check' on "
                              "it lists what ONNX's checker and shape rules find")


def describe(node: onnx.NodeProto, where: str = "") -> str:
    """How a problem names a node: ``node 'embed' (Relu)``, with ``where`` (``in block 'Block'``) after it."""
    return f"node {node_label(node)!r} ({node.op_type}){f' {where}' if where else ''}"


def node_problem(node: onnx.NodeProto, opsets: dict[str, int], ir_version: int) -> str | None:
    """What the ONNX checker finds wrong with ``node`` alone, in one line, or None.

    Nodes with subgraphs are left to the views of their subgraphs; an op unknown at the opset is not a
    malformed node (the converter lookup reports it).
    """
    if not is_onnx_domain(node.domain) or subgraphs(node):
        return None
    ctx = onnx.checker.C.CheckerContext()
    ctx.ir_version = ir_version
    ctx.opset_imports = dict(opsets)
    try:
        onnx.checker.check_node(node, ctx)
    except Exception as exc:  # noqa: BLE001 - ValidationError, or protobuf errors for odd nodes
        message = one_line(exc)
        if any(m in message for m in _NOT_MALFORMED) or not any(m in message for m in _MALFORMED):
            return None
        return message
    return None


def inference_problem(node: onnx.NodeProto, types: dict[str, TensorType], consts: dict[str, np.ndarray],
                      opsets: dict[str, int]) -> str | None:
    """What ONNX's type and shape rules for ``node``'s op find wrong, given its inputs' ``types`` and known
    small values ``consts``, in one line, or None (also when an input's element type is unknown: then
    nothing can be judged)."""
    if not is_onnx_domain(node.domain) or subgraphs(node) or _defined_as_function(node, opsets):
        return None
    model = one_node_model(node, types.get, consts.get, opsets)
    if model is None:
        return None
    try:
        onnx.shape_inference.infer_shapes(model, strict_mode=True)
    except onnx.shape_inference.InferenceError as exc:
        message = strip_inference_prefix(one_line(exc))
        return None if any(m in message for m in _NOT_MALFORMED) else message
    except Exception:  # noqa: BLE001 - an op without a schema here, a model onnx cannot build: not judged
        return None
    return None


def one_node_model(node: onnx.NodeProto, type_of: Callable[[str], TensorType | None],
                   const_of: Callable[[str], np.ndarray | None], opsets: dict[str, int], *,
                   need_shapes: bool = False) -> onnx.ModelProto | None:
    """``node`` alone as a model for ONNX's shape inference: its small known inputs as initializers (values
    inference may read), the others as typed graph inputs; None when an input's element type (with
    ``need_shapes``, its rank too) is unknown."""
    inputs, inits = [], []
    for name in dict.fromkeys(n for n in node.input if n):
        c = const_of(name)
        if c is not None and np.asarray(c).size <= _CONST_LIMIT:
            inits.append(numpy_helper.from_array(np.asarray(c), name))
            continue
        t = type_of(name)
        if t is None or t.elem is None or (need_shapes and t.shape is None):
            return None
        inputs.append(value_info(name, t))
    outs = [helper.make_empty_tensor_value_info(o) for o in dict.fromkeys(o for o in node.output if o)]
    graph = helper.make_graph([node], "node", inputs, outs, initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()])


_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def recurrent_problem(node: onnx.NodeProto, shape_of: Callable[[str], tuple | None]) -> str | None:
    """What is wrong with the shapes of an LSTM, GRU or RNN node's weights ``W``, ``R``, ``B`` given its input's
    feature size and ``hidden_size``, in one line, or None (also for any other op, and where a size is not
    known). ``shape_of(name)`` is a tensor's shape or None."""
    gates = _GATES.get(node.op_type) if is_onnx_domain(node.domain) else None
    if gates is None or len(node.input) < 3:
        return None
    hidden = next((a.i for a in node.attribute if a.name == "hidden_size"), None)
    direction = next((a.s.decode("utf-8", "replace") for a in node.attribute if a.name == "direction"), "forward")
    x = shape_of(node.input[0]) if node.input[0] else None
    features = x[-1] if x else None
    want = {1: (2 if direction == "bidirectional" else 1, gates * hidden if hidden else None, features),
            2: (None, gates * hidden if hidden else None, hidden),
            3: (None, 2 * gates * hidden if hidden else None)}
    names = {1: "W", 2: "R", 3: "B"}
    for i, expected in want.items():
        if i >= len(node.input) or not node.input[i]:
            continue
        got = shape_of(node.input[i])
        if got is None:
            continue
        if len(got) != len(expected) or any(isinstance(g, int) and isinstance(e, int) and g != e
                                            for g, e in zip(got, expected)):
            shown = ", ".join("?" if e is None else str(e) for e in expected)
            return (f"{names[i]} has shape [{', '.join(str(d) for d in got)}], but an input of {features} "
                    f"features and hidden_size {hidden} need [{shown}]")
    return None


def initializer_value(tensor: onnx.TensorProto, readers: Callable[[], str] | None = None) -> np.ndarray:
    """``tensor`` as numpy; an :class:`InvalidModelError` naming it (and what ``readers()`` says reads it)
    when its data does not fill its shape."""
    try:
        return numpy_helper.to_array(tensor)
    except ValueError as exc:
        try:
            onnx.checker.check_tensor(tensor, onnx.checker.C.CheckerContext())
            reason = one_line(exc)
        except onnx.checker.ValidationError as found:
            reason = one_line(found)
        read_by = readers() if readers is not None else ""
        raise InvalidModelError([f"weight {tensor.name!r}{f' (read by {read_by})' if read_by else ''}: "
                                 f"{reason}"]) from None


def _defined_as_function(node: onnx.NodeProto, opsets: dict[str, int]) -> bool:
    """Whether ONNX defines ``node``'s op by a function body: its inference runs the body, where ONNX can
    refuse what onnxruntime runs (MeanVarianceNormalization's Constant), so it does not judge the node."""
    domain = "" if node.domain in ("", "ai.onnx") else node.domain
    try:
        schema = onnx.defs.get_schema(node.op_type, opsets.get(domain, opsets.get("", 1)), domain)
    except Exception:  # noqa: BLE001 - no schema: nothing to judge by
        return True
    # (the stubs of onnx's C++ schema object do not list these two attributes)
    return bool(getattr(schema, "has_function", False) or getattr(schema, "has_context_dependent_function", False))


def strip_inference_prefix(message: str) -> str:
    """``[ShapeInferenceError] (op_type:Transpose, node name: t): [TypeInferenceError] Invalid ...`` ->
    ``Invalid ...``: what ONNX's inference found, without where (the caller names the node)."""
    return _INFERENCE_PREFIX.sub("", message) or message


def one_line(exc: BaseException) -> str:
    """The first line of an ONNX error, without the context onnx appends (at most 400 characters)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text.split("==> Context:")[0].strip()[:400]
