"""The network spec document: pydantic models for inputs, outputs, layers and blocks.

A spec is written in YAML or JSON (or built in Python with :class:`onnxbridge.spec.Network`) and looks
like this::

    name: digits_cnn
    inputs:
      - {name: image, shape: [batch, 1, 8, 8]}
    layers:
      - {id: conv1, type: Conv2d, out_channels: 16, kernel_size: 3, padding: same}
      - {id: act1, type: ReLU}
      - {id: flat, type: Flatten}
      - {id: fc, type: Linear, out_features: 10}
    outputs:
      - {name: logits, from: fc}

Layer parameters sit beside ``id`` and ``type``; they are checked against the layer's own parameter
model (see ``onnxbridge layers``) when the spec is resolved, so this module only fixes the document's
shape. Everything is channels-first (NCHW), as in ONNX.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from onnxbridge.spec.data import DataSpec

IDENT_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
REF_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(:[0-9]+)?$"
DType = Literal["float32", "float16", "float64", "int64", "int32", "bool", "int16", "int8", "uint8", "uint16",
                "uint32", "uint64"]
RESERVED_KEYS = ("id", "type", "input", "inputs", "device", "description")
MAX_DIM = 2**63 - 1  # ONNX dims are int64


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class InputSpec(_Doc):
    """A named graph input."""

    name: str = Field(pattern=IDENT_PATTERN, description="Input name (a Python-style identifier).")
    shape: list[int | str] = Field(
        description="Dimensions, channels-first (NCHW). Integers, or names for symbolic dims such as 'batch' "
                    "([] for a scalar).")
    dtype: DType = Field("float32", description="Element type; token ids use int64.")
    description: str | None = Field(None, description="Free text shown in summaries.")

    @field_validator("shape")
    @classmethod
    def _dims(cls, shape: list[int | str]) -> list[int | str]:
        for d in shape:
            if isinstance(d, bool) or (isinstance(d, int) and d < 1):
                raise ValueError(f"dimension {d!r} must be a positive integer or a symbolic name like 'batch'")
            if isinstance(d, int) and d > MAX_DIM:
                raise ValueError(f"dimension {d} is larger than ONNX can store (at most {MAX_DIM})")
            if isinstance(d, str) and not d.isidentifier():
                raise ValueError(f"symbolic dimension {d!r} must be an identifier like 'batch' or 'seq'")
        return shape


class OutputSpec(_Doc):
    """A named graph output taken from a layer."""

    name: str = Field(pattern=IDENT_PATTERN, description="Output name in the built model.")
    from_: str = Field(alias="from", pattern=REF_PATTERN,
                       description="Layer id (or 'id:N' for a layer's N-th output) that produces this output.")


class LayerSpec(BaseModel):
    """One layer (or block instance): ``id``, ``type``, where its input comes from, and parameters.

    Any other key is a parameter of the layer type (e.g. ``out_channels``); see ``onnxbridge layers``.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str = Field(pattern=IDENT_PATTERN, description="Unique layer id; becomes the ONNX node name.")
    type: str = Field(description="Layer type (e.g. Conv2d, Linear, LSTM) or the name of a block.")
    input: str | list[str] | None = Field(
        None,
        description="Input reference(s): a layer id, 'id:N' for its N-th output, or a graph input name. "
                    "Omit it to take the previous layer's output (or the first graph input).")
    device: str | None = Field(
        None, pattern=r"^(cpu|cuda(:[0-9]+)?)$",
        description="Where this layer runs in generated framework code: 'cpu', 'cuda' or 'cuda:N'.")
    description: str | None = Field(None, description="Free text shown in summaries.")

    @model_validator(mode="before")
    @classmethod
    def _inputs_alias(cls, data: Any) -> Any:
        if isinstance(data, dict) and "inputs" in data:
            if "input" in data:
                raise ValueError("give either 'input' or 'inputs', not both")
            data = dict(data)
            data["input"] = data.pop("inputs")
        return data

    @property
    def params(self) -> dict[str, Any]:
        """The layer-type parameters (every key other than id/type/input/device/description)."""
        return dict(self.model_extra or {})

    @property
    def input_refs(self) -> list[str] | None:
        """The layer's inputs as a list of references, or None when it takes the previous layer's output."""
        if self.input is None:
            return None
        return [self.input] if isinstance(self.input, str) else list(self.input)


