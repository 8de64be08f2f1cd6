"""The project's ONNX conventions: the spec-block domain, how the default domain is spelled, opset maps.

Example::

    opsets_of(model)                  # {"": 18, "onnxbridge.blocks": 1}
    normalise_domain("ai.onnx")       # ""
"""

from __future__ import annotations

import onnx

#: the domain of ONNX local functions made from spec blocks (they become nested classes in generated code)
BLOCKS_DOMAIN = "onnxbridge.blocks"

#: the default ONNX domain, as :func:`normalise_domain` spells it
ONNX_DOMAIN = ""


def normalise_domain(domain: str) -> str:
    """``""`` for the default domain (``""`` or ``"ai.onnx"``), the domain itself otherwise."""
    return ONNX_DOMAIN if domain in ("", "ai.onnx") else domain


def is_onnx_domain(domain: str) -> bool:
    """Whether ``domain`` is the default ONNX domain (however it is spelled)."""
    return normalise_domain(domain) == ONNX_DOMAIN


def opsets_of(model: onnx.ModelProto | onnx.FunctionProto) -> dict[str, int]:
    """``{domain: version}`` of a model's (or function's) opset imports, ``ai.onnx`` spelled ``""``."""
    return {normalise_domain(o.domain): o.version for o in model.opset_import}


def is_block_function(function: onnx.FunctionProto) -> bool:
    """Whether ``function`` is a spec block: domain :data:`BLOCKS_DOMAIN` and no attribute parameters."""
    return function.domain == BLOCKS_DOMAIN and not function.attribute and not function.attribute_proto
