"""A real model over protobuf's 2 GiB limit (its weights in external data) through check, convert and run.

The model is generated here, its 2.1 GiB of weights written in chunks straight to the ``.data`` file
(never held as one protobuf message), and every file is removed afterwards.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from tests.conftest import run_cli

ROWS, DIM = 262_144, 2_080  # 545 million float32 values: 2.03 GiB, plus a second table below
SMALL_ROWS = 16_384


def _write_table(f, rows: int, dim: int, seed: int) -> int:
    rng = np.random.default_rng(seed)
    start = f.tell()
    for first in range(0, rows, 16_384):
        chunk = rng.standard_normal((min(16_384, rows - first), dim), dtype=np.float32)
        f.write(chunk.tobytes())
    return start


def _external(name: str, dims: list[int], offset: int, location: str) -> onnx.TensorProto:
    tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=dims, data_location=TensorProto.EXTERNAL)
    for key, value in (("location", location), ("offset", str(offset)),
                       ("length", str(int(np.prod(dims)) * 4))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor


def _large_model(folder: Path) -> Path:
    """tokens [batch, seq] -> two embedding tables (2.03 GiB and 130 MiB) -> their sum [batch, seq, DIM]."""
    data = folder / "large.onnx.data"
    with open(data, "wb") as f:
        big = _write_table(f, ROWS, DIM, seed=1)
        small = _write_table(f, SMALL_ROWS, DIM, seed=2)
    tokens = helper.make_tensor_value_info("tokens", TensorProto.INT64, ["batch", "seq"])
    out = helper.make_tensor_value_info("embedded", TensorProto.FLOAT, ["batch", "seq", DIM])
    nodes = [helper.make_node("Gather", ["table", "tokens"], ["looked_up"], name="embed"),
             helper.make_node("Gather", ["position_table", "tokens"], ["positions"], name="positions"),
             helper.make_node("Add", ["looked_up", "positions"], ["embedded"], name="add")]
    graph = helper.make_graph(nodes, "large", [tokens], [out],
                              [_external("table", [ROWS, DIM], big, data.name),
                               _external("position_table", [SMALL_ROWS, DIM], small, data.name)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)
    path = folder / "large.onnx"
    onnx.save(model, str(path))
    return path


# The model (2.2 GiB), onnxruntime's temporary external-data copy of it and a converted copy can be on disk
# at once. A machine without that much free space cannot run these tests at all: say so instead of
# failing half-way with "No space left on device".
NEEDED_FREE = 7 * 2**30


@pytest.fixture(scope="module")
def large_model():
    free = shutil.disk_usage(tempfile.gettempdir()).free
    if free < NEEDED_FREE:
        pytest.skip(f"needs {NEEDED_FREE / 2**30:.0f} GiB free in {tempfile.gettempdir()}, "
                    f"which has {free / 2**30:.1f} GiB")
    folder = Path(tempfile.mkdtemp(prefix="onnxbridge-large-"))
    try:
        path = _large_model(folder)
        assert path.stat().st_size + (folder / "large.onnx.data").stat().st_size > 2**31
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert not folder.exists()


pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("large-model")]  # one worker builds it once


def test_check_a_model_over_2gb(large_model):
    r = run_cli("check", large_model)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and "could not run" not in r.stdout, r.stdout


def test_run_a_model_over_2gb(large_model):
    r = run_cli("run", large_model, "--format", "json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["outputs"]["embedded"]["shape"] == [2, 5, DIM]


@pytest.mark.torch
def test_convert_a_model_over_2gb_to_torch(large_model):
    out = large_model.parent / "torch_out"
    r = run_cli("convert", large_model, "--to", "torch", "-o", out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "FAILED" not in r.stdout and r.stdout.count(" ok ") >= 2, r.stdout  # the live module and the package
    assert (out / "model.safetensors").stat().st_size > 2**31
    shutil.rmtree(out)
