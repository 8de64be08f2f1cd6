"""The layer and block catalogue as plain data (for ``onnxbridge layers`` and the browser builder)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from onnxbridge.spec.blocks import BuiltinBlock, all_blocks
from onnxbridge.spec.registry import all_layers


def _params(model: type[BaseModel]) -> list[dict[str, Any]]:
    out = []
    for name, f in model.model_fields.items():
        required = f.default is PydanticUndefined and f.default_factory is None
        out.append({"name": name, "required": required, "default": None if required else f.get_default(call_default_factory=True),
                    "description": f.description or ""})
    return out


def block_definition(block: BuiltinBlock) -> dict[str, Any]:
    """The layers a built-in block expands to, generated for its first example (``params`` on inputs of
    ``input_shapes``): a block definition as a spec's ``blocks:`` holds it, plus those two.

    Example::

        block_definition(get_block("ConvBNAct"))["layers"]   # conv (Conv2d), bn (BatchNorm2d), act (ReLU)
    """
    params = dict(block.example_params[0])
    inputs = list(block.example_inputs)
    spec = block.build(block.Params.model_validate(params), inputs)
    body = spec.model_dump(by_alias=True, exclude_none=True, include={"inputs", "layers", "outputs"})
    return {"params": params, "input_shapes": [list(i.shape) for i in inputs], **body}


def catalogue() -> list[dict[str, Any]]:
    """Every layer type and built-in block: type, family, description, inputs, parameters (and for a
    block, its ``definition``: see :func:`block_definition`)."""
    entries = []
    for name, layer in all_layers().items():
        entries.append({"type": name, "family": layer.family, "kind": "layer", "description": layer.describe(),
                        "min_inputs": layer.min_inputs, "max_inputs": layer.max_inputs,
                        "params": _params(layer.Params)})
    for name, block in all_blocks().items():
        entries.append({"type": name, "family": "block", "kind": "block", "description": block.description,
                        "min_inputs": 1, "max_inputs": 1, "params": _params(block.Params),
                        "definition": block_definition(block)})
    return entries


def device_names() -> list[str]:
    """The devices a layer can be placed on here: ``cpu`` and ``cuda:N`` for each GPU nvidia-smi lists."""
    from onnxbridge.runtime.devices import list_devices

    return ["cpu", *(f"cuda:{gpu.index}" for gpu in list_devices(use_frameworks=False).gpus)]


def editor_catalogue() -> dict[str, Any]:
    """What a visual editor needs to offer every layer: the catalogue, the spec's JSON Schema (a form per
    layer type in ``$defs["Layer_<Type>"]``), the devices of this machine, and the version."""
    from onnxbridge import __version__
    from onnxbridge.spec.jsonschema import spec_json_schema

    return {"version": __version__, "layers": catalogue(), "schema": spec_json_schema(), "devices": device_names()}
