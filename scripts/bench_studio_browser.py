#!/usr/bin/env python
"""Benchmark the studio in the browser: a 500-layer network in Debian's Chromium (Playwright, headless).

A real ``onnxbridge studio --no-browser`` process serves the built front end on a workspace holding the
500-layer residual CNN of ``scripts/bench_studio.py``. Measured in the page (``performance.now()``):

- first render: from navigation start until the network's nodes are drawn (measured and visible), for the
  first opening (no saved positions: the quick layered layout runs) and for a reload (the autosaved session
  is restored); and until the first check's shapes are painted. Baseline: the same for
  ``models/digits_cnn.yaml`` (11 layers) in the same run.
- the live check after an edit, as seen by the browser: one parameter changed through the command stack
  and the edit drawn (two animation frames, as happens during the 150 ms debounce the studio waits after
  typing, which is not counted), then the spec sent to ``/api/analyze`` and the answer applied and painted
  (the next animation frame); and of that, the round trip the studio itself times (request sent to answer
  parsed). Baseline, alternating with it: a bare ``fetch('/api/analyze')`` of the same document from the
  page (no UI work). The edit's own drawing is reported beside it.
- pan and zoom: frame intervals of a ``requestAnimationFrame`` loop while the mouse wheel pans (and, with
  Ctrl, zooms) the canvas. Baseline: the same loop with the page idle.

Targets: check round trip p95 < 50 ms, first render < 1 s, pan/zoom frame time p95 < 20 ms.

    python scripts/bench_studio_browser.py [--layers 500] [--edits 100] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_studio import big_spec  # noqa: E402
from benchlib import machine  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-dev-shm-usage"]

# installed before the page's own scripts: when are the nodes drawn, when are the shapes painted
FIRST_RENDER = """
window.__bench = { drawn: null, checked: null };
(function poll() {
  const s = window.__studio;
  if (s && s.get().ready && s.stack.doc.spec.layers.length === %(layers)d) {
    const nodes = document.querySelectorAll('.react-flow__node');
    if (window.__bench.drawn === null && nodes.length > 0 && [...nodes].every((n) => n.style.visibility !== 'hidden')) {
      window.__bench.drawn = performance.now();
    }
    if (window.__bench.drawn !== null && window.__bench.checked === null && s.get().analysisFor === s.stack.doc.spec
        && document.querySelector('[data-testid=edge-shape]')) {
      window.__bench.checked = performance.now();
    }
  }
  if (window.__bench.checked === null) requestAnimationFrame(poll);
})();
"""

EDIT = """
async ([n]) => {
  const s = window.__studio;
  const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
  const convs = s.stack.doc.spec.layers.filter((l) => l.type === 'Conv2d' && l.padding === 'same').map((l) => l.id);
  const id = convs[n % convs.length];
  const edited = performance.now();
  s.exec('bench edit', (d) => ({ ...d, spec: { ...d.spec, layers: d.spec.layers.map((l) =>
    l.id === id ? { ...l, kernel_size: l.kernel_size === 3 ? 5 : 3 } : l) } }));
  // the edit itself is drawn first, as it is during the studio's debounce before the check is sent
  await frame();
  await frame();
  const drawn = performance.now();
  // resolved the moment the answer is applied (React renders it synchronously from the store)
  const applied = new Promise((resolve) => {
    const off = s.subscribe(() => { if (s.get().analysisFor === s.stack.doc.spec) { off(); resolve(); } });
  });
  s.analyze();  // what the debounce timer calls
  await applied;
  await frame();  // the next frame paints it
  const ok = s.get().analysisFor === s.stack.doc.spec && s.get().analysis.ok;
  return [performance.now() - drawn, ok || JSON.stringify([s.get().analysisFor === s.stack.doc.spec, s.get().analysisError,
    s.get().analysis && s.get().analysis.diagnostics.slice(0, 3)]), s.get().analysis.elapsed_ms,
    s.timings.roundTrip[s.timings.roundTrip.length - 1], drawn - edited];
}
"""

BARE_FETCH = """
async () => {
  const token = sessionStorage.getItem('onnxbridge-studio-token');
  const spec = window.__studio.stack.doc.spec;
  const t0 = performance.now();
  const r = await fetch('/api/analyze', { method: 'POST', headers: { 'Content-Type': 'application/json',
    Authorization: 'Bearer ' + token }, body: JSON.stringify({ spec }) });
  await r.json();
  return performance.now() - t0;
}
"""

FRAMES_START = """
() => {
  window.__frames = [];
  window.__framesOn = true;
  let last = performance.now();
  const loop = (t) => { window.__frames.push(t - last); last = t; if (window.__framesOn) requestAnimationFrame(loop); };
  requestAnimationFrame((t) => { last = t; requestAnimationFrame(loop); });
}
"""


def percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def start_studio(workspace: Path, source: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "onnxbridge", "studio", str(source), "--workspace", str(workspace),
                             "--no-browser"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "300"}, cwd=ROOT)
    for line in proc.stdout:
        match = re.search(r"(http://127\.0\.0\.1:\d+/\?token=[\w-]+)", line)
        if match:
            return proc, match.group(1)
    raise SystemExit(f"the studio did not start: {proc.stderr.read()}")


def first_render(context, url: str, layers: int) -> dict[str, float]:
    """Open ``url`` in a new tab, then reload it; when were the nodes drawn and the shapes painted."""
    page = context.new_page()
    page.add_init_script(FIRST_RENDER % {"layers": layers})
    out = {}
    page.goto(url)
    page.wait_for_function("() => window.__bench.checked !== null", timeout=120_000)
    out["open_drawn"], out["open_checked"] = page.evaluate("() => [window.__bench.drawn, window.__bench.checked]")
    # where the time went: the page's script, the server's answers, and the drawing after the document came
    out["open_script"], out["open_catalogue"], out["open_answer"] = page.evaluate(
        """() => { const r = performance.getEntriesByType('resource');
                   const end = (name) => Math.max(...r.filter((e) => e.name.includes(name)).map((e) => e.responseEnd));
                   const script = r.find((e) => e.name.endsWith('.js'));
                   return [script.responseEnd, end('/api/catalogue'), end('/api/open')]; }""")
    page.wait_for_function("() => window.__studio.get().session === 'saved'")
    page.wait_for_timeout(800)
    page.reload()
    page.wait_for_function("() => window.__bench.checked !== null", timeout=120_000)
    out["reload_drawn"], out["reload_checked"] = page.evaluate("() => [window.__bench.drawn, window.__bench.checked]")
    return out | {"page": page}


def idle(page) -> None:
    page.wait_for_timeout(2000)


def pan(page) -> None:
    """The wheel scrolls the canvas: down, then back up, for 2 s."""
    end = time.monotonic() + 2.0
    step = 0
    while time.monotonic() < end:
        page.mouse.wheel(0, 60 if (step // 30) % 2 == 0 else -60)
        step += 1
        page.wait_for_timeout(16)


def zoom(page) -> None:
    """Ctrl + wheel zooms: out, then in, for 2 s."""
    page.keyboard.down("Control")
    end = time.monotonic() + 2.0
    step = 0
    while time.monotonic() < end:
        page.mouse.wheel(0, 40 if (step // 20) % 2 == 0 else -40)
        step += 1
        page.wait_for_timeout(16)
    page.keyboard.up("Control")


def frames(page, action) -> list[float]:
    """Frame intervals (ms) of a requestAnimationFrame loop while ``action(page)`` runs."""
    page.evaluate(FRAMES_START)
    action(page)
    page.evaluate("() => { window.__framesOn = false; }")
    return page.evaluate("() => window.__frames.slice(2)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=500)
    parser.add_argument("--edits", type=int, default=100)
    parser.add_argument("--markdown", action="store_true", help="print the table for docs/benchmarks.md")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    done = subprocess.run([str(ROOT / "scripts" / "build_studio")], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the studio bundle did not build:\n{done.stdout}{done.stderr}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        results = {}
        with sync_playwright() as p:
            for name, source_spec, layers in [
                ("baseline", yaml.safe_load((ROOT / "models" / "digits_cnn.yaml").read_text()), 11),
                ("big", big_spec(args.layers), args.layers),
            ]:
                ws = tmp_path / name
                ws.mkdir()
                source = ws / "net.yaml"
                source.write_text(yaml.safe_dump(source_spec, sort_keys=False))
                proc, url = start_studio(ws, source)
                try:
                    context = p.chromium.launch_persistent_context(
                        str(tmp_path / f"profile-{name}"), executable_path=CHROMIUM, headless=True, args=ARGS,
                        viewport={"width": 1440, "height": 900})
                    r = first_render(context, url, layers)
                    page = r.pop("page")
                    results[name] = r
                    if name == "big":
                        results["nodes_in_dom"] = page.evaluate("() => document.querySelectorAll('.react-flow__node').length")
                        for n in range(5):  # warm up: JIT, connection, server caches
                            page.evaluate(EDIT, [n])
                        ui, bare, server, trip, draw = [], [], [], [], []
                        for n in range(args.edits):
                            ms, ok, server_ms, trip_ms, draw_ms = page.evaluate(EDIT, [n + 5])
                            draw.append(draw_ms)
                            assert ok is True, f"the check did not come back clean: {ok}"
                            ui.append(ms)
                            server.append(server_ms)
                            trip.append(trip_ms)
                            bare.append(page.evaluate(BARE_FETCH))
                        results["ui"], results["bare"], results["server"] = ui, bare, server
                        results["trip"], results["draw"] = trip, draw
                        box = page.get_by_test_id("canvas").bounding_box()
                        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)

                        results["idle"] = frames(page, idle)
                        results["pan"] = frames(page, pan)
                        results["zoom"] = frames(page, zoom)
                        results["zoom_after"] = page.evaluate("() => document.querySelector('.react-flow__viewport').style.transform")
                    context.close()
                finally:
                    proc.send_signal(signal.SIGTERM)
                    proc.communicate(timeout=60)

    base, big = results["baseline"], results["big"]
    ui50, ui95 = percentiles(results["ui"])
    bare50, bare95 = percentiles(results["bare"])
    srv50, srv95 = percentiles(results["server"])
    trip50, trip95 = percentiles(results["trip"])
    draw50, draw95 = percentiles(results["draw"])
    idle50, idle95 = percentiles(results["idle"])
    pan50, pan95 = percentiles(results["pan"])
    zoom50, zoom95 = percentiles(results["zoom"])
    both50, both95 = percentiles(results["pan"] + results["zoom"])
    print(f"machine: {machine()}; Chromium {chromium_version()}; viewport 1440x900")
    print(f"network: {args.layers} layers; {results['nodes_in_dom']} nodes in the DOM after opening")
    for key, label in [("open_drawn", "first open: nodes drawn"), ("open_checked", "first open: shapes painted"),
                       ("reload_drawn", "reload: nodes drawn"), ("reload_checked", "reload: shapes painted")]:
        print(f"  {label:28s} {big[key]:7.0f} ms   (baseline digits_cnn {base[key]:5.0f} ms, {big[key] / base[key]:.2f}x)")
    for name, r in [("500 layers", big), ("digits_cnn", base)]:
        print(f"  first open of {name}: script loaded {r['open_script']:.0f} ms, catalogue answered {r['open_catalogue']:.0f} ms,"
              f" document answered {r['open_answer']:.0f} ms, nodes drawn {r['open_drawn'] - r['open_answer']:.0f} ms after that")
    print(f"  check after an edit, UI:     p50 {ui50:6.1f} ms  p95 {ui95:6.1f} ms   (bare fetch p50 {bare50:.1f} / p95 {bare95:.1f} ms,"
          f" {ui95 / bare95:.2f}x at p95; server's own time p50 {srv50:.1f} / p95 {srv95:.1f} ms)")
    print(f"  the check's round trip in the page: p50 {trip50:6.1f} ms  p95 {trip95:6.1f} ms")
    print(f"  the edit drawn (before the check): p50 {draw50:6.1f} ms  p95 {draw95:6.1f} ms")
    for label, (f50, f95), key in [("pan", (pan50, pan95), "pan"), ("zoom", (zoom50, zoom95), "zoom"),
                                   ("pan + zoom", (both50, both95), None)]:
        count = len(results[key]) if key else len(results["pan"]) + len(results["zoom"])
        print(f"  frame interval, {label:11s} p50 {f50:6.1f} ms  p95 {f95:6.1f} ms   (idle p50 {idle50:.1f} / p95 {idle95:.1f} ms,"
              f" {f95 / idle95:.2f}x at p95; {count} frames)")
    if args.markdown:
        print()
        print("| measure | 500 layers | baseline | ratio | target |")
        print("|---|---:|---:|---:|---|")
        for key, label in [("open_drawn", "first render, opening the file (layout included)"),
                           ("open_checked", "… and its shapes painted (first check)"),
                           ("reload_drawn", "first render, reload (session restored)"),
                           ("reload_checked", "… and its shapes painted")]:
            print(f"| {label} | {big[key]:.0f} ms | {base[key]:.0f} ms (digits_cnn) | {big[key] / base[key]:.2f} | < 1 s |")
        print(f"| … of which drawing, after the server's answer with the document | {big['open_drawn'] - big['open_answer']:.0f} ms "
              f"| {base['open_drawn'] - base['open_answer']:.0f} ms (digits_cnn) | {(big['open_drawn'] - big['open_answer']) / (base['open_drawn'] - base['open_answer']):.2f} | |")
        print(f"| check after an edit, as the browser sees it, p50 / p95 (check sent to shapes painted) | {ui50:.1f} / "
              f"{ui95:.1f} ms | {bare50:.1f} / {bare95:.1f} ms (bare fetch) | {ui95 / bare95:.2f} | |")
        print(f"| … of which the check's round trip in the page (request to parsed answer), p50 / p95 | {trip50:.1f} / "
              f"{trip95:.1f} ms | {bare50:.1f} / {bare95:.1f} ms (bare fetch) | {trip95 / bare95:.2f} | p95 < 50 ms |")
        print(f"| … of which the server's analysis, p50 / p95 | {srv50:.1f} / {srv95:.1f} ms | | | p95 < 50 ms |")
        print(f"| the edit itself drawn, before the check (two frames), p50 / p95 | {draw50:.1f} / {draw95:.1f} ms | | | |")
        for label, f50, f95 in [("pan", pan50, pan95), ("zoom", zoom50, zoom95), ("pan and zoom", both50, both95)]:
            print(f"| {label}: frame interval, p50 / p95 | {f50:.1f} / {f95:.1f} ms | {idle50:.1f} / {idle95:.1f} ms (idle) "
                  f"| {f95 / idle95:.2f} | p95 < 20 ms |")
    print(json.dumps({"frame_max_pan": max(results["pan"]), "frame_max_zoom": max(results["zoom"]),
                      "viewport_after": results["zoom_after"], "load_average": os.getloadavg()}))


def chromium_version() -> str:
    try:
        return subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except OSError:
        return "?"


if __name__ == "__main__":
    main()
