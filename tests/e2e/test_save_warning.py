"""Saving a network with a layer not wired in: the file is saved as drawn, and one line names the layer."""

from __future__ import annotations

import yaml

from tests.e2e.conftest import copy_model, doc_spec, drop_from_palette, open_page, wait_checked


def test_save_warns_about_layers_not_connected(start_studio, browser, workspace, shots):
    source = copy_model("digits_cnn.yaml", workspace)
    server = start_studio(source)
    page = open_page(browser, server.url)
    wait_checked(page)

    # nothing selected: a dropped layer is left unwired
    page.keyboard.press("Escape")
    drop_from_palette(page, "Sigmoid", 900, 120)
    wait_checked(page)
    [added] = [layer for layer in doc_spec(page)["layers"] if layer["type"] == "Sigmoid"]
    assert added["inputs"] == []

    page.get_by_test_id("save").click()
    warning = page.get_by_test_id("toast-warning")
    warning.wait_for()
    text = warning.locator("div").first.inner_text()
    assert text == (f"Saved digits_cnn.yaml, but 1 layer is not connected from an input to an output: "
                    f"'{added['id']}'")
    shots(page, "saved-with-warning")
    saved = yaml.safe_load(source.read_text())
    assert added["id"] in [layer["id"] for layer in saved["layers"]]  # saved as drawn

    # undone and saved again: a plain "Saved"
    page.get_by_test_id("undo").click()
    wait_checked(page)
    page.get_by_test_id("save").click()
    page.get_by_test_id("toast-ok").filter(has_text="Saved digits_cnn.yaml").wait_for()
    assert added["id"] not in [layer["id"] for layer in yaml.safe_load(source.read_text())["layers"]]
