"""The studio end to end: a real ``onnxbridge studio --no-browser`` process on a temporary workspace, and
Debian's Chromium driven by Playwright (headless, a fresh profile per test).

Every test writes screenshots of its steps into its own ``tmp_path`` (``NN-step.png``).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import MODELS, ROOT

sync_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("fastapi")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-dev-shm-usage"]
URL = re.compile(r"(http://127\.0\.0\.1:(\d+))/\?token=([\w-]+)")
BUNDLE = ROOT / "onnxbridge" / "studio" / "static" / "index.html"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def bundle() -> Path:
    """The built front end (``scripts/build_studio`` builds it when missing or stale; a no-op otherwise)."""
    import fcntl

    # test workers share the bundle: one builds, the others wait and find it current
    with open(Path(tempfile.gettempdir()) / "onnxbridge-studio-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = subprocess.run([str(ROOT / "scripts" / "build_studio")], cwd=ROOT, capture_output=True, text=True,
                              timeout=900)
    assert done.returncode == 0, f"the studio bundle did not build:\n{done.stdout}\n{done.stderr}"
    assert BUNDLE.is_file(), "no studio bundle: run ./scripts/build_studio"
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/test does)")
    return BUNDLE.parent


class StudioProcess:
    """``onnxbridge studio`` running in a subprocess; ``url`` carries the token."""

    def __init__(self, workspace: Path, source: Path | None = None, port: int | None = None):
        self.workspace = workspace
        args = [sys.executable, "-m", "onnxbridge", "studio"]
        if source is not None:
            args.append(str(source))
        args += ["--workspace", str(workspace), "--no-browser"]
        if port:
            args += ["--port", str(port)]
        env = {**os.environ, "COLUMNS": "300"}
        env.pop("ONNXBRIDGE_STUDIO_STATIC", None)
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        lines: list[str] = []
        deadline = time.monotonic() + 180
        match = None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            match = URL.search(line)
            if match:
                break
        if match is None:
            self.proc.kill()
            raise AssertionError(f"onnxbridge studio printed no address: {lines} {self.proc.stderr.read()}")
        self.base, port_text, self.token = match.groups()
        self.port = int(port_text)
        self.url = f"{self.base}/?token={self.token}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.communicate()


@pytest.fixture
def workspace(tmp_path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


@pytest.fixture
def start_studio(bundle, workspace):
    """``start_studio(source=None, port=None)`` starts a server on the workspace; all are stopped after."""
    started: list[StudioProcess] = []

    def start(source: Path | None = None, port: int | None = None) -> StudioProcess:
        server = StudioProcess(workspace, source, port)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def copy_model(name: str, workspace: Path) -> Path:
    target = workspace / name
    shutil.copy(MODELS / name, target)
    return target


@pytest.fixture
def browser(tmp_path):
    """A Chromium with a fresh profile; yields a factory of pages that record console errors."""
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1440, "height": 900}, accept_downloads=True)
        context.set_default_timeout(60_000)
        errors: list[str] = []
        context.errors = errors  # type: ignore[attr-defined]
        yield context
        context.close()


class Shots:
    """Numbered screenshots of a test's steps in its tmp_path."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.n = 0

    def __call__(self, page, name: str) -> Path:
        self.n += 1
        path = self.folder / f"{self.n:02d}-{name}.png"
        page.screenshot(path=str(path))
        return path


@pytest.fixture
def shots(tmp_path) -> Shots:
    return Shots(tmp_path)


def open_page(context, url: str):
    """A new tab on ``url``, once the studio has loaded (catalogue read, document shown)."""
    page = context.new_page()
    page.on("pageerror", lambda e: context.errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector("[data-testid=app][data-ready=true]")
    settled(page)
    return page


def settled(page) -> None:
    """Wait until a document just opened has its final layout (elkjs runs after the first drawing)."""
    page.wait_for_function("() => !window.__studio.get().layingOut")
    page.wait_for_timeout(150)  # the view fits the new positions


# -- driving the page -----------------------------------------------------------------------------------

def node(page, layer_id: str):
    """The canvas node of a layer."""
    return page.locator(f'[data-testid=layer-node][data-id="{layer_id}"]')


def wait_checked(page, timeout: float = 60) -> None:
    """Wait until the live check has answered for the document as it is now."""
    page.wait_for_function(
        "() => { const s = window.__studio.get(); return s.ready && !s.analyzing && s.analysisFor === window.__studio.stack.doc.spec; }",
        timeout=timeout * 1000)


def wait_autosaved(page) -> None:
    """Wait until the autosave has stored the document as it is now."""
    page.wait_for_function("() => window.__studio.get().session === 'saved'")
    page.wait_for_timeout(700)  # the debounce of the last change
    page.wait_for_function("() => window.__studio.get().session === 'saved'")


def drop_from_palette(page, item: str, x: float, y: float) -> None:
    """Drag palette item ``item`` onto the canvas at (x, y) (canvas coordinates, pixels)."""
    page.get_by_test_id("palette-search").fill(item)
    page.get_by_test_id(f"palette-item-{item}").drag_to(page.get_by_test_id("canvas"), target_position={"x": x, "y": y})
    page.get_by_test_id("palette-search").fill("")


def drag_connect(page, source, target) -> None:
    """Drag with the mouse from handle ``source`` to handle ``target`` (locators)."""
    source.scroll_into_view_if_needed()
    a = source.bounding_box()
    b = target.bounding_box()
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    page.mouse.move((a["x"] + b["x"]) / 2 + 20, (a["y"] + b["y"]) / 2, steps=8)
    page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, steps=8)
    page.mouse.up()


def doc_spec(page) -> dict:
    """The document's spec as the page holds it."""
    return page.evaluate("() => window.__studio.stack.doc.spec")


def edge_labels(page) -> list[str]:
    """Every edge's shape, whole (a label drawn on the canvas may be cut with an ellipsis)."""
    return page.get_by_test_id("edge-shape").evaluate_all("gs => gs.map((g) => g.dataset.shape)")


def fit(page) -> None:
    """Fit the whole canvas into view (the canvas's own fit button)."""
    page.locator(".react-flow__controls-fitview").click()
    page.wait_for_timeout(300)
