"""The converter contract both bridges share: registries, the ``since`` convention, one context API, one error.

None of this needs torch or TensorFlow: the op families import without them (they write source code).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnxbridge.errors import OnnxBridgeError
from onnxbridge.frameworks.context import (
    ConversionError,
    ConverterContext,
    NodeConversionError,
    convert_nodes,
)
from onnxbridge.frameworks.registry import OpRegistry, schema_versions
from onnxbridge.frameworks.tensorflow.context import TensorFlowContext
from onnxbridge.frameworks.tensorflow.registry import load_ops as load_tf_ops
from onnxbridge.frameworks.tensorflow.registry import load_patterns as load_tf_patterns
from onnxbridge.frameworks.torch.context import TorchContext
from onnxbridge.frameworks.torch.registry import load_ops as load_torch_ops
from onnxbridge.frameworks.torch.registry import load_patterns as load_torch_patterns
from onnxbridge.ir.types import TensorType
from onnxbridge.ir.view import GraphView

BRIDGES = {"torch": load_torch_ops, "tensorflow": load_tf_ops}
PATTERNS = {"torch": load_torch_patterns, "tensorflow": load_tf_patterns}


def _families(bridge: str) -> list[str]:
    package = importlib.import_module(f"onnxbridge.frameworks.{bridge}.ops")
    return sorted(m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_"))


def _registered_modules(registry: OpRegistry) -> set[str]:
    return {fn.__module__ for versions in registry._converters.values() for fn in versions.values()}


@pytest.mark.parametrize("bridge", sorted(BRIDGES))
def test_every_family_file_registers_something(bridge):
    registry = BRIDGES[bridge]()
    modules = _registered_modules(registry) | {p.__module__ for p in PATTERNS[bridge]()}
    families = _families(bridge)
    assert len(families) >= 10
    empty = [f for f in families if f"onnxbridge.frameworks.{bridge}.ops.{f}" not in modules]
    assert not empty, f"ops/{empty} register no converter (helpers belong in ops/_<name>.py)"


@pytest.mark.parametrize("bridge", sorted(BRIDGES))
def test_every_registration_is_at_a_schema_version_of_its_op(bridge):
    registry = BRIDGES[bridge]()
    wrong = [(k.op_type, k.since, schema_versions(k.op_type, k.domain)) for k in registry.keys()
             if schema_versions(k.op_type, k.domain) and k.since not in schema_versions(k.op_type, k.domain)]
    assert not wrong
    for op, domain in {(k.op_type, k.domain) for k in registry.keys()}:
        assert registry.valid_from(op, domain) == min(k.since for k in registry.keys()
                                                       if (k.op_type, k.domain) == (op, domain))


@pytest.mark.parametrize("bridge", sorted(BRIDGES))
def test_a_converter_is_registered_once_per_op(bridge):
    registry = BRIDGES[bridge]()
    for (_, op), versions in registry._converters.items():
        functions = list(versions.values())
        assert len({id(f) for f in functions}) == len(functions), f"{op}: one function at several versions"


def test_since_defaults_to_the_ops_first_version_and_must_be_a_real_one():
    registry = OpRegistry("test")
    registry.register("Acos")(lambda ctx: None)
    assert [k.since for k in registry.keys()] == [7]  # Acos appeared in opset 7, not 1
    assert registry.valid_from("Acos") == 7 and registry.valid_from("Relu") is None
    with pytest.raises(ValueError, match="no schema version 8"):
        registry.register("Acos", since=8)
    softmax = registry.register("Softmax", since=13)(lambda ctx: None)
    assert registry.lookup("Softmax", 12) is None and registry.lookup("Softmax", 18) is softmax


def test_registering_the_same_key_or_function_twice_is_an_error():
    registry = OpRegistry("test")

    def relu(ctx):
        return None

    registry.register("Relu")(relu)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("Relu")(lambda ctx: None)
    with pytest.raises(ValueError, match="register a converter once"):
        registry.register("Relu", since=14)(relu)


def test_converters_take_one_argument_the_context():
    for bridge, load in BRIDGES.items():
        for versions in load()._converters.values():
            for fn in versions.values():
                params = list(inspect.signature(fn).parameters)
                assert params == ["ctx"], f"{bridge} {fn.__module__}.{fn.__qualname__}{params}"


def test_both_contexts_share_the_reading_api():
    reading = [n for n, v in vars(ConverterContext).items() if not n.startswith("_")]
    for cls in (TorchContext, TensorFlowContext):
        assert issubclass(cls, ConverterContext)
        for name in reading:
            assert hasattr(cls, name), f"{cls.__name__} lacks {name}"
    for name in ("emit", "alias", "define", "dtype", "nested"):
        assert callable(getattr(TorchContext, name)) and callable(getattr(TensorFlowContext, name)), name


def _context(node: onnx.NodeProto) -> ConverterContext:
    view = GraphView("g", [node], ["x"], list(node.output), {"x": TensorType(TensorProto.FLOAT, (1, 3, 8, 8))},
                     {"": 18})
    return ConverterContext(node, view, set())


def test_fail_raises_an_onnxbridge_error_naming_the_node():
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv_7")
    with pytest.raises(NodeConversionError) as err:
        _context(node).fail("cannot do that")
    assert isinstance(err.value, OnnxBridgeError)
    assert err.value.node_name == "conv_7" and err.value.op_type == "Conv"
    assert "conv_7" in str(err.value) and "cannot do that" in str(err.value)


def test_the_reading_api():
    node = helper.make_node("MaxPool", ["x"], ["y", ""], name="pool", kernel_shape=[2, 2], auto_pad=b"SAME_LOWER",
                            strides=[1, 1])
    node.attribute.append(helper.make_attribute("eps", 1e-5))
    ctx = _context(node)
    assert ctx.op == "MaxPool" and ctx.node_name == "pool" and ctx.opset == 18
    assert ctx.attr("auto_pad") == "SAME_LOWER" and ctx.attr("eps") == 1e-05 and ctx.attr("missing", 3) == 3
    assert ctx.n_inputs == 1 and ctx.has(0) and not ctx.has(1) and ctx.input_name(0) == "x"
    assert ctx.n_outputs == 2 and ctx.has_output(0) and not ctx.has_output(1)
    assert ctx.rank(0) == 4 and ctx.shape(0) == (1, 3, 8, 8) and ctx.elem(0) == TensorProto.FLOAT
    assert ctx.axis(-1, 4) == 3
    with pytest.raises(NodeConversionError, match="out of range"):
        ctx.axis(4, 4)
    assert ctx.spatial_pads([2, 2], [1, 1], [1, 1]) == [1, 1, 0, 0]  # SAME_LOWER: the odd unit first
    with pytest.raises(NodeConversionError, match="rank of output 'y' is unknown"):
        ctx.out_rank(0)
    absorbed: set[int] = set()
    other = helper.make_node("Relu", ["y"], ["z"])
    ConverterContext(node, ctx.view, absorbed).absorb(other)
    assert absorbed == {id(other)}


def test_the_driver_reports_every_offending_node_at_once():
    nodes = [helper.make_node("Relu", ["x"], [f"y{i}"], name=f"n{i}") for i in range(10)]
    errors: list[NodeConversionError] = []
    failed: list[str] = []

    def step(node):
        if node.name in ("n2", "n5"):
            _context(node).fail("unsupported attribute")
        if node.name == "n6":
            raise KeyError("a consequence of n5")  # after a failure: not reported twice, not a traceback

    convert_nodes(nodes, step, lambda n: failed.append(n.name), errors)
    assert [e.node_name for e in errors] == ["n2", "n5"] and failed == ["n2", "n5", "n6"]
    err = ConversionError("PyTorch", errors)
    assert isinstance(err, OnnxBridgeError)
    assert "2 node(s) cannot be converted to PyTorch" in str(err) and "'n2'" in str(err) and "'n5'" in str(err)
    with pytest.raises(KeyError):  # before any failure, an exception is a bug and propagates
        convert_nodes(nodes[6:7], step, lambda n: None, [])


def _model(node: onnx.NodeProto, inputs, outputs, inits=()) -> onnx.ModelProto:
    graph = helper.make_graph([node], "g", inputs, outputs, initializer=list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=10)


def test_both_generators_raise_one_error_listing_every_node():
    """A converter's failure in either bridge ends in ConversionError (an OnnxBridgeError) naming the node."""
    from onnxbridge.frameworks.tensorflow.codegen import generate as tf_generate
    from onnxbridge.frameworks.torch.codegen import generate as torch_generate

    # a valid ONNX model (Conv is N-D) that neither framework has a layer for: 4 spatial axes
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 3, 3, 3, 3])
    weight = numpy_helper.from_array(np.ones((1, 1, 2, 2, 2, 2), np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="the_conv", kernel_shape=[2, 2, 2, 2])
    model = _model(node, [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [weight])
    for generate in (torch_generate, tf_generate):
        with pytest.raises(ConversionError) as err:
            generate(model)
        assert isinstance(err.value, OnnxBridgeError)
        assert [e.node_name for e in err.value.errors] == ["the_conv"]
        assert "the_conv" in str(err.value) and "4-D convolution" in str(err.value)


def test_tensorflow_input_of_an_unsupported_type_is_a_clean_error():
    from onnxbridge.frameworks.tensorflow.codegen import generate

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT8E4M3FN, [2, 3])
    model = _model(helper.make_node("Identity", ["x"], ["y"]), [x],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT8E4M3FN, [2, 3])])
    with pytest.raises(OnnxBridgeError, match="graph input 'x'.*FLOAT8E4M3FN"):
        generate(model)