class BlockSpec(_Doc):
    """A reusable sub-network, defined once and instantiated by using its name as a layer ``type``.

    Inside the block, a parameter value written ``$name`` is replaced by the instance's value.
    A block lowers to an ONNX local function, so it stays one named unit in the ONNX file.
    """

    description: str | None = Field(None, description="What the block does.")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Block parameters and their defaults; a default of null makes the parameter required.")
    inputs: list[str] = Field(default_factory=lambda: ["x"], min_length=1,
                              description="Names of the block's inputs, referenced by its layers.")
    layers: list[LayerSpec] = Field(min_length=1, description="The block's layers, as in the top-level list.")
    outputs: list[str] | None = Field(
        None, description="Layer ids whose outputs the block returns (default: the last layer).")

    @field_validator("inputs")
    @classmethod
    def _idents(cls, names: list[str]) -> list[str]:
        for n in names:
            if not n.isidentifier():
                raise ValueError(f"block input name {n!r} must be an identifier")
        return names


class Spec(_Doc):
    """A whole network: inputs, layers (and block definitions), outputs."""

    name: str = Field("network", pattern=IDENT_PATTERN, description="Network name; names the ONNX graph.")
    description: str | None = Field(None, description="What the network is for.")
    inputs: list[InputSpec] = Field(description="Graph inputs, channels-first (a lifted model may have none).")
    layers: list[LayerSpec] = Field(min_length=1, description="Layers in order; see LayerSpec.")
    outputs: list[OutputSpec | str] | None = Field(
        None, description="Graph outputs: layer ids, or {name, from} objects. Default: the last layer.")
    blocks: dict[str, BlockSpec] = Field(default_factory=dict,
                                         description="User-defined blocks, by name (used as a layer type).")
    weights: str | None = Field(
        None, description="Trained weights: a .safetensors file beside the spec (a relative path), keyed "
                          "'<layer id>.<param>'. Build uses the ones whose shapes fit and initialises the rest.")
    opset: int | None = Field(None, ge=1, le=30,
                              description="ONNX opset to build at (default 18); lifted models keep theirs.")
    # weights held in memory (a lifted model, before it is saved) and the folder 'weights' is relative to
    _weights: dict[str, Any] | None = PrivateAttr(None)
    _base_dir: str | None = PrivateAttr(None)

    def __eq__(self, other: object) -> bool:
        # the document decides; where it was read from (and weights held in memory) does not
        return isinstance(other, Spec) and self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]  # mutable, like every pydantic model

    @field_validator("weights")
    @classmethod
    def _weights_path(cls, path: str | None) -> str | None:
        from onnxbridge.spec.weights import check_weights_path

        return None if path is None else check_weights_path(path)
    data: DataSpec | None = Field(None, description="Training data for `onnxbridge train` (see docs/train.md).")

    @field_validator("blocks")
    @classmethod
    def _block_names(cls, blocks: dict[str, BlockSpec]) -> dict[str, BlockSpec]:
        for name in blocks:
            if not name.isidentifier():
                raise ValueError(f"block name {name!r} must be an identifier (it becomes a class name)")
        return blocks

    def output_specs(self) -> list[OutputSpec]:
        """Outputs as {name, from} objects (default: the last layer, named after it)."""
        if not self.outputs:
            last = self.layers[-1].id
            return [OutputSpec(name=last, **{"from": last})]
        return [o if isinstance(o, OutputSpec) else OutputSpec(name=o.split(":")[0], **{"from": o})
                for o in self.outputs]

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data (what YAML/JSON holds), without defaults that were not set."""
        return self.model_dump(by_alias=True, exclude_none=True, exclude_defaults=False)
