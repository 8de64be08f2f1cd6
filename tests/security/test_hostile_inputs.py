"""Hostile and mistaken inputs end in one clear line and exit code 2, inside bounded time and memory.

Each case is built here, in a temp dir, and run through the command line in a subprocess, as a user
would: bombs under an address-space limit and a timeout, outputs that cannot be written (read-only,
full, too long a name), external data that points elsewhere, markup and terminal escapes in names, bad
numbers. Every case asserts: exit 2 (or success where the input is valid), one ``error:`` line, no
traceback, nothing half-written.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.conftest import MODELS, ROOT, run_cli

GiB = 2**30


def limited_cli(*args: object, memory: int = 3 * GiB, seconds: int = 60, file_size: int | None = None,
                env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``run_cli`` under an address-space limit (``ulimit -v``), a wall-clock timeout and optionally a
    file-size limit (writes past it fail with EFBIG, as on a full disk)."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        if file_size is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write instead of killing the process
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))

    return subprocess.run([sys.executable, "-m", "onnxbridge", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=seconds, preexec_fn=limit,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})


def assert_clean_error(r: subprocess.CompletedProcess, *words: str) -> str:
    """Exit 2, exactly one ``error:`` line on stderr (plus a hint), no traceback; returns the error line."""
    assert r.returncode == 2, (r.returncode, r.stdout[-2000:], r.stderr[-4000:])
    for stream in (r.stdout, r.stderr):
        assert "Traceback" not in stream, stream[-4000:]
    lines = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, r.stderr
    for word in words:
        assert word in lines[0] or word in r.stderr, (word, r.stderr)
    return lines[0]


def leftovers(folder: Path) -> list[str]:
    """Files in ``folder`` (temporary files included) — what a failed write must not leave."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


SMALL_SPEC = "name: small\ninputs: [{name: x, shape: [batch, 4]}]\nlayers:\n  - {id: fc, type: Linear, out_features: 2}\n"


