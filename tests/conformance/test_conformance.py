"""ONNX's own conformance suite through onnxruntime and both bridges, held to the declared tables.

Every plain-tensor case of the installed onnx (its node cases and shipped model sets, see
:mod:`onnxbridge.conformance`) runs on onnxruntime and through every bridge. A case a bridge does not pass
is listed in ``known_<bridge>.py`` with its kind and reason and runs as ``xfail(strict=True)``: a case that
starts passing fails the run until its entry is removed, so the tables stay exact. A refusal must be a
clean :class:`OnnxBridgeError`; anything else (a crash, a hang past the time limit) fails the run whatever
the table says. Cases onnxruntime cannot run (``known_onnxruntime.py``) have no trusted figures and are
left out of the bridges' counts.
"""

from __future__ import annotations

import functools
import importlib.util
import signal
from pathlib import Path

import pytest

from onnxbridge.conformance import PASSED, REFUSED, WRONG, collect, run_case, run_reference
from onnxbridge.frameworks.bridges import names

pytestmark = pytest.mark.slow
HERE = Path(__file__).parent
CASE_SECONDS = 300  # far above the slowest case; a hang fails instead of stalling the run


@functools.cache
def known(table: str) -> dict[str, tuple[str, str]]:
    """The declared expected failures ``known_<table>.py``: case name -> (kind, reason)."""
    spec = importlib.util.spec_from_file_location(f"known_{table}", HERE / f"known_{table}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.KNOWN


CASES = collect()
ORT_KNOWN = known("onnxruntime")
KINDS = {"refused": REFUSED, "wrong": WRONG}


def _params(table: dict[str, tuple[str, str]], cases: list) -> list:
    params = []
    for case in cases:
        marks = []
        if case.name in table:
            kind, reason = table[case.name]
            marks.append(pytest.mark.xfail(strict=True, raises=AssertionError, reason=f"{kind}: {reason}"))
        params.append(pytest.param(case, id=case.name, marks=marks))
    return params


class _Timeout(Exception):
    pass


def _verdict(run, case):
    def expire(_signum, _frame):
        raise _Timeout(f"{case.name} ran past {CASE_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(CASE_SECONDS)
    try:
        return run()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _hold(verdict, case, table) -> None:
    """Pass when the case passes; for a declared failure, fail (an xfail) only in the declared way."""
    kind = table.get(case.name, (None,))[0]
    if kind is not None and verdict.status != PASSED:
        assert verdict.status == KINDS[kind], f"declared {kind}, got {verdict.status}: {verdict.detail}"
        raise AssertionError(f"{verdict.status} as declared: {verdict.detail}")
    assert verdict.status == PASSED, f"{verdict.status}: {verdict.detail}"


def test_the_suite_is_there():
    suites = {c.suite for c in CASES}
    assert len(CASES) > 1800 and suites == {"node", "pytorch-converted", "pytorch-operator", "simple"}, suites


@pytest.mark.parametrize("case", _params(ORT_KNOWN, CASES))
def test_onnxruntime(case):
    _hold(_verdict(lambda: run_reference(case), case), case, ORT_KNOWN)


RUNNABLE = [c for c in CASES if c.name not in ORT_KNOWN]


@pytest.mark.parametrize("bridge", names())
def test_tables_name_real_cases(bridge):
    table = known(bridge)
    assert set(table) <= {c.name for c in RUNNABLE}, sorted(set(table) - {c.name for c in RUNNABLE})[:10]
    assert all(kind in KINDS and reason for kind, reason in table.values())


def _bridge_params() -> list:
    params = []
    for bridge in names():
        for param in _params(known(bridge), RUNNABLE):
            params.append(pytest.param(bridge, *param.values, id=f"{bridge}-{param.id}", marks=param.marks))
    return params


@pytest.mark.parametrize(("bridge", "case"), _bridge_params())
def test_bridge(bridge, case):
    _hold(_verdict(lambda: run_case(case, bridge), case), case, known(bridge))
