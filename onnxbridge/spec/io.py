"""Reading specs from YAML or JSON files, with one-line errors that name the file and the place."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from onnxbridge.errors import SpecError
from onnxbridge.spec.schema import Spec

SPEC_SUFFIXES = (".yaml", ".yml", ".json")


def load_spec(path: str | os.PathLike) -> Spec:
    """Read and validate a spec file (``.yaml``, ``.yml`` or ``.json``)."""
    p = Path(path)
    if not p.exists():
        raise SpecError(f"{p}: no such file", hint="check the path")
    if p.is_dir():
        raise SpecError(f"{p}: is a directory, expected a spec file")
    if p.suffix.lower() not in SPEC_SUFFIXES:
        raise SpecError(f"{p}: expected a .yaml, .yml or .json spec file")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{p}: cannot read the file ({exc})") from None
    data = parse_spec_text(text, str(p), json_format=p.suffix.lower() == ".json")
    return spec_from_dict(data, source=str(p))


def parse_spec_text(text: str, source: str = "<spec>", *, json_format: bool = False) -> Any:
    """Parse YAML (a superset of JSON) or strict JSON, with the line of the first syntax error."""
    if not text.strip():
        raise SpecError(f"{source}: the file is empty", hint="a spec needs at least 'inputs' and 'layers'")
    try:
        return json.loads(text) if json_format else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"{source}:{exc.lineno}:{exc.colno}: malformed JSON: {exc.msg}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(f"{where}: malformed YAML: {problem}") from None


def spec_from_dict(data: Any, source: str = "<spec>") -> Spec:
    """Validate plain data as a :class:`Spec`; errors name the field path (e.g. ``layers[2].id``)."""
    if not isinstance(data, dict):
        raise SpecError(f"{source}: expected a mapping with 'inputs' and 'layers' at the top, "
                        f"got {type(data).__name__}")
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc, data)
        message = problems[0] if len(problems) == 1 else f"{len(problems)} problems: " + "; ".join(problems)
        raise SpecError(message, problems=problems).with_source(source) from None


def validation_problems(exc: ValidationError, data: Any) -> list[str]:
    """One line per problem, with a readable location such as ``layer [conv1].kernel_size: ...``."""
    messages = []
    for err in exc.errors():
        loc = _readable_loc(err.get("loc", ()), data)
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            msg = "unknown field"
        elif err.get("type") == "missing":
            msg = "missing required field"
        elif "input" in err and err.get("type") not in ("missing",) and not isinstance(err["input"], (dict, list)):
            msg = f"got {err['input']!r}: {msg}"
        messages.append(f"{loc}: {msg}" if loc else msg)
    return messages


def _readable_loc(loc: tuple, data: Any) -> str:
    parts: list[str] = []
    node = data
    for key in loc:
        if isinstance(key, int) and isinstance(node, list):
            item = node[key] if key < len(node) else None
            label = item.get("id") or item.get("name") if isinstance(item, dict) else None
            parts.append(f"[{label}]" if label else f"[{key}]")
            node = item
        else:
            if key in ("OutputSpec", "str", "function-after[_dims(), list[union[int,str]]]"):
                continue
            parts.append(f".{key}" if parts else str(key))
            node = node.get(key) if isinstance(node, dict) else None
    text = "".join(parts)
    return text.replace("layers[", "layer [").replace("inputs[", "input [")
