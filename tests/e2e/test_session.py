"""No work lost: a reload mid-edit, and a restart of the server, bring back the network and its undo history."""

from __future__ import annotations

from tests.e2e.conftest import (
    copy_model,
    doc_spec,
    drop_from_palette,
    node,
    open_page,
    wait_autosaved,
    wait_checked,
)


def test_reload_and_restart_keep_the_network_and_its_history(start_studio, browser, workspace, shots):
    source = copy_model("digits_cnn.yaml", workspace)
    server = start_studio(source)
    page = open_page(browser, server.url)
    wait_checked(page)
    original = doc_spec(page)

    # three edits: a parameter typed, a layer inserted after fc1, a layer deleted
    node(page, "conv2").click()
    page.get_by_test_id("param-out_channels").fill("48")
    node(page, "fc1").click()
    drop_from_palette(page, "GELU", 700, 300)
    page.get_by_test_id("layer-id").fill("act_extra")
    node(page, "dropout").click()
    page.keyboard.press("Delete")
    wait_checked(page)
    edited = doc_spec(page)
    assert [lay["id"] for lay in edited["layers"]] == ["conv1", "bn1", "relu1", "conv2", "relu2", "pool", "flatten",
                                                       "fc1", "act_extra", "relu3", "fc2"]
    labels_before = page.evaluate("() => window.__studio.stack.labels")
    assert len(labels_before) == 4  # set, add, rename, delete
    wait_autosaved(page)
    shots(page, "edited")

    # reload mid-edit: the same network, the same history, and undo still works
    page.reload()
    page.wait_for_selector("[data-testid=app][data-ready=true]")
    wait_checked(page)
    shots(page, "reloaded")
    assert doc_spec(page) == edited
    assert page.evaluate("() => window.__studio.stack.labels") == labels_before
    assert page.get_by_test_id("layer-node").count() == 11
    assert node(page, "act_extra").count() == 1
    assert page.get_by_test_id("undo").is_enabled()
    page.get_by_test_id("undo").click()  # the delete
    wait_checked(page)
    assert node(page, "dropout").count() == 1
    assert "dropout" in [lay["id"] for lay in doc_spec(page)["layers"]]
    wait_autosaved(page)

    # the server stops and starts again on its port, with a new token: the page says so, and the new
    # address brings everything back
    server.stop()
    again = start_studio(source, port=server.port)
    page.evaluate("() => window.__studio.saveSession()")  # the old token: the server refuses, the page explains
    page.wait_for_selector("[data-testid=auth-error]")
    assert "token" in page.get_by_test_id("auth-error").inner_text()
    shots(page, "refused")
    page.goto(again.url)
    page.wait_for_selector("[data-testid=app][data-ready=true]")
    wait_checked(page)
    assert page.get_by_test_id("auth-error").count() == 0
    assert "token" not in page.url  # the token left the address bar
    spec = doc_spec(page)
    assert "dropout" in [lay["id"] for lay in spec["layers"]] and "act_extra" in [lay["id"] for lay in spec["layers"]]
    assert page.evaluate("() => window.__studio.stack.labels") == labels_before[:-1]
    assert page.evaluate("() => window.__studio.stack.canRedo")
    for _ in range(3):
        page.get_by_test_id("undo").click()
    wait_checked(page)
    shots(page, "undone-after-restart")
    assert doc_spec(page) == original
    assert node(page, "conv2").get_by_test_id("node-params").inner_text() == "4.6k"
