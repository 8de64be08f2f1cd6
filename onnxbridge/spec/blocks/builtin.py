"""The built-in blocks: ConvBNAct, ResidualBlock, MLP, TransformerEncoderBlock, StackedRNN."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from onnxbridge.spec.blocks import register_block
from onnxbridge.spec.params import Activation, LayerParams, Padding, PositiveInts, Probability
from onnxbridge.spec.registry import LayerShapeError
from onnxbridge.spec.schema import BlockSpec, LayerSpec
from onnxbridge.spec.types import TensorInfo

_ACTIVATIONS = {"relu": "ReLU", "leaky_relu": "LeakyReLU", "elu": "ELU", "gelu": "GELU", "silu": "SiLU",
                "sigmoid": "Sigmoid", "tanh": "Tanh", "hardswish": "Hardswish"}


def _layers(*items: dict[str, Any]) -> list[LayerSpec]:
    return [LayerSpec.model_validate(i) for i in items if i]


def _act(id: str, name: str, input: str | None = None) -> dict[str, Any]:
    if name == "none":
        return {}
    layer: dict[str, Any] = {"id": id, "type": _ACTIVATIONS[name]}
    if input:
        layer["input"] = input
    return layer


class ConvBNActParams(LayerParams):
    """Parameters of ``ConvBNAct``: the convolution's, and the activation after its BatchNorm."""
    out_channels: int = Field(gt=0, description="Output channels.")
    kernel_size: PositiveInts = Field(3, description="Kernel size.")
    stride: PositiveInts = Field(1, description="Stride.")
    padding: Padding = Field("same", description="Padding ('same' keeps the size at stride 1).")
    groups: int = Field(1, gt=0, description="Convolution groups (in_channels = depthwise).")
    activation: Activation = Field("relu", description="Activation after the BatchNorm ('none' for none).")


@register_block("ConvBNAct", ConvBNActParams,
                examples=({"out_channels": 8}, {"out_channels": 4, "stride": 2, "activation": "silu"}))
def conv_bn_act(p: ConvBNActParams, inputs: list[TensorInfo]) -> BlockSpec:
    """Conv2d (no bias) -> BatchNorm2d -> activation: the standard CNN building unit."""
    return BlockSpec(description="Conv2d -> BatchNorm2d -> activation", layers=_layers(
        {"id": "conv", "type": "Conv2d", "out_channels": p.out_channels, "kernel_size": p.kernel_size,
         "stride": p.stride, "padding": p.padding, "groups": p.groups, "bias": False},
        {"id": "bn", "type": "BatchNorm2d"},
        _act("act", p.activation)))


class ResidualBlockParams(LayerParams):
    """Parameters of ``ResidualBlock``: output channels, first stride and activation."""
    out_channels: int | None = Field(None, gt=0, description="Output channels (default: the input's).")
    stride: int = Field(1, gt=0, description="Stride of the first convolution (2 halves the size).")
    activation: Activation = Field("relu", description="Activation.")


@register_block("ResidualBlock", ResidualBlockParams,
                examples=({}, {"out_channels": 16, "stride": 2}))
def residual_block(p: ResidualBlockParams, inputs: list[TensorInfo]) -> BlockSpec:
    """ResNet basic block: two 3x3 ConvBN, plus a shortcut (a 1x1 ConvBN projection when shapes differ)."""
    x = inputs[0]
    if x.rank != 4:
        raise LayerShapeError("needs [batch, channels, height, width]")
    out = p.out_channels or x.shape[1]
    project = out != x.shape[1] or p.stride != 1
    layers: list[dict[str, Any]] = [
        {"id": "conv1", "type": "Conv2d", "out_channels": out, "kernel_size": 3, "stride": p.stride,
         "padding": 1, "bias": False},
        {"id": "bn1", "type": "BatchNorm2d"},
        _act("act1", p.activation),
        {"id": "conv2", "type": "Conv2d", "out_channels": out, "kernel_size": 3, "padding": 1, "bias": False},
        {"id": "bn2", "type": "BatchNorm2d"},
    ]
    shortcut = "x"
    if project:
        layers += [{"id": "proj", "type": "Conv2d", "input": "x", "out_channels": out, "kernel_size": 1,
                    "stride": p.stride, "bias": False},
                   {"id": "proj_bn", "type": "BatchNorm2d"}]
        shortcut = "proj_bn"
    layers.append({"id": "add", "type": "Add", "input": ["bn2", shortcut]})
    layers.append(_act("act2", p.activation))
    return BlockSpec(description="ResNet basic block" + (" with a projection shortcut" if project else ""),
                     layers=_layers(*layers))


