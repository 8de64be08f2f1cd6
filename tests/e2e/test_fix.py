"""A Linear connected straight after a Conv2d: the error shows on that node, and one click fixes it."""

from __future__ import annotations

import yaml

from tests.e2e.conftest import (
    doc_spec,
    drag_connect,
    drop_from_palette,
    edge_labels,
    node,
    open_page,
    wait_checked,
)

CONV_ONLY = {
    "name": "conv_only",
    "inputs": [{"name": "image", "shape": ["batch", 1, 8, 8]}],
    "layers": [{"id": "conv1", "type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": "same"}],
    "outputs": [{"name": "logits", "from": "conv1"}],
}


def test_linear_after_conv_error_and_fix(start_studio, browser, workspace, shots):
    (workspace / "conv_only.yaml").write_text(yaml.safe_dump(CONV_ONLY, sort_keys=False))
    server = start_studio(workspace / "conv_only.yaml")
    page = open_page(browser, server.url)
    wait_checked(page)
    assert page.get_by_test_id("layer-node").count() == 1

    # a Linear dropped on an empty spot (nothing selected: it stays unconnected), then wired by dragging
    canvas = page.get_by_test_id("canvas").bounding_box()
    conv = node(page, "conv1").bounding_box()
    spot = {"x": conv["x"] - canvas["x"] - 140, "y": conv["y"] - canvas["y"] + 20}  # left of conv1, free
    page.get_by_test_id("canvas").click(position=spot)
    drop_from_palette(page, "Linear", spot["x"], spot["y"])
    page.get_by_test_id("layer-id").fill("fc")
    page.get_by_test_id("param-out_features").fill("10")
    wait_checked(page)
    assert node(page, "fc").get_attribute("data-status") == "unconnected"
    shots(page, "unconnected")
    drag_connect(page, node(page, "conv1").get_by_test_id("handle-out-0"), node(page, "fc").get_by_test_id("handle-in-0"))
    wait_checked(page)  # the node shows its new state (and size) before its output is dragged from
    output = page.locator('[data-testid=output-node][data-id="logits"]')
    drag_connect(page, node(page, "fc").get_by_test_id("handle-out-0"), output.get_by_test_id("handle-in-0"))
    wait_checked(page)
    spec = doc_spec(page)
    assert [layer["id"] for layer in spec["layers"]] == ["conv1", "fc"]
    assert spec["outputs"] == [{"name": "logits", "from": "fc"}]

    # the checker's error, on the node at fault, with its suggestion and a Fix button
    fc = node(page, "fc")
    assert fc.get_attribute("data-status") == "error"
    message = fc.get_by_test_id("node-issue-message").first.inner_text()
    assert "fc (Linear) got [batch, 4, 8, 8]" in message
    assert "Flatten" in fc.get_by_test_id("node-issue-suggestion").first.inner_text()
    assert page.get_by_test_id("issue-count").inner_text() == "1"
    shots(page, "error")

    fc.get_by_test_id("fix-button").click()
    page.wait_for_function("() => window.__studio.get().undoLabel && window.__studio.get().undoLabel.startsWith('Fix OB501')")
    wait_checked(page)
    shots(page, "fixed")
    flatten = page.locator("[data-testid=layer-node][data-type=Flatten]")
    assert flatten.count() == 1
    assert node(page, "fc").get_attribute("data-status") == "ok"
    assert page.get_by_test_id("node-issue").count() == 0
    labels = edge_labels(page)
    # image -> conv1 -> flatten -> fc -> logits: every edge shows its shape again
    assert len(labels) == 4 and all(label.startswith("[batch") for label in labels), labels
    assert "[batch, 256]" in labels and "[batch, 10]" in labels
    layers = doc_spec(page)["layers"]
    assert [layer["type"] for layer in layers] == ["Conv2d", "Flatten", "Linear"]

    # the fix is one step on the undo stack
    page.get_by_test_id("undo").click()
    wait_checked(page)
    assert page.locator("[data-testid=layer-node][data-type=Flatten]").count() == 0
    assert node(page, "fc").get_attribute("data-status") == "error"
    page.keyboard.press("Control+Shift+Z")
    wait_checked(page)
    assert page.locator("[data-testid=layer-node][data-type=Flatten]").count() == 1
    shots(page, "redone")
    assert not browser.errors
