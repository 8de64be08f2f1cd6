"""The generic layer ``Op``: one ONNX operator as it stands, for what no natural layer expresses.

Lifting an ONNX model (``onnxbridge.lift``) turns every node that no natural layer matches into an
``Op`` layer, so every model lifts. The layer keeps the operator (``domain``, ``op_type``), its
attributes, and its constant inputs: small ones inline (``value``), the others as weights (stored in the
spec's weights file as ``<layer id>.<name>``, initialised when absent). Its output shapes come from ONNX
shape inference on the node, with the shapes seen in the original model (``output_shapes``) filling in
what inference cannot tell (custom operators, sizes computed at run time). It lowers back to the same
node.

Example (YAML)::

    - {id: clip, type: Op, op_type: Clip, operands: [0, min, max],
       constants: {min: {dtype: float32, shape: [], value: 0.0}, max: {dtype: float32, shape: [], value: 6.0}}}

``operands`` lists the node's inputs in order: an integer is the layer's k-th input, a name is one of
``constants``, ``null`` an omitted optional input. Attribute values are plain numbers, strings and lists;
a tensor is ``{tensor: {dtype, shape, value}}``, a subgraph ``{graph: <base64 GraphProto>}`` (the outer
values it reads are wired through ``captures``), and anything else ``{attribute: <base64 AttributeProto>}``.
"""

from __future__ import annotations

import base64
import functools
import math
from typing import Any

import numpy as np
import onnx
from onnx import AttributeProto, helper, numpy_helper
from pydantic import BaseModel, ConfigDict, Field, model_validator

from onnxbridge.spec.init import fan_in_uniform
from onnxbridge.spec.params import LayerParams
from onnxbridge.spec.registry import Example, LayerDef, LayerShapeError, Weight, current_opset, register_layer
from onnxbridge.spec.types import NUMPY_DTYPES, TensorInfo, dtype_name, elem_type

Dims = list[int | str]


