"""The README is the front door: its commands, spec example and Python snippet must keep working."""

from __future__ import annotations

import re

import onnx
import yaml

from onnxbridge.spec import build
from tests.conftest import ROOT, run_cli

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_setup_commands_exist_and_are_executable():
    assert "./scripts/demo" in README and "./scripts/test" in README
    for script in ("scripts/demo", "scripts/test"):
        assert (ROOT / script).stat().st_mode & 0o111


def test_every_documented_command_exists():
    commands = set(re.findall(r"^\| `onnxbridge (\w+)", README, flags=re.M))
    assert commands, "the README lists no commands"
    help_text = run_cli("--help").stdout
    for command in commands:
        assert command in help_text, command
        assert run_cli(command, "--help").returncode == 0, command


def test_first_spec_example_builds():
    spec = yaml.safe_load(_blocks("yaml")[0])
    onnx.checker.check_model(build(spec), full_check=True)


def test_block_example_builds():
    fragment = yaml.safe_load(_blocks("yaml")[1])
    spec = {"inputs": [{"name": "x", "shape": ["batch", 3, 16, 16]}], **fragment}
    model = build(spec)
    assert [f.name for f in model.functions] == ["ConvBNAct", "BasicBlock"]


def test_python_snippet_runs(monkeypatch):
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    exec(compile(_blocks("python")[0], "README.md", "exec"), namespace)
    assert namespace["outputs"][0].shape == (4, 3)


def test_convert_example_runs(tmp_path):
    block = next(b for b in _blocks("bash") if "onnxbridge convert models/" in b)
    line = next(line for line in block.splitlines() if line.startswith("onnxbridge convert models/"))
    args = line.split("#")[0].split()[1:]
    args[args.index("-o") + 1] = str(tmp_path / "out")
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "model.py").exists() and "parity" in r.stdout
