"""Reading specs from YAML or JSON files, with one-line errors that name the file and the place."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from onnxbridge.errors import SpecError
from onnxbridge.limits import exceeded, limit
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
        size = p.stat().st_size
    except OSError as exc:
        raise SpecError(f"{p}: cannot read the file ({exc.strerror or exc})") from None
    if size > limit("max_spec_bytes"):
        raise exceeded("max_spec_bytes", f"{p}: the file is {size:,} bytes, more than a spec may be")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{p}: cannot read the file ({exc})") from None
    data = parse_spec_text(text, str(p), json_format=p.suffix.lower() == ".json")
    spec = spec_from_dict(data, source=str(p))
    spec._base_dir = str(p.resolve().parent)  # 'weights:' is relative to the spec file
    return spec


def spec_to_yaml(data: Spec | dict[str, Any]) -> str:
    """A spec as readable YAML: block style at the top, one flow-style line per layer (as in models/)."""
    if isinstance(data, Spec):
        data = data.to_dict()
    return yaml.dump(_order(data), Dumper=_SpecDumper, sort_keys=False, width=120, allow_unicode=True)


def save_spec(spec: Spec | dict[str, Any], path: str | os.PathLike, *, weights: Any = None) -> list[Path]:
    """Write ``spec`` as YAML (or JSON for ``.json``), and its weights beside it, each atomically.

    The weights are ``weights`` (a mapping of arrays) or the ones a lifted spec holds in memory; they
    go to ``<stem>.safetensors`` next to the spec, and the written spec names that file in ``weights:``.
    Returns the files written (weights first: a spec never names a file that is not there yet).

    Example::

        spec = onnxbridge.lift("model.onnx")
        save_spec(spec, "net.yaml")          # net.yaml + net.safetensors
    """
    from onnxbridge.ir.io import atomic_write
    from onnxbridge.spec.weights import save_weights, weights_file

    p = Path(path)
    if p.suffix.lower() not in SPEC_SUFFIXES:
        raise SpecError(f"{p}: a spec file ends in .yaml, .yml or .json")
    if isinstance(spec, Spec):
        weights = spec._weights if weights is None else weights
        data = spec.to_dict()
    else:
        data = dict(spec)
    written: list[Path] = []
    if weights is not None:
        target = weights_file(p)
        written.append(save_weights(weights, target))
        data["weights"] = target.name
    text = json.dumps(data, indent=2) + "\n" if p.suffix.lower() == ".json" else spec_to_yaml(data)
    with atomic_write(p) as tmp:
        tmp.write_text(text, encoding="utf-8")
    written.append(p)
    if isinstance(spec, Spec):
        spec.weights = data.get("weights", spec.weights)
        spec._base_dir = str(p.resolve().parent)
    return written


_TOP_ORDER = ("name", "description", "opset", "weights", "inputs", "blocks", "layers", "outputs")


def _order(data: dict[str, Any]) -> dict[str, Any]:
    ordered = {k: data[k] for k in _TOP_ORDER if k in data}
    ordered.update({k: v for k, v in data.items() if k not in ordered})
    if not ordered.get("blocks", True):
        del ordered["blocks"]
    for block in (ordered.get("blocks") or {}).values():
        if isinstance(block, dict) and block.get("params") == {}:
            del block["params"]
    return ordered


class _Flow(dict):
    """A mapping written on one line."""


class _SpecDumper(yaml.SafeDumper):
    """Safe YAML with the spec's layout (see :func:`spec_to_yaml`)."""


def _represent_flow(dumper: yaml.SafeDumper, data: _Flow) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", dict(data), flow_style=True)


def _represent_dict(dumper: yaml.SafeDumper, data: dict) -> yaml.Node:
    items = {}
    for key, value in data.items():
        if key == "layers" and isinstance(value, list):
            value = [_Flow(v) if isinstance(v, dict) else v for v in value]
        elif key in ("inputs", "outputs") and isinstance(value, list):
            value = [_Flow(v) if isinstance(v, dict) else v for v in value]
        items[key] = value
    return dumper.represent_mapping("tag:yaml.org,2002:map", items, flow_style=False)


