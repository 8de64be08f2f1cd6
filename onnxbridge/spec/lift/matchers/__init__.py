"""Pattern matchers: ONNX nodes -> natural layers, one module per layer family.

A matcher is a function ``(scope, node) -> Draft | None`` registered for the op type of the node it
starts from (its *anchor*). Matchers run in passes: patterns that span many nodes (attention, expanded
LayerNorm and activations) first, so single-node matchers cannot take their pieces; then one-node
patterns. A matcher returns None when the graph does not fit the layer exactly — the node then becomes an
``Op`` layer, never a layer that computes something else.
"""

from __future__ import annotations

from collections.abc import Callable

from onnxbridge.spec.lift.draft import Draft

Matcher = Callable[..., "Draft | None"]

#: pass -> op type -> matchers, tried in registration order
_PASSES: list[dict[str, list[Matcher]]] = [{}, {}, {}]
REGION, COMPOSITE, SINGLE = 0, 1, 2


def matcher(*op_types: str, stage: int = SINGLE) -> Callable[[Matcher], Matcher]:
    """Register a matcher for nodes of ``op_types`` in pass ``stage``."""

    def register(fn: Matcher) -> Matcher:
        for op in op_types:
            _PASSES[stage].setdefault(op, []).append(fn)
        return fn

    return register


def _load() -> list[dict[str, list[Matcher]]]:
    from onnxbridge.spec.lift.matchers import (  # noqa: F401  (registers the matchers)
        activation,
        attention,
        conv,
        embedding,
        linear,
        merge,
        norm,
        pool,
        recurrent,
        regions,
        reshape,
    )

    return _PASSES


class _Passes:
    """The passes, loaded on first use (the matcher modules import each other's helpers)."""

    def __iter__(self):
        return iter(_load())


PASSES = _Passes()