# -- 4. resource exhaustion ------------------------------------------------------------------------------
def _alias_bomb(levels: int = 9) -> str:
    lines = ["name: bomb", "inputs: [{name: x, shape: [batch, 4]}]", "blocks:", "  B:", "    params:",
             "      l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"      l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    lines += ["    layers: [{id: fc, type: Linear, out_features: 2}]", "layers:", "  - {id: b1, type: B}"]
    return "\n".join(lines) + "\n"


def _fan_out(levels: int, width: int = 10) -> str:
    lines = ["name: fan", "inputs: [{name: x, shape: [batch, 4]}]", "blocks:", "  B0:",
             "    layers: [{id: r, type: ReLU}]"]
    for k in range(1, levels + 1):
        body = ", ".join(f"{{id: b{i}, type: B{k - 1}}}" for i in range(width))
        lines += [f"  B{k}:", f"    layers: [{body}]"]
    lines += ["layers:", f"  - {{id: top, type: B{levels}}}"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("command", ["summary", "build", "check"])
def test_yaml_alias_bomb_is_refused_within_limits(tmp_path, command):
    bomb = write(tmp_path / "bomb.yaml", _alias_bomb())
    assert bomb.stat().st_size < 1000  # 10^9 values once expanded
    args = [command, bomb] + (["-o", tmp_path / "bomb.onnx"] if command == "build" else [])
    r = limited_cli(*args, memory=2 * GiB, seconds=60)
    assert_clean_error(r, "YAML aliases", "ONNXBRIDGE_MAX_SPEC_BYTES")
    assert leftovers(tmp_path) == ["bomb.yaml"]


def test_recursive_yaml_alias_is_refused(tmp_path):
    spec = write(tmp_path / "cycle.yaml", "name: c\ninputs: [{name: x, shape: [batch, 4]}]\nblocks:\n  B:\n"
                 "    params: {p: &a [1, *a]}\n    layers: [{id: r, type: ReLU}]\nlayers:\n  - {id: a, type: B}\n")
    assert_clean_error(limited_cli("build", spec, "-o", tmp_path / "c.onnx"), "cycle")


def test_block_fan_out_bomb_is_refused_within_limits(tmp_path):
    spec = write(tmp_path / "fan.yaml", _fan_out(7))  # 2 KB, 21 million layers and block instances
    assert spec.stat().st_size < 2500
    r = limited_cli("build", spec, "-o", tmp_path / "fan.onnx", memory=2 * GiB, seconds=60)
    assert_clean_error(r, "21,111,111 layers", "ONNXBRIDGE_MAX_LAYERS")
    assert not (tmp_path / "fan.onnx").exists()


def test_layer_limit_can_be_raised_and_lowered(tmp_path):
    spec = write(tmp_path / "fan.yaml", _fan_out(2))  # 211 layers and block instances
    assert limited_cli("summary", spec).returncode == 0
    r = limited_cli("summary", spec, env={"ONNXBRIDGE_MAX_LAYERS": "100"})
    assert_clean_error(r, "211 layers", "ONNXBRIDGE_MAX_LAYERS above 100")
    # built-in blocks grow with their parameters: they are counted while they expand
    mlp = write(tmp_path / "mlp.yaml", "name: m\ninputs: [{name: x, shape: [batch, 4]}]\nlayers:\n"
                "  - {id: body, type: MLP, hidden: [4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4]}\n")
    assert_clean_error(limited_cli("summary", mlp, env={"ONNXBRIDGE_MAX_LAYERS": "10"}), "more than 10 layers")
    assert_clean_error(limited_cli("summary", mlp, env={"ONNXBRIDGE_MAX_LAYERS": "many"}), "not a positive integer")


@pytest.mark.parametrize("fmt,text", [
    ("json", '{"name": "n", "inputs": [{"name": "x", "shape": ["batch", 4]}], "layers": '
             '[{"id": "a", "type": "ReLU", "p": ' + "[" * 100_000 + "]" * 100_000 + "}]}"),
    ("yaml", "name: n\ninputs: [{name: x, shape: [batch, 4]}]\nlayers:\n  - {id: a, type: ReLU, p: "
             + "[" * 100_000 + "]" * 100_000 + "}\n"),
    ("json", '{"name": "n", "inputs": [{"name": "x", "shape": ["batch", 4]}], "layers": '
             '[{"id": "a", "type": "ReLU", "p": ' + "[" * 500 + "]" * 500 + "}]}"),
])
def test_deeply_nested_documents_are_refused(tmp_path, fmt, text):
    spec = write(tmp_path / f"deep.{fmt}", text)
    assert_clean_error(limited_cli("summary", spec), "nests")


def test_huge_integer_literal_is_refused(tmp_path):
    spec = write(tmp_path / "big.yaml", SMALL_SPEC.replace("out_features: 2", "out_features: " + "9" * 5000))
    assert_clean_error(limited_cli("summary", spec), "digits")


def test_spec_file_size_limit(tmp_path):
    spec = write(tmp_path / "small.yaml", SMALL_SPEC)
    assert_clean_error(limited_cli("summary", spec, env={"ONNXBRIDGE_MAX_SPEC_BYTES": "50"}),
                       "more than a spec may be", "ONNXBRIDGE_MAX_SPEC_BYTES")


@pytest.mark.parametrize("command", ["summary", "build", "run", "check"])
def test_ten_trillion_parameter_linear_is_refused_from_the_plan(tmp_path, command):
    spec = write(tmp_path / "huge.yaml", SMALL_SPEC.replace("[batch, 4]", "[batch, 1000]")
                 .replace("out_features: 2", "out_features: 10000000000"))
    args = [command, spec] + (["-o", tmp_path / "huge.onnx"] if command == "build" else [])
    r = limited_cli(*args, memory=3 * GiB)
    assert_clean_error(r, "10,010,000,000,000 weight values", "needs", "ONNXBRIDGE_MAX_MEMORY")
    assert leftovers(tmp_path) == ["huge.yaml"]


def test_huge_input_dim_is_refused_from_the_plan(tmp_path):
    spec = write(tmp_path / "wide.yaml", "name: w\ninputs: [{name: x, shape: [batch, 10000000000]}]\n"
                 "layers:\n  - {id: r, type: ReLU}\n")
    assert_clean_error(limited_cli("run", spec), "input x [batch, 10000000000] float32 at batch 1", "37.3 GiB")


@pytest.mark.parametrize("command", ["run", "bench"])
def test_huge_batch_is_refused_before_allocating(command):
    extra = ["-n", "1", "--warmup", "0"] if command == "bench" else []
    r = limited_cli(command, MODELS / "mlp.yaml", "--batch", "100000000000", *extra)
    assert_clean_error(r, "random inputs", "[100000000000, 20]", "smaller --batch")


def test_memory_budget_can_be_set(tmp_path):
    spec = write(tmp_path / "small.yaml", SMALL_SPEC)
    assert_clean_error(limited_cli("run", spec, env={"ONNXBRIDGE_MAX_MEMORY": "10"}),
                       "ONNXBRIDGE_MAX_MEMORY=10")
    assert_clean_error(limited_cli("run", spec, env={"ONNXBRIDGE_MAX_MEMORY": "lots"}), "not a size")
    assert limited_cli("run", spec, env={"ONNXBRIDGE_MAX_MEMORY": "1G"}).returncode == 0


# -- 12. deep block nesting ------------------------------------------------------------------------------
def _nested_blocks(depth: int) -> str:
    lines = ["name: deep", "inputs: [{name: x, shape: [batch, 4]}]", "blocks:", "  B0:",
             "    layers: [{id: r, type: ReLU}]"]
    for k in range(1, depth + 1):
        lines += [f"  B{k}:", f"    layers: [{{id: inner, type: B{k - 1}}}]"]
    lines += ["layers:", f"  - {{id: top, type: B{depth}}}"]
    return "\n".join(lines) + "\n"


def test_nesting_deeper_than_the_limit_is_not_called_recursion(tmp_path):
    spec = write(tmp_path / "deep.yaml", _nested_blocks(17))
    line = assert_clean_error(run_cli("summary", spec), "nest more than 16 levels deep",
                              "ONNXBRIDGE_MAX_BLOCK_DEPTH")
    assert "uses itself" not in line
    r = limited_cli("build", spec, "-o", tmp_path / "deep.onnx", env={"ONNXBRIDGE_MAX_BLOCK_DEPTH": "20"})
    assert r.returncode == 0, r.stderr
    assert onnx.load(str(tmp_path / "deep.onnx")).functions


def test_a_block_that_uses_itself_is_still_called_recursion(tmp_path):
    spec = write(tmp_path / "rec.yaml", "name: r\ninputs: [{name: x, shape: [batch, 4]}]\nblocks:\n  A:\n"
                 "    layers: [{id: b, type: B}]\n  B:\n    layers: [{id: a, type: A}]\nlayers:\n  - {id: top, type: A}\n")
    assert_clean_error(run_cli("summary", spec), "uses itself", "A -> B -> A")


# -- 5. outputs that cannot be written -------------------------------------------------------------------
@pytest.fixture(scope="module")
def mounts(tmp_path_factory):
    """A read-only folder and a full one: real tmpfs mounts when allowed (root), else none."""
    base = tmp_path_factory.mktemp("mounts")
    made = {}
    try:
        if os.geteuid() == 0:
            for name, options in (("ro", "ro,size=64k"), ("full", "size=64k")):
                folder = base / name
                folder.mkdir()
                if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                                  capture_output=True).returncode == 0:
                    made[name] = folder
            if "full" in made:  # fill it to the last byte
                with open(made["full"] / "filler", "wb", buffering=0) as f:
                    for chunk in (4096, 1):
                        try:
                            while True:
                                f.write(b"\0" * chunk)
                        except OSError:
                            pass
        yield made
    finally:
        for folder in made.values():
            subprocess.run(["umount", str(folder)], capture_output=True)


def _unwritable_folder(tmp_path: Path, mounts: dict) -> Path:
    if "ro" in mounts:
        return mounts["ro"]
    if os.geteuid() != 0:
        folder = tmp_path / "locked"
        folder.mkdir()
        folder.chmod(0o500)
        return folder
    return Path("/sys")  # root can write anywhere but here


WRITERS = {
    "build": lambda out: ["build", MODELS / "digits_cnn.yaml", "-o", out / "m.onnx"],
    "convert-onnx": lambda out: ["convert", MODELS / "digits_cnn.yaml", "--to", "onnx", "-o", out / "m.onnx"],
    "convert-torch": lambda out: ["convert", MODELS / "digits_cnn.yaml", "--to", "torch", "-o", out / "torch_out"],
    "schema": lambda out: ["schema", "-o", out / "schema.json"],
    "check-fix": lambda out: ["check", MODELS / "broken" / "exporter_noise.onnx", "--fix", "-o", out / "fixed.onnx"],
    "bench-plot": lambda out: ["bench", MODELS / "mlp.yaml", "-n", "2", "--warmup", "0", "--plot", out / "p.png"],
}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_unwritable_folder(tmp_path, mounts, writer):
    folder = _unwritable_folder(tmp_path, mounts)
    before = leftovers(folder) if folder != Path("/sys") else None
    r = run_cli(*WRITERS[writer](folder))
    assert_clean_error(r, str(folder), "cannot write")
    assert "read-only" in r.stderr or "permission denied" in r.stderr
    if before is not None:
        assert leftovers(folder) == before


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_full_disk(mounts, writer):
    if "full" not in mounts:
        pytest.xfail("no tmpfs could be mounted here; test_file_size_limit covers the same path")
    r = run_cli(*WRITERS[writer](mounts["full"]))
    assert_clean_error(r, str(mounts["full"]), "no space left on the device", "nothing was written")
    assert leftovers(mounts["full"]) == ["filler"]


@pytest.mark.parametrize("writer", ["build", "convert-torch", "bench-plot", "schema"])
def test_file_size_limit(tmp_path, writer):
    """Writes that fail half-way (EFBIG under ulimit -f, as ENOSPC on a full disk): safetensors, matplotlib,
    protobuf and plain text alike become one line, and no partial file is left."""
    out = tmp_path / "out"
    out.mkdir()
    r = limited_cli(*WRITERS[writer](out), file_size=2048, memory=8 * GiB, seconds=300)
    assert_clean_error(r, "cannot write", "larger than this system allows", "nothing was written")
    assert leftovers(out) == []


def test_safetensors_failing_half_way_is_one_line(tmp_path, mounts):
    """A disk with room for model.py but not for the weights: safetensors' own error type is understood."""
    if os.geteuid() != 0:
        pytest.xfail("needs a small tmpfs mount (root)")
    folder = tmp_path / "small"
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(folder)],
                      capture_output=True).returncode != 0:
        pytest.xfail("tmpfs cannot be mounted here")
    try:
        r = run_cli("convert", MODELS / "digits_cnn.yaml", "--to", "torch", "-o", folder / "out")
        assert_clean_error(r, "no space left", str(folder / "out"))
        assert leftovers(folder) == []
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_name_too_long(tmp_path, writer):
    long = tmp_path / ("n" * 300)
    r = run_cli(*WRITERS[writer](long))
    assert_clean_error(r, "file name is too long")
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("writer", ["build", "convert-torch", "schema"])
def test_output_under_a_file(tmp_path, writer):
    (tmp_path / "afile").write_text("keep me")
    r = run_cli(*WRITERS[writer](tmp_path / "afile"))
    assert_clean_error(r, "is a file, not a folder")
    assert (tmp_path / "afile").read_text() == "keep me"


