"""The documented JSON (docs/bench-json.md) is what ``bench --format json`` and ``to_dict()`` produce."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

import onnxbridge
from tests.conftest import MODELS, ROOT, run_cli

DOC = (ROOT / "docs" / "bench-json.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def schema() -> dict:
    section = DOC.split("## JSON Schema", 1)[1]
    block = re.search(r"```json\n(.*?)```", section, flags=re.S).group(1)
    schema = json.loads(block)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def test_library_output_matches_the_schema(schema, digits_model):
    report = onnxbridge.bench(digits_model, providers=["cpu", "azure"], batches=[1, 3], iterations=3, warmup=1,
                              explain=True)
    data = json.loads(json.dumps(report.to_dict()))
    jsonschema.validate(data, schema)
    assert len(data["results"]) == 4 and len(data["placement"]) == 2


def test_every_documented_result_field_exists(digits_model):
    data = onnxbridge.bench(digits_model, iterations=2, warmup=0).to_dict()
    result_table = DOC.split("A **result**:", 1)[1].split("A **placement**", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)`", result_table, flags=re.M))
    documented |= {"warmup"}  # documented together with `iterations`
    assert documented == set(data["results"][0])
    top = set(re.findall(r"^\| `(\w+)`", DOC.split("A **result**:", 1)[0], flags=re.M)) | {"source"}
    assert top == set(data) | {"plot"}


def test_schema_rejects_a_broken_report(schema, digits_model):
    data = json.loads(json.dumps(onnxbridge.bench(digits_model, iterations=2, warmup=0).to_dict()))
    del data["results"][0]["latency_ms"]["p99_ms"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)


def test_cli_json_matches_the_schema_and_writes_the_plot(schema, tmp_path):
    png = tmp_path / "lat.png"
    r = run_cli("bench", MODELS / "mlp.yaml", "--batch", "1,4", "-n", "5", "--warmup", "1", "--format", "json",
                "--plot", png)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    jsonschema.validate(data, schema)
    assert data["plot"] == str(png) and png.read_bytes()[:4] == b"\x89PNG"
    assert [(x["engine"], x["batch"]) for x in data["results"]] == [("onnxruntime", 1), ("onnxruntime", 4)]
