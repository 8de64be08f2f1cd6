"""Small wording and naming helpers shared by the rule families and the fixes."""

from __future__ import annotations

from collections.abc import Iterable

MAX_LISTED = 6


def plural(n: int, word: str) -> str:
    """``1 node`` / ``3 nodes``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def listing(items: Iterable[str], limit: int = MAX_LISTED) -> str:
    """``'a', 'b', 'c'`` or ``'a', 'b', ... (12 in all)`` — messages stay one readable line."""
    items = list(items)
    shown = ", ".join(i if i.startswith(("node ", "<")) else repr(i) for i in items[:limit])
    return shown if len(items) <= limit else f"{shown}, ... ({len(items)} in all)"


def agree(n: int, one: str, many: str) -> str:
    """The verb form for ``n`` things: ``agree(1, "is", "are")`` -> ``is``."""
    return one if n == 1 else many


def unique_name(base: str, taken: set[str]) -> str:
    """``base``, or ``base_2``, ``base_3``... — the first not in ``taken``, which it is then added to."""
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    taken.add(name)
    return name
