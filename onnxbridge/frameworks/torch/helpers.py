"""Helper functions written into the generated ``model.py`` when an op needs more torch code than one
statement reads well as (a non-maximum suppression loop, say).

Each entry is the fixed source text of one module-level function (no model data goes into it); op families
define theirs beside their converters with :func:`define` and call them from ``forward`` through
:meth:`TorchContext.helper <onnxbridge.frameworks.torch.context.TorchContext.helper>`, with tensors and
literal arguments. Their names start with one underscore, so no generated variable can shadow them.

Example::

    NMS = define("_non_max_suppression", '''
    def _non_max_suppression(boxes, scores, ...):
        ...
    ''')
"""

from __future__ import annotations

HELPERS: dict[str, list[str]] = {}


def define(name: str, text: str) -> str:
    """Add the helper function ``name`` (its fixed source ``text``); returns ``name``. A name is defined once."""
    if not name.startswith("_") or name.startswith("__") or not name.isidentifier():
        raise ValueError(f"a torch helper's name must start with one underscore: {name!r}")
    if name in HELPERS:
        raise ValueError(f"the torch helper {name!r} is already defined")
    HELPERS[name] = text.strip("\n").split("\n")
    return name