class MLPParams(LayerParams):
    """Parameters of ``MLP``: hidden sizes, optional output layer, activation, dropout and LayerNorm."""
    hidden: list[int] = Field(min_length=1, description="Sizes of the hidden layers.")
    out_features: int | None = Field(None, gt=0, description="Size of a final Linear without activation.")
    activation: Activation = Field("relu", description="Activation after each hidden layer.")
    dropout: Probability = Field(0.0, description="Dropout after each hidden activation (0 = none).")
    norm: bool = Field(False, description="LayerNorm after each hidden Linear.")


@register_block("MLP", MLPParams, examples=({"hidden": [16, 8], "out_features": 4},
                                            {"hidden": [6], "activation": "gelu", "norm": True, "dropout": 0.1}),
                example_inputs=(TensorInfo(("batch", 12)),))
def mlp(p: MLPParams, inputs: list[TensorInfo]) -> BlockSpec:
    """Stacked Linear (-> LayerNorm) -> activation (-> Dropout) layers, with an optional output Linear."""
    layers: list[dict[str, Any]] = []
    for i, width in enumerate(p.hidden):
        layers.append({"id": f"fc{i + 1}", "type": "Linear", "out_features": width})
        if p.norm:
            layers.append({"id": f"norm{i + 1}", "type": "LayerNorm"})
        layers.append(_act(f"act{i + 1}", p.activation))
        if p.dropout:
            layers.append({"id": f"drop{i + 1}", "type": "Dropout", "p": p.dropout})
    if p.out_features:
        layers.append({"id": "out", "type": "Linear", "out_features": p.out_features})
    return BlockSpec(description="multi-layer perceptron", layers=_layers(*layers))


class TransformerEncoderBlockParams(LayerParams):
    """Parameters of ``TransformerEncoderBlock``: heads, feed-forward width, dropout, activation, norm
    placement and causal masking."""
    num_heads: int = Field(gt=0, description="Attention heads.")
    ff_dim: int = Field(gt=0, description="Width of the feed-forward layer.")
    dropout: Probability = Field(0.0, description="Dropout after attention and feed-forward (0 = none).")
    activation: Literal["relu", "gelu"] = Field("gelu", description="Feed-forward activation.")
    norm_first: bool = Field(False, description="Pre-norm (LayerNorm before each sub-layer) instead of post-norm.")
    causal: bool = Field(False, description="Causal self-attention mask.")


@register_block("TransformerEncoderBlock", TransformerEncoderBlockParams,
                examples=({"num_heads": 2, "ff_dim": 16}, {"num_heads": 1, "ff_dim": 8, "norm_first": True,
                                                           "activation": "relu", "dropout": 0.1}),
                example_inputs=(TensorInfo(("batch", "seq", 8)),))
