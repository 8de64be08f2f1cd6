"""What planning one layer found, remembered between plans, so that re-planning an edited spec only redoes
the layers whose definition or input types changed.

The planner's per-layer work that depends on nothing but the layer itself is pure: validating its
parameters (the layer type's pydantic model) depends only on the type and the parameter values, and its
output types and weights (``infer`` and ``weights``) only on the validated parameters, the input tensor
types and the targeted opset. A :class:`PlanMemo` keeps those results, keyed on exactly those things, in
a bounded least-recently-used table. Everything else the planner does per layer (references, order,
block expansion, limits, messages naming the layer) still runs every time, so a plan made with a memo is
the same as one made without. An edit of one layer re-plans it, and those downstream whose input types
changed; the others are looked up.

Example::

    memo = PlanMemo()
    plan_spec(spec_from_dict(doc), memo=memo)      # plans every layer
    plan_spec(spec_from_dict(edited), memo=memo)   # re-plans only what the edit changed
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

#: default bound: two entries a layer (its parameters, its shapes) for a few thousand distinct layers
DEFAULT_MAX_ENTRIES = 8192

#: what :meth:`PlanMemo.get` returns for a key it does not hold
MISSING: Any = object()


class PlanMemo:
    """A bounded LRU table of per-layer planning results, shared by the plans of one owner (the studio's
    server keeps one for its live analysis). Safe to use from several threads."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES):
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> Any:
        """The value stored under ``key`` (marking it recently used), or :data:`MISSING`."""
        with self._lock:
            value = self._entries.get(key, MISSING)
            if value is MISSING:
                self.misses += 1
            else:
                self.hits += 1
                self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Any) -> None:
        """Store ``value`` under ``key``, dropping the least recently used entries beyond the bound."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every entry (and the hit counts)."""
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0



def params_key(raw: dict[str, Any]) -> str | None:
    """An exact key for a layer's raw parameter values, or None when they cannot be keyed (not plain data).

    ``repr`` of plain data (str, int, float, bool, None, lists, tuples, dicts of them) tells apart every
    two values the planner may treat differently: ``1``, ``1.0`` and ``True``; a list and a tuple (error
    messages quote the value as given); the order of the keys (errors are listed in that order). Canonical
    JSON would merge those. Anything else (a numpy array, whose repr elides) is not keyed and is planned
    afresh each time.
    """
    return repr(raw) if _is_plain(raw) else None


def _is_plain(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return True
    if kind is list or kind is tuple:
        return all(_is_plain(v) for v in value)
    if kind is dict:
        return all(_is_plain(k) and _is_plain(v) for k, v in value.items())
    return False