class OpConstant(BaseModel):
    """A constant input of an ``Op`` layer: inline (``value`` or ``tensor``), or a weight (neither)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dtype: str = Field("float32", description="Element type (float32, int64, bool, ...).")
    shape: list[int] = Field(default_factory=list, description="Dimensions ([] for a scalar).")
    value: Any = Field(None, description="The values as a (nested) list; omitted for a weight.")
    tensor: str | None = Field(None, description="The tensor as a base64 ONNX TensorProto (any element type).")

    @property
    def is_weight(self) -> bool:
        """Whether the constant is a learnable weight (given neither ``value`` nor ``tensor``)."""
        return self.value is None and self.tensor is None

    def array(self) -> np.ndarray:
        """The inline constant as a numpy array (from ``tensor``, or ``value`` reshaped to ``shape``)."""
        if self.tensor is not None:
            return numpy_helper.to_array(_tensor_from_b64(self.tensor))
        return np.asarray(self.value, dtype=NUMPY_DTYPES.get(self.dtype, np.float32)).reshape(self.shape)


class OpParams(LayerParams):
    """Parameters of ``Op``: one ONNX node, its attributes, operands and constants."""
    op_type: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="ONNX operator type, e.g. Clip.")
    domain: str = Field("", description="Operator domain ('' is the standard ONNX domain).")
    opset: int | None = Field(None, ge=1, description="Version of 'domain' (default: the spec's opset).")
    attributes: dict[str, Any] = Field(default_factory=dict, description="ONNX attributes by name.")
    operands: list[int | str | None] | None = Field(
        None, description="The node's inputs: k = the layer's k-th input, a name = one of 'constants', "
                          "null = omitted. Default: the layer's inputs in order.")
    constants: dict[str, OpConstant] = Field(default_factory=dict, description="Constant inputs by name.")
    outputs: int = Field(1, ge=1, description="How many outputs the layer has.")
    output_slots: list[int] | None = Field(
        None, description="Which node output each layer output is (default 0, 1, ...); others are omitted.")
    captures: dict[str, int | str] = Field(
        default_factory=dict, description="Outer values a subgraph attribute reads: its name -> an input "
                                          "index or a constant.")
    output_shapes: list[Dims | None] | None = Field(
        None, description="Output shapes seen in the original model, used where inference cannot tell.")
    output_dtypes: list[str | None] | None = Field(None, description="Output element types seen in the model.")

    @model_validator(mode="after")
    def _consistent(self) -> OpParams:
        for o in (self.operands or []) + list(self.captures.values()):
            if isinstance(o, str) and o not in self.constants:
                raise ValueError(f"operand {o!r} is not one of the constants ({', '.join(self.constants) or 'none'})")
            if isinstance(o, int) and not isinstance(o, bool) and o < 0:
                raise ValueError(f"operand {o} must be an input index >= 0")
        if self.output_slots is not None and (len(self.output_slots) != self.outputs
                                              or len(set(self.output_slots)) != self.outputs):
            raise ValueError("output_slots needs one distinct node output index per layer output")
        return self

    def input_count(self, available: int) -> int:
        """How many layer inputs the node reads."""
        used = [o for o in (self.operands or []) + list(self.captures.values()) if isinstance(o, int)]
        return max(used) + 1 if used else (available if self.operands is None else 0)


@register_layer
class Op(LayerDef):
    """Any ONNX operator with its attributes and constant inputs (what a lifted model's other nodes become)."""

    family = "generic"
    Params = OpParams
    min_inputs = 0
    max_inputs = None

    @classmethod
    def infer(cls, p: OpParams, inputs: list[TensorInfo]) -> list[TensorInfo]:
        """The node's outputs as ONNX shape inference gives them; the layer must have an input for every
        operand index."""
        need = p.input_count(len(inputs))
        if need > len(inputs):
            raise LayerShapeError(f"needs {need} input(s) for its operands, got {len(inputs)}",
                                  "connect the missing inputs")
        return list(_infer(p.model_dump_json(), tuple(inputs), current_opset()))

    @classmethod
    def weights(cls, p: OpParams, inputs: list[TensorInfo]) -> dict[str, Weight]:
        """The constants declared as weights (neither ``value`` nor ``tensor``)."""
        out = {}
        for name, c in p.constants.items():
            if c.is_weight:
                out[name] = _weight_of(c)
        return out

    @classmethod
    def lower(cls, p: OpParams, b, inputs, infos, outputs):
        """Emit the one node, its operands taken from the layer's inputs, inline constants and weights."""
        made: dict[str, str] = {}

        def operand(o: int | str | None) -> str:
            if o is None:
                return ""
            if isinstance(o, int):
                return inputs[o]
            if o not in made:
                c = p.constants[o]
                if c.is_weight:
                    made[o] = b.weight(o, _weight_of(c))
                elif c.tensor is not None:
                    made[o] = b.const_tensor(_tensor_from_b64(c.tensor), o)
                else:
                    made[o] = b.const(c.array(), o, dtype=NUMPY_DTYPES.get(c.dtype, np.float32))
            return made[o]

        operands = p.operands if p.operands is not None else list(range(len(inputs)))
        names = [operand(o) for o in operands]
        while names and names[-1] == "":
            names.pop()
        rename = {inner: operand(o) for inner, o in p.captures.items()}
        b.node(p.op_type, names, _node_outputs(p, outputs), domain=_domain(p.domain))
        b.nodes[-1].attribute.extend(attribute_protos(p.attributes, rename))
        if _domain(p.domain):
            b.use_domain(_domain(p.domain), p.opset or 1)

    @classmethod
    def examples(cls):
        """A Mul by a weight, a Relu, a Transpose with attributes, a Reshape by an inline shape and a
        two-output TopK."""
        scale = {"dtype": "float32", "shape": [6]}
        shape = {"dtype": "int64", "shape": [2], "value": [0, -1]}
        return [Example({"op_type": "Mul", "operands": [0, "scale"], "constants": {"scale": scale}},
                        (TensorInfo(("batch", 3, 6)),)),
                Example({"op_type": "Relu"}, (TensorInfo(("batch", 4, 6, 6)),)),
                Example({"op_type": "Transpose", "attributes": {"perm": [0, 2, 1]}}, (TensorInfo(("batch", 5, 3)),)),
                Example({"op_type": "Reshape", "operands": [0, "shape"], "constants": {"shape": shape}},
                        (TensorInfo(("batch", 3, 4)),)),
                Example({"op_type": "TopK", "operands": [0, "k"], "outputs": 2, "attributes": {"axis": -1},
                         "constants": {"k": {"dtype": "int64", "shape": [1], "value": [2]}}},
                        (TensorInfo((2, 5)),))]


def _domain(domain: str) -> str:
    return "" if domain in ("", "ai.onnx") else domain


def _node_outputs(p: OpParams, outputs: list[str]) -> list[str]:
    slots = p.output_slots or list(range(len(outputs)))
    names = [""] * (max(slots) + 1)
    for name, slot in zip(outputs, slots):
        names[slot] = name
    return names


def _weight_of(c: OpConstant) -> Weight:
    shape = tuple(int(d) for d in c.shape)
    if np.dtype(NUMPY_DTYPES.get(c.dtype, np.float32)).kind != "f":
        return Weight(shape, "zeros", trainable=False, dtype=c.dtype)
    fan_in = math.prod(shape[1:]) if len(shape) > 1 else (shape[0] if shape else 1)
    return fan_in_uniform(shape, fan_in, dtype=c.dtype)


# --------------------------------------------------------------------------------------------------
# shapes: ONNX shape inference on the node alone, the model's own shapes where it cannot tell
# --------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4096)
def _infer(params_json: str, inputs: tuple[TensorInfo, ...], opset: int) -> tuple[TensorInfo, ...]:
    p = OpParams.model_validate_json(params_json)
    graph_inputs = [helper.make_tensor_value_info(f"in{k}", elem_type(t.dtype), list(t.shape))
                    for k, t in enumerate(inputs)]
    inits = []
    for name, c in p.constants.items():
        if c.tensor is not None:
            t = _tensor_from_b64(c.tensor)
            t.name = f"const_{name}"
            inits.append(t)
        elif c.value is not None:
            inits.append(numpy_helper.from_array(c.array(), f"const_{name}"))
        else:  # a weight: only its type matters here
            graph_inputs.append(helper.make_tensor_value_info(f"const_{name}", elem_type(c.dtype), list(c.shape)))

    def operand(o: int | str | None) -> str:
        return "" if o is None else f"in{o}" if isinstance(o, int) else f"const_{o}"

    operands = p.operands if p.operands is not None else list(range(len(inputs)))
    names = [operand(o) for o in operands]
    while names and names[-1] == "":
        names.pop()
    outs = _node_outputs(p, [f"out{k}" for k in range(p.outputs)])
    node = helper.make_node(p.op_type, names, outs, domain=_domain(p.domain) or None)
    node.attribute.extend(attribute_protos(p.attributes, {k: operand(v) for k, v in p.captures.items()}))
    imports = [helper.make_opsetid("", opset)]
    if _domain(p.domain):
        imports.append(helper.make_opsetid(_domain(p.domain), p.opset or 1))
    graph = helper.make_graph([node], "op", graph_inputs, [helper.make_empty_tensor_value_info(o) for o in outs if o],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=imports, ir_version=10)
    found = _inferred_types(model, p, inputs)
    results = []
    for k in range(p.outputs):
        hint_shape = (p.output_shapes or [None] * p.outputs)[k] if p.output_shapes and k < len(p.output_shapes) else None
        hint_dtype = p.output_dtypes[k] if p.output_dtypes and k < len(p.output_dtypes) else None
        tp = found.get(f"out{k}")
        dtype = (dtype_name(tp.tensor_type.elem_type) if tp is not None else None) or hint_dtype or \
            (inputs[0].dtype if inputs else "float32")
        shape = _dims(tp, hint_shape, p.op_type, k)
        if shape is None:
            shape = tuple(hint_shape) if hint_shape is not None else (inputs[0].shape if inputs else ())
        results.append(TensorInfo(tuple(shape), dtype))
    return tuple(results)


def _inferred_types(model: onnx.ModelProto, p: OpParams, inputs: tuple[TensorInfo, ...]) -> dict[str, onnx.TypeProto]:
    """The types ONNX shape inference gives the one-node ``model``'s values (what it can tell).

    Raises :class:`LayerShapeError` when the rules of an ONNX operator refuse its operands (operands that do
    not broadcast, an attribute out of range); a custom operator's shapes are left to the model's own.
    """
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    except onnx.shape_inference.InferenceError as exc:
        reason = _inference_reason(exc)
        if not _domain(p.domain) and not any(m in reason for m in ("No Op registered", "No opset import")) \
                and not _takes_sequences(p.op_type, model):
            raise LayerShapeError(f"needs operands that {p.op_type} accepts ({_operand_shapes(p, inputs)}); "
                                  f"ONNX says: {reason}",
                                  f"compare the input shapes with what {p.op_type} accepts: "
                                  f"https://onnx.ai/onnx/operators/onnx__{p.op_type}.html") from None
        inferred = None
    except Exception:  # noqa: BLE001 - inference is a help: the model's own shapes fill in
        inferred = None
    if inferred is None:
        try:
            inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
        except Exception:  # noqa: BLE001
            return {}
    return {vi.name: vi.type for vi in list(inferred.graph.value_info) + list(inferred.graph.output)
            if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type}


def _takes_sequences(op_type: str, model: onnx.ModelProto) -> bool:
    """Whether the ONNX operator reads or writes sequences (or optionals), which a spec holds as tensors:
    its one-node model then declares them wrongly, and ONNX's refusal says nothing about the operands."""
    try:
        schema = onnx.defs.get_schema(op_type, model.opset_import[0].version, "")
    except Exception:  # noqa: BLE001 - no schema: nothing to go by
        return False
    return any(t.startswith(("seq(", "optional(")) for c in schema.type_constraints for t in c.allowed_type_strs)


def _operand_shapes(p: OpParams, inputs: tuple[TensorInfo, ...]) -> str:
    """Each operand's shape, for a message: ``input 0 [batch, 2], scale [6]``."""
    operands = p.operands if p.operands is not None else list(range(len(inputs)))
    shown = []
    for o in operands:
        if isinstance(o, int) and o < len(inputs):
            shown.append(f"input {o} [{', '.join(str(d) for d in inputs[o].shape)}]")
        elif isinstance(o, str) and o in p.constants:
            shown.append(f"{o} [{', '.join(str(d) for d in p.constants[o].shape)}]")
    return ", ".join(shown)


def _inference_reason(exc: Exception) -> str:
    """ONNX's inference message without its prefixes ("[ShapeInferenceError] (op_type:Mul, node name: ...):")."""
    from onnxbridge.ir.validity import one_line, strip_inference_prefix

    return strip_inference_prefix(one_line(exc))


def _dims(tp: onnx.TypeProto | None, hint: Dims | None, op_type: str, k: int) -> tuple | None:
    if tp is None or not tp.tensor_type.HasField("shape"):
        return None
    dims = list(tp.tensor_type.shape.dim)
    out: list[int | str] = []
    for axis, d in enumerate(dims):
        if d.HasField("dim_value"):
            out.append(int(d.dim_value))
        elif d.dim_param and not d.dim_param.startswith("unk__"):
            out.append(d.dim_param)
        elif hint is not None and len(hint) == len(dims):
            out.append(hint[axis])
        else:
            out.append(f"{op_type.lower()}_{k}_d{axis}")
    return tuple(out)


# --------------------------------------------------------------------------------------------------
# attributes as plain data, and back
# --------------------------------------------------------------------------------------------------
_LISTS = {AttributeProto.INTS: "ints", AttributeProto.FLOATS: "floats", AttributeProto.STRINGS: "strings"}
_TYPED = {"int": AttributeProto.INT, "float": AttributeProto.FLOAT, "string": AttributeProto.STRING,
          **{v: k for k, v in _LISTS.items()}}


def encode_attribute(a: AttributeProto) -> Any:
    """An attribute's value as plain data (see the module docstring for the forms)."""
    t = a.type
    if a.ref_attr_name:
        return {"attribute": _b64(a)}
    if t == AttributeProto.INT:
        return int(a.i)
    if t == AttributeProto.FLOAT:
        return clean_float(a.f) if math.isfinite(a.f) else {"attribute": _b64(a)}
    if t == AttributeProto.STRING:
        try:
            return a.s.decode("utf-8")
        except UnicodeDecodeError:
            return {"attribute": _b64(a)}
    if t in _LISTS:
        values = list(a.ints) if t == AttributeProto.INTS else list(a.floats) if t == AttributeProto.FLOATS else list(a.strings)
        if t == AttributeProto.FLOATS:
            if not all(math.isfinite(v) for v in values):
                return {"attribute": _b64(a)}
            values = [clean_float(v) for v in values]
        elif t == AttributeProto.STRINGS:
            try:
                values = [v.decode("utf-8") for v in values]
            except UnicodeDecodeError:
                return {"attribute": _b64(a)}
        else:
            values = [int(v) for v in values]
        return values if values else {"type": _LISTS[t], "value": []}
    if t == AttributeProto.TENSOR:
        return {"tensor": encode_constant(a.t).model_dump(exclude_none=True)}
    if t == AttributeProto.GRAPH:
        return {"graph": _b64(a.g)}
    if t == AttributeProto.GRAPHS:
        return {"graphs": [_b64(g) for g in a.graphs]}
    return {"attribute": _b64(a)}


def attribute_protos(attributes: dict[str, Any], rename: dict[str, str] | None = None) -> list[AttributeProto]:
    """The ONNX attributes for ``attributes`` (plain data); subgraphs read outer values through ``rename``."""
    out = []
    for name, value in attributes.items():
        out.append(_decode(name, value, rename or {}))
    return out


def _decode(name: str, value: Any, rename: dict[str, str]) -> AttributeProto:
    if isinstance(value, dict):
        if "attribute" in value:
            a = AttributeProto()
            a.ParseFromString(base64.b64decode(value["attribute"]))
            a.name = name
            return a
        if "tensor" in value:
            c = OpConstant.model_validate(value["tensor"])
            tensor = _tensor_from_b64(c.tensor) if c.tensor else numpy_helper.from_array(c.array())
            return helper.make_attribute(name, tensor)
        if "graph" in value:
            return helper.make_attribute(name, _graph(value["graph"], rename))
        if "graphs" in value:
            return helper.make_attribute(name, [_graph(g, rename) for g in value["graphs"]])
        if "type" in value:
            return helper.make_attribute(name, value.get("value", []), attr_type=_TYPED[value["type"]])
        raise ValueError(f"attribute {name!r}: unknown form {sorted(value)}")
    if isinstance(value, bool):
        return helper.make_attribute(name, int(value))
    if isinstance(value, list) and value and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value) \
            and any(isinstance(v, float) for v in value):
        return helper.make_attribute(name, [float(v) for v in value], attr_type=AttributeProto.FLOATS)
    return helper.make_attribute(name, value)


