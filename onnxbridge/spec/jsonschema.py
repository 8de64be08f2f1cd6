"""The JSON Schema of the spec document, with every layer type's parameters spelled out.

The pydantic models fix the document's frame; layer parameters are per type, so each registered layer and
built-in block contributes a variant of ``LayerSpec`` (``type`` fixed, its parameters typed and
documented). A browser editor can validate and autocomplete with this one schema.
"""

from __future__ import annotations

import copy
from typing import Any

from onnxbridge.spec.blocks import all_blocks
from onnxbridge.spec.registry import all_layers
from onnxbridge.spec.schema import LayerSpec, Spec

SCHEMA_ID = "https://onnxbridge.dev/schema/spec.json"


_PARAM_REF = {"type": "string", "pattern": "^\\$[A-Za-z_][A-Za-z0-9_]*$",
              "description": "A reference to a parameter of the enclosing block, e.g. $channels."}


def _variant(name: str, kind: str, doc: str, common: dict[str, Any], params: dict[str, Any],
             required: list[str]) -> dict[str, Any]:
    props = copy.deepcopy(common)
    props["type"] = {"const": name, "description": f"{kind}: {' '.join(doc.split())}"}
    props.update(params)
    return {"type": "object", "title": name, "description": " ".join(doc.split()), "properties": props,
            "required": ["id", "type", *required], "additionalProperties": False}


def spec_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a spec document."""
    schema = Spec.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
    defs = schema.setdefault("$defs", {})
    common = LayerSpec.model_json_schema(by_alias=True)
    common_props = {k: v for k, v in common["properties"].items() if k != "type"}
    common_props["inputs"] = {**common_props["input"], "description": "Same as 'input' (either may be used)."}
    variants: list[dict[str, Any]] = []
    block_variants: list[dict[str, Any]] = []
    kinds = [(name, layer.Params, layer.__doc__ or "", "layer") for name, layer in all_layers().items()]
    kinds += [(name, block.Params, block.description, "built-in block") for name, block in all_blocks().items()]
    for name, params_model, doc, kind in kinds:
        params = params_model.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
        for dname, d in params.pop("$defs", {}).items():
            defs.setdefault(dname, d)
        variant = _variant(name, kind, doc, common_props, params.get("properties", {}), params.get("required", []))
        defs[f"Layer_{name}"] = variant
        variants.append({"$ref": f"#/$defs/Layer_{name}"})
        # inside a block definition any parameter may be a "$name" reference to a block parameter
        referable = {k: {"anyOf": [v, _PARAM_REF], "description": v.get("description", "")}
                     for k, v in params.get("properties", {}).items()}
        defs[f"BlockLayer_{name}"] = _variant(name, kind, doc, common_props, referable, params.get("required", []))
        block_variants.append({"$ref": f"#/$defs/BlockLayer_{name}"})
    known = [v["$ref"].split("Layer_", 1)[-1] for v in variants]
    generic = copy.deepcopy(common)
    generic["title"] = "BlockInstance"
    generic["description"] = ("An instance of a block defined under 'blocks'; other keys are the block's "
                              "parameters.")
    generic["properties"]["type"] = {"type": "string", "not": {"enum": known},
                                     "description": "The name of a block defined in this spec."}
    generic["additionalProperties"] = True
    defs["BlockInstance"] = generic
    defs["LayerSpec"] = {"description": (LayerSpec.__doc__ or "").strip().splitlines()[0], "anyOf": variants + [
        {"$ref": "#/$defs/BlockInstance"}]}
    defs["BlockLayerSpec"] = {"description": "A layer inside a block; parameters may be '$name' references.",
                              "anyOf": block_variants + [{"$ref": "#/$defs/BlockInstance"}]}
    defs["BlockSpec"]["properties"]["layers"]["items"] = {"$ref": "#/$defs/BlockLayerSpec"}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "onnxbridge network spec"
    return schema
