"""A small source writer that only accepts validated identifiers and repr-quoted literals.

Generated code must never contain a string taken from a model or a spec verbatim: node names and
layer ids go through :class:`NameScope` (which turns any string into a fresh, valid identifier) or
:func:`ident` (which rejects anything that is not one); values go through :func:`lit`. Templates
passed to :meth:`SourceWriter.line` are written by us; their ``{}`` holes only accept :class:`Code`.

Identifiers that start with two underscores are refused everywhere (``__class__``, ``__import__``,
``__builtins__``, and ``self.__x``, which Python mangles into another name), and :class:`NameScope` never
hands out a name with a leading underscore (``_modules`` and ``_parameters`` are ``nn.Module`` internals).

Example::

    w = SourceWriter()
    with w.block("def {}({})", ident("f"), ident("x")):
        w.line("return {} + {}", ident("x"), lit(1.5))
    print(w.render())
"""

from __future__ import annotations

import keyword
import math
import re
import textwrap
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


class Code(str):
    """A fragment of source code built by this module (never raw user text)."""


def ident(name: str) -> Code:
    """Return ``name`` as code, after checking it is a valid, non-keyword Python identifier that does not
    start with ``__`` (dunder names and mangled private names)."""
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"not a valid Python identifier: {name!r}")
    if name.startswith("__"):
        raise ValueError(f"identifiers starting with '__' are not written: {name!r}")
    return Code(name)


def dotted(*names: str) -> Code:
    """``a.b.c`` from validated identifiers."""
    return Code(".".join(ident(n) for n in names))


def lit(value: object) -> Code:
    """Return a Python literal for ``value`` (numbers, strings, bools, None, tuples/lists/dicts of them)."""
    if value is None or isinstance(value, bool):
        return Code(repr(value))
    if isinstance(value, int):
        return Code(repr(int(value)))
    if isinstance(value, float):
        if math.isnan(value):
            return Code("float('nan')")
        if math.isinf(value):
            return Code("float('inf')" if value > 0 else "-float('inf')")
        return Code(repr(float(value)))
    if isinstance(value, str):
        return Code(repr(value))
    if isinstance(value, tuple):
        items = ", ".join(lit(v) for v in value)
        return Code(f"({items},)" if len(value) == 1 else f"({items})")
    if isinstance(value, list):
        return Code("[" + ", ".join(lit(v) for v in value) + "]")
    if isinstance(value, dict):
        return Code("{" + ", ".join(f"{lit(k)}: {lit(v)}" for k, v in value.items()) + "}")
    # numpy scalars and similar: accept anything that converts exactly to int or float
    if hasattr(value, "item"):
        return lit(value.item())
    raise TypeError(f"cannot write a literal for {type(value).__name__}")


def call(fn: Code, *args: Code, **kwargs: Code) -> Code:
    """``fn(arg, ..., key=value)`` from code fragments."""
    _require_code(fn, *args, *kwargs.values())
    parts = [str(a) for a in args] + [f"{ident(k)}={v}" for k, v in kwargs.items()]
    return Code(f"{fn}({', '.join(parts)})")


def fmt(template: str, *parts: Code) -> Code:
    """An expression from one of our own templates (``"{}.shape[{}]"``) whose holes only take Code."""
    _require_code(*parts)
    return Code(template.format(*parts))


def join(parts: list[Code] | tuple[Code, ...], sep: str = ", ") -> Code:
    """Join code fragments with a fixed separator."""
    _require_code(*parts)
    if sep not in (", ", ",", " + ", " * ", ", *", "."):
        raise ValueError(f"unsupported separator {sep!r}")
    return Code(sep.join(parts))


def _require_code(*parts: object) -> None:
    for p in parts:
        if not isinstance(p, Code):
            raise TypeError(f"source fragments must be Code (from ident/lit/call), got {type(p).__name__}: {p!r}")


