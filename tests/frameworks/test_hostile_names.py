"""Hostile names (quotes, newlines, ``__import__``, keywords, unicode, ``_modules``, ``__class__`` ...) on every
node, layer, value, input, output and block function of a model go through BOTH code generators: the
generated source compiles, runs, matches onnxruntime, and no model string becomes an identifier."""

from __future__ import annotations

import ast

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnxbridge.ir.conventions import BLOCKS_DOMAIN
from onnxbridge.testing import check_parity, random_inputs

OPSET = 18
# the dunder names generated code itself writes; anything else starting with "__" came from the model
_OWN_DUNDERS = {"__init__", "__call__", "__file__", "__future__", "__name__"}


def hostile_model() -> onnx.ModelProto:
    """Conv -> Relu -> MaxPool -> GlobalAveragePool -> Flatten -> Gemm -> Add -> Mul -> a spec block
    (MatMul with a block weight -> Relu), every name taken from the hostile list."""
    rng = np.random.default_rng(0)
    f32 = np.float32
    block_name = "Blk'\"\n__class__"
    body = [
        helper.make_node("MatMul", ["x'\"\n", "__w"], ["__dict__"], name="add_weight"),
        helper.make_node("Relu", ["__dict__"], ["y\\n"], name="__class__"),
        helper.make_node("Identity", ["y\\n"], ["self"], name="build"),
    ]
    block = helper.make_function(BLOCKS_DOMAIN, block_name, ["x'\"\n", "__w"], ["self"], body,
                                 opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(BLOCKS_DOMAIN, 1)],
                                 doc_string="doc with \"\"\" quotes and a \x00 NUL\n# and a newline")
    inits = [
        numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(f32), "__class__.weight"),
        numpy_helper.from_array(rng.standard_normal(4).astype(f32), "__class__.bias"),
        numpy_helper.from_array(rng.standard_normal((4, 4)).astype(f32), "_parameters.weight"),
        numpy_helper.from_array(rng.standard_normal(4).astype(f32), "_parameters.bias"),
        numpy_helper.from_array(rng.standard_normal((4, 4)).astype(f32), "__builtins__"),
        numpy_helper.from_array(np.asarray(0.5, dtype=f32), "lambda"),
    ]
    nodes = [
        helper.make_node("Conv", ["x'\"\n\tin", "__class__.weight", "__class__.bias"], ["__class__:0"],
                         name="__class__", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["__class__:0"], ["_modules"], name="_modules"),
        helper.make_node("MaxPool", ["_modules"], ["def"], name="forward", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["def"], ["ünï名"], name="self"),
        helper.make_node("Flatten", ["ünï名"], ["__import__('os').system('echo owned')"], name="training"),
        helper.make_node("Gemm", ["__import__('os').system('echo owned')", "_parameters.weight", "_parameters.bias"],
                         ["class"], name="class", transB=1),
        helper.make_node("Add", ["class", "__name__"], ["None"], name="__dict__"),
        helper.make_node("Mul", ["None", "lambda"], ["_"], name="add_weight"),
        helper.make_node(block_name, ["_", "__builtins__"], ["y'\"\n"], name="__init__", domain=BLOCKS_DOMAIN),
        helper.make_node("Sigmoid", ["_"], ["__import__"], name="\n"),
    ]
    graph = helper.make_graph(
        nodes, "graph'\"\n__class__",
        [helper.make_tensor_value_info("x'\"\n\tin", TensorProto.FLOAT, [2, 3, 8, 8]),
         helper.make_tensor_value_info("__name__", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y'\"\n", TensorProto.FLOAT, [2, 4]),
         helper.make_tensor_value_info("__import__", TensorProto.FLOAT, [2, 4])],
        initializer=inits, doc_string="graph doc \"\"\" with \x00 and \\ backslash")
    model = helper.make_model(graph, functions=[block], ir_version=10,
                              opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(BLOCKS_DOMAIN, 1)])
    onnx.checker.check_model(model)
    return model


def assert_no_model_identifiers(source: str) -> None:
    """Every identifier in ``source`` is one generated code may use: no dunder or private name came in."""
    tree = ast.parse(source)  # also: the source compiles
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.keyword) and node.arg:
            names.add(node.arg)
    smuggled = sorted(n for n in names if n.startswith("__") and n not in _OWN_DUNDERS)
    assert not smuggled, f"model names became identifiers: {smuggled}"
    private = sorted(n for n in names if n.startswith("_") and n != "_" and not n.startswith("__"))
    assert not private, f"private names in generated code: {private}"


def test_the_model_is_hostile_and_valid():
    model = hostile_model()
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["x'\"\n\tin", "__name__"]


@pytest.mark.torch
def test_torch_codegen_survives_hostile_names(tmp_path):
    pytest.importorskip("torch")
    from onnxbridge.frameworks.torch.codegen import generate
    from onnxbridge.frameworks.torch.exporter import export_from_onnx, load_source

    model = hostile_model()
    generated = generate(model)
    assert_no_model_identifiers(generated.source)
    compile(generated.source, "model.py", "exec")
    module = load_source(generated.source, generated.state_dict)
    feeds = random_inputs(model, seed=1)
    report = check_parity(model, module, inputs=feeds)
    assert report.ok, report.summary()
    # and from disk, as a user imports it
    result = export_from_onnx(model, output_dir=tmp_path / "torch")
    assert [hop for hop, _ in result.checks] and all(r.ok for _, r in result.checks), \
        [r.summary() for _, r in result.checks]


@pytest.mark.tensorflow
def test_tensorflow_codegen_survives_hostile_names(tmp_path):
    pytest.importorskip("tensorflow")
    from onnxbridge.frameworks.tensorflow.codegen import generate
    from onnxbridge.frameworks.tensorflow.exporter import export_from_onnx

    model = hostile_model()
    generated = generate(model)
    assert_no_model_identifiers(generated.source)
    compile(generated.source, "model.py", "exec")
    result = export_from_onnx(model, output_dir=tmp_path / "tf")
    assert len(result.checks) == 2 and all(r.ok for _, r in result.checks), [r.summary() for _, r in result.checks]
    report = check_parity(model, result.value, inputs=random_inputs(model, seed=1))
    assert report.ok, report.summary()
