"""The Code tab and the exports: PyTorch and Keras source of the network, downloaded and run here against
onnxruntime on the exported ONNX model."""

from __future__ import annotations

import importlib.util
import re
import zipfile
from pathlib import Path

import onnx
import pytest

from onnxbridge.testing import check_parity
from tests.e2e.conftest import copy_model, open_page, sync_api, wait_checked

pytest.importorskip("torch")
pytest.importorskip("tensorflow")


def load_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def export_and_download(page, target: str, folder: Path) -> Path:
    """Click Export for ``target``, check the parity table, download what it wrote; returns the file."""
    page.get_by_test_id(f"export-{target}").click()
    page.wait_for_function(f"() => window.__studio.get().exporting === null && window.__studio.get().exported?.target === '{target}'",
                           timeout=300_000)
    rows = page.get_by_test_id("parity-row")
    # ONNX is the reference the others are checked against; each framework export has its checks
    assert rows.count() >= (0 if target == "onnx" else 1)
    for text in rows.all_inner_texts():
        assert "match" in text and "MISMATCH" not in text, text
    with page.expect_download() as info:
        page.get_by_test_id("export-download").click()
    download = info.value
    target_path = folder / download.suggested_filename
    download.save_as(target_path)
    return target_path


def test_code_tab_and_exports_run_against_onnxruntime(start_studio, browser, workspace, tmp_path, shots):
    source = copy_model("digits_cnn.yaml", workspace)
    server = start_studio(source)
    page = open_page(browser, server.url)
    wait_checked(page)

    # the Code tab: the generated model.py of both frameworks, for the network as it is now
    page.get_by_test_id("tab-code").click()
    torch_source = page.get_by_test_id("code-torch-source")
    page.wait_for_function("() => (document.querySelector('[data-testid=code-torch-source]')?.textContent ?? '').includes('class DigitsCnn')")
    torch_text = torch_source.inner_text()
    assert "nn.Conv2d" in torch_text
    shots(page, "code-torch")
    page.get_by_test_id("code-keras").click()
    keras_text = page.get_by_test_id("code-tensorflow-source").inner_text()
    assert "import keras" in keras_text and "def load(" in keras_text
    shots(page, "code-keras")

    # the built model in netron, in a tab of its own
    with browser.expect_page() as viewer_info:
        page.get_by_test_id("netron").click()
    viewer = viewer_info.value
    viewer.wait_for_url("http://127.0.0.1:*/**", timeout=120_000)
    viewer.get_by_text("Accept").click(timeout=120_000)  # netron's own first-run notice
    viewer.wait_for_selector("svg g.node", timeout=120_000)  # netron drew the model's graph
    assert viewer.url.startswith("http://127.0.0.1:") and viewer.url != page.url
    sync_api.expect(viewer).to_have_title(re.compile("digits_cnn"), timeout=60_000)
    assert viewer.locator("svg g.node").count() >= 11
    shots(viewer, "netron")
    viewer.close()

    # the exports, each verified by the server, downloaded as the browser saves them
    page.get_by_test_id("tab-export").click()
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    onnx_file = export_and_download(page, "onnx", downloads)
    assert onnx_file.suffix == ".onnx"
    torch_zip = export_and_download(page, "torch", downloads)
    shots(page, "export-torch")
    keras_zip = export_and_download(page, "tensorflow", downloads)
    shots(page, "export-keras")
    model = onnx.load(str(onnx_file))

    # the downloaded model.py files run here and give the ONNX model's outputs
    torch_dir, keras_dir = downloads / "torch", downloads / "keras"
    zipfile.ZipFile(torch_zip).extractall(torch_dir)
    zipfile.ZipFile(keras_zip).extractall(keras_dir)
    torch_py = next(torch_dir.rglob("model.py"))
    keras_py = next(keras_dir.rglob("model.py"))
    # the Code tab showed exactly the source the export wrote
    assert torch_py.read_text().strip() == torch_text.strip()
    assert keras_py.read_text().strip() == keras_text.strip()
    torch_model = load_module(torch_py, "studio_export_torch").load()
    report = check_parity(model, torch_model, batch=3)
    assert report.ok, report
    keras_model = load_module(keras_py, "studio_export_keras").load()
    report = check_parity(model, keras_model, batch=3)
    assert report.ok, report
