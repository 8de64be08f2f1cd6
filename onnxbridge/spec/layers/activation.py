"""Element-wise activations and (log-)softmax."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from onnxbridge.spec.params import LayerParams
from onnxbridge.spec.registry import Example, LayerDef, LayerShapeError, register_layer
from onnxbridge.spec.types import TensorInfo

_EXAMPLES = [Example({}, (TensorInfo(("batch", 4, 6, 6)),)), Example({}, (TensorInfo((3, 7)),))]


class _Activation(LayerDef):
    family = "activation"
    onnx_op = ""

    @classmethod
    def output(cls, p, x: TensorInfo) -> TensorInfo:
        if not x.dtype.startswith("float"):
            raise LayerShapeError(f"needs floating-point input, not {x.dtype}", "insert an Embedding for token ids",
                                  code="OB507")
        return x

    @classmethod
    def lower(cls, p, b, inputs, infos, outputs):
        b.node(cls.onnx_op, inputs, outputs)

    @classmethod
    def examples(cls):
        return _EXAMPLES


@register_layer
class ReLU(_Activation):
    """max(x, 0)."""

    onnx_op = "Relu"


@register_layer
class Sigmoid(_Activation):
    """1 / (1 + exp(-x))."""

    onnx_op = "Sigmoid"


@register_layer
class Tanh(_Activation):
    """Hyperbolic tangent."""

    onnx_op = "Tanh"


@register_layer
class Hardswish(_Activation):
    """x * relu6(x + 3) / 6 (MobileNetV3)."""

    onnx_op = "HardSwish"


@register_layer
class SiLU(_Activation):
    """x * sigmoid(x) (also called swish)."""

    @classmethod
    def lower(cls, p, b, inputs, infos, outputs):
        """Emit ``x * Sigmoid(x)``."""
        b.node("Mul", [inputs[0], b.op("Sigmoid", inputs[0])], outputs)


class LeakyReLUParams(LayerParams):
    """Parameters of ``LeakyReLU``."""
    negative_slope: float = Field(0.01, description="Slope for x < 0.")


@register_layer
class LeakyReLU(_Activation):
    """x if x > 0 else negative_slope * x."""

    Params = LeakyReLUParams

    @classmethod
    def lower(cls, p, b, inputs, infos, outputs):
        """Emit one ONNX ``LeakyRelu`` with ``alpha`` = the negative slope."""
        b.node("LeakyRelu", inputs, outputs, alpha=float(p.negative_slope))

    @classmethod
    def examples(cls):
        """The shared activation examples plus a steeper negative slope."""
        return _EXAMPLES + [Example({"negative_slope": 0.2}, (TensorInfo(("batch", 5)),))]


class ELUParams(LayerParams):
    """Parameters of ``ELU``."""
    alpha: float = Field(1.0, description="Scale of the negative part.")


@register_layer
class ELU(_Activation):
    """x if x > 0 else alpha * (exp(x) - 1)."""

    Params = ELUParams

    @classmethod
    def lower(cls, p, b, inputs, infos, outputs):
        """Emit one ONNX ``Elu``."""
        b.node("Elu", inputs, outputs, alpha=float(p.alpha))

    @classmethod
    def examples(cls):
        """The shared activation examples plus a smaller ``alpha``."""
        return _EXAMPLES + [Example({"alpha": 0.5}, (TensorInfo(("batch", 5)),))]


class GELUParams(LayerParams):
    """Parameters of ``GELU``."""
    approximate: Literal["none", "tanh"] = Field("none", description="'none' (exact, erf) or 'tanh'.")


@register_layer
class GELU(_Activation):
    """Gaussian error linear unit: x * Phi(x) (exact with erf, or the tanh approximation)."""

    Params = GELUParams

    @classmethod
    def lower(cls, p, b, inputs, infos, outputs):
        """Emit GELU from elementary ops (exact with Erf, or the tanh approximation), since opset 18 has no
        Gelu op."""
        x = inputs[0]
        half = b.const(0.5, "half")
        one = b.const(1.0, "one")
        if p.approximate == "none":
            # opset 18 has no Gelu op: 0.5 * x * (1 + erf(x / sqrt(2)))
            inner = b.op("Erf", b.op("Div", x, b.const(math.sqrt(2.0), "sqrt2")))
        else:
            cube = b.op("Mul", b.op("Pow", x, b.const(3.0, "three")), b.const(0.044715, "coef"))
            inner = b.op("Tanh", b.op("Mul", b.op("Add", x, cube), b.const(math.sqrt(2.0 / math.pi), "k")))
        b.node("Mul", [b.op("Mul", x, half), b.op("Add", inner, one)], outputs)

    @classmethod
    def examples(cls):
        """The shared activation examples plus the tanh approximation."""
        return _EXAMPLES + [Example({"approximate": "tanh"}, (TensorInfo(("batch", 6)),))]


class SoftmaxParams(LayerParams):
    """Parameters of ``Softmax`` and ``LogSoftmax``."""
    dim: int = Field(-1, description="Dimension to normalise over (negative counts from the end).")


class _Softmax(_Activation):
    Params = SoftmaxParams

    @classmethod
    def output(cls, p, x: TensorInfo) -> TensorInfo:
        super().output(p, x)
        if not -x.rank <= p.dim < x.rank:
            raise LayerShapeError(f"needs dim between {-x.rank} and {x.rank - 1} for a rank-{x.rank} input, got {p.dim}",
                                  "use dim: -1 for the last dimension")
        return x

    @classmethod
    def lower(cls, p, b, inputs, infos, outputs):
        b.node(cls.onnx_op, inputs, outputs, axis=p.dim)

    @classmethod
    def examples(cls):
        return [Example({}, (TensorInfo(("batch", 10)),)), Example({"dim": 1}, (TensorInfo((2, 4, 5)),))]


@register_layer
class Softmax(_Softmax):
    """exp(x) / sum(exp(x)) along ``dim``."""

    onnx_op = "Softmax"


@register_layer
class LogSoftmax(_Softmax):
    """log(softmax(x)) along ``dim``, computed stably."""

    onnx_op = "LogSoftmax"