def _represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    # short lists of scalars (shapes, kernel sizes) stay on one line
    flow = all(not isinstance(v, (dict, list)) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_SpecDumper.add_representer(_Flow, _represent_flow)
_SpecDumper.add_representer(dict, _represent_dict)
_SpecDumper.add_representer(list, _represent_list)
_SpecDumper.add_representer(tuple, _represent_list)


# PyYAML built with libyaml has a C parser; the pure-Python one is the fallback
_FAST_LOADER = getattr(yaml, "CSafeLoader", None)


def parse_spec_text(text: str, source: str = "<spec>", *, json_format: bool = False) -> Any:
    """Parse YAML (a superset of JSON) or strict JSON, with the line of the first syntax error."""
    if not text.strip():
        raise SpecError(f"{source}: the file is empty", hint="a spec needs at least 'inputs' and 'layers'")
    try:
        if json_format:
            data = json.loads(text)
        else:
            data = None
            if _FAST_LOADER is not None:
                # libyaml's parser with the same safe constructors: the same data, about 8x faster on a big
                # spec; its error messages are worded differently, so a text it rejects is read again below
                try:
                    data = yaml.load(text, Loader=_FAST_LOADER)  # noqa: S506 (a safe loader)
                except yaml.YAMLError:
                    pass
            if data is None:
                data = yaml.safe_load(text)
    except RecursionError:
        raise SpecError(f"{source}: the document nests too deeply to be read",
                        hint="a spec needs only a few levels of nesting") from None
    except json.JSONDecodeError as exc:
        raise SpecError(f"{source}:{exc.lineno}:{exc.colno}: malformed JSON: {exc.msg}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(f"{where}: malformed YAML: {problem}") from None
    except ValueError as exc:  # e.g. an integer literal with more digits than Python converts
        raise SpecError(f"{source}: {str(exc).split(';')[0]}") from None
    check_document(data, source)
    return data


def spec_from_dict(data: Any, source: str = "<spec>") -> Spec:
    """Validate plain data as a :class:`Spec`; errors name the field path (e.g. ``layers[2].id``)."""
    if not isinstance(data, dict):
        raise SpecError(f"{source}: expected a mapping with 'inputs' and 'layers' at the top, "
                        f"got {type(data).__name__}")
    check_document(data, source)
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc, data)
        message = problems[0] if len(problems) == 1 else f"{len(problems)} problems: " + "; ".join(problems)
        raise SpecError(message, problems=problems).with_source(source) from None


def document_size(data: Any, source: str = "<spec>") -> int:
    """Bytes ``data`` would take written out as JSON with every shared part (YAML alias) repeated.

    Shared parts are measured once and counted at each use, so a billion-fold alias bomb is measured in
    microseconds instead of being expanded; nothing is recursive, so any nesting depth is safe. Raises
    :class:`onnxbridge.errors.LimitError` for documents over the size or nesting limits, and
    :class:`SpecError` for a document that contains itself (a recursive YAML alias).
    """
    if not isinstance(data, (dict, list, tuple)):
        return _scalar_size(data)
    max_bytes, max_depth = limit("max_spec_bytes"), limit("max_spec_depth")
    if _is_tree(data, source, max_depth):  # the usual case (and always for JSON): measured at C speed
        try:
            size = len(json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str))
        except (TypeError, ValueError):  # keys json cannot write, an integer too long to print...
            pass
        else:
            if size > max_bytes:
                raise exceeded("max_spec_bytes", f"{source}: the document is more than {max_bytes:,} bytes")
            return size
    measured: dict[int, tuple[int, int]] = {}  # id -> (bytes, depth) of containers already measured
    open_: set[int] = set()
    stack: list[tuple[Any, bool]] = [(data, False)]
    while stack:
        obj, children_done = stack.pop()
        key = id(obj)
        items = list(obj.items()) if isinstance(obj, dict) else obj
        if children_done:
            size, depth = 2, 1
            for item in items:
                for part in (item if isinstance(obj, dict) else (item,)):
                    s, d = measured[id(part)] if isinstance(part, (dict, list, tuple)) else (_scalar_size(part), 0)
                    size, depth = size + s + 1, max(depth, d + 1)
            open_.discard(key)
            measured[key] = (size, depth)
            if size > max_bytes:
                raise exceeded("max_spec_bytes", f"{source}: with its YAML aliases expanded the document is "
                                                 f"more than {max_bytes:,} bytes")
            if depth > max_depth:
                raise exceeded("max_spec_depth", f"{source}: the document nests more than {max_depth} levels deep")
            continue
        if key in measured:
            continue
        if key in open_:
            raise SpecError(f"{source}: a YAML alias refers to a value that contains it (a cycle)",
                            hint="aliases (*name) may only repeat values defined before them")
        if len(open_) > max_depth:
            raise exceeded("max_spec_depth", f"{source}: the document nests more than {max_depth} levels deep")
        open_.add(key)
        stack.append((obj, True))
        for item in items:
            for part in (item if isinstance(obj, dict) else (item,)):
                if isinstance(part, (dict, list, tuple)) and id(part) not in measured:
                    stack.append((part, False))
    return measured[id(data)][0]


def _is_tree(data: Any, source: str, max_depth: int) -> bool:
    """Whether no container in ``data`` is reached twice (no YAML alias shares a part); raises for nesting
    deeper than ``max_depth``. Walks containers only, without recursion."""
    seen: set[int] = set()
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        obj, depth = stack.pop()
        if id(obj) in seen:
            return False
        seen.add(id(obj))
        if depth > max_depth:
            raise exceeded("max_spec_depth", f"{source}: the document nests more than {max_depth} levels deep")
        for part in (obj.values() if isinstance(obj, dict) else obj):
            if isinstance(part, (dict, list, tuple)):
                stack.append((part, depth + 1))
    return True


def check_document(data: Any, source: str = "<spec>") -> None:
    """Refuse a document that is too large or too deep once its aliases are expanded (see :func:`document_size`)."""
    document_size(data, source)


def _scalar_size(value: Any) -> int:
    if isinstance(value, str):
        return len(value) + 2
    if isinstance(value, bytes):
        return len(value)
    return 8


def validation_problems(exc: ValidationError, data: Any) -> list[str]:
    """One line per problem, with a readable location such as ``layer [conv1].kernel_size: ...``."""
    messages = []
    seen: set[str] = set()
    for err in exc.errors():
        loc = _readable_loc(err.get("loc", ()), data)
        if loc and loc in seen:  # each branch of a union (int | str) complains: the first says enough
            continue
        seen.add(loc)
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
            if key in ("OutputSpec", "str", "int", "function-after[_dims(), list[union[int,str]]]"):
                continue
            parts.append(f".{key}" if parts else str(key))
            node = node.get(key) if isinstance(node, dict) else None
    text = "".join(parts)
    return text.replace("layers[", "layer [").replace("inputs[", "input [")