_NON_IDENT = re.compile(r"[^0-9a-zA-Z_]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


class NameScope:
    """Hands out unique, readable identifiers for arbitrary strings (node names, layer ids, tensors).

    ``NameScope().name("/layer1/conv/Conv_output_0")`` gives ``layer1_conv_conv_output_0``;
    asking again for the same key returns the same identifier; a clash gets ``_2``, ``_3`` ...
    """

    def __init__(self, reserved: Iterable[str] = ()):
        self._taken: set[str] = set(reserved)
        self._by_key: dict[object, str] = {}

    @staticmethod
    def sanitize(text: str, *, style: str = "snake", fallback: str = "v") -> str:
        """Turn ``text`` into an identifier in ``snake`` (variables) or ``camel`` (classes) style."""
        words = [w for w in _NON_IDENT.split(_CAMEL.sub("_", str(text))) if w]
        if style == "camel":
            out = "".join(w[:1].upper() + w[1:] for part in words for w in part.split("_") if w)
        else:
            out = "_".join(w.lower() for w in words)
        out = out.lstrip("_")  # no private, dunder or mangled names (``_modules``, ``__class__``)
        if not out:
            out = fallback
        if out[0].isdigit():
            out = f"{fallback}{out}" if style == "camel" else f"{fallback}_{out}"
        if keyword.iskeyword(out) or out in {"self", "torch", "tf", "keras", "nn", "F", "np"}:
            out = f"{out}_"
        return out

    def name(self, key: object, hint: str | None = None, *, style: str = "snake", fallback: str = "v") -> Code:
        """A unique identifier for ``key`` (made from ``hint`` or ``key``); stable for the same key."""
        if key in self._by_key:
            return Code(self._by_key[key])
        base = self.sanitize(hint if hint is not None else str(key), style=style, fallback=fallback)
        candidate, n = base, 2
        while candidate in self._taken:
            candidate, n = f"{base}_{n}", n + 1
        self._taken.add(candidate)
        self._by_key[key] = candidate
        return ident(candidate)

    def reserve(self, *names: str) -> None:
        """Mark identifiers as taken (e.g. parameters of the function being written)."""
        self._taken.update(names)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key


class SourceWriter:
    """Accumulates indented lines of Python source; holes in templates only take :class:`Code`."""

    def __init__(self, indent: str = "    "):
        self._lines: list[str] = []
        self._level = 0
        self._indent = indent

    def line(self, template: str = "", *parts: Code) -> None:
        """Append one line; ``template``'s ``{}`` holes are filled with code fragments."""
        _require_code(*parts)
        text = template.format(*parts) if parts else template
        self._lines.append(f"{self._indent * self._level}{text}" if text else "")

    def comment(self, text: str) -> None:
        """Append a ``#`` comment; the text is flattened to one printable line so it cannot escape the comment."""
        flat = "".join(c if c.isprintable() else "?" for c in " ".join(str(text).split()))
        self._lines.append(f"{self._indent * self._level}# {flat}")

    def docstring(self, text: str, width: int = 100) -> None:
        """Append a triple-quoted docstring, wrapped; text that could break out of the quotes (or is not
        printable, such as a NUL) is repr-quoted."""
        flat = " ".join(str(text).split())
        pad = self._indent * self._level
        if not flat or '"' in flat or "\\" in flat or not flat.isprintable():
            self._lines.append(f"{pad}{lit(flat)}")
            return
        lines = textwrap.wrap(flat, width=max(width - len(pad), 40)) or [""]
        if len(lines) == 1:
            self._lines.append(f'{pad}"""{lines[0]}"""')
            return
        self._lines.append(f'{pad}"""{lines[0]}')
        self._lines.extend(f"{pad}{line}" for line in lines[1:])
        self._lines.append(f'{pad}"""')

    def blank(self, n: int = 1) -> None:
        """Append ``n`` empty lines."""
        self._lines.extend([""] * n)

    @contextmanager
    def block(self, template: str, *parts: Code) -> Iterator[None]:
        """``with w.block("def {}(self)", name):`` writes the header line with ``:`` and indents."""
        self.line(template + ":", *parts)
        self._level += 1
        start = len(self._lines)
        try:
            yield
        finally:
            if len(self._lines) == start:
                self.line("pass")
            self._level -= 1

    def extend(self, other: SourceWriter) -> None:
        """Append another writer's lines at the current indentation."""
        for text in other._lines:
            self._lines.append(f"{self._indent * self._level}{text}" if text else "")

    def render(self) -> str:
        """The source text, ending with one newline."""
        return "\n".join(self._lines).rstrip() + "\n"
