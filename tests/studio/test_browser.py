"""In a real browser (Debian's Chromium driven by Playwright): the studio's own page reaches the API under
its Content-Security-Policy, and a page of another origin cannot make the studio write anything."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (scripts/test installs it)")

SPEC = ('{inputs: [{name: "x", shape: ["batch", 4]}], layers: [{id: "fc", type: "Linear", out_features: 2}]}')
OWN_PAGE = """<!doctype html><title>studio</title><script type="module" src="./app.js"></script>"""
OWN_SCRIPT = """
const token = new URLSearchParams(location.search).get("token");
const headers = {"Authorization": `Bearer ${token}`, "Content-Type": "application/json"};
const analysis = await fetch("/api/analyze", {method: "POST", headers, body: JSON.stringify({spec: SPEC})});
const saved = await fetch("/api/save", {method: "POST", headers, body: JSON.stringify({path: "own.yaml", spec: SPEC})});
const body = await analysis.json();
document.title = `done ${analysis.status} ${saved.status} ${body.summary.total_params}`;
""".replace("SPEC", SPEC)
FOREIGN_PAGE = """<!doctype html><title>foreign</title><script>
async function attack(base, token) {
  const out = [];
  for (const mode of ["no-cors", "cors"]) {
    try {
      const r = await fetch(base + "/api/save", {method: "POST", mode, headers: {"Content-Type": "text/plain"},
        body: JSON.stringify({path: "pwned-" + mode + ".yaml", spec: SPEC})});
      out.push(mode + ":" + r.status);
    } catch (e) { out.push(mode + ":blocked"); }
  }
  try {  // even knowing the token, a foreign origin is refused (the preflight fails, or the server says 403)
    const r = await fetch(base + "/api/save", {method: "POST", headers: {"Authorization": "Bearer " + token,
      "Content-Type": "application/json"}, body: JSON.stringify({path: "pwned-token.yaml", spec: SPEC})});
    out.push("token:" + r.status);
  } catch (e) { out.push("token:blocked"); }
  return out;
}
</script>""".replace("SPEC", SPEC)


@pytest.fixture
def chromium():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield browser
        browser.close()


def test_own_page_reaches_the_api(start_studio, tmp_path, chromium):
    page_dir = tmp_path / "bundle"
    page_dir.mkdir()
    (page_dir / "index.html").write_text(OWN_PAGE)
    (page_dir / "app.js").write_text(OWN_SCRIPT)
    studio = start_studio(static_dir=page_dir)
    page = chromium.new_page()
    page.goto(studio.server.url)
    page.wait_for_function("() => document.title.startsWith('done')", timeout=30000)
    assert page.title() == "done 200 200 10"
    assert (studio.workspace / "own.yaml").is_file()


def test_foreign_origin_cannot_write(start_studio, tmp_path, chromium):
    studio = start_studio()
    folder = tmp_path / "foreign"
    folder.mkdir()
    (folder / "index.html").write_text(FOREIGN_PAGE)
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(folder), **k)  # noqa: E731
    foreign = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=foreign.serve_forever, daemon=True).start()
    try:
        page = chromium.new_page()
        page.goto(f"http://127.0.0.1:{foreign.server_address[1]}/index.html")
        results = page.evaluate("([base, token]) => attack(base, token)", [studio.base, studio.server.token])
    finally:
        foreign.shutdown()
        foreign.server_close()
    assert results[0] == "no-cors:0"  # opaque: the page learns nothing
    assert results[1] in ("cors:blocked", "cors:403") and results[2] in ("token:blocked", "token:403")
    assert not list(studio.workspace.glob("pwned*"))
