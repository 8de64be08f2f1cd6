"""``onnxbridge bench`` as a user runs it: the table, and clear errors with exit code 2."""

from __future__ import annotations

import pytest

from tests.conftest import MODELS, run_cli


def test_table_with_explain_and_plot(tmp_path):
    png = tmp_path / "b.png"
    r = run_cli("bench", MODELS / "digits_cnn.yaml", "-p", "CPU", "-p", "azure", "-b", "2", "-n", "5",
                "--explain", "--plot", png)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "digits_cnn: latency in ms" in out and "samples/s" in out and "ratio" in out
    assert "onnxruntime cpu" in out and "onnxruntime azure" in out and "baseline" in out and "match" in out
    assert "placement: cpu: " in out and "fell back to cpu" in out and "(fallback)" in out
    assert f"wrote {png} (2 bars)" in out and png.exists()
    assert r.stderr == ""  # no progress bar noise when stderr is not a terminal


@pytest.mark.parametrize("args, message", [
    (["-p", "quantum"], "error: unknown execution provider 'quantum'"),
    (["-b", "0"], "error: batch size must be at least 1, got 0"),
    (["--compare", "jax"], "error: unknown framework to compare with: 'jax'"),
    (["-n", "3", "--seconds", "1"], "error: give --iterations or --seconds, not both"),
    (["--input", "seq=3"], "error: --input seq: not an input or a symbolic dimension"),
    (["--plot", "out.jpg"], "the plot is written as PNG"),
])
def test_bad_arguments_exit_2(args, message, tmp_path):
    r = run_cli("bench", MODELS / "digits_cnn.yaml", *args, cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert message in r.stderr and "Traceback" not in r.stderr
    assert r.stdout == "" and list(tmp_path.iterdir()) == []


def test_unknown_provider_lists_the_available_ones():
    r = run_cli("bench", MODELS / "digits_cnn.yaml", "-p", "cuda")
    if r.returncode == 0:
        pytest.skip("this machine has CUDA")
    assert r.returncode == 2
    assert "CUDAExecutionProvider is not available" in r.stderr and "hint: available: " in r.stderr
    assert "cpu" in r.stderr.split("hint:")[1]


def test_models_that_fail_to_load_or_build(tmp_path):
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"not an onnx model at all")
    r = run_cli("bench", corrupt, "--plot", tmp_path / "p.png")
    assert r.returncode == 2 and "corrupt.onnx" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "p.png").exists()
    r = run_cli("bench", tmp_path / "missing.onnx")
    assert r.returncode == 2 and "missing.onnx" in r.stderr
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: bad\ninputs: [{name: x, shape: [batch, 4]}]\nlayers:\n  - {id: c, type: Conv2d}\n",
                    encoding="utf-8")
    r = run_cli("bench", spec)
    assert r.returncode == 2 and "bad.yaml" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 3


def test_refuses_to_overwrite_the_model_with_the_plot(tmp_path, digits_onnx):
    import shutil

    model = tmp_path / "m.png"
    shutil.copy(digits_onnx, model)
    before = model.read_bytes()
    r = run_cli("bench", model, "--plot", model)
    assert r.returncode == 2 and "refusing to overwrite" in r.stderr
    assert model.read_bytes() == before
