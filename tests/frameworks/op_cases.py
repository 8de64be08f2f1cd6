"""One-node ONNX models for every converted op, shared by the framework bridges' tests.

Each :class:`OpCase` is data: the op, its attributes, its inputs (shape, dtype, how to fill them, and
whether they are graph inputs or constants), the opset, and per-framework expected failures
(``xfail={"torch": "reason"}``; ``"*"`` for every framework, e.g. when onnxruntime cannot run the
reference), so a fixed case shows up as XPASS. :func:`build_model` turns a case
into an ONNX model and :func:`case_inputs` into its input arrays; the reference is onnxruntime. Sequence
inputs and outputs (``In.items``, ``OpCase.sequence_outputs``) are built and read back by sequence nodes
around the one under test, so the graph takes and gives plain tensors.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

_ELEM = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE, "int64": TensorProto.INT64,
         "int32": TensorProto.INT32, "bool": TensorProto.BOOL, "uint8": TensorProto.UINT8,
         "float16": TensorProto.FLOAT16, "int8": TensorProto.INT8, "int16": TensorProto.INT16,
         "uint16": TensorProto.UINT16, "uint32": TensorProto.UINT32, "uint64": TensorProto.UINT64,
         "string": TensorProto.STRING}


@dataclass(frozen=True)
class In:
    """One input: ``shape`` (a str dim is symbolic), ``dtype``, ``fill`` and whether it is a constant.

    ``dtype`` ``string`` takes its strings from ``value``.

    ``fill``: ``normal``, ``positive`` (0.1..2), ``unit`` (-0.9..0.9), ``gt1`` (1.1..3), ``int:LOW:HIGH``,
    ``bool``, ``distinct`` (a permutation, so sorting has no ties), or ``value`` (use ``value``).
    """

    shape: tuple = ()
    dtype: str = "float32"
    fill: str = "normal"
    const: bool = False
    value: Any = None
    absent: bool = False  # an omitted optional input ("")
    items: int = 0  # > 0: a sequence of this many such tensors (graph inputs xI_0 ..., joined by SequenceConstruct)


def C(value: Any, dtype: str = "int64") -> In:  # noqa: N802 - reads like a constructor in the table
    """A constant input with an explicit value."""
    array = np.asarray(value, dtype=dtype)
    return In(tuple(array.shape), dtype, "value", True, array)


NONE = In(absent=True)


@dataclass(frozen=True)
class OpCase:
    """A one-node model: ``op(inputs, **attrs)`` at ``opset`` with ``outputs`` outputs."""

    op: str
    inputs: tuple[In, ...]
    attrs: dict = field(default_factory=dict)
    opset: int = 18
    outputs: int = 1
    label: str = ""
    xfail: dict = field(default_factory=dict)  # framework -> reason
    atol: float = 1e-4
    rtol: float = 1e-3
    domain: str = ""  # the op's domain (``ai.onnx.ml``); ``opset`` is then that domain's version
    outer: tuple[In, ...] = ()  # more graph inputs (``o0, o1 ...``), read by the node's subgraphs only
    # output j -> n: output j is a sequence of n tensors, read back as graph outputs by SequenceAt (yJ_0 ...)
    # and SequenceLength (yJ_len)
    sequence_outputs: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.op}-{self.label}" if self.label else self.op


def build_model(case: OpCase) -> onnx.ModelProto:
    """The ONNX model for ``case`` (graph inputs ``x0, x1 ...``, constants ``c0, c1 ...``)."""
    inputs, inits, names, before = [], [], [], []
    rng = np.random.default_rng(1234)
    for i, spec in enumerate(case.inputs):
        if spec.absent:
            names.append("")
            continue
        if spec.items:
            items = [f"x{i}_{k}" for k in range(spec.items)]
            inputs += [helper.make_tensor_value_info(n, _ELEM[spec.dtype], list(spec.shape)) for n in items]
            before.append(helper.make_node("SequenceConstruct", items, [f"x{i}"]))
            names.append(f"x{i}")
            continue
        if spec.const:
            name = f"c{i}"
            inits.append(numpy_helper.from_array(_fill(spec, rng), name))
        else:
            name = f"x{i}"
            inputs.append(helper.make_tensor_value_info(name, _ELEM[spec.dtype], list(spec.shape)))
        names.append(name)
    while names and names[-1] == "":
        names.pop()
    for k, spec in enumerate(case.outer):
        inputs.append(helper.make_tensor_value_info(f"o{k}", _ELEM[spec.dtype], list(spec.shape)))
    outs = [f"y{j}" for j in range(case.outputs)]
    node = helper.make_node(case.op, names, outs, name=f"{case.op.lower()}_node", domain=case.domain, **case.attrs)
    after, graph_outs = [], [o for j, o in enumerate(outs) if j not in case.sequence_outputs]
    for j, n in case.sequence_outputs.items():
        after.append(helper.make_node("SequenceLength", [f"y{j}"], [f"y{j}_len"]))
        graph_outs.append(f"y{j}_len")
        for k in range(n):
            inits.append(numpy_helper.from_array(np.asarray(k, np.int64), f"y{j}_at{k}"))
            after.append(helper.make_node("SequenceAt", [f"y{j}", f"y{j}_at{k}"], [f"y{j}_{k}"]))
            graph_outs.append(f"y{j}_{k}")
    graph = helper.make_graph([*before, node, *after], f"{case.op.lower()}_case", inputs,
                              [helper.make_empty_tensor_value_info(o) for o in graph_outs], initializer=inits)
    imports = [helper.make_opsetid("", case.opset)] if not case.domain else \
        [helper.make_opsetid("", 21), helper.make_opsetid(case.domain, case.opset)]
    model = helper.make_model(graph, opset_imports=imports, ir_version=min(onnx.IR_VERSION, 10))
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    untyped = [o for o in model.graph.output
               if not o.type.HasField("tensor_type") or not o.type.tensor_type.HasField("shape")]
    if untyped:  # some ops (function-defined ones, Loop scans) are not fully typed by inference: ask the runtime
        import onnxruntime as ort

        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        arrays = dict(zip([o.name for o in session.get_outputs()], session.run(None, case_inputs(case))))
        for out in untyped:
            a = arrays[out.name]
            out.type.CopyFrom(helper.make_tensor_type_proto(helper.np_dtype_to_tensor_dtype(a.dtype), a.shape))
    onnx.checker.check_model(model)
    return model


def case_inputs(case: OpCase, seed: int = 0, batch: int = 2) -> dict[str, np.ndarray]:
    """Input arrays for the graph inputs of ``case`` (symbolic dims take ``batch``)."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for i, spec in enumerate(case.inputs):
        if spec.absent or spec.const:
            continue
        shape = tuple(batch if isinstance(d, str) else d for d in spec.shape)
        for name in [f"x{i}_{k}" for k in range(spec.items)] if spec.items else [f"x{i}"]:
            feeds[name] = _fill(In(shape, spec.dtype, spec.fill, value=spec.value), rng)
    for k, spec in enumerate(case.outer):
        feeds[f"o{k}"] = _fill(spec, rng)
    return feeds


