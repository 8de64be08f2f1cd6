"""A full disk (ENOSPC) while writing an output or onnxruntime's temporary copy of a model over 2 GiB: one
line naming the path and saying what to do, exit 2, nothing left behind, the model unchanged.

The disk is really full, nothing is mocked: a small tmpfs mounted in a private user and mount namespace
(``unshare -rm``, no root needed; the test is an expected failure where the system does not allow it),
whose writes the kernel refuses once it is full; and ``/dev/full``, which refuses every write with ENOSPC.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.conftest import MODELS, ROOT


def _model(weight_bytes: int) -> onnx.ModelProto:
    """y = x @ w with a float32 weight of about ``weight_bytes``."""
    n = max(1, weight_bytes // 16)
    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((4, n)).astype(np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n])], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def on_small_disk(tmp_path: Path, size: str, script: str) -> subprocess.CompletedProcess:
    """Run bash ``script`` with a ``size`` tmpfs mounted at ``$DISK`` (``tmp_path/disk``), seen only by it;
    ``$PY`` is this Python. Expected to fail (xfail) where user namespaces cannot mount a tmpfs."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if shutil.which("unshare") is None:
        pytest.xfail("needs unshare (util-linux) to mount a small tmpfs")
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=4k tmpfs '{disk}'"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.xfail(f"a user namespace cannot mount a tmpfs here: {probe.stderr.strip()}")
    wrapped = f'mount -t tmpfs -o size={size} tmpfs "$DISK" || exit 99\n{script}'
    return subprocess.run(["unshare", "-rm", "bash", "-c", wrapped], capture_output=True, text=True, cwd=ROOT,
                          timeout=600, env={**os.environ, "DISK": str(disk), "PY": sys.executable, "COLUMNS": "200"})


def _error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr[-4000:]
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    return lines[0]


# -- onnxruntime's temporary copy of a model over 2 GiB -------------------------------------------------
_SCRATCH = """
import json, sys
import onnx
from onnxbridge.errors import OutputError
from onnxbridge.testing import _session_through_disk
model = onnx.load(sys.argv[1])
before = model.SerializeToString()
try:
    _session_through_disk(model, None, ["CPUExecutionProvider"])
    print(json.dumps({"error": None}))
except OutputError as exc:
    print(json.dumps({"error": exc.message, "hint": exc.hint, "unchanged": model.SerializeToString() == before}))
"""


def test_scratch_copy_on_a_full_disk(tmp_path):
    """The path a model over 2 GiB takes to onnxruntime (``run``, and every parity check of ``convert``),
    with ``TMPDIR`` on a 64 KiB disk and 1 MiB of weights."""
    model = tmp_path / "model.onnx"
    onnx.save(_model(2**20), model)
    script = tmp_path / "scratch.py"
    script.write_text(_SCRATCH, encoding="utf-8")
    r = on_small_disk(tmp_path, "64k", f'TMPDIR="$DISK" "$PY" {script} {model}; echo "left: $(ls -A "$DISK")"')
    assert r.returncode == 0, r.stderr[-4000:]
    result = json.loads(r.stdout.splitlines()[0])
    assert result["error"] is not None, "the copy was written"
    assert result["error"].startswith(str(tmp_path / "disk" / "onnxbridge-ort-")), result
    assert result["error"].endswith("weights.data: cannot write the temporary copy onnxruntime reads a model over "
                                    "2 GiB from: no space left on the device (the copy was removed)"), result
    assert result["hint"] == f"free some space in {tmp_path / 'disk'}, or set TMPDIR to a folder with room"
    assert result["unchanged"], "the model's weights were not put back"
    left = r.stdout.splitlines()[1].removeprefix("left: ").split()
    assert not [name for name in left if name.startswith("onnxbridge-")], left  # (onnxruntime writes a .ses)


@pytest.mark.parametrize("full", ["weights.data", "model.onnx"])
def test_scratch_copy_to_dev_full(tmp_path, full):
    """Each file of the copy written to /dev/full: the error names it, the model is unchanged."""
    from onnxbridge.errors import OutputError
    from onnxbridge.testing import session_from_files

    if not Path("/dev/full").exists():
        pytest.xfail("needs /dev/full (Linux)")
    model = _model(2**16 if full == "weights.data" else 512)  # a small weight stays in model.onnx
    before = model.SerializeToString()
    (tmp_path / full).symlink_to("/dev/full")
    with pytest.raises(OutputError) as caught:
        session_from_files(model, tmp_path)
    assert caught.value.message.startswith(f"{tmp_path / full}: cannot write the temporary copy"), caught.value
    assert "no space left on the device" in caught.value.message
    assert model.SerializeToString() == before


def test_run_of_a_large_model_says_the_copy_failed(tmp_path, monkeypatch):
    """``run_model`` passes the copy's error on as it is (it used to say onnxruntime cannot load the model,
    and to run 'onnxbridge check' on it)."""
    from onnxbridge.errors import OutputError
    from onnxbridge.run import run_model

    if not Path("/dev/full").exists():
        pytest.xfail("needs /dev/full (Linux)")
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(folder))
    # every temporary folder made now is the one that holds weights.data -> /dev/full
    made = folder / "onnxbridge-ort-full"
    made.mkdir()
    (made / "weights.data").symlink_to("/dev/full")
    monkeypatch.setattr("tempfile.mkdtemp", lambda *a, **k: str(made))
    monkeypatch.setattr("onnxbridge.ir.io.fits_in_protobuf", lambda model: False)
    with pytest.raises(OutputError, match="cannot write the temporary copy onnxruntime reads"):
        run_model(_model(2**16))


# -- outputs of convert ----------------------------------------------------------------------------------
@pytest.mark.parametrize("target,output", [("torch", "out"), ("onnx", "out.onnx")])
def test_convert_to_a_full_disk(tmp_path, target, output):
    """``convert -o`` on a 16 KiB disk: exit 2, one line naming the output, nothing left on the disk."""
    r = on_small_disk(tmp_path, "16k", f'"$PY" -m onnxbridge convert {MODELS / "digits_cnn.yaml"} --to {target} '
                      f'-o "$DISK/{output}"; echo "exit: $?"; echo "left: $(ls -A "$DISK")"')
    lines = r.stdout.splitlines()
    assert lines[-2:] == ["exit: 2", "left: "], (r.stdout[-2000:], r.stderr[-4000:])
    line = _error_line(r.stderr)
    assert line.startswith(f"error: {tmp_path / 'disk' / output}: cannot write: no space left on the device"), line
    assert "hint: free some space or write somewhere else" in r.stderr, r.stderr
