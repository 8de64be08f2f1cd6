"""A real model opened in the studio: a small ResNet-style PyTorch model (.pt2) gets a new classifier head
and goes to Keras, with the backbone's trained weights kept."""

from __future__ import annotations

import importlib.util
import zipfile

import numpy as np
import pytest
import yaml

from onnxbridge.testing import compare_outputs
from tests.e2e.conftest import doc_spec, drop_from_palette, node, open_page, settled, wait_checked

torch = pytest.importorskip("torch")
pytest.importorskip("tensorflow")


class SmallResNet(torch.nn.Module):
    """A stem, one residual block, global pooling and a classifier."""

    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.conv1, self.bn1 = nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.conv2, self.bn2 = nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 10)

    def backbone(self, x):
        x = self.stem(x)
        y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.flatten(self.pool(torch.relu(x + y)), 1)

    def forward(self, x):
        return self.fc(self.backbone(x))


def trained_model() -> SmallResNet:
    """Weights that are not an initialisation: random values everywhere, BatchNorm statistics included."""
    torch.manual_seed(0)
    model = SmallResNet()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn_like(m.running_mean) * 0.1)
                m.running_var.copy_(torch.rand_like(m.running_var) + 0.5)
    return model.eval()


def test_open_pt2_replace_the_head_export_to_keras(start_studio, browser, workspace, tmp_path, shots):
    model = trained_model()
    example = torch.randn(2, 3, 16, 16)
    pt2 = tmp_path / "resnet.pt2"
    torch.export.save(torch.export.export(model, (example,)), str(pt2))

    server = start_studio()
    page = open_page(browser, server.url)
    # upload the .pt2: it is imported, checked against the model and lifted to layers, weights beside it
    page.get_by_test_id("upload-input").set_input_files(str(pt2))
    page.wait_for_function("() => window.__studio.get().file.kind === 'torch'", timeout=300_000)
    settled(page)
    wait_checked(page)
    shots(page, "imported")
    spec = doc_spec(page)
    assert spec["weights"].endswith(".safetensors")
    assert (workspace / "uploads" / "resnet.pt2").is_file()
    assert (workspace / "uploads" / spec["weights"]).is_file()
    types = [layer["type"] for layer in spec["layers"]]
    assert types.count("Conv2d") == 3 and "Add" in types and types[-1] == "Linear"
    head = spec["layers"][-1]["id"]
    before_head = spec["layers"][-2]["id"]
    assert node(page, head).get_by_test_id("node-params").inner_text() == "90"

    # replace the classifier: delete it (its input goes on to the output), insert a new Linear with 5 classes
    node(page, head).click()
    page.keyboard.press("Delete")
    node(page, before_head).click()
    drop_from_palette(page, "Linear", 700, 450)
    page.get_by_test_id("layer-id").fill("head")
    page.get_by_test_id("param-out_features").fill("5")
    # and show the backbone's features as a second output
    node(page, before_head).click()
    drop_from_palette(page, "Output", 820, 450)
    page.get_by_test_id("output-name").fill("features")
    wait_checked(page)
    shots(page, "new-head")
    spec = doc_spec(page)
    assert spec["layers"][-1] == {"id": "head", "type": "Linear", "out_features": 5}
    assert spec["outputs"] == [{"name": "linear", "from": "head"}, {"name": "features", "from": before_head}]
    assert page.get_by_test_id("total-params").inner_text() != ""

    # export to Keras, verified by the server; download it and run it here
    page.get_by_test_id("tab-export").click()
    page.get_by_test_id("export-tensorflow").click()
    page.wait_for_function("() => window.__studio.get().exporting === null && window.__studio.get().exported?.target === 'tensorflow'",
                           timeout=300_000)
    for text in page.get_by_test_id("parity-row").all_inner_texts():
        assert "match" in text and "MISMATCH" not in text, text
    shots(page, "exported")
    with page.expect_download() as info:
        page.get_by_test_id("export-download").click()
    archive = tmp_path / info.value.suggested_filename
    info.value.save_as(archive)
    folder = tmp_path / "keras"
    zipfile.ZipFile(archive).extractall(folder)
    source = next(folder.rglob("model.py"))
    module_spec = importlib.util.spec_from_file_location("studio_import_keras", source)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    keras_model = module.load()

    outputs = keras_model(example.numpy())
    names = [o["name"] for o in spec["outputs"]]
    by_name = dict(zip(names, [np.asarray(o) for o in outputs]))
    with torch.no_grad():
        features = model.backbone(example).numpy()
    # the backbone computes what the trained PyTorch model computes: its weights came along
    report = compare_outputs([features], [by_name["features"]], ["features"], atol=1e-4, rtol=1e-3)
    assert report.ok, report
    assert by_name["linear"].shape == (2, 5)

    # saved, the spec and its weights stay together in the workspace, and open again from the file list
    page.get_by_test_id("save").click()
    page.wait_for_function("() => window.__studio.get().file.kind === 'spec' && !window.__studio.isDirty()")
    saved_path = page.evaluate("() => window.__studio.get().file.path")
    saved = yaml.safe_load((workspace / saved_path).read_text())
    assert saved["weights"] == spec["weights"]
    page.get_by_test_id("open").click()
    page.locator(f'[data-testid=file-row][data-path="{saved_path}"]').click()
    page.wait_for_selector("[data-testid=open-dialog]", state="detached")
    settled(page)
    wait_checked(page)
    assert node(page, "head").count() == 1
    shots(page, "reopened")
