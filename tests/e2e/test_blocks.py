"""Blocks: three layers made a block, the block used twice more from the palette, opened and closed."""

from __future__ import annotations

from tests.e2e.conftest import (
    copy_model,
    doc_spec,
    drop_from_palette,
    edge_labels,
    node,
    open_page,
    wait_checked,
)


def instances(page):
    return page.locator("[data-testid=layer-node][data-type=ConvUnit]")


def test_make_a_block_use_it_twice_open_and_close_it(start_studio, browser, workspace, shots):
    source = copy_model("digits_cnn.yaml", workspace)
    server = start_studio(source)
    page = open_page(browser, server.url)
    wait_checked(page)

    # select three layers (click, then Ctrl+click) and make them a block
    node(page, "conv1").click()
    node(page, "bn1").click(modifiers=["Control"])
    node(page, "relu1").click(modifiers=["Control"])
    assert page.evaluate("() => window.__studio.get().selection") == ["conv1", "bn1", "relu1"]
    shots(page, "selected")
    page.get_by_test_id("make-block-toolbar").click()
    page.get_by_test_id("block-dialog-input").fill("ConvUnit")
    page.get_by_test_id("block-dialog-ok").click()
    page.wait_for_function("() => !!window.__studio.stack.doc.spec.blocks?.ConvUnit")
    wait_checked(page)
    spec = doc_spec(page)
    assert [layer["id"] for layer in spec["blocks"]["ConvUnit"]["layers"]] == ["conv1", "bn1", "relu1"]
    assert instances(page).count() == 1
    assert page.get_by_test_id("layer-node").count() == 9
    assert page.get_by_test_id("total-params").inner_text() == "38,314"  # the same network
    shots(page, "made")

    # the block is in the palette now: used twice, after the pool (each drop goes after the selected node)
    assert page.get_by_test_id("palette-group-network-blocks").is_visible()
    node(page, "pool").click()
    drop_from_palette(page, "ConvUnit", 640, 300)
    drop_from_palette(page, "ConvUnit", 640, 300)
    wait_checked(page)
    assert instances(page).count() == 3
    spec = doc_spec(page)
    ids = [layer["id"] for layer in spec["layers"]]
    assert ids.index("pool") < ids.index("conv_unit") < ids.index("conv_unit_1") < ids.index("flatten")
    assert all(node(page, i).get_attribute("data-status") == "ok" for i in ids)
    labels = edge_labels(page)
    assert all(label.startswith("[batch") for label in labels), labels
    assert "[batch, 16, 4, 4]" in labels  # what a ConvUnit makes of the pool's [batch, 32, 4, 4]
    shots(page, "used-twice")

    # double-click: the block's definition opens as its own canvas
    instances(page).first.dblclick()
    page.wait_for_selector("[data-testid=crumb-block]")
    assert page.get_by_test_id("crumb-block").inner_text() == "ConvUnit"
    assert sorted(page.get_by_test_id("layer-node").evaluate_all("ns => ns.map(n => n.dataset.id)")) == ["bn1", "conv1", "relu1"]
    assert page.get_by_test_id("input-node").count() == 1 and page.get_by_test_id("output-node").count() == 1
    wait_checked(page)
    assert "[batch, 16, 8, 8]" in edge_labels(page)  # shapes of the first instance
    # an edit here changes the definition: every instance follows
    node(page, "conv1").click()
    page.get_by_test_id("param-out_channels").fill("8")
    wait_checked(page)
    assert "[batch, 8, 8, 8]" in edge_labels(page)
    shots(page, "opened")

    # the breadcrumb closes it again
    page.get_by_test_id("crumb-network").click()
    page.wait_for_selector("[data-testid=crumb-block]", state="detached")
    assert instances(page).count() == 3
    assert page.get_by_test_id("layer-node").count() == 11
    labels = edge_labels(page)
    assert "[batch, 8, 8, 8]" in labels and "[batch, 8, 4, 4]" in labels
    assert all(label.startswith("[batch") for label in labels), labels
    shots(page, "closed")

    # and the edit made inside undoes from outside, like any other
    page.get_by_test_id("undo").click()
    wait_checked(page)
    assert doc_spec(page)["blocks"]["ConvUnit"]["layers"][0]["out_channels"] == 16
    assert "[batch, 16, 4, 4]" in edge_labels(page)
    assert not browser.errors


def test_a_built_in_block_opens_on_the_layers_its_palette_entry_lists(start_studio, browser, workspace, shots):
    source = copy_model("resnet_mini.yaml", workspace)
    server = start_studio(source)
    page = open_page(browser, server.url)
    wait_checked(page)

    # the palette entry lists the layers inside (from the catalogue's definition of the block)
    title = page.get_by_test_id("palette-item-ConvBNAct").get_attribute("title")
    [listed] = [line for line in title.splitlines() if line.startswith("Layers (for ")]
    assert listed == "Layers (for out_channels 8 on [batch, 8, 8, 8]): conv (Conv2d) → bn (BatchNorm2d) → act (ReLU)"
    palette_layers = listed.split("): ", 1)[1].split(" → ")

    # an instance opened on the canvas draws those layers, in that order, read only
    node(page, "stem").dblclick()
    page.wait_for_selector("[data-testid=crumb-block]")
    assert page.get_by_test_id("crumb-block").inner_text() == "ConvBNAct (built-in, read only)"
    page.wait_for_selector("[data-testid=layer-node]")
    drawn = page.get_by_test_id("layer-node").evaluate_all(
        "ns => ns.sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top)"
        ".map((n) => `${n.dataset.id} (${n.dataset.type})`)")
    assert drawn == palette_layers
    # its input has the shape the definition was generated for
    assert page.get_by_test_id("input-node").get_by_test_id("node-shape").inner_text() == "[batch, 8, 8, 8]"
    assert page.get_by_test_id("builtin-generated-for").inner_text().startswith(
        "Drawn as generated for out_channels 8 on [batch, 8, 8, 8]: 3 layers.")
    shots(page, "built-in-opened")
    page.get_by_test_id("crumb-network").click()
    page.wait_for_selector("[data-testid=crumb-block]", state="detached")
    assert node(page, "stem").is_visible()