def _fill(spec: In, rng: np.random.Generator) -> np.ndarray:
    shape = tuple(2 if isinstance(d, str) else d for d in spec.shape)
    if spec.dtype == "string":
        return np.asarray(spec.value, dtype=object)
    dtype = np.dtype(spec.dtype)
    fill = spec.fill
    if fill == "value":
        return np.asarray(spec.value, dtype=dtype)
    if fill == "bool" or dtype == np.bool_:
        return rng.integers(0, 2, shape).astype(np.bool_)
    if fill.startswith("int"):
        _, low, high = fill.split(":") if ":" in fill else ("int", "0", "10")
        return rng.integers(int(low), int(high), shape).astype(dtype)
    if fill == "distinct":
        return (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1).astype(dtype)
    if fill == "positive":
        return rng.uniform(0.1, 2.0, shape).astype(dtype)
    if fill == "unit":
        return rng.uniform(-0.9, 0.9, shape).astype(dtype)
    if fill == "gt1":
        return rng.uniform(1.1, 3.0, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


# --------------------------------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------------------------------
X4 = In((2, 3, 8, 8))
X3 = In((2, 4, 6))
X2 = In((3, 4))


def _w(*shape: int) -> In:
    return In(shape, const=True)


def _unary_cases() -> list[OpCase]:
    fills = {"Log": "positive", "Sqrt": "positive", "Reciprocal": "positive", "Asin": "unit", "Acos": "unit",
             "Atanh": "unit", "Acosh": "gt1"}
    ops = ["Relu", "Sigmoid", "Tanh", "Softplus", "Softsign", "Abs", "Neg", "Exp", "Log", "Sqrt", "Reciprocal",
           "Floor", "Ceil", "Round", "Sign", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh",
           "Acosh", "Atanh", "Erf", "HardSwish", "Mish"]
    return [OpCase(op, (In((2, 3, 4), fill=fills.get(op, "normal")),)) for op in ops]


ORT_NO_LAYOUT = "onnxruntime does not run batch-first (layout=1) recurrent ops, so there is no reference"


def xfail_reason(case: OpCase, framework: str) -> str | None:
    """Why ``case`` is expected to fail for ``framework`` (or for every framework), if it is."""
    return case.xfail.get(framework) or case.xfail.get("*")


# the inputs of LSTM / GRU / RNN that layout=1 lays out batch first: X, initial_h, initial_c
LAYOUT_INPUTS = (0, 5, 6)


def sequence_first_variant(case: OpCase) -> OpCase:
    """A batch-first (layout=1) recurrent case as the same op at layout=0: data inputs with dims 0 and 1 swapped.

    onnxruntime cannot run layout=1, so the frameworks compare their batch-first conversion with this one.
    """
    attrs = {k: v for k, v in case.attrs.items() if k != "layout"}
    swapped = tuple(dataclasses.replace(i, shape=(i.shape[1], i.shape[0], *i.shape[2:]))
                    if k in LAYOUT_INPUTS and not i.const and not i.absent else i for k, i in enumerate(case.inputs))
    return dataclasses.replace(case, attrs=attrs, inputs=swapped, xfail={})


def _rnn(kind: str, dirs: int = 1, layout: int = 0, bias: bool = True, states: bool = False,
         **attrs: Any) -> tuple[In, ...]:
    gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[kind]
    hidden, size = 4, 3
    x = In((2, 5, size)) if layout else In((5, 2, size))
    state = In((2, dirs, hidden)) if layout else In((dirs, 2, hidden))
    inputs = [x, _w(dirs, gates * hidden, size), _w(dirs, gates * hidden, hidden),
              _w(dirs, 2 * gates * hidden) if bias else NONE, NONE, state if states else NONE]
    if kind == "LSTM":
        inputs.append(state if states else NONE)
    return tuple(inputs)


def _loop_body(scan: str = "v_next") -> onnx.GraphProto:
    """Body of a Loop: v <- v * 0.5 + x2 + step (x2 is read from the outer graph), scan out ``scan`` (the
    new v, or ``"v"``: the value this step started from), keep going."""
    t = TensorProto
    nodes = [
        helper.make_node("Cast", ["i"], ["i_f"], to=t.FLOAT),
        helper.make_node("Mul", ["v", "half"], ["v_half"]),
        helper.make_node("Add", ["v_half", "x2"], ["v_sum"]),
        helper.make_node("Add", ["v_sum", "i_f"], ["v_next"]),
        helper.make_node("Identity", [scan], ["scan"]),
        helper.make_node("Identity", ["cond"], ["cond_out"]),
        helper.make_node("Identity", ["w"], ["w_out"]),
    ]
    return helper.make_graph(
        nodes, "body",
        [helper.make_tensor_value_info("i", t.INT64, []), helper.make_tensor_value_info("cond", t.BOOL, []),
         helper.make_tensor_value_info("v", t.FLOAT, [2, 3]), helper.make_tensor_value_info("w", t.FLOAT, [3])],
        [helper.make_tensor_value_info("cond_out", t.BOOL, []), helper.make_tensor_value_info("v_next", t.FLOAT, [2, 3]),
         helper.make_tensor_value_info("w_out", t.FLOAT, [3]), helper.make_tensor_value_info("scan", t.FLOAT, [2, 3])],
        initializer=[numpy_helper.from_array(np.asarray(0.5, np.float32), "half")])


def _rnn_cases() -> list[OpCase]:
    cases = []
    for kind in ("LSTM", "GRU", "RNN"):
        extra = {"linear_before_reset": 1} if kind == "GRU" else {}
        n_out = 3 if kind == "LSTM" else 2
        base = {"hidden_size": 4, **extra}
        cases += [
            OpCase(kind, _rnn(kind), base, outputs=n_out, opset=14, label="forward"),
            OpCase(kind, _rnn(kind, dirs=2, states=True), {**base, "direction": "bidirectional"}, outputs=n_out,
                   opset=14, label="bidirectional-states"),
            OpCase(kind, _rnn(kind, layout=1, states=True), {**base, "layout": 1}, outputs=n_out, opset=14,
                   label="batch-first", xfail={"*": ORT_NO_LAYOUT}),
            OpCase(kind, _rnn(kind, bias=False), {**base, "direction": "reverse"}, outputs=n_out, opset=14,
                   label="reverse-nobias"),
            OpCase(kind, _rnn(kind, dirs=2, layout=1), {**base, "direction": "bidirectional", "layout": 1},
                   outputs=n_out, opset=14, label="bidirectional-batch-first", xfail={"*": ORT_NO_LAYOUT}),
        ]
    cases += [
        OpCase("GRU", _rnn("GRU"), {"hidden_size": 4}, outputs=2, opset=14, label="reset-before-linear"),
        OpCase("RNN", _rnn("RNN"), {"hidden_size": 4, "activations": ["Relu"]}, outputs=2, opset=14, label="relu"),
        OpCase("LSTM", _rnn("LSTM"), {"hidden_size": 4}, outputs=1, opset=7, label="y-only-opset7"),
    ]
    return cases


def _runtime_rnn_cases() -> list[OpCase]:
    def runtime(kind: str, dirs: int = 1, lens: bool = False, states: bool = False, peepholes: bool = False,
                layout: int = 0):
        inputs = [dataclasses.replace(spec, const=False) if k in (1, 2, 3) else spec
                  for k, spec in enumerate(_rnn(kind, dirs=dirs, states=states, layout=layout))]
        if lens:
            inputs[4] = In((2,), "int32", "value", value=[5, 3])
        if peepholes:
            inputs.append(In((dirs, 12), fill="unit"))
        return tuple(inputs)

    base = {"hidden_size": 4}
    return [
        OpCase("LSTM", runtime("LSTM"), base, outputs=3, opset=14, label="runtime-weights"),
        OpCase("LSTM", runtime("LSTM", dirs=2, lens=True, states=True, peepholes=True),
               {**base, "direction": "bidirectional"}, outputs=3, opset=14, label="runtime-lens-peepholes"),
        OpCase("LSTM", runtime("LSTM"), {**base, "clip": 0.5, "input_forget": 1, "direction": "reverse"},
               outputs=3, opset=14, label="clip-input-forget-reverse"),
        OpCase("GRU", runtime("GRU", dirs=2, lens=True, states=True), {**base, "direction": "bidirectional"},
               outputs=2, opset=14, label="runtime-lens"),
        OpCase("GRU", runtime("GRU"), {**base, "linear_before_reset": 1, "activations": ["HardSigmoid", "Elu"],
                                       "activation_alpha": [0.3, 0.8], "activation_beta": [0.4]},
               outputs=2, opset=14, label="runtime-activation-params"),
        OpCase("RNN", runtime("RNN", lens=True), {**base, "direction": "reverse"}, outputs=2, opset=14,
               label="runtime-lens-reverse"),
        OpCase("LSTM", runtime("LSTM", dirs=2, states=True, layout=1),
               {**base, "direction": "bidirectional", "layout": 1}, outputs=3, opset=14,
               label="runtime-batch-first", xfail={"*": ORT_NO_LAYOUT}),
    ]


def _runtime_resize_cases() -> list[OpCase]:
    def given(values, dtype="float32"):  # a graph input whose value the case fixes
        return In((len(values),), dtype, "value", value=values)

    x = In((1, 2, 4, 5))
    return [
        OpCase("Resize", (x, NONE, given([1, 1, 2, 1.5])), label="runtime-scales-nearest"),
        OpCase("Resize", (x, NONE, given([1, 1, 0.6, 0.8])), {"mode": "linear"}, label="runtime-scales-linear-down"),
        OpCase("Resize", (x, NONE, NONE, given([1, 2, 7, 3], "int64")),
               {"mode": "cubic", "coordinate_transformation_mode": "align_corners"}, label="runtime-sizes-cubic"),
        OpCase("Resize", (x, NONE, NONE, given([3, 9], "int64")),
               {"mode": "nearest", "axes": [2, 3], "keep_aspect_ratio_policy": "not_larger",
                "nearest_mode": "ceil", "coordinate_transformation_mode": "half_pixel_symmetric"},
               label="runtime-sizes-axes-not-larger"),
        OpCase("Resize", (x, given([0, 0, 0.2, 0.1, 1, 1, 0.9, 1.2]), NONE, C([1, 2, 3, 4])),
               {"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize",
                "extrapolation_value": -1.0}, label="runtime-roi-crop"),
        OpCase("Resize", (x, NONE, C([1, 1, 0.5, 0.7], "float32")), {"mode": "cubic", "antialias": 1,
                                                                      "exclude_outside": 1, "cubic_coeff_a": -0.5},
               label="cubic-antialias"),
        OpCase("Resize", (x, NONE, C([1, 1, 1.7, 2.5], "float32")), {"mode": "linear",
                                                                      "coordinate_transformation_mode": "asymmetric"},
               label="linear-asymmetric-fractional"),
        OpCase("Resize", (In((2, 6, 5)), NONE, given([1, 0.5, 1.6])), {"mode": "linear"},
               label="runtime-scales-channel-axis"),
        OpCase("Upsample", (x, given([1, 1, 2, 3])), opset=9, label="runtime-scales"),
    ]


# unsigned values across the whole range: above 2**63 int64 reads them as negative, so these catch a
# bridge that computes uint64 as int64 (or Keras' uint32)
_U64_A = In((6,), "uint64", "value", value=[2**64 - 1, 2**63 + 5, 2**63 - 1, 7, 0, 12345678901234567890])
_U64_B = In((6,), "uint64", "value", value=[3, 2**63 + 7, 2**63 + 1, 2, 1, 2**40 + 3])


def _params_cases() -> list[OpCase]:
    u16 = In((2, 3), "uint16", "int:0:65535")
    u32 = In((2, 3), "uint32", "int:1:4000000")
    return [
        # unsigned arithmetic: torch has no kernels for uint16/32/64, Keras narrows uint64
        OpCase("Add", (u16, u16), label="uint16-wraps"),
        OpCase("Sub", (In((2, 3), "uint32", "int:0:5"), u32), label="uint32-wraps"),
        OpCase("Div", (u32, In((2, 3), "uint32", "int:1:50")), label="uint32"),
        OpCase("Div", (_U64_A, _U64_B), label="uint64-full-range"),
        OpCase("Mod", (_U64_A, _U64_B), label="uint64-full-range"),
        OpCase("Greater", (_U64_A, _U64_B), label="uint64-full-range"),
        OpCase("Max", (_U64_A, _U64_B), label="uint64-full-range"),
        OpCase("Mul", (_U64_A, _U64_B), label="uint64-wraps"),
        OpCase("Concat", (_U64_A, _U64_B), {"axis": 0}, label="uint64"),
        # reductions over axes known at run time
        OpCase("ReduceSum", (X3, In((2,), "int64", "value", value=[0, -1])), label="runtime-axes"),
        OpCase("ReduceMax", (X3, In((1,), "int64", "value", value=[1])), {"keepdims": 0},
               label="runtime-axes-drop"),
        OpCase("ReduceProd", (X3, In((2,), "int64", "value", value=[2, 0])), label="runtime-axes"),
        OpCase("ReduceL2", (X3, In(("n",), "int64", "value", value=[])), label="runtime-empty-axes-all"),
        OpCase("ReduceMean", (X3, In(("n",), "int64", "value", value=[])), {"noop_with_empty_axes": 1},
               label="runtime-empty-axes-noop"),
        OpCase("ReduceLogSumExp", (In((2, 4), "float64"), In((1,), "int64", "value", value=[-1])),
               label="runtime-axes-float64"),
        OpCase("ReduceMin", (In((2, 0, 3)), C([1])), label="empty-set"),
        # answers ONNX defines differently from the framework's natural call
        OpCase("Pow", (In((2, 3), "int32", "int:1:5"), In((2, 3), "float32", "int:0:4")),
               label="int-base-float-exponent"),
        OpCase("TopK", (In((2, 6), "float32", "value", value=[[1, 3, 3, 1, 0, 3], [2, 2, 2, 2, 1, 1]]), C([3])),
               outputs=2, label="ties-lower-index-first"),
        OpCase("TopK", (In((2, 6), "float32", "value", value=[[1, 3, 3, 1, 0, 3], [2, 2, 2, 2, 1, 1]]), C([3])),
               {"largest": 0}, outputs=2, label="ties-smallest"),
        OpCase("LpNormalization", (In((2, 3), "float32", "value", value=[[0, 0, 0], [1, -2, 2]]),), {"p": 2},
               label="zero-vector"),
        OpCase("LpNormalization", (In((2, 3), "float32", "value", value=[[0, 0, 0], [1, -2, 2]]),),
               {"p": 1, "axis": 1}, label="zero-vector-l1"),
        OpCase("SpaceToDepth", (In((2, 2, 4, 6)),), {"blocksize": 2, "mode": "CRD"}, opset=28, label="crd"),
        OpCase("Range", tuple(In((), "float16", "value", value=v) for v in (1.0, 4.0, 0.5)), opset=27,
               label="float16-runtime"),
        # shapes known at run time keep float16 values float16
        OpCase("Expand", (In((3, 1), "float16"), In((2,), "int64", "value", value=[3, 4])),
               label="float16-runtime-shape"),
        OpCase("Reshape", (In((2, 6), "float16"), In((2,), "int64", "value", value=[3, 4])),
               label="float16-runtime-shape"),
    ]


def _attention_cases() -> list[OpCase]:
    q4, kv4 = In((2, 4, 3, 8)), In((2, 2, 5, 8))
    q3, kv3 = In((2, 3, 32)), In((2, 5, 16))
    past = In((2, 2, 4, 8))
    return [
        OpCase("Attention", (In((2, 3, 4, 8)), In((2, 3, 6, 8)), In((2, 3, 6, 8))), opset=23, label="4d"),
        OpCase("Attention", (q4, kv4, kv4), {"is_causal": 1}, opset=23, label="4d-gqa-causal"),
        OpCase("Attention", (q4, kv4, In((2, 2, 5, 6)), In((2, 1, 3, 5), "bool")), {"scale": 0.1}, opset=23,
               label="4d-bool-mask-scaled"),
        OpCase("Attention", (q3, kv3, kv3, In((3, 9)), past, past), {"q_num_heads": 4, "kv_num_heads": 2},
               outputs=3, opset=23, label="3d-gqa-past-float-mask"),
        OpCase("Attention", (q3, kv3, kv3, NONE, past, past), {"q_num_heads": 4, "kv_num_heads": 2, "is_causal": 1},
               outputs=3, opset=23, label="3d-past-causal"),
        OpCase("Attention", (In((2, 3, 32)), In((2, 5, 8)), In((2, 5, 8))), {"q_num_heads": 4, "kv_num_heads": 1,
                                                                             "is_causal": 1},
               opset=23, label="3d-mqa-causal"),
        OpCase("Attention", (q4, kv4, kv4, In((3, 5))), {"softcap": 2.0, "qk_matmul_output_mode": 1}, outputs=4,
               opset=23, label="softcap-scores-output"),
        OpCase("Attention", (q4, kv4, kv4, In((2, 1, 3, 5), "bool")), {"qk_matmul_output_mode": 3}, outputs=4,
               opset=23, label="probs-output"),
        OpCase("Attention", (q4, kv4, kv4, In((3, 5))), {"qk_matmul_output_mode": 2}, outputs=4,
               opset=23, label="masked-scores-output"),
        OpCase("Attention", (q4, kv4, kv4, In((3, 5), "bool"), NONE, NONE, In((2,), "int64", "value", value=[5, 4])),
               {"is_causal": 1}, opset=24, label="nonpad-causal"),
        OpCase("Attention", (In((2, 2, 3, 8), "float16"), In((2, 2, 5, 8), "float16"), In((2, 2, 5, 8), "float16")),
               {"is_causal": 1}, opset=23, label="float16", atol=2e-3, rtol=2e-3),
    ]


def _rotary_cases() -> list[OpCase]:
    positions = In((2, 3), "int64", "int:0:49")
    return [
        OpCase("RotaryEmbedding", (In((2, 4, 3, 8)), _w(50, 4), _w(50, 4), positions), opset=23,
               label="4d-constant-caches"),
        OpCase("RotaryEmbedding", (In((2, 3, 32)), In((50, 4)), In((50, 4)), positions), {"num_heads": 4},
               opset=23, label="3d"),
        OpCase("RotaryEmbedding", (In((2, 4, 3, 8)), In((50, 2)), In((50, 2)), positions),
               {"interleaved": 1, "rotary_embedding_dim": 4}, opset=23, label="interleaved-partial"),
        OpCase("RotaryEmbedding", (In((2, 3, 16)), In((2, 3, 2)), In((2, 3, 2))),
               {"num_heads": 2, "rotary_embedding_dim": 4}, opset=23, label="3d-no-positions-partial"),
        OpCase("RotaryEmbedding", (In((2, 4, 3, 8)), In((2, 3, 4)), In((2, 3, 4))), {"interleaved": 1},
               opset=23, label="no-positions-interleaved"),
        OpCase("RotaryEmbedding", (In((1, 2, 3, 8), "float16"), In((8, 4), "float16"), In((8, 4), "float16"),
                                   In((1, 3), "int64", "int:0:7")),
               opset=23, label="float16", atol=2e-3),
    ]


CASES: list[OpCase] = [
    *_unary_cases(),
    # activations
    OpCase("LeakyRelu", (X3,), {"alpha": 0.2}),
    OpCase("LeakyRelu", (X3,), label="default"),
    OpCase("Elu", (X3,), {"alpha": 0.5}),
    OpCase("Celu", (X3,), {"alpha": 2.0}),
    OpCase("Selu", (X3,), label="default"),
    OpCase("Selu", (X3,), {"alpha": 1.5, "gamma": 2.0}, label="custom"),
    OpCase("ThresholdedRelu", (X3,), {"alpha": 0.3}),
    OpCase("HardSigmoid", (X3,), label="default"),
    OpCase("HardSigmoid", (X3,), {"alpha": 1 / 6, "beta": 0.5}, label="torch"),
    OpCase("Gelu", (X3,), opset=20),
    OpCase("Gelu", (X3,), {"approximate": "tanh"}, opset=20, label="tanh"),
    OpCase("PRelu", (X4, C(np.full((3, 1, 1), 0.25), "float32")), label="channel"),
    OpCase("PRelu", (X4, C([0.3], "float32")), label="shared"),
    OpCase("PRelu", (X3, C(np.linspace(0.1, 0.6, 6), "float32")), label="last-axis"),
    OpCase("PRelu", (X3, In((6,))), label="runtime-slope"),
    OpCase("Softmax", (X3,), label="default"),
    OpCase("Softmax", (X3,), {"axis": 1}, label="axis1"),
    OpCase("Softmax", (X3,), {"axis": 1}, opset=11, label="opset11-coerced"),
    OpCase("LogSoftmax", (X3,), {"axis": -1}),
    OpCase("LogSoftmax", (X3,), opset=11, label="opset11"),
    OpCase("Hardmax", (In((2, 5), fill="distinct"),)),
    OpCase("Clip", (X3, C(0.0, "float32"), C(6.0, "float32")), label="relu6"),
    OpCase("Clip", (X3, C(-0.5, "float32"), C(0.5, "float32")), label="range"),
    OpCase("Clip", (X3, C(0.0, "float32")), label="min-only"),
    OpCase("Clip", (X3, NONE, C(0.2, "float32")), label="max-only"),
    OpCase("Clip", (X3, In(()), In(())), label="runtime-bounds"),
    OpCase("Clip", (X3,), {"min": -1.0, "max": 1.0}, opset=6, label="opset6"),
    # element-wise binary ops
    *[OpCase(op, (X3, X3), label="same") for op in ("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min")],
    OpCase("Add", (X3, In((6,))), label="broadcast"),
    OpCase("Add", (X3, C(1.5, "float32")), label="scalar-const"),
    OpCase("Mul", (X3, C(np.linspace(0, 1, 6), "float32")), label="vector-const"),
    OpCase("Sub", (C(1.0, "float32"), X3), label="const-first"),
    OpCase("Div", (In((2, 3), "int64", "int:-20:20"), In((2, 3), "int64", "int:1:5"))),
    OpCase("Div", (X3, C(2.0, "float32")), label="scalar"),
    OpCase("Pow", (In((2, 3), fill="positive"), C(2.0, "float32")), label="square"),
    OpCase("Pow", (In((2, 3), fill="positive"), C(0.5, "float32")), label="sqrt"),
    OpCase("Pow", (In((2, 3), fill="positive"), C(3.0, "float32")), label="cube"),
    OpCase("Max", (X3, C(0.0, "float32")), label="clamp"),
    OpCase("Max", (X3, X3, X3), label="three"),
    OpCase("Min", (X3, C(0.0, "float32")), label="clamp"),
    OpCase("Sum", (X3, X3, X3)),
    OpCase("Sum", (X3,), label="one"),
    OpCase("Mean", (X3, X3)),
    OpCase("Mod", (In((2, 3), "int64", "int:-20:20"), In((2, 3), "int64", "int:1:5"))),
    OpCase("Mod", (X3, C(0.7, "float32")), {"fmod": 1}, label="fmod"),
    *[OpCase(op, (In((2, 3), "int64", "int:0:3"), In((2, 3), "int64", "int:0:3")))
      for op in ("Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual")],
    OpCase("Equal", (X3, C(0.0, "float32")), label="scalar"),
    *[OpCase(op, (In((2, 3), "bool"), In((2, 3), "bool"))) for op in ("And", "Or", "Xor")],
    OpCase("Not", (In((2, 3), "bool"),)),
    *[OpCase(op, (In((2, 3), "int32", "int:0:100"), In((2, 3), "int32", "int:0:100")))
      for op in ("BitwiseAnd", "BitwiseOr", "BitwiseXor")],
    OpCase("BitwiseNot", (In((2, 3), "int32", "int:0:100"),)),
    OpCase("IsNaN", (C([1.0, np.nan, 2.0], "float32"),), label="const-folded"),
    OpCase("IsNaN", (X3,)),
    OpCase("IsInf", (X3,)),
    OpCase("IsInf", (X3,), {"detect_negative": 0}, label="positive"),
    OpCase("Where", (In((2, 4, 6), "bool"), X3, X3)),
    OpCase("Where", (In((2, 4, 6), "bool"), X3, C(0.0, "float32")), label="scalar"),
    OpCase("Cast", (X3,), {"to": TensorProto.INT64}, label="to-int"),
    OpCase("Cast", (In((2, 3), "int64", "int:-5:5"),), {"to": TensorProto.FLOAT}, label="to-float"),
    OpCase("Cast", (X3,), {"to": TensorProto.FLOAT}, label="same"),
    OpCase("Cast", (X3,), {"to": TensorProto.BOOL}, label="to-bool"),
    OpCase("CastLike", (In((2, 3), "int64", "int:-5:5"), In((1,))), opset=15),
    OpCase("Identity", (X3,)),
    OpCase("Dropout", (X3,)),
    OpCase("Dropout", (X3,), outputs=2, label="mask"),
    OpCase("Trilu", (In((2, 4, 4)),)),
    OpCase("Shrink", (X3,), {"lambd": 0.3, "bias": 0.1}, opset=9),
    OpCase("EyeLike", (In((3, 4)),), {"k": 1}, opset=9),
    OpCase("OneHot", (In((2, 3), "int64", "int:0:5"), C([5]), C([0.0, 2.0], "float32")), {"axis": -1}, opset=11),
    OpCase("Trilu", (In((2, 4, 4)), C(1)), {"upper": 0}, label="lower-k1"),
    OpCase("CumSum", (X3, C(1))),
    OpCase("CumSum", (X3, C(2)), {"exclusive": 1, "reverse": 1}, label="exclusive-reverse"),
    # convolution
    OpCase("Conv", (X4, _w(4, 3, 3, 3), _w(4)), {"pads": [1, 1, 1, 1]}, label="2d-pad"),
    OpCase("Conv", (X4, _w(4, 3, 3, 3)), {"strides": [2, 2]}, label="2d-stride-nobias"),
    OpCase("Conv", (X4, _w(6, 1, 3, 3), _w(6)), {"group": 3, "pads": [1, 1, 1, 1]}, label="depthwise"),
    OpCase("Conv", (X4, _w(4, 3, 3, 3)), {"dilations": [2, 2], "pads": [2, 2, 2, 2]}, label="dilated"),
    OpCase("Conv", (X4, _w(4, 3, 3, 3)), {"pads": [0, 0, 1, 1]}, label="asymmetric"),
    OpCase("Conv", (X4, _w(4, 3, 3, 3)), {"auto_pad": "SAME_UPPER", "strides": [2, 2]}, label="same-upper"),
    OpCase("Conv", (X4, _w(4, 3, 2, 2)), {"auto_pad": "SAME_LOWER"}, label="same-lower"),
    # SAME_LOWER with an odd total padding: ONNX puts the extra unit at the beginning (SAME_UPPER: the end)
    OpCase("Conv", (X4, _w(4, 3, 3, 3)), {"auto_pad": "SAME_LOWER", "strides": [2, 2]}, label="same-lower-stride"),
    OpCase("Conv", (X4, _w(4, 3, 2, 2)), {"auto_pad": "SAME_UPPER"}, label="same-upper-odd"),
    OpCase("Conv", (X4, _w(4, 3, 3, 3)), {"auto_pad": "VALID"}, label="valid"),
    OpCase("Conv", (X3, _w(5, 4, 3), _w(5)), {"pads": [1, 1]}, label="1d"),
    OpCase("Conv", (In((1, 2, 4, 5, 5)), _w(3, 2, 3, 3, 3)), label="3d"),
    OpCase("Conv", (X4, In((4, 3, 3, 3)), In((4,))), label="runtime-weight"),
    OpCase("ConvTranspose", (X4, _w(3, 4, 3, 3), _w(4)), {"strides": [2, 2], "pads": [1, 1, 1, 1],
                                                         "output_padding": [1, 1]}, label="2d"),
    OpCase("ConvTranspose", (X4, _w(3, 2, 4, 4)), {"strides": [2, 2], "pads": [1, 1, 1, 1]}, label="k4s2"),
    OpCase("ConvTranspose", (X4, _w(3, 2, 3, 3)), {"pads": [0, 0, 1, 1]}, label="asymmetric"),
    OpCase("ConvTranspose", (X4, _w(3, 1, 3, 3)), {"group": 3, "strides": [2, 2]}, label="grouped"),
    OpCase("ConvTranspose", (X3, _w(4, 2, 3), _w(2)), {"strides": [2]}, label="1d"),
    OpCase("ConvTranspose", (X4, _w(3, 2, 3, 3)), {"strides": [2, 2], "output_shape": [16, 16]},
           label="output-shape"),
    OpCase("ConvTranspose", (X4, In((3, 2, 3, 3))), label="runtime-weight"),
    OpCase("ConvTranspose", (X4, _w(3, 2, 3, 3)), {"strides": [2, 2], "auto_pad": "SAME_UPPER"},
           label="same-upper"),
    OpCase("ConvTranspose", (X4, _w(3, 2, 3, 3)), {"strides": [2, 2], "auto_pad": "SAME_LOWER"},
           label="same-lower"),
    # pooling
    OpCase("MaxPool", (X4,), {"kernel_shape": [2, 2], "strides": [2, 2]}, label="2x2"),
    OpCase("MaxPool", (X4,), {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}, label="3x3-pad"),
    OpCase("MaxPool", (X4,), {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}, label="ceil"),
    OpCase("MaxPool", (X4,), {"kernel_shape": [2, 2], "pads": [0, 0, 1, 1]}, label="asymmetric"),
    OpCase("MaxPool", (X4,), {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER"}, label="same"),
    OpCase("MaxPool", (X4,), {"kernel_shape": [2, 2], "auto_pad": "SAME_LOWER"}, label="same-lower"),
    OpCase("MaxPool", (X4,), {"kernel_shape": [2, 2], "auto_pad": "SAME_UPPER"}, label="same-upper-odd"),
    OpCase("MaxPool", (X4,), {"kernel_shape": [2, 2], "dilations": [2, 2]}, label="dilated"),
    OpCase("MaxPool", (X3,), {"kernel_shape": [2], "strides": [2]}, label="1d"),
    OpCase("MaxPool", (X4,), {"kernel_shape": [2, 2], "strides": [2, 2]}, outputs=2, label="indices"),
    OpCase("MaxPool", (In((2, 3, 7, 6)),), {"kernel_shape": [3, 2], "strides": [2, 2], "pads": [1, 0, 1, 0],
                                            "storage_order": 1}, outputs=2, opset=12, label="indices-column-major"),
    OpCase("AveragePool", (X4,), {"kernel_shape": [2, 2], "strides": [2, 2]}, label="2x2"),
    OpCase("AveragePool", (X4,), {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}, label="exclude-pad"),
    OpCase("AveragePool", (X4,), {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1},
           label="include-pad"),
    OpCase("AveragePool", (X4,), {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}, label="ceil"),
    OpCase("AveragePool", (X4,), {"kernel_shape": [2, 2], "pads": [0, 0, 1, 1]}, label="asymmetric"),
    OpCase("AveragePool", (X4,), {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER", "strides": [2, 2]},
           label="same"),
    OpCase("AveragePool", (X4,), {"kernel_shape": [3, 3], "auto_pad": "SAME_LOWER", "strides": [2, 2]},
           label="same-lower"),
    OpCase("AveragePool", (X4,), {"kernel_shape": [2, 2], "auto_pad": "SAME_LOWER", "count_include_pad": 1},
           label="same-lower-include-pad"),
    OpCase("AveragePool", (X3,), {"kernel_shape": [3], "strides": [1]}, label="1d"),
    OpCase("GlobalAveragePool", (X4,)),
    OpCase("GlobalAveragePool", (X3,), label="1d"),
    OpCase("GlobalMaxPool", (X4,)),
    OpCase("LpPool", (X4,), {"kernel_shape": [2, 2], "strides": [2, 2], "p": 2}),
    OpCase("LpPool", (X4,), {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "p": 1}, label="p1-pad"),
    OpCase("GlobalLpPool", (X4,), {"p": 2}),
    # linear
    OpCase("Gemm", (X2, _w(5, 4), _w(5)), {"transB": 1}, label="linear"),
    OpCase("Gemm", (X2, _w(4, 5), _w(1, 5)), label="no-trans"),
    OpCase("Gemm", (In((4, 3)), _w(4, 5), _w(5)), {"transA": 1, "alpha": 0.5, "beta": 2.0}, label="transA-scaled"),
    OpCase("Gemm", (X2, _w(5, 4), _w(3, 5)), {"transB": 1}, label="matrix-bias"),
    OpCase("Gemm", (X2, _w(5, 4)), {"transB": 1}, label="no-bias"),
    OpCase("Gemm", (X2, In((4, 5)), In((5,))), label="runtime"),
    OpCase("MatMul", (X3, _w(6, 5)), label="linear"),
    OpCase("MatMul", (X3, In((2, 6, 5))), label="batched"),
    OpCase("MatMul", (In((6,)), _w(6, 5)), label="vector"),
    OpCase("MatMul", (_w(5, 4), X3), label="const-left"),
    OpCase("Einsum", (In((2, 3, 4)), In((2, 4, 5))), {"equation": "bij,bjk->bik"}, opset=12),
    OpCase("Einsum", (In((3, 4)),), {"equation": "ij->ji"}, label="transpose", opset=12),
    # normalisation
    OpCase("BatchNormalization", (X4, C([1, 2, 0.5], "float32"), C([0, 1, -1], "float32"),
                                  C([0.1, -0.2, 0.3], "float32"), C([1, 0.5, 2], "float32")), {"epsilon": 1e-3},
           label="2d"),
    OpCase("BatchNormalization", (X3, *[C(np.linspace(0.5, 1.5, 4), "float32")] * 4), label="1d"),
    OpCase("BatchNormalization", (In((2, 3)), *[C([1.0, 2.0, 3.0], "float32")] * 4), label="2d-input"),
    OpCase("BatchNormalization", (X4, In((3,)), In((3,)), In((3,)), In((3,), fill="positive")), label="runtime"),
    OpCase("InstanceNormalization", (X4, C([1, 2, 0.5], "float32"), C([0, 1, -1], "float32"))),
    OpCase("InstanceNormalization", (X4, In((3,)), In((3,))), {"epsilon": 1e-3}, label="runtime-scale-bias"),
    OpCase("BatchNormalization", (X4, In((3,)), In((3,)), In((3,)), In((3,), fill="positive")),
           {"training_mode": 1, "momentum": 0.8}, opset=15, outputs=3, label="training-mode"),
    OpCase("LayerNormalization", (X3, _w(6), _w(6)), label="last-axis"),
    OpCase("LayerNormalization", (X3, _w(4, 6)), {"axis": 1, "epsilon": 1e-3}, label="two-axes-nobias"),
    OpCase("LayerNormalization", (X3, In((6,)), In((6,))), label="runtime-weight"),
    OpCase("GroupNormalization", (In((2, 4, 3, 3)), _w(4), _w(4)), {"num_groups": 2}, opset=21),
    OpCase("GroupNormalization", (In((2, 4, 3, 3)), _w(2), _w(2)), {"num_groups": 2}, opset=18,
           label="opset18-per-group", xfail={"torch": "onnxruntime implements opset-18 GroupNormalization "
                                                      "with per-channel scale like opset 21"}),
    OpCase("LpNormalization", (X3,), {"axis": -1, "p": 2}),
    OpCase("LRN", (X4,), {"size": 3, "alpha": 1e-3, "beta": 0.75, "bias": 2.0}),
    # reductions
    *[OpCase(op, (X3, C([1])), {"keepdims": 1}, label="axis1-keep") for op in
      ("ReduceMean", "ReduceMax", "ReduceMin", "ReduceL1", "ReduceL2", "ReduceLogSumExp", "ReduceSumSquare",
       "ReduceProd")],
    OpCase("ReduceSum", (X3, C([1, 2])), {"keepdims": 0}, label="two-axes"),
    OpCase("ReduceSum", (X3,), {"keepdims": 0}, label="all"),
    OpCase("ReduceSum", (X3,), {"noop_with_empty_axes": 1}, label="noop"),
    OpCase("ReduceMean", (X3,), {"axes": [-1], "keepdims": 0}, opset=13, label="opset13-attr"),
    OpCase("ReduceMax", (X3,), {"keepdims": 0}, label="all"),
    OpCase("ReduceLogSum", (In((2, 4, 6), fill="positive"), C([2]))),
    OpCase("ReduceProd", (X3,), {"keepdims": 0}, label="all"),
    OpCase("ArgMax", (In((2, 4, 6), fill="distinct"),), {"axis": 1}),
    OpCase("ArgMax", (In((2, 4, 6), "int64", "int:0:3"),), {"axis": 2, "keepdims": 0, "select_last_index": 1},
           label="last"),
    OpCase("ArgMin", (In((2, 4, 6), fill="distinct"),), {"axis": -1, "keepdims": 0}),
    # shapes
    OpCase("Reshape", (X3, C([0, -1])), label="zero-copies"),
    OpCase("Reshape", (X3, C([2, 6, -1])), {"allowzero": 1}, label="allowzero"),
    OpCase("Reshape", (X3, C([4, 12])), label="static"),
    OpCase("Reshape", (X3, In((3,), "int64", "value", value=[2, 6, 4])), label="runtime-shape"),
    OpCase("Flatten", (X4,), label="default"),
    OpCase("Flatten", (X4,), {"axis": 2}, label="axis2"),
    OpCase("Flatten", (X4,), {"axis": 0}, label="axis0"),
    OpCase("Transpose", (X4,), {"perm": [0, 2, 3, 1]}, label="nhwc"),
    OpCase("Transpose", (X3,), {"perm": [0, 2, 1]}, label="swap"),
    OpCase("Transpose", (X3,), label="reverse"),
    OpCase("Unsqueeze", (X3, C([0, -1])), label="two"),
    OpCase("Unsqueeze", (X3,), {"axes": [1]}, opset=11, label="opset11"),
    OpCase("Squeeze", (In((2, 1, 3, 1)), C([1, 3])), label="two"),
    OpCase("Squeeze", (In((2, 1, 3)),), label="all"),
    OpCase("Squeeze", (In((2, 1, 3)),), {"axes": [1]}, opset=11, label="opset11"),
    OpCase("Concat", (X3, X3, C(np.ones((2, 1, 6)), "float32")), {"axis": 1}),
    OpCase("Split", (X3, C([1, 3])), {"axis": 1}, outputs=2, label="sizes"),
    OpCase("Split", (X3,), {"axis": 2, "num_outputs": 3}, outputs=3, label="num-outputs"),
    OpCase("Split", (In((2, 4, 7)),), {"axis": 2, "num_outputs": 3}, outputs=3, label="uneven"),
    OpCase("Split", (X3,), {"axis": 1}, outputs=2, opset=11, label="opset11-equal"),
    OpCase("Split", (X3,), {"axis": 1, "split": [3, 1]}, outputs=2, opset=11, label="opset11-sizes"),
    OpCase("Expand", (In((3, 1)), C([2, 3, 4])), label="broadcast"),
    OpCase("Expand", (In((2, 3, 4)), C([1, 1])), label="keeps-larger"),
    OpCase("Expand", (In((3, 1)), In((3,), "int64", "value", value=[2, 3, 4])), label="runtime-shape"),
    OpCase("Tile", (X3, C([1, 2, 3]))),
    OpCase("ConstantOfShape", (In((3,), "int64", "value", value=[2, 3, 4]),),
           {"value": numpy_helper.from_array(np.asarray([1.5], np.float32))}),
    OpCase("ConstantOfShape", (In((2,), "int64", "value", value=[2, 3]),),
           {"value": numpy_helper.from_array(np.asarray([7], np.int64))}, label="int"),
    OpCase("Range", (In((), "int64", "value", value=1), In((), "int64", "value", value=10), C(2))),
    OpCase("Range", (C(0.0, "float32"), In((), "float32", "value", value=2.0), C(0.25, "float32")), label="float"),
    OpCase("Shape", (X3,)),
    OpCase("Shape", (X3,), {"start": 1}, label="start"),
    OpCase("Size", (X3,)),
    OpCase("Constant", (), {"value": numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3))}),
    OpCase("DepthToSpace", (In((2, 8, 3, 3)),), {"blocksize": 2, "mode": "DCR"}, label="dcr"),
    OpCase("DepthToSpace", (In((2, 8, 3, 3)),), {"blocksize": 2, "mode": "CRD"}, label="crd"),
    OpCase("SpaceToDepth", (In((2, 2, 4, 6)),), {"blocksize": 2}),
    # indexing
    OpCase("Gather", (_w(10, 4), In((2, 3), "int64", "int:0:10")), label="embedding"),
    OpCase("Gather", (X3, C(1)), {"axis": 1}, label="scalar-index"),
    OpCase("Gather", (X3, C([0, -1])), {"axis": 2}, label="list-index"),
    OpCase("Gather", (X3, In((2, 2), "int64", "int:-6:6")), {"axis": -1}, label="runtime-negative"),
    OpCase("Gather", (_w(10, 4), In((3,), "int32", "int:0:10")), {"axis": 0}, label="embedding-int32"),
    OpCase("GatherElements", (X3, In((2, 4, 6), "int64", "int:0:4")), {"axis": 1}),
    OpCase("GatherND", (X3, In((2, 2), "int64", "int:0:2"))),
    OpCase("ScatterElements", (X3, C(np.broadcast_to(np.asarray([[0], [2]]), (2, 2, 6))), In((2, 2, 6))), {"axis": 1},
           label="none"),
    OpCase("ScatterElements", (X3, C(np.zeros((2, 2, 6), np.int64)), In((2, 2, 6))), {"axis": 1, "reduction": "add"},
           label="add"),
    OpCase("ScatterND", (X3, C([[0, 1], [1, 3]]), In((2, 6)))),
    OpCase("ScatterND", (X3, C([[0, 1], [0, 1]]), In((2, 6))), {"reduction": "add"}, label="add"),
    OpCase("Slice", (X3, C([1]), C([3]), C([1])), label="one-axis"),
    OpCase("Slice", (X3, C([0, -4]), C([2**63 - 1, -1]), C([1, 2]), C([1, 2])), label="steps-to-end"),
    OpCase("Slice", (X3, C([-1]), C([-(2**63)]), C([2]), C([-1])), label="reverse"),
    OpCase("Slice", (X3, C([4]), C([0]), C([2]), C([-2])), label="negative-step"),
    OpCase("Slice", (X3,), {"starts": [1], "ends": [3], "axes": [2]}, opset=9, label="opset9"),
    OpCase("TopK", (In((2, 8), fill="distinct"), C([3])), outputs=2),
    OpCase("TopK", (In((2, 8), fill="distinct"), C([2])), {"largest": 0, "axis": 0}, outputs=2, label="smallest"),
    OpCase("NonZero", (In((3, 4), "int64", "int:0:2"),)),
    OpCase("ReverseSequence", (In((4, 2, 3)), C([4, 2])), {"batch_axis": 1, "time_axis": 0}, opset=10),
    OpCase("ReverseSequence", (In((2, 5, 3)), C([5, 5])), {"batch_axis": 0, "time_axis": 1}, opset=10,
           label="full-length"),
    # recurrent (seq 5, batch 2, input 3, hidden 4)
    *_rnn_cases(),
    # -- LSTM / GRU / RNN with weights known at run time, sequence lengths, peepholes, clipping ------------
    *_runtime_rnn_cases(),
    # control flow
    OpCase("Loop", (C(4), C(True, "bool"), In((2, 3)), C([1.0, 2.0, 3.0], "float32")),
           {"body": _loop_body()}, outputs=3, opset=16),
    OpCase("Loop", (C(4), C(True, "bool"), In((2, 3)), C([1.0, 2.0, 3.0], "float32")),
           {"body": _loop_body(scan="v")}, outputs=3, opset=16, label="scan-of-the-step-input"),
    # resize and pad
    OpCase("Pad", (X4, C([0, 0, 1, 2, 0, 0, 3, 1])), label="constant"),
    OpCase("Pad", (X4, C([0, 0, 1, 1, 0, 0, 1, 1]), C(0.5, "float32")), label="value"),
    OpCase("Pad", (X4, C([0, 0, 2, 1, 0, 0, 1, 2])), {"mode": "reflect"}, label="reflect"),
    OpCase("Pad", (X4, C([0, 0, 1, 1, 0, 0, 1, 1])), {"mode": "edge"}, label="edge"),
    OpCase("Pad", (X4, C([0, 0, 1, 1, 0, 0, 1, 1])), {"mode": "wrap"}, opset=19, label="wrap"),
    OpCase("Pad", (X3, C([1, 1]), NONE, C([1])), label="axes"),
    OpCase("Pad", (X4,), {"pads": [0, 0, 1, 1, 0, 0, 1, 1]}, opset=9, label="opset9"),
    OpCase("Resize", (X4, NONE, C([1, 1, 2, 2], "float32")), {"mode": "nearest",
                                                              "coordinate_transformation_mode": "asymmetric",
                                                              "nearest_mode": "floor"}, label="nearest"),
    OpCase("Resize", (X4, NONE, C([1, 1, 2, 2], "float32")), label="nearest-default"),
    OpCase("Resize", (X4, NONE, C([1, 1, 2, 2], "float32")), {"mode": "linear"}, label="bilinear"),
    OpCase("Resize", (X4, NONE, C([1, 1, 0.5, 0.5], "float32")), {"mode": "linear"}, label="bilinear-down"),
    OpCase("Resize", (X4, NONE, NONE, C([2, 3, 12, 10])), {"mode": "linear",
                                                           "coordinate_transformation_mode": "align_corners"},
           label="align-corners-sizes"),
    OpCase("Resize", (X4, NONE, C([1, 1, 2, 2], "float32")), {"mode": "cubic"}, label="bicubic"),
    OpCase("Resize", (X4, NONE, C([1, 1, 2, 2], "float32")), {"mode": "linear",
                                                              "coordinate_transformation_mode": "asymmetric"},
           label="linear-asymmetric"),
    OpCase("Upsample", (X4, C([1, 1, 2, 2], "float32")), opset=9),
    # -- Conv with strides and dilations, ConvTranspose with dilations, groups, an output_shape beyond the
    # convolution's ----------------------------------------------------------------------------------------
    OpCase("Conv", (In((1, 3, 11, 10)), _w(4, 3, 3, 2), _w(4)), {"strides": [2, 3], "dilations": [2, 2],
                                                                 "pads": [1, 0, 2, 1]}, label="dilated-strided"),
    OpCase("ConvTranspose", (X4, _w(3, 2, 3, 3), _w(2)), {"strides": [2, 1], "dilations": [2, 2],
                                                          "pads": [1, 0, 0, 1]}, label="dilated"),
    OpCase("ConvTranspose", (X4, _w(3, 1, 2, 3), _w(3)), {"group": 3, "strides": [2, 2], "dilations": [1, 2],
                                                          "output_padding": [1, 0]}, label="grouped-dilated"),
    OpCase("ConvTranspose", (In((1, 1, 3, 3)), _w(1, 2, 3, 3)), {"strides": [3, 2], "output_shape": [10, 8]},
           label="output-shape-grows"),
    # -- ScatterND / ScatterElements reductions mul, max, min (repeated indices), GatherND batch_dims --------
    *[OpCase("ScatterND", (X3, C([[0, 1], [1, 3], [0, 1]]), In((3, 6))), {"reduction": r}, opset=18,
             label=f"{r}-repeated") for r in ("mul", "max", "min")],
    OpCase("ScatterND", (X3, C([[1], [-2]]), In((2, 4, 6))), {"reduction": "mul"}, opset=18,
           label="mul-negative-rows"),
    OpCase("ScatterElements", (X3, C(np.zeros((2, 2, 6), np.int64)), In((2, 2, 6))),
           {"axis": 1, "reduction": "mul"}, opset=18, label="mul-repeated"),
    OpCase("GatherND", (In((2, 3, 4)), In((2, 2, 1), "int64", "int:0:3")), {"batch_dims": 1}, opset=13,
           label="batch-dims"),
    OpCase("GatherND", (In((2, 3, 4, 2)), In((2, 3, 1), "int64", "int:0:4")), {"batch_dims": 2}, opset=13,
           label="batch-dims-2"),
    # -- AveragePool / LpPool / MaxPool over dilated windows at any stride, AveragePool ceil_mode windows past
    # counted pads -----------------------------------------------------------------------------------------
    OpCase("AveragePool", (In((1, 2, 9, 8)),), {"kernel_shape": [3, 2], "dilations": [2, 3], "strides": [2, 1],
                                                "pads": [1, 0, 2, 1]}, opset=19, label="dilated"),
    OpCase("AveragePool", (In((1, 2, 9, 8)),), {"kernel_shape": [3, 2], "dilations": [2, 2], "strides": [2, 3],
                                                "pads": [1, 1, 1, 1], "ceil_mode": 1, "count_include_pad": 1},
           opset=19, label="dilated-ceil-count-pads"),
    OpCase("AveragePool", (In((1, 2, 7, 7)),), {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1],
                                                "ceil_mode": 1, "count_include_pad": 1}, opset=19,
           label="ceil-count-pads"),
    OpCase("LpPool", (In((1, 2, 9, 8)),), {"kernel_shape": [2, 2], "dilations": [2, 2], "strides": [2, 2], "p": 3},
           opset=18, label="dilated"),
    OpCase("MaxPool", (In((1, 2, 9, 8)),), {"kernel_shape": [3, 2], "dilations": [2, 2], "strides": [2, 3],
                                            "pads": [1, 0, 1, 1]}, opset=12, label="dilated-strided"),
    # -- Resize / Upsample with scales, sizes or roi known at run time, and the forms no framework layer
    # matches (any axes, cubic and antialiased weights, aspect policies, crop-and-resize) ------------------
    *_runtime_resize_cases(),
    # -- runtime-valued parameters, element types, old opsets, bit ops (cov-params) ----------------------
    *_params_cases(),
    # additions whose second operand looks like a bias vector along an inner axis (Keras would add it along
    # the last axis, whose size is the same)
    OpCase("Add", (In((3, 4, 4)), In((1, 4, 1))), label="vector-inner-axis"),
    OpCase("Add", (In((3, 4, 4)), In((4, 1))), label="vector-inner-axis-lower-rank"),
    OpCase("Sum", (In((3, 4, 4)), In((1, 4, 1)), In((4, 1))), label="vector-inner-axes"),
    OpCase("Gemm", (In((3, 4)), In((4, 3)), In((3, 1))), label="column-bias"),
    # attention (batch 2; 4-D inputs are (batch, heads, seq, size), 3-D ones (batch, seq, heads * size))
    *_attention_cases(),
    # normalisation statistics, RMS normalisation, scales computed at run time
    OpCase("LayerNormalization", (X3, _w(6), _w(6)), outputs=3, label="statistics"),
    OpCase("LayerNormalization", (X3, In((4, 6)), In((4, 6))), {"axis": 1, "epsilon": 1e-3}, outputs=2,
           label="mean-runtime-weight"),
    OpCase("LayerNormalization", (In((2, 4, 6), "float16"), In((6,), "float16", const=True)), outputs=3,
           label="statistics-float16", atol=2e-3),
    OpCase("RMSNormalization", (X3, _w(6)), opset=23, label="last-axis"),
    OpCase("RMSNormalization", (X3, _w(4, 6)), {"axis": 1, "epsilon": 1e-3}, opset=23, label="two-axes"),
    OpCase("RMSNormalization", (X3, In((6,))), {"axis": 1}, opset=23, label="runtime-broadcast-scale"),
    OpCase("RMSNormalization", (X3, In((4, 6))), {"axis": -2}, opset=23, label="runtime-scale"),
    OpCase("RMSNormalization", (In((2, 4, 6), "float16"), In((6,), "float16")), opset=23, label="float16",
           atol=2e-3),
    OpCase("GroupNormalization", (In((2, 4, 3, 3)), In((4,)), In((4,))), {"num_groups": 2}, opset=21,
           label="runtime-scale"),
    # rotary embedding (4-D inputs (batch, heads, seq, size), 3-D ones (batch, seq, heads * size))
    *_rotary_cases(),
]


# --------------------------------------------------------------------------------------------------
# losses, sampling, signal, quantization, data-dependent sizes, control flow, text, ai.onnx.ml
# --------------------------------------------------------------------------------------------------
NO_STRINGS = "PyTorch has no string tensors"


def _branch(name: str, op: str, second: str) -> onnx.GraphProto:
    """An If branch with no inputs reading the outer graph's o0: ``out = op(o0, second)``."""
    return helper.make_graph([helper.make_node(op, ["o0", second], [f"{name}_out"])], name, [],
                             [helper.make_tensor_value_info(f"{name}_out", TensorProto.FLOAT, [2, 3])],
                             initializer=[numpy_helper.from_array(np.asarray(2.0, np.float32), "two")])


def _scan_body() -> onnx.GraphProto:
    """Scan body: running sum and product of the slices, plus the outer o0 added to each step's output."""
    t = TensorProto
    nodes = [helper.make_node("Add", ["sum_in", "row"], ["sum_out"]),
             helper.make_node("Mul", ["prod_in", "row"], ["prod_out"]),
             helper.make_node("Add", ["sum_out", "o0"], ["step_out"])]
    vi = helper.make_tensor_value_info
    return helper.make_graph(nodes, "scan_body",
                             [vi("sum_in", t.FLOAT, [3]), vi("prod_in", t.FLOAT, [3]), vi("row", t.FLOAT, [3])],
                             [vi("sum_out", t.FLOAT, [3]), vi("prod_out", t.FLOAT, [3]), vi("step_out", t.FLOAT, [3])])


def _tree_attrs() -> dict:
    """Two trees on 3 features: LEQ/GT splits, a set-membership node, a NaN going true."""
    return {"n_targets": 2, "aggregate_function": 1, "tree_roots": [0, 3],
            "nodes_featureids": [0, 1, 2, 2, 0], "nodes_modes": numpy_helper.from_array(np.asarray([0, 3, 6, 0, 1], np.uint8)),
            "nodes_splits": numpy_helper.from_array(np.asarray([0.0, 0.5, np.nan, 0.2, -0.3], np.float32)),
            "nodes_truenodeids": [1, 0, 2, 4, 3], "nodes_trueleafs": [0, 1, 1, 0, 1],
            "nodes_falsenodeids": [2, 1, 3, 5, 4], "nodes_falseleafs": [0, 1, 1, 1, 1],
            "nodes_missing_value_tracks_true": [1, 0, 0, 0, 0],
            "membership_values": numpy_helper.from_array(np.asarray([1.0, 2.0, np.nan], np.float32)),
            "leaf_targetids": [0, 1, 0, 1, 0, 1],
            "leaf_weights": numpy_helper.from_array(np.asarray([1.5, -2.0, 0.25, 4.0, 3.0, -1.0], np.float32))}


CASES += [
    # losses
    OpCase("NegativeLogLikelihoodLoss", (In((3, 5, 2)), In((3, 2), "int64", "int:0:5")), opset=13, label="mean"),
    OpCase("NegativeLogLikelihoodLoss", (In((3, 5)), In((3,), "int64", "int:0:5"), In((5,), fill="positive")),
           {"reduction": "sum", "ignore_index": 1}, opset=13, label="sum-weight-ignore"),
    OpCase("SoftmaxCrossEntropyLoss", (In((3, 5, 2)), In((3, 2), "int64", "int:0:5"), C(np.linspace(0.2, 1, 5),
                                                                                         "float32")),
           {"reduction": "none", "ignore_index": 2}, opset=13, outputs=2, label="none-log-prob"),
    OpCase("SoftmaxCrossEntropyLoss", (In((3, 5)), In((3,), "int64", "int:0:5")), opset=13, label="mean"),
    # sampling
    OpCase("GridSample", (In((1, 2, 4, 5)), In((1, 3, 3, 2), fill="unit")), opset=16, label="bilinear"),
    OpCase("GridSample", (In((1, 2, 4, 5)), In((1, 3, 3, 2))), {"mode": "cubic", "padding_mode": "reflection",
                                                                 "align_corners": 1}, opset=20, label="cubic-reflection"),
    OpCase("GridSample", (In((1, 1, 3, 4, 4)), In((1, 2, 2, 3, 3))), {"mode": "nearest", "padding_mode": "border"},
           opset=20, label="volumetric-nearest-border"),
    OpCase("AffineGrid", (In((2, 2, 3)), C([2, 3, 4, 5])), {"align_corners": 1}, opset=20, label="2d"),
    OpCase("AffineGrid", (In((1, 3, 4)), C([1, 1, 2, 3, 4])), opset=20, label="3d"),
    OpCase("Col2Im", (In((1, 12, 12)), C([3, 4]), C([2, 2])), {"pads": [1, 0, 0, 1]}, label="uneven-pads"),
    OpCase("Col2Im", (In((1, 8, 18)), C([5, 6]), C([2, 2])), {"strides": [2, 1], "dilations": [1, 2],
                                                              "pads": [1, 1, 1, 1]}, label="fold"),
    OpCase("DeformConv", (In((1, 4, 5, 5)), _w(4, 2, 3, 3), In((1, 36, 3, 3), fill="unit"), _w(4),
                          In((1, 18, 3, 3), fill="positive")), {"group": 2, "offset_group": 2}, opset=19),
    # signal
    *[OpCase(op, (In((), "int32", "value", value=8),), opset=17) for op in ("HannWindow", "HammingWindow",
                                                                           "BlackmanWindow")],
    OpCase("BlackmanWindow", (In((), "int64", "value", value=7),), {"periodic": 0, "output_datatype": TensorProto.DOUBLE}, opset=17,
           label="symmetric-double"),
    OpCase("MelWeightMatrix", (In((), "int64", "value", value=6), C(32), C(16000), C(100.0, "float32"),
                               C(7000.0, "float32")), opset=17),
    OpCase("DFT", (In((2, 8, 1)),), {"onesided": 1}, opset=20, label="rfft"),
    OpCase("DFT", (In((2, 6, 2)), C(8), C(-2)), {"inverse": 1}, opset=20, label="inverse-padded"),
    OpCase("DFT", (In((2, 5, 3, 2)),), {"axis": 2}, opset=17, label="opset17-axis"),
    OpCase("STFT", (In((2, 32, 1)), C(4), C(np.hanning(8), "float32")), opset=17, label="window"),
    # quantization
    OpCase("QuantizeLinear", (In((2, 3, 4)), C(0.05, "float32"), C(3, "uint8")), opset=13, label="per-tensor"),
    OpCase("QuantizeLinear", (In((2, 3, 4)), C([0.05, 0.1, 0.02], "float32"), C([0, -3, 5], "int8")),
           {"axis": 1}, opset=13, label="per-axis-int8"),
    OpCase("QuantizeLinear", (In((2, 6)), C([[0.05, 0.1], [0.02, 0.2]], "float32"), C([[1, 2], [3, 4]], "uint8")),
           {"axis": 1, "block_size": 3}, opset=21, label="blocked"),
    OpCase("DequantizeLinear", (In((2, 3, 4), "uint8", "int:0:255"), C([0.05, 0.1, 0.02], "float32"),
                                C([128, 120, 130], "uint8")), {"axis": 1}, opset=13, label="per-axis"),
    OpCase("DequantizeLinear", (In((2, 4), "int32", "int:-1000:1000"), C(0.01, "float32")), opset=13,
           label="int32"),
    OpCase("DynamicQuantizeLinear", (In((3, 4)),), opset=11, outputs=3),
    OpCase("QLinearMatMul", (In((2, 4), "uint8", "int:0:255"), C(0.02, "float32"), C(120, "uint8"),
                             In((4, 3), "uint8", "int:0:255"), C(0.03, "float32"), C(128, "uint8"),
                             C(0.1, "float32"), C(100, "uint8")), opset=10),
    OpCase("MatMulInteger", (In((2, 4), "int8", "int:-100:100"), In((4, 3), "int8", "int:-100:100"),
                             C(3, "int8"), C(-2, "int8")), opset=10),
    OpCase("ConvInteger", (In((1, 2, 5, 5), "uint8", "int:0:255"), In((3, 2, 3, 3), "uint8", "int:0:255"),
                           C(100, "uint8"), C(128, "uint8")), {"pads": [1, 0, 0, 1]}, opset=10),
    OpCase("QLinearConv", (In((1, 4, 5, 5), "uint8", "int:0:255"), C(0.02, "float32"), C(120, "uint8"),
                           In((4, 2, 3, 3), "uint8", "int:0:255"), C([0.01, 0.02, 0.03, 0.04], "float32"),
                           C([128, 120, 130, 125], "uint8"), C(0.5, "float32"), C(90, "uint8"),
                           C([100, -50, 0, 20], "int32")), {"group": 2, "strides": [2, 2]}, opset=10),
    # sizes that depend on the data
    OpCase("Compress", (In((3, 4)), In((3,), "bool")), {"axis": 0}, opset=11, label="axis"),
    OpCase("Compress", (In((3, 4)), In((5,), "bool")), opset=11, label="flat-shorter"),
    OpCase("Unique", (In((8,), "int64", "int:0:4"),), {"sorted": 0}, opset=11, outputs=4, label="unsorted"),
    OpCase("Unique", (In((3, 4), "int64", "int:0:2"),), {"axis": 1}, opset=11, outputs=4, label="axis"),
    OpCase("NonMaxSuppression", (In((2, 6, 4), fill="positive"), In((2, 2, 6), fill="positive"), C([3]),
                                 C([0.3], "float32"), C([0.5], "float32")), opset=11),
    OpCase("NonMaxSuppression", (In((1, 5, 4), fill="positive"), In((1, 1, 5), fill="positive"), C([5]),
                                 C([0.2], "float32")), {"center_point_box": 1}, opset=11, label="center-points"),
    OpCase("CumProd", (In((2, 3, 4), fill="positive"), C(1)), {"exclusive": 1, "reverse": 1}, opset=26,
           label="exclusive-reverse"),
    OpCase("Det", (In((3, 4, 4)),), opset=11),
    OpCase("OneHot", (In((2, 3), "int64", "int:-5:5"), In((), "int64", "value", value=5),
                      In((2,), "float32", "value", value=[-1.0, 3.0])), {"axis": 1}, opset=11, label="runtime"),
    # control flow in general form
    OpCase("If", (In((), "bool"),), {"then_branch": _branch("then", "Add", "two"),
                                      "else_branch": _branch("else", "Mul", "o0")}, opset=16, outer=(In((2, 3)),)),
    OpCase("Scan", (In((3,)), In((3,), fill="positive"), In((3, 4))),
           {"body": _scan_body(), "num_scan_inputs": 1, "scan_input_axes": [1], "scan_input_directions": [1],
            "scan_output_axes": [1]}, opset=16, outputs=3, outer=(In((3,)),)),
    # text
    OpCase("TfIdfVectorizer", (In((2, 6), "int64", "int:2:6"),),
           {"mode": "TFIDF", "min_gram_length": 1, "max_gram_length": 2, "max_skip_count": 2,
            "ngram_counts": [0, 3], "ngram_indexes": [0, 1, 2, 3, 4], "pool_int64s": [2, 3, 4, 2, 3, 5, 4],
            "weights": [1.0, 0.5, 2.0, 1.5, 3.0]}, opset=9),
    OpCase("StringConcat", (In((3,), "string", value=["a", "bc", ""]), In((1,), "string", value=["-x"])), opset=20,
           xfail={"torch": NO_STRINGS}),
    OpCase("StringSplit", (In((2, 2), "string", value=[["a b  c", " "], ["x", "d e"]]),), opset=20, outputs=2,
           xfail={"torch": NO_STRINGS}),
    OpCase("RegexFullMatch", (In((3,), "string", value=["ab12", "abc", "12"]),), {"pattern": "[a-z]+[0-9]*"},
           opset=20, xfail={"torch": NO_STRINGS}),
    # onnxruntime builds the locale it is given (en_US.UTF-8 by default, often not installed)
    OpCase("StringNormalizer", (In((4,), "string", value=["The", "cat", "THE", "sat"]),),
           {"stopwords": ["the"], "case_change_action": "UPPER", "locale": "C.UTF-8"}, opset=10,
           xfail={"torch": NO_STRINGS}),
    # ai.onnx.ml
    OpCase("Binarizer", (X3,), {"threshold": 0.3}, opset=1, domain="ai.onnx.ml"),
    OpCase("ArrayFeatureExtractor", (X3, C([4, 0])), opset=1, domain="ai.onnx.ml"),
    OpCase("LabelEncoder", (In((2, 3), "int64", "int:0:6"),), {"keys_int64s": [1, 3, 5], "values_floats": [0.5, 1.5, 2.5],
                                                              "default_float": -1.0}, opset=2, domain="ai.onnx.ml"),
    OpCase("LabelEncoder", (In((3,), "string", value=["b", "z", "a"]),),
           {"keys_strings": ["a", "b"], "values_int64s": [7, 9]}, opset=2, domain="ai.onnx.ml", label="strings",
           xfail={"torch": NO_STRINGS}),
    OpCase("TreeEnsemble", (In((6, 3), "float32", "value", value=[[0.1, 0.9, 1.0], [-1, 0.2, 2.0], [np.nan, 1, 3],
                                                                 [0.5, 0.4, 0.1], [-0.5, 2, 0.3], [2, -1, 1]]),),
           _tree_attrs(), opset=5, domain="ai.onnx.ml"),
]


# --------------------------------------------------------------------------------------------------
# decoding state: TensorScatter, CausalConvWithState, LinearAttention
# --------------------------------------------------------------------------------------------------
def _decoding_cases() -> list[OpCase]:
    positions = In((2,), "int64", "value", value=[1, 3])
    q, kv = In((2, 5, 32)), In((2, 5, 16))  # 4 query heads sharing 2 key-value heads of size 8
    return [
        OpCase("TensorScatter", (In((2, 2, 6, 4)), In((2, 2, 2, 4))), opset=24, label="prefill"),
        OpCase("TensorScatter", (In((2, 2, 6, 4)), In((2, 2, 3, 4)), positions), opset=24, label="positions"),
        OpCase("TensorScatter", (In((2, 5, 3)), In((2, 2, 3)), positions), {"mode": "circular", "axis": 1},
               opset=24, label="circular"),
        OpCase("CausalConvWithState", (In((2, 4, 6)), _w(4, 1, 3)), opset=27, outputs=2, label="constant-weights"),
        OpCase("CausalConvWithState", (In((2, 4, 6)), In((4, 1, 3)), In((4,)), In((2, 4, 2))),
               {"activation": "silu"}, opset=27, outputs=2, label="past-bias-silu"),
        # what CausalConvWithState's function body does: a depthwise Conv of run-time weights
        OpCase("Conv", (In((2, 4, 7)), In((8, 1, 3)), In((8,))), {"group": 4}, label="depthwise-runtime-weights"),
        OpCase("LinearAttention", (q, kv, kv, In((2, 2, 8, 8)), In((2, 5, 2), fill="unit"), In((2, 5, 1), fill="unit")),
               {"q_num_heads": 4, "kv_num_heads": 2}, opset=27, outputs=2, label="gated-delta-gqa-past"),
        OpCase("LinearAttention", (In((2, 3, 16)), In((2, 3, 16)), In((2, 3, 8))),
               {"q_num_heads": 2, "kv_num_heads": 2, "update_rule": "linear", "scale": 0.5}, opset=27, outputs=2,
               label="linear-no-past"),
        OpCase("LinearAttention", (In((1, 4, 16), "float16"), In((1, 4, 16), "float16"), In((1, 4, 16), "float16"),
                                   NONE, In((1, 4, 16), "float16", "unit")),
               {"q_num_heads": 2, "kv_num_heads": 2, "update_rule": "gated"}, opset=27, outputs=2,
               label="gated-float16", atol=2e-3),
    ]


CASES += _decoding_cases()


# --------------------------------------------------------------------------------------------------
# sequences (SequenceEmpty/Construct/Insert/Erase/At/Length, SplitToSequence, ConcatFromSequence),
# BitShift, BitCast, Scatter, MeanVarianceNormalization, MaxUnpool, CenterCropPad, Swish, opset-6 Max/Min/Sum
# --------------------------------------------------------------------------------------------------
KERAS_BUILDS_ONCE = "Keras builds the model once: a sequence position must be known then"
_SEQ = In((2, 3), items=3)
CASES += [
    OpCase("SequenceEmpty", (), {"dtype": TensorProto.FLOAT}, opset=11, sequence_outputs={0: 0}, outer=(X2,)),
    OpCase("SequenceConstruct", (In((2, 3)), In((1, 3)), In((4, 3))), opset=11, sequence_outputs={0: 3}),
    OpCase("SequenceInsert", (In((2, 3), items=2), In((1, 3))), opset=11, sequence_outputs={0: 3}, label="back"),
    OpCase("SequenceInsert", (In((2, 3), items=2), In((1, 3)), C(-1)), opset=11, sequence_outputs={0: 3},
           label="negative-position"),
    OpCase("SequenceErase", (_SEQ,), opset=11, sequence_outputs={0: 2}, label="back"),
    OpCase("SequenceErase", (_SEQ, C(-2)), opset=11, sequence_outputs={0: 2}, label="negative-position"),
    OpCase("SequenceErase", (_SEQ, In((), "int64", "value", value=1)), opset=11, sequence_outputs={0: 2},
           label="runtime-position", xfail={"tensorflow": KERAS_BUILDS_ONCE}),
    OpCase("SequenceAt", (_SEQ, C(-1)), opset=11),
    OpCase("SequenceAt", (_SEQ, In((), "int64", "value", value=1)), opset=11, label="runtime-position",
           xfail={"tensorflow": KERAS_BUILDS_ONCE}),
    OpCase("SequenceLength", (In((2, 3), items=4),), opset=11),
    OpCase("SplitToSequence", (In((2, 7)), C([2, 5])), {"axis": 1}, opset=11, sequence_outputs={0: 2},
           label="sizes"),
    OpCase("SplitToSequence", (In((5, 3)), C(2)), opset=11, sequence_outputs={0: 3}, label="chunks"),
    OpCase("SplitToSequence", (In((2, 3)),), {"axis": -1, "keepdims": 0}, opset=11, sequence_outputs={0: 3},
           label="slices"),
    OpCase("SplitToSequence", (In((2, 7)), In((2,), "int64", "value", value=[3, 4])), {"axis": 1}, opset=11,
           sequence_outputs={0: 2}, label="runtime-sizes"),
    OpCase("ConcatFromSequence", (In((2, 3), items=3),), {"axis": 0}, opset=11),
    OpCase("ConcatFromSequence", (In((2, 3), items=3),), {"axis": -1, "new_axis": 1}, opset=11, label="new-axis"),
]
_SHIFTS_64 = In((6,), "uint64", "value", value=[1, 63, 64, 0, 70, 2**63 + 1])
CASES += [
    # shifts outside [0, bits) give 0 (or the sign fill to the right): TensorFlow would clamp them
    OpCase("BitShift", (In((2, 3), "uint16", "int:0:65535"), In((2, 3), "uint16", "int:0:20")),
           {"direction": "RIGHT"}, opset=28, label="uint16-wide-shifts"),
    OpCase("BitShift", (In((2, 3), "int8", "int:-128:127"), In((2, 3), "int8", "int:-2:10")),
           {"direction": "RIGHT"}, opset=28, label="int8-sign-fill"),
    OpCase("BitShift", (In((2, 3), "int32", "int:-1000:1000"), In((2, 3), "int32", "int:-2:34")),
           {"direction": "LEFT"}, opset=28, label="int32-wide-shifts"),
    OpCase("BitShift", (_U64_A, _SHIFTS_64), {"direction": "RIGHT"}, opset=28, label="uint64-full-range"),
    OpCase("BitShift", (_U64_A, _SHIFTS_64), {"direction": "LEFT"}, opset=28, label="uint64-left"),
    OpCase("BitShift", (In((2, 3), "uint32", "int:0:4000000"), C([[1, 2, 3], [4, 5, 31]], "uint32")),
           {"direction": "LEFT"}, opset=11, label="uint32-constant-shifts"),
    OpCase("BitCast", (In((2, 3)),), {"to": TensorProto.INT32}, opset=26),
    OpCase("BitCast", (In((2, 3), "int8", "int:-128:127"),), {"to": TensorProto.UINT8}, opset=26, label="int8"),
    OpCase("Max", (X2, X2), opset=6, label="opset6"),
    OpCase("Min", (X2, X2), opset=6, label="opset6"),
    OpCase("Sum", (X2, X2, X2), opset=6, label="opset6"),
    OpCase("Mean", (X2, X2), opset=6, label="opset6"),
]
CASES += [
    OpCase("Scatter", (In((3, 4)), C([[1, 0, 2, 1], [2, 1, 0, 0]]), In((2, 4))), {"axis": 0}, opset=10),
    OpCase("Scatter", (In((3, 4)), C([[3, 0], [1, 2], [0, 1]]), In((3, 2))), {"axis": -1}, opset=9,
           label="last-axis"),
    OpCase("MeanVarianceNormalization", (X4,), {"axes": [0, 2, 3]}),  # (onnx infers no shape without axes)
    OpCase("MeanVarianceNormalization", (X3,), {"axes": [1, -1]}, opset=9, label="axes"),
    # the pooled values go back where MaxPool found them (indices over the whole NCHW tensor)
    OpCase("MaxUnpool", (In((2, 2, 2, 2)), C([[[[0, 3], [9, 14]], [[17, 23], [24, 30]]],
                                             [[[33, 34], [44, 47]], [[48, 55], [56, 63]]]])),
           {"kernel_shape": [2, 2], "strides": [2, 2]}, opset=11),
    OpCase("MaxUnpool", (In((1, 2, 3)), C([[[0, 2, 3], [4, 6, 7]]])), {"kernel_shape": [2], "strides": [2],
                                                                        "pads": [1, 1]}, opset=22, label="1d-pads"),
    OpCase("CenterCropPad", (In((4, 7, 3)), C([6, 4])), {"axes": [0, 1]}, label="crop-and-pad"),
    OpCase("CenterCropPad", (In((5, 2, 6)), In((3,), "int64", "value", value=[3, 5, 6])), label="runtime-sizes"),
    OpCase("CenterCropPad", (In((2, 9, 5)), C([4])), {"axes": [-2]}, label="negative-axis"),
    OpCase("Swish", (In((2, 3, 4)),), opset=24),
    OpCase("Swish", (In((2, 3, 4)),), {"alpha": 0.5}, opset=24, label="alpha"),
]
