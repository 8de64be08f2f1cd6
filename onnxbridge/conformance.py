"""ONNX's conformance suite (``onnx.backend.test``) run through a bridge, judged as ONNX's own runner judges.

The cases come from the installed ``onnx`` package, nothing is downloaded: the node cases its generators
write (``onnx/backend/test/case/node/``), plus the model sets it ships (``pytorch-converted``,
``pytorch-operator``, ``simple``). Only cases whose inputs and outputs are plain tensors count. The node
cases are generated once into a cache folder (``$ONNXBRIDGE_CACHE`` or ``~/.cache/onnxbridge``), keyed by
the onnx version, because generating them takes about a minute.

A case passes when the converted model gives as many outputs as expected, each with the expected shape and
dtype and within the case's tolerances (``onnx.backend.test.runner.Runner.assert_similar_outputs``).

Example::

    from onnxbridge.conformance import collect, run_case

    for case in collect():
        verdict = run_case(case, "torch")
        print(case.name, verdict.status, verdict.detail)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from onnxbridge.errors import OnnxBridgeError

#: the model sets shipped inside onnx/backend/test/data that come with inputs and expected outputs
SHIPPED_SETS = ("pytorch-converted", "pytorch-operator", "simple")
PASSED, WRONG, REFUSED = "passed", "wrong", "refused"


@dataclass(frozen=True)
class Case:
    """One conformance case: a model and one or more data sets of inputs and expected outputs."""

    name: str
    suite: str
    directory: Path
    rtol: float = 1e-3
    atol: float = 1e-7

    @cached_property
    def model(self) -> onnx.ModelProto:
        """The case's model (read once)."""
        return onnx.load(str(self.directory / "model.onnx"))

    @property
    def op_types(self) -> tuple[str, ...]:
        """The op types of the model's top-level nodes, in order of first appearance."""
        return tuple(dict.fromkeys(n.op_type for n in self.model.graph.node))

    def data_sets(self) -> list[tuple[list[np.ndarray], list[np.ndarray]]]:
        """``[(inputs, expected outputs), ...]`` as numpy arrays, in graph order."""
        sets = []
        for folder in sorted(self.directory.glob("test_data_set_*")):
            sets.append((_read_tensors(folder, "input"), _read_tensors(folder, "output")))
        return sets


@dataclass(frozen=True)
class Verdict:
    """How a case went: ``passed``, ``wrong`` (ran, different answer) or ``refused`` (a clean
    :class:`OnnxBridgeError` at conversion), with a one-line detail."""

    status: str
    detail: str = ""


def _read_tensors(folder: Path, prefix: str) -> list[np.ndarray]:
    files = sorted(folder.glob(f"{prefix}_*.pb"), key=lambda p: int(p.stem.split("_")[-1]))
    arrays = []
    for path in files:
        tensor = onnx.TensorProto()
        tensor.ParseFromString(path.read_bytes())
        arrays.append(numpy_helper.to_array(tensor))
    return arrays


def _is_plain(model: onnx.ModelProto) -> bool:
    values = list(model.graph.input) + list(model.graph.output)
    return bool(model.graph.output) and all(v.type.HasField("tensor_type") for v in values)