def encode_constant(tensor: onnx.TensorProto, *, inline: bool = True) -> OpConstant:
    """A tensor as an :class:`OpConstant`: readable values when ``inline`` and plain, base64 otherwise."""
    dtype = dtype_name(tensor.data_type)
    shape = [int(d) for d in tensor.dims]
    if dtype not in NUMPY_DTYPES or tensor.data_location == onnx.TensorProto.EXTERNAL:
        return OpConstant(dtype=dtype, shape=shape, tensor=_b64(tensor))
    if not inline:
        return OpConstant(dtype=dtype, shape=shape)
    array = numpy_helper.to_array(tensor)
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        return OpConstant(dtype=dtype, shape=shape, tensor=_b64(tensor))
    return OpConstant(dtype=dtype, shape=shape, value=plain_values(array))


def plain_values(array: np.ndarray) -> Any:
    """A numpy array as nested lists of Python numbers (floats in their shortest exact form)."""
    if array.dtype.kind == "f":
        flat = [clean_float(v, array.dtype) for v in array.reshape(-1)]
        return np.asarray(flat, dtype=object).reshape(array.shape).tolist() if array.ndim else flat[0]
    if array.dtype == np.bool_:
        return array.tolist()
    return array.astype(np.int64).tolist() if array.dtype.kind in "iu" else array.tolist()


