"""Long layer ids, long type names and long shapes stay inside their node box: cut with an ellipsis, the full
text in a tooltip."""

from __future__ import annotations

import yaml

from tests.e2e.conftest import node, open_page, wait_checked

LONG_INPUT = "pixel_values_normalised_to_unit_range"
LONG_ID = "encoder_stage_three_bottleneck_projection_convolution"
LONG_BLOCK_ID = "transformer_encoder_block_with_a_long_name"

SPEC = {
    "name": "long_names",
    "inputs": [{"name": LONG_INPUT, "shape": ["batch_size", 3, "image_height_in_pixels", "image_width_in_pixels"]}],
    "layers": [
        {"id": LONG_ID, "type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": "same", "device": "cpu"},
        {"id": "flatten_spatial_positions_into_a_sequence", "type": "Flatten", "start_dim": 2},
        {"id": "swap", "type": "Permute", "dims": [0, 2, 1]},
        {"id": LONG_BLOCK_ID, "type": "TransformerEncoderBlock", "num_heads": 2, "ff_dim": 16},
    ],
}

# every text element of a node, its box and whether it is cut (scrollWidth > clientWidth), with its title
MEASURE = """(n) => {
  const box = n.getBoundingClientRect();
  const texts = [...n.querySelectorAll('.node-type, .node-id, .node-shape, .node-args, .node-params, .node-tag, .node-devtext')].map((e) => {
    const r = e.getBoundingClientRect();
    return {cls: e.className, text: e.textContent, title: e.getAttribute('title'), left: r.left, right: r.right,
            cut: e.scrollWidth > e.clientWidth + 1,
            ellipsis: getComputedStyle(e).textOverflow === 'ellipsis'};
  });
  return {width: box.width, left: box.left, right: box.right, texts};
}"""


def test_long_ids_types_and_shapes_stay_inside_their_node(start_studio, browser, workspace, shots):
    source = workspace / "long_names.yaml"
    source.write_text(yaml.safe_dump(SPEC, sort_keys=False))
    server = start_studio(source)
    page = open_page(browser, server.url)
    wait_checked(page)
    # the canvas is zoomed to fit: a node's box is its CSS width times the zoom
    zoom = page.evaluate("() => { const t = document.querySelector('.react-flow__viewport').style.transform;"
                         " return Number(/scale\\(([\\d.]+)\\)/.exec(t)[1]); }")

    nodes = [node(page, LONG_ID), node(page, LONG_BLOCK_ID), page.locator(f'[data-testid=input-node][data-id="{LONG_INPUT}"]')]
    for n in nodes:
        n.scroll_into_view_if_needed()
    measured = [n.evaluate(MEASURE) for n in nodes]
    shots(page, "long-names")
    for n, name in zip(nodes, ("conv", "block", "input")):
        n.screenshot(path=str(shots.folder / f"node-{name}.png"))
    for m in measured:
        # the box keeps its width (200 CSS pixels at the canvas's zoom) whatever it holds
        assert abs(m["width"] - 200 * zoom) < 1.5, m
        for t in m["texts"]:
            # every line ends inside the box (the 1px border aside)
            assert t["left"] >= m["left"] - 0.5 and t["right"] <= m["right"] + 0.5, (t, m)
            if t["cut"]:
                # what is cut shows an ellipsis and the whole text in its tooltip
                assert t["ellipsis"], t
                assert t["title"] and t["text"].strip() in t["title"], t

    by_node = {n: {t["text"]: t for t in m["texts"]} for n, m in zip((LONG_ID, LONG_BLOCK_ID, LONG_INPUT), measured)}
    assert by_node[LONG_ID][LONG_ID]["cut"] and by_node[LONG_ID][LONG_ID]["title"] == LONG_ID
    assert by_node[LONG_BLOCK_ID]["TransformerEncoderBlock"]["title"] == "TransformerEncoderBlock"
    shape = "[batch_size, 3, image_height_in_pixels, image_width_in_pixels]"
    assert by_node[LONG_INPUT][shape]["cut"] and by_node[LONG_INPUT][shape]["title"] == shape
    assert by_node[LONG_INPUT][LONG_INPUT]["title"] == LONG_INPUT

    # an edge's shape label is cut the same way: the whole shape in its tooltip (an SVG <title>)
    labels = page.get_by_test_id("edge-shape").evaluate_all(
        "gs => gs.map((g) => ({shape: g.dataset.shape, text: g.querySelector('text').textContent,"
        " title: g.querySelector('title').textContent}))")
    long_edge = "[batch_size, 8, image_height_in_pixels_out, image_width_in_pixels_out]"
    assert long_edge in [label["shape"] for label in labels]
    for label in labels:
        assert label["title"] == label["shape"]
        assert len(label["text"]) <= 30
        assert label["text"] == label["shape"] or (label["text"].endswith("…") and label["shape"].startswith(label["text"][:-1]))
