"""The front end's own unit tests (Vitest: the spec <-> graph mapping, the command stack, the forms, the
layout), run as part of the suite."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import ROOT

WEB = ROOT / "studio-web"


def test_vitest_suite_passes(bundle):
    # `bundle` ran scripts/build_studio, which installs studio-web's dependencies from its lock file
    npx = shutil.which("npx")
    if npx is None:
        pytest.fail("the front end's tests need Node >= 20 with npx on the PATH")
    done = subprocess.run([npx, "vitest", "run", "--reporter=dot"], cwd=WEB, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout.split("Tests")[-1], done.stdout[-2000:]