def clean_float(value: float, dtype: Any = np.float32) -> float:
    """The shortest decimal that is the same ``dtype`` number (0.2 rather than 0.20000000298023224)."""
    if np.dtype(dtype) == np.float64:
        return float(value)
    return float(np.format_float_positional(np.dtype(dtype).type(value), unique=True, trim="-"))


def _b64(message: Any) -> str:
    return base64.b64encode(message.SerializeToString()).decode("ascii")


def _tensor_from_b64(text: str) -> onnx.TensorProto:
    t = onnx.TensorProto()
    t.ParseFromString(base64.b64decode(text))
    return t


def _graph(text: str, rename: dict[str, str]) -> onnx.GraphProto:
    g = onnx.GraphProto()
    g.ParseFromString(base64.b64decode(text))
    if rename:
        _rename_free(g, rename)
    return g


def _rename_free(graph: onnx.GraphProto, rename: dict[str, str]) -> None:
    """Point the values a subgraph reads from outside at their new names (nested subgraphs too)."""
    defined = {i.name for i in graph.input} | {i.name for i in graph.initializer} | \
        {o for n in graph.node for o in n.output}
    local = {k: v for k, v in rename.items() if k not in defined}
    if not local:
        return
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in local:
                node.input[i] = local[name]
        for a in node.attribute:
            for g in ([a.g] if a.type == AttributeProto.GRAPH else list(a.graphs)):
                _rename_free(g, local)
    for o in graph.output:
        if o.name in local:
            o.name = local[o.name]
