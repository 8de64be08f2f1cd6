"""Building models/digits_cnn.yaml's network on an empty canvas, by drag and drop and typing parameters."""

from __future__ import annotations

import numpy as np
import onnx
import yaml
from PIL import Image

from tests.conftest import MODELS
from tests.e2e.conftest import doc_spec, drop_from_palette, edge_labels, fit, node, open_page, wait_checked

# (type, id, parameters typed into the form)
DIGITS = [
    ("Conv2d", "conv1", {"out_channels": "16", "kernel_size": "3", "padding": "same"}),
    ("BatchNorm2d", "bn1", {}),
    ("ReLU", "relu1", {}),
    ("Conv2d", "conv2", {"out_channels": "32", "kernel_size": "3", "padding": "same"}),
    ("ReLU", "relu2", {}),
    ("MaxPool2d", "pool", {"kernel_size": "2"}),
    ("Flatten", "flatten", {}),
    ("Linear", "fc1", {"out_features": "64"}),
    ("ReLU", "relu3", {}),
    ("Dropout", "dropout", {"p": "0.25"}),
    ("Linear", "fc2", {"out_features": "10"}),
]


def graph_signature(model: onnx.ModelProto) -> list[tuple]:
    """What makes two models the same network: per node its name, op, attributes and output shapes."""
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {}
    for vi in [*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input]:
        dims = tuple(d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim)
        shapes[vi.name] = dims
    inits = {i.name: tuple(i.dims) for i in model.graph.initializer}
    out = []
    for n in model.graph.node:
        attrs = tuple(sorted((a.name, str(onnx.helper.get_attribute_value(a))) for a in n.attribute))
        out.append((n.name, n.op_type, attrs, tuple(shapes.get(o) for o in n.output),
                    tuple(inits.get(i, shapes.get(i)) for i in n.input)))
    return out


def canvas_pixels(path) -> tuple[float, float]:
    """The fraction of the canvas area's pixels that are not background, and their variance."""
    img = np.asarray(Image.open(path).convert("RGB")).astype(np.float32)
    canvas = img[60:620, 230:1120]  # the canvas between palette, inspector, toolbar and bottom panel
    background = np.array([14, 17, 23], dtype=np.float32)
    differs = np.abs(canvas - background).sum(axis=2) > 30
    return float(differs.mean()), float(canvas.var())


def test_build_digits_cnn_from_an_empty_canvas(start_studio, browser, workspace, shots):
    from onnxbridge.spec import build

    server = start_studio()
    page = open_page(browser, server.url)
    assert page.get_by_test_id("canvas-hint").is_visible()
    assert page.get_by_test_id("layer-node").count() == 0
    shots(page, "empty")

    # the network's name, then the input: dragged from the palette, named and shaped in its form
    page.get_by_test_id("network-name").fill("digits_cnn")
    drop_from_palette(page, "Input", 420, 40)
    page.get_by_test_id("input-name").fill("image")
    page.get_by_test_id("input-shape").fill("batch, 1, 8, 8")
    assert page.get_by_test_id("input-node").count() == 1

    # every layer: dropped under the selected one (which connects it), its id and parameters typed
    for i, (kind, layer_id, params) in enumerate(DIGITS):
        drop_from_palette(page, kind, 420, 120 + 35 * i)
        page.get_by_test_id("layer-id").fill(layer_id)
        for name, value in params.items():
            page.get_by_test_id(f"param-{name}").fill(value)
            assert page.get_by_test_id(f"param-{name}-error").count() == 0, f"{layer_id}.{name}={value} refused"
        assert node(page, layer_id).count() == 1
    # a typed value that is not allowed is refused in the form, at once, and changes nothing
    page.get_by_test_id("param-out_features").fill("ten")
    assert "integer" in page.get_by_test_id("param-out_features-error").inner_text()
    page.get_by_test_id("param-out_features").fill("10")
    drop_from_palette(page, "Output", 420, 560)
    page.get_by_test_id("output-name").fill("logits")

    page.get_by_test_id("layout").click()
    page.wait_for_function("() => window.__studio.get().busy === null && window.__studio.get().undoLabel === 'Auto-layout'")
    wait_checked(page)
    fit(page)
    page.get_by_test_id("canvas").click(position={"x": 5, "y": 5})  # nothing selected: the network's form
    shot = shots(page, "built")

    # what the screenshot shows: the network drawn (not a blank canvas) while the DOM has all its nodes
    assert page.get_by_test_id("layer-node").count() == 11
    assert page.get_by_test_id("input-node").count() == 1 and page.get_by_test_id("output-node").count() == 1
    drawn, variance = canvas_pixels(shot)
    assert drawn > 0.04 and variance > 50, (drawn, variance)
    labels = edge_labels(page)
    assert len(labels) == 12 and all(label.startswith("[batch") for label in labels), labels
    assert page.get_by_test_id("total-params").inner_text() == "38,314"

    # saved into the workspace, it is the same document as the file and builds to the same ONNX graph
    page.get_by_test_id("save").click()
    page.get_by_test_id("save-dialog-input").fill("built.yaml")
    page.get_by_test_id("save-dialog-ok").click()
    page.wait_for_function("() => window.__studio.get().file.path === 'built.yaml' && !window.__studio.isDirty()")
    shots(page, "saved")
    saved = yaml.safe_load((workspace / "built.yaml").read_text())
    original = yaml.safe_load((MODELS / "digits_cnn.yaml").read_text())
    assert saved["layers"] == original["layers"]
    assert saved["inputs"] == original["inputs"] and saved["outputs"] == original["outputs"]
    assert saved == doc_spec(page)
    assert graph_signature(build(saved)) == graph_signature(build(original))

    # a file changed on disk since it was opened is not overwritten without asking
    (workspace / "built.yaml").write_text((workspace / "built.yaml").read_text() + "# edited elsewhere\n")
    page.get_by_test_id("network-description").fill("digits, drawn by hand")
    page.keyboard.press("Control+s")
    page.get_by_test_id("confirm-dialog").wait_for()
    assert "changed" in page.get_by_test_id("confirm-dialog").inner_text()
    shots(page, "changed-on-disk")
    page.get_by_test_id("confirm-cancel").click()
    assert "edited elsewhere" in (workspace / "built.yaml").read_text()
    page.keyboard.press("Control+s")
    page.get_by_test_id("confirm-ok").click()
    page.wait_for_function("() => !window.__studio.isDirty()")
    assert "edited elsewhere" not in (workspace / "built.yaml").read_text()
    saved = yaml.safe_load((workspace / "built.yaml").read_text())
    assert saved["description"] == "digits, drawn by hand"

    # a device per layer, shown as a colour on the node; copy and paste; each one step of the history
    node(page, "fc1").click()
    page.get_by_test_id("layer-device").select_option("cpu")
    assert node(page, "fc1").locator(".node-device").count() == 1
    assert doc_spec(page)["layers"][7]["device"] == "cpu"
    node(page, "relu3").click()
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    assert node(page, "relu3_1").count() == 1
    shots(page, "device-and-paste")
    page.keyboard.press("Control+z")
    page.keyboard.press("Control+z")
    assert node(page, "relu3_1").count() == 0 and node(page, "fc1").locator(".node-device").count() == 0
    assert doc_spec(page) == saved
    assert not browser.errors