# -- 6. external data ------------------------------------------------------------------------------------
def _external_model(folder: Path, location: str, name: str = "ext.onnx", length: int = 64) -> Path:
    weight = numpy_helper.from_array(np.ones((4, 4), np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)
    tensor = model.graph.initializer[0]
    onnx.external_data_helper.set_external_data(tensor, location=location, offset=0, length=length)
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    path = folder / name
    onnx.save(model, str(path))
    return path


EXTERNAL_CASES = {
    "dotdot": ("../../etc/passwd", "not a file beside the model"),
    "absolute": ("/etc/passwd", "not a file beside the model"),
    "symlink": ("link.data", "leads outside the model's folder"),
    "missing": ("missing.data", "does not exist"),
    "truncated": ("short.data", "shorter than the tensor needs"),
}
EXTERNAL_COMMANDS = {
    "summary": lambda m, tmp: ["summary", m],
    "run": lambda m, tmp: ["run", m],
    "check": lambda m, tmp: ["check", m],
    "convert": lambda m, tmp: ["convert", m, "--to", "onnx", "-o", tmp / "out.onnx"],
    "diff": lambda m, tmp: ["diff", m, m],
    "bench": lambda m, tmp: ["bench", m, "-n", "1", "--warmup", "0"],
    "view": lambda m, tmp: ["view", m, "--no-browser"],
}


@pytest.mark.parametrize("case", sorted(EXTERNAL_CASES))
@pytest.mark.parametrize("command", sorted(EXTERNAL_COMMANDS))
def test_external_data_outside_the_folder(tmp_path, case, command):
    location, words = EXTERNAL_CASES[case]
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "short.data").write_bytes(b"\0" * 10)
    (folder / "link.data").symlink_to("/etc/passwd")
    model = _external_model(folder, location)
    r = run_cli(*EXTERNAL_COMMANDS[command](model, tmp_path), timeout=120)
    assert_clean_error(r, str(model), "tensor 'w'", words)
    assert "root:" not in r.stdout + r.stderr
    assert not (tmp_path / "out.onnx").exists()


