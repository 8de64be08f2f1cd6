#!/usr/bin/env python
"""Show the studio working: serve a spec with ``onnxbridge studio --no-browser`` for a few seconds, take a
screenshot of the page in Chromium (Playwright, headless), stop the server, and say where the PNG is.

    python scripts/demo_studio.py models/digits_cnn.yaml out/studio.png [--width 1440 --height 900]

The spec is copied into a temporary workspace, so nothing of yours is written.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-dev-shm-usage"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--select", default=None, help="a layer id to select before the screenshot")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"the studio screenshot needs Debian's chromium at {CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp) / "workspace"
        workspace.mkdir()
        source = workspace / args.spec.name
        shutil.copy(args.spec, source)
        proc = subprocess.Popen([sys.executable, "-m", "onnxbridge", "studio", str(source), "--no-browser"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                env={**os.environ, "COLUMNS": "300"})
        try:
            url = None
            for line in proc.stdout:
                print(f"  {line.rstrip()}")
                match = re.search(r"http://127\.0\.0\.1:\d+/\?token=[\w-]+", line)
                if match:
                    url = match.group(0)
                    break
            if url is None:
                print(f"the studio did not start: {proc.stderr.read()}", file=sys.stderr)
                return 1
            with sync_playwright() as p:
                context = p.chromium.launch_persistent_context(
                    str(Path(tmp) / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS,
                    viewport={"width": args.width, "height": args.height})
                page = context.new_page()
                page.goto(url)
                page.wait_for_selector("[data-testid=app][data-ready=true]", timeout=120_000)
                page.wait_for_function("""() => { const s = window.__studio.get();
                    return !s.layingOut && !s.analyzing && s.analysisFor === window.__studio.stack.doc.spec; }""",
                                       timeout=120_000)
                if args.select:
                    page.locator(f'[data-testid=layer-node][data-id="{args.select}"]').click()
                page.wait_for_timeout(4500)  # let the opening messages fade
                args.output.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.output))
                nodes = page.locator("[data-testid=layer-node]").count()
                params = page.get_by_test_id("total-params").inner_text()
                context.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=60)
    print(f"studio screenshot: {args.output} ({nodes} layers on the canvas, {params} parameters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
