"""ONNX -> TensorFlow on real models: every spec in models/ and every model of the PyTorch zoo, checked
against onnxruntime live, through the generated model.py (imported from disk) and through the SavedModel."""

from __future__ import annotations

import importlib.util
import itertools

import numpy as np
import pytest

from tests.conftest import MODELS

tf = pytest.importorskip("tensorflow")

from onnxbridge.codegen.writer import NameScope  # noqa: E402
from onnxbridge.frameworks.tensorflow.exporter import export_from_onnx  # noqa: E402
from onnxbridge.spec import build  # noqa: E402
from onnxbridge.testing import check_parity, random_inputs  # noqa: E402

pytestmark = pytest.mark.tensorflow
SPECS = sorted(p.stem for p in MODELS.glob("*.yaml"))
_ids = itertools.count()


def load_model_py(directory):
    """Import ``directory/model.py`` as a user would and call its ``load()``."""
    spec = importlib.util.spec_from_file_location(f"tf_model_under_test_{next(_ids)}", directory / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load()


def check_everything(onnx_model, out_dir, *, inputs=None):
    """Convert with files, then check the live object, model.py from disk and the reloaded SavedModel."""
    result = export_from_onnx(onnx_model, output_dir=out_dir)
    hops = [hop for hop, _ in result.checks]
    assert any("live" in h for h in hops) and any("SavedModel" in h for h in hops)
    for hop, report in result.checks:
        assert report.ok, f"{hop}: {report.summary()}"
    feeds = inputs or random_inputs(onnx_model, seed=3, batch=3)
    from_disk = load_model_py(out_dir)
    report = check_parity(onnx_model, from_disk, inputs=feeds)
    assert report.ok, f"model.py: {report.summary()}"
    reloaded = tf.saved_model.load(str(out_dir / "saved_model"))
    assert "serving_default" in reloaded.signatures
    report = check_parity(onnx_model, reloaded, inputs=feeds)
    assert report.ok, f"SavedModel: {report.summary()}"
    # the serving signature takes named inputs and returns named outputs
    serve = reloaded.signatures["serving_default"]
    kwargs = {NameScope.sanitize(name): tf.constant(a) for name, a in feeds.items()}
    assert set(kwargs) == set(serve.structured_input_signature[1])
    outs = serve(**kwargs)
    assert len(outs) == len(onnx_model.graph.output)
    return result


@pytest.mark.parametrize("name", SPECS)
def test_spec_to_tensorflow(name, tmp_path):
    model = build(MODELS / f"{name}.yaml")
    result = check_everything(model, tmp_path / name)
    source = (tmp_path / name / "model.py").read_text()
    assert "keras.Input(" in source and "def load(" in source
    for function in model.functions:  # every block becomes a Keras layer class
        assert f"(ONNX function {function.domain}.{function.name})" in source
    assert result.value is not None


def test_model_py_is_readable_keras(tmp_path):
    """Layer names come from the spec's layer ids; weights stay out of the source."""
    check_everything(build(MODELS / "digits_cnn.yaml"), tmp_path / "digits")
    source = (tmp_path / "digits" / "model.py").read_text()
    for layer in ("conv1", "bn1", "fc1", "fc2"):
        assert f"name='{layer}'" in source
    assert "layers.Conv2D(" in source and "layers.Dense(" in source and "layers.BatchNormalization(" in source
    assert len(source) < 4000
    files = sorted(p.name for p in (tmp_path / "digits").iterdir())
    assert files == ["model.py", "model.weights.npz", "saved_model"]


def test_live_object_interface():
    """Positional inputs in ONNX order and layout; one tensor out, or a tuple in graph output order."""
    model = build(MODELS / "digits_cnn.yaml")
    live = export_from_onnx(model, verify=False).value
    x = random_inputs(model)["image"]
    assert isinstance(live, tf.Module)
    out = live(x)
    assert tuple(out.shape) == (2, 10)
    np.testing.assert_allclose(out.numpy(), live(tf.constant(x)).numpy())


@pytest.fixture(scope="module")
def torch_zoo():
    """(zoo name, exporter) -> ONNX model exported by the PyTorch bridge (once per module)."""
    torch = pytest.importorskip("torch")
    from onnxbridge.frameworks.torch.importer import import_to_onnx
    from tests.frameworks.torch.zoo import ZOO

    cache: dict = {}

    def get(name: str, exporter: str):
        if (name, exporter) not in cache:
            torch.manual_seed(0)
            entry = ZOO[name]
            result = import_to_onnx(entry.build().eval(), example_inputs=entry.inputs(2), exporter=exporter)
            cache[(name, exporter)] = result.onnx_model
        return cache[(name, exporter)]

    return get


def _zoo_cases():
    try:
        from tests.frameworks.torch.zoo import ZOO
    except ImportError:  # no torch: the test is skipped by its fixture
        return [pytest.param("resnet", "torchscript")]
    return [pytest.param(n, e, id=f"{n}-{e}") for n in ZOO for e in ("dynamo", "torchscript")]


@pytest.mark.torch
@pytest.mark.slow
@pytest.mark.parametrize("name, exporter", _zoo_cases())
def test_torch_zoo_to_tensorflow(name, exporter, torch_zoo, tmp_path):
    check_everything(torch_zoo(name, exporter), tmp_path / f"{name}-{exporter}")


def _on_constants_model(op: str):
    """``x + op(Expand(c))``: the Expand's result (300 x 256 rows) is too large to fold at conversion time, so
    ``op`` runs on a value computed from constants alone."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    batch, seq, width = 300, 256, 40
    inits = {"shape": np.array([batch, seq] if op == "Gather" else [batch, seq, width], np.int64)}
    if op == "Gather":  # token types from a zero buffer, looked up in their table
        inits.update(c=np.zeros((1, seq), np.int64), w=rng.normal(size=(2, width)).astype(np.float32))
        nodes = [helper.make_node("Gather", ["w", "big"], ["y"], name="/token_type_embeddings/Gather")]
    elif op == "MatMul":
        inits.update(c=rng.normal(size=(1, 1, width)).astype(np.float32),
                     w=rng.normal(size=(width, width)).astype(np.float32))
        nodes = [helper.make_node("MatMul", ["big", "w"], ["y"], name="/proj/MatMul")]
    else:
        inits.update(c=rng.normal(size=(1, 1, width)).astype(np.float32),
                     w=rng.normal(size=(width,)).astype(np.float32), b=np.zeros(width, np.float32))
        nodes = [helper.make_node("LayerNormalization", ["big", "w", "b"], ["y"], name="/norm/LayerNormalization")]
    nodes = [helper.make_node("Expand", ["c", "shape"], ["big"], name="/Expand"), *nodes,
             helper.make_node("Add", ["x", "y"], ["out"], name="/Add")]
    graph = helper.make_graph(nodes, "on_constants", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                     [batch, seq, width])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [batch, seq, width])],
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("op", ["Gather", "MatMul"])
def test_weights_applied_to_constants_alone_are_computed_not_layers(op):
    """An Embedding or Dense layer called on a value that reads no model input would run once while
    ``build_model`` runs and be left out of the Keras model (``No such layer`` when its weights were set):
    the lookup or product is written with the weights as constants instead."""
    result = export_from_onnx(_on_constants_model(op))
    for hop, report in result.checks:
        assert report.ok, f"{hop}: {report.summary()}"
    assert not [layer for layer in result.value.keras_model.layers if layer.weights]


def test_other_layers_on_constants_alone_are_a_clean_error():
    from onnxbridge.errors import OnnxBridgeError

    with pytest.raises(OnnxBridgeError, match=r"/norm/LayerNormalization.*would read no model input"):
        export_from_onnx(_on_constants_model("LayerNormalization"))
