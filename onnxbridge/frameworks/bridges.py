"""The registered framework bridges: everything outside a framework's folder finds frameworks here.

Each bridge module (``frameworks/<name>/bridge.py``) defines ``BRIDGE``, an instance of
:class:`onnxbridge.frameworks.base.Bridge`. The modules are loaded by name the first time the bridges are
listed, like plugins: this registry depends on no framework's code, and a bridge module imports its
framework only when a method needs it.

Example::

    from onnxbridge.frameworks.bridges import bridges, get_bridge

    [b.name for b in bridges()]             # ['torch', 'tensorflow']
    get_bridge("tf").display_name           # 'TensorFlow'
"""

from __future__ import annotations

import functools
import importlib

from onnxbridge.errors import OnnxBridgeError
from onnxbridge.frameworks.base import Bridge

#: The bridge modules, in the order frameworks are listed everywhere (targets, columns, engines).
#: A new framework is a folder of the same shape as ``torch/`` and one line here.
BRIDGE_MODULES = (
    "onnxbridge.frameworks.torch.bridge",
    "onnxbridge.frameworks.tensorflow.bridge",
)


@functools.cache
def bridges() -> tuple[Bridge, ...]:
    """Every registered bridge, in registration order."""
    found: list[Bridge] = []
    for module_name in BRIDGE_MODULES:
        bridge = importlib.import_module(module_name).BRIDGE
        if not isinstance(bridge, Bridge):
            raise TypeError(f"{module_name}.BRIDGE is a {type(bridge).__name__}, not a Bridge")
        if any(b.name == bridge.name for b in found):
            raise ValueError(f"two bridges are named {bridge.name!r}")
        found.append(bridge)
    return tuple(found)


def names() -> tuple[str, ...]:
    """The bridges' names: ``('torch', 'tensorflow')``."""
    return tuple(b.name for b in bridges())


def find_bridge(name: str) -> Bridge | None:
    """The bridge called ``name`` or one of its aliases (any case), or None."""
    wanted = name.strip().lower()
    return next((b for b in bridges() if wanted == b.name or wanted in b.aliases), None)


def get_bridge(name: str) -> Bridge:
    """The bridge called ``name`` (or an alias); an :class:`OnnxBridgeError` listing them otherwise."""
    bridge = find_bridge(name)
    if bridge is None:
        raise OnnxBridgeError(f"unknown framework {name!r}", hint=f"choose one of: {', '.join(names())}")
    return bridge


def bridge_of(obj: object) -> Bridge | None:
    """The bridge whose framework ``obj`` (a live model or tensor) belongs to, or None."""
    return next((b for b in bridges() if b.owns(obj)), None)


def engines() -> dict[str, Bridge]:
    """Every native benchmark engine (``torch``, ``torch.compile``, ``tensorflow``) and its bridge."""
    return {engine: b for b in bridges() for engine in b.engines}


def engine_named(name: str) -> str | None:
    """The engine called ``name`` or one of its aliases ('PyTorch' -> 'torch', 'tf' -> 'tensorflow')."""
    wanted = name.strip().lower()
    for b in bridges():
        for engine, aliases in b.engines.items():
            if wanted == engine or wanted in aliases:
                return engine
    return None