def transformer_encoder_block(p: TransformerEncoderBlockParams, inputs: list[TensorInfo]) -> BlockSpec:
    """Self-attention and a feed-forward network, each with a residual connection and LayerNorm."""
    x = inputs[0]
    if x.rank != 3:
        raise LayerShapeError("needs [batch, seq, embed]", "flatten spatial dims into a sequence first")
    e = x.shape[2]
    act = "GELU" if p.activation == "gelu" else "ReLU"
    drop = (lambda id, src: {"id": id, "type": "Dropout", "p": p.dropout, "input": src}) if p.dropout else None
    layers: list[dict[str, Any]] = []
    if p.norm_first:
        layers += [{"id": "norm1", "type": "LayerNorm", "input": "x"},
                   {"id": "attn", "type": "MultiHeadAttention", "num_heads": p.num_heads, "causal": p.causal}]
        attn_out = "attn"
        if drop:
            layers.append(drop("drop1", "attn"))
            attn_out = "drop1"
        layers += [{"id": "add1", "type": "Add", "input": ["x", attn_out]},
                   {"id": "norm2", "type": "LayerNorm"},
                   {"id": "ff1", "type": "Linear", "out_features": p.ff_dim},
                   {"id": "ff_act", "type": act},
                   {"id": "ff2", "type": "Linear", "out_features": e}]
        ff_out = "ff2"
        if drop:
            layers.append(drop("drop2", "ff2"))
            ff_out = "drop2"
        layers.append({"id": "add2", "type": "Add", "input": ["add1", ff_out]})
    else:
        layers.append({"id": "attn", "type": "MultiHeadAttention", "num_heads": p.num_heads, "causal": p.causal,
                       "input": "x"})
        attn_out = "attn"
        if drop:
            layers.append(drop("drop1", "attn"))
            attn_out = "drop1"
        layers += [{"id": "add1", "type": "Add", "input": ["x", attn_out]},
                   {"id": "norm1", "type": "LayerNorm"},
                   {"id": "ff1", "type": "Linear", "out_features": p.ff_dim},
                   {"id": "ff_act", "type": act},
                   {"id": "ff2", "type": "Linear", "out_features": e}]
        ff_out = "ff2"
        if drop:
            layers.append(drop("drop2", "ff2"))
            ff_out = "drop2"
        layers += [{"id": "add2", "type": "Add", "input": ["norm1", ff_out]},
                   {"id": "norm2", "type": "LayerNorm"}]
    return BlockSpec(description="Transformer encoder layer", layers=_layers(*layers))


class StackedRNNParams(LayerParams):
    """Parameters of ``StackedRNN``: cell type, hidden size, depth, direction, dropout between layers and what
    it returns."""
    cell: Literal["LSTM", "GRU", "SimpleRNN"] = Field("LSTM", description="Recurrent layer type.")
    hidden_size: int = Field(gt=0, description="Hidden state size of every layer.")
    num_layers: int = Field(2, ge=1, description="Number of stacked layers.")
    bidirectional: bool = Field(False, description="Bidirectional layers.")
    dropout: Probability = Field(0.0, description="Dropout between layers (0 = none).")
    return_sequences: bool = Field(True, description="Return every step of the last layer (else its last state).")


@register_block("StackedRNN", StackedRNNParams,
                examples=({"hidden_size": 6}, {"cell": "GRU", "hidden_size": 4, "num_layers": 3,
                                               "bidirectional": True, "dropout": 0.2, "return_sequences": False}),
                example_inputs=(TensorInfo(("batch", "seq", 5)),))
def stacked_rnn(p: StackedRNNParams, inputs: list[TensorInfo]) -> BlockSpec:
    """Recurrent layers stacked one per node (batch-first), with optional dropout between them."""
    layers: list[dict[str, Any]] = []
    for i in range(p.num_layers):
        last = i == p.num_layers - 1
        layers.append({"id": f"rnn{i + 1}", "type": p.cell, "hidden_size": p.hidden_size,
                       "bidirectional": p.bidirectional, "return_sequences": p.return_sequences or not last})
        if p.dropout and not last:
            layers.append({"id": f"drop{i + 1}", "type": "Dropout", "p": p.dropout})
    return BlockSpec(description=f"{p.num_layers} stacked {p.cell} layers", layers=_layers(*layers))