def test_external_data_beside_the_model_works(tmp_path):
    model = _external_model(tmp_path, "w.data")
    (tmp_path / "w.data").write_bytes(np.ones((4, 4), np.float32).tobytes())
    for args in (["summary", model], ["run", model], ["check", model]):
        r = run_cli(*args)
        assert r.returncode == 0, (args, r.stderr)


# -- 8. markup and terminal escapes ----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["[exp1]/model.onnx", "x[/].onnx", "[bold red]loud[/]/m.onnx", "[link=http://x]y.onnx"])
def test_markup_in_output_paths_is_printed_as_is(tmp_path, name):
    out = tmp_path / name
    r = run_cli("build", MODELS / "mlp.yaml", "-o", out)
    assert r.returncode == 0, r.stderr
    assert out.exists()
    assert f"wrote {out}" in r.stdout.replace("\n", "")


def test_markup_in_a_spec_path_error(tmp_path):
    r = run_cli("build", tmp_path / "[red]missing[/].yaml", "-o", tmp_path / "m.onnx")
    assert_clean_error(r, "[red]missing[/].yaml")


ESCAPE = "\x1b[2J\x1b]0;pwned\x07"


def _odd_names_model(path: Path) -> Path:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info(f"out{ESCAPE}[bold]y[/]", TensorProto.FLOAT, ["batch", 4])
    nodes = [helper.make_node("Relu", ["x"], [f"out{ESCAPE}[bold]y[/]"], name=f"relu{ESCAPE}[red]node[/]")]
    graph = helper.make_graph(nodes, f"graph[blink]{ESCAPE}", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("command", ["summary", "run", "check", "bench", "diff", "convert"])
def test_escape_sequences_in_names_are_stripped_and_markup_shown(tmp_path, command):
    model = _odd_names_model(tmp_path / "odd.onnx")
    args = {"summary": ["summary", model], "run": ["run", model], "check": ["check", model],
            "bench": ["bench", model, "-n", "2", "--warmup", "0", "--explain"], "diff": ["diff", model, model],
            "convert": ["convert", model, "--to", "onnx"]}[command]
    r = run_cli(*args)
    assert r.returncode in (0, 1), r.stderr
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout, repr(r.stdout)
    if command in ("summary", "run"):
        assert "[bold]y[/]" in r.stdout or "[red]node[/]" in r.stdout, r.stdout


def test_layer_descriptions_keep_their_shapes():
    r = run_cli("layers", "--family", "pool")
    assert r.returncode == 0, r.stderr
    words = " ".join(r.stdout.replace("│", " ").split())
    assert "windows of ." not in words and "[batch," in words, r.stdout


def test_layers_type_shows_one_type_in_full():
    r = run_cli("layers", "AvgPool2d")
    assert r.returncode == 0, r.stderr
    assert "[batch, channels, height, width]" in r.stdout and "count_include_pad" in r.stdout
    r = run_cli("layers", "Conv2d", "--format", "json")
    entry = json.loads(r.stdout)
    assert entry["type"] == "Conv2d" and any(p["name"] == "out_channels" for p in entry["params"])
    assert_clean_error(run_cli("layers", "Conv2x"), "did you mean 'Conv2d'")


def test_the_check_hint_names_a_command_that_exists(tmp_path):
    spec = write(tmp_path / "bad.yaml", SMALL_SPEC.replace("out_features: 2", "out_features: -2"))
    r = run_cli("check", spec)
    assert "'onnxbridge layers TYPE'" in r.stdout, r.stdout
    r = run_cli("layers", "Linear")
    assert r.returncode == 0 and "out_features" in r.stdout, r.stderr


# -- 9. bad numbers --------------------------------------------------------------------------------------
@pytest.mark.parametrize("args,words", [
    (["build", MODELS / "mlp.yaml", "--seed", "-1"], ["seed -1", "0 to 4294967295"]),
    (["build", MODELS / "mlp.yaml", "--seed", "99999999999"], ["seed 99999999999"]),
    (["run", MODELS / "mlp.yaml", "--seed", "-1"], ["seed -1"]),
    (["convert", MODELS / "mlp.yaml", "--to", "onnx", "--seed", "-1"], ["seed -1"]),
    (["build", MODELS / "mlp.yaml", "--opset", "5"], ["opset 5 is not supported", "13 to"]),
    (["build", MODELS / "mlp.yaml", "--opset", "99"], ["opset 99 is not supported"]),
    (["build", MODELS / "mlp.yaml", "--opset", "abc"], ["--opset", "valid integer"]),
    (["run", MODELS / "mlp.yaml", "--batch", "0"], ["batch"]),
    (["run", MODELS / "mlp.yaml", "--batch", "-3"], ["batch"]),
    (["run", MODELS / "mlp.yaml", "--nonsense"], ["No such option", "--help"]),
])
def test_bad_numbers_are_one_line(tmp_path, args, words):
    if args[0] == "build":
        args = [*args, "-o", tmp_path / "m.onnx"]
    assert_clean_error(run_cli(*args), *words)
    assert not (tmp_path / "m.onnx").exists()


def test_an_op_the_opset_lacks_is_named(tmp_path):
    spec = write(tmp_path / "s.json", json.dumps({"name": "n", "inputs": [{"name": "x", "shape": ["batch", 4]}],
                                                  "layers": [{"id": "act", "type": "Hardswish"}]}))
    assert_clean_error(run_cli("build", spec, "--opset", "13", "-o", tmp_path / "m.onnx"),
                       "layer act uses HardSwish", "opset 14", "--opset 14 or newer")
    assert not (tmp_path / "m.onnx").exists()


def test_a_new_enough_opset_builds_and_runs(tmp_path):
    r = run_cli("build", MODELS / "transformer_tiny.yaml", "--opset", "17", "-o", tmp_path / "t.onnx")
    assert r.returncode == 0, r.stderr
    assert run_cli("run", tmp_path / "t.onnx").returncode == 0


@pytest.mark.parametrize("value", ["1e30", "1.5", "true", '"10"', "-4", "0"])
def test_bad_layer_sizes_are_one_line(tmp_path, value):
    spec = write(tmp_path / "s.json", json.dumps({"name": "n", "inputs": [{"name": "x", "shape": ["batch", 4]}],
                                                  "layers": [{"id": "fc", "type": "Linear"}]})
                 .replace('"Linear"}', f'"Linear", "out_features": {value}}}'))
    r = run_cli("build", spec, "-o", tmp_path / "m.onnx")
    if value in ('"10"', "true"):  # pydantic's lax mode reads these as integers; the result is valid
        assert r.returncode == 0 or "out_features" in r.stderr
        return
    assert_clean_error(r, "out_features")


@pytest.mark.parametrize("shape", ['["batch", 1e30]', '["batch", 99999999999999999999999]', '["batch", -1]'])
def test_bad_input_dims_are_one_line(tmp_path, shape):
    text = '{"inputs": [{"name": "x", "shape": SHAPE}], "layers": [{"id": "r", "type": "ReLU"}]}'
    spec = write(tmp_path / "s.json", text.replace("SHAPE", shape))
    assert_clean_error(run_cli("summary", spec), "shape")


# -- 10. 0-d inputs --------------------------------------------------------------------------------------
def _scalar_model(path: Path) -> Path:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [])
    graph = helper.make_graph([helper.make_node("Mul", ["x", "two"], ["y"], name="mul")], "scalar", [x], [y],
                              [numpy_helper.from_array(np.array(2.0, np.float32), "two")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)
    onnx.save(model, str(path))
    return path


@pytest.mark.torch
def test_scalar_input_passes_parity_in_torch(tmp_path):
    model = _scalar_model(tmp_path / "scalar.onnx")
    r = run_cli("convert", model, "--to", "torch", "-o", tmp_path / "out")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "FAILED" not in r.stdout


@pytest.mark.torch
def test_scalar_input_parity_helper(tmp_path):
    import torch

    from onnxbridge.testing import check_parity

    model = onnx.load(str(_scalar_model(tmp_path / "scalar.onnx")))
    report = check_parity(model, lambda x: torch.as_tensor(x) * 2)
    assert report.ok, report.summary()

    class Double(torch.nn.Module):
        def forward(self, x):
            assert x.shape == (), x.shape
            return x * 2

    assert check_parity(model, Double()).ok


# -- 14. convert --device --------------------------------------------------------------------------------
@pytest.mark.torch
def test_convert_device_cpu(tmp_path):
    r = run_cli("convert", MODELS / "digits_cnn.yaml", "--to", "torch", "--device", "cpu", "-o", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    assert "ok" in r.stdout


@pytest.mark.torch
def test_convert_device_that_is_not_here(tmp_path):
    import torch

    missing = f"cuda:{torch.cuda.device_count()}"
    r = run_cli("convert", MODELS / "digits_cnn.yaml", "--to", "torch", "--device", missing, "-o", tmp_path / "out")
    assert_clean_error(r, missing)
    assert not (tmp_path / "out").exists()


def test_convert_device_checks_its_value_and_target(tmp_path):
    assert_clean_error(run_cli("convert", MODELS / "mlp.yaml", "--to", "torch", "--device", "gpu7"), "'gpu7'")
    assert_clean_error(run_cli("convert", MODELS / "mlp.yaml", "--to", "tensorflow", "--device", "cpu"),
                       "--device applies to --to torch")


# -- 15. missing framework files fail before the framework is imported ----------------------------------
@pytest.mark.parametrize("name", ["missing.keras", "missing.h5", "missing.pt2", "missing.pt", "missing.py:Net"])
def test_missing_framework_file_needs_no_framework(tmp_path, name):
    code = ("import sys\nfrom onnxbridge.cli.app import main\n"
            f"try:\n    main(['convert', {str(tmp_path / name)!r}, '--to', 'onnx'])\nexcept SystemExit as e:\n"
            "    code = e.code\n"
            "loaded = [m for m in ('torch', 'tensorflow') if m in sys.modules]\n"
            "print('exit', code, 'loaded', loaded)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "exit 2 loaded []" in r.stdout, r.stdout + r.stderr
    assert "no such file" in r.stderr and "Traceback" not in r.stderr