def cache_root() -> Path:
    """Where generated cases are kept: ``$ONNXBRIDGE_CACHE`` or ``~/.cache/onnxbridge``."""
    base = os.environ.get("ONNXBRIDGE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "onnxbridge")
    return Path(base) / "conformance" / f"onnx-{onnx.__version__}"


def _write_node_cases(target: Path) -> None:
    """Write onnx's node cases with plain-tensor data into ``target`` (model.onnx + test_data_set_N/)."""
    from onnx.backend.test.case import node

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = node.collect_testcases(None)
    for case in cases:
        if case.model is None or not case.data_sets or not _is_plain(case.model):
            continue
        folder = target / case.name
        try:
            sets = [([_as_tensor(v, vi.name) for v, vi in zip(ins, case.model.graph.input)],
                     [_as_tensor(v, vi.name) for v, vi in zip(outs, case.model.graph.output)])
                    for ins, outs in case.data_sets]
        except (TypeError, ValueError):
            continue  # a value that is not a tensor (a sequence, an optional): not a plain-tensor case
        folder.mkdir(parents=True)
        (folder / "model.onnx").write_bytes(case.model.SerializeToString())
        (folder / "tolerance.txt").write_text(f"{case.rtol} {case.atol}")
        for k, (ins, outs) in enumerate(sets):
            data = folder / f"test_data_set_{k}"
            data.mkdir()
            for prefix, tensors in (("input", ins), ("output", outs)):
                for j, tensor in enumerate(tensors):
                    (data / f"{prefix}_{j}.pb").write_bytes(tensor.SerializeToString())


def _as_tensor(value: object, name: str) -> onnx.TensorProto:
    if isinstance(value, onnx.TensorProto):
        return value
    if isinstance(value, (np.ndarray, np.generic)):
        return numpy_helper.from_array(np.asarray(value), name)
    raise TypeError(f"not a tensor: {type(value).__name__}")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (parallel test workers generate the cases once)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def node_cases_dir(root: Path | None = None) -> Path:
    """The folder of generated node cases, generating it (atomically, once) if needed."""
    root = root or cache_root()
    done = root / "node"
    if (done / ".complete").exists():
        return done
    with _locked(root / ".lock"):
        if not (done / ".complete").exists():
            tmp = Path(tempfile.mkdtemp(prefix=".node-", dir=root))
            try:
                _write_node_cases(tmp)
                (tmp / ".complete").touch()
                shutil.rmtree(done, ignore_errors=True)
                os.replace(tmp, done)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    return done


def collect(root: Path | None = None) -> list[Case]:
    """Every plain-tensor conformance case: onnx's node cases and its shipped model sets, by name."""
    cases = []
    for folder in sorted(p for p in node_cases_dir(root).iterdir() if p.is_dir()):
        rtol, atol = (float(v) for v in (folder / "tolerance.txt").read_text().split())
        cases.append(Case(folder.name, "node", folder, rtol, atol))
    shipped = Path(onnx.__file__).parent / "backend" / "test" / "data"
    for suite in SHIPPED_SETS:
        for folder in sorted(p for p in (shipped / suite).iterdir() if (p / "model.onnx").exists()):
            case = Case(f"{suite}/{folder.name}", suite, folder)
            if _is_plain(case.model) and list(folder.glob("test_data_set_*")):
                cases.append(case)
    return cases


def judge(expected: list[np.ndarray], actual: list[np.ndarray], rtol: float, atol: float) -> str | None:
    """None when ``actual`` matches ``expected`` as ONNX's runner requires, else the first difference."""
    from onnx.backend.test.runner import Runner

    try:
        Runner.assert_similar_outputs(expected, actual, rtol, atol)
    except (AssertionError, TypeError, ValueError) as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        return " ".join(lines[:3])[:300] or type(exc).__name__
    return None


def _check(case: Case, run: Callable[[list[np.ndarray]], list[np.ndarray]]) -> Verdict:
    for k, (inputs, expected) in enumerate(case.data_sets()):
        difference = judge(expected, run(inputs), case.rtol, case.atol)
        if difference is not None:
            return Verdict(WRONG, f"data set {k}: {difference}")
    return Verdict(PASSED)


def run_reference(case: Case) -> Verdict:
    """The case on onnxruntime's CPU provider (the cases onnxruntime cannot run are left out of the figures)."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(case.model.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime refusing the model is the answer
        return Verdict(REFUSED, str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)
    names = [i.name for i in session.get_inputs()]

    def run(inputs: list[np.ndarray]) -> list[np.ndarray]:
        return session.run(None, dict(zip(names, inputs)))

    try:
        return _check(case, run)
    except Exception as exc:  # noqa: BLE001
        return Verdict(REFUSED, str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)


def run_case(case: Case, bridge: str) -> Verdict:
    """Convert the case's model with ``bridge`` ("torch", "tensorflow") and run its data sets.

    A clean refusal (an :class:`OnnxBridgeError`, when converting or running) is a ``refused`` verdict; any
    other exception propagates: it is a bug.
    """
    from onnxbridge.frameworks.bridges import get_bridge
    from onnxbridge.testing import run_candidate

    try:
        converted = get_bridge(bridge).export_from_onnx(case.model, verify=False).value
        return _check(case, lambda inputs: run_candidate(converted, inputs))
    except OnnxBridgeError as exc:
        return Verdict(REFUSED, str(exc).splitlines()[0][:300])
