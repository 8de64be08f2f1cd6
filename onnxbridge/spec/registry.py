"""The layer registry: every layer type is defined once, as a :class:`LayerDef` subclass.

A definition holds the parameters (a pydantic model with defaults and checks), the shape rule
(``infer``), the weights it owns (``weights``, which also gives the parameter count), the lowering to
ONNX ops (``lower``) and a few ``examples`` that the generic test harness checks against ONNX shape
inference and onnxruntime — so a new layer is tested without writing a new test.

Example::

    @register_layer
    class ReLU(LayerDef):
        "max(x, 0), element-wise."
        family = "activation"

        @classmethod
        def lower(cls, p, b, inputs, infos, outputs):
            b.node("Relu", inputs, outputs)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from onnxbridge.spec.params import LayerParams
from onnxbridge.spec.types import TensorInfo, format_shape

if TYPE_CHECKING:
    from onnxbridge.spec.lower import GraphBuilder


@dataclass(frozen=True)
class Weight:
    """A learnable tensor a layer owns, and how to initialise it (seeded, following framework defaults).

    ``init`` is one of: ``uniform`` (U(-bound, bound)), ``normal`` (N(0, std)), ``zeros``, ``ones``,
    ``xavier_uniform``. ``trainable=False`` marks buffers such as BatchNorm running statistics.
    ``dtype`` is a spec dtype name (integer weights, e.g. lookup tables of lifted models, start at zero).
    """

    shape: tuple[int, ...]
    init: str = "uniform"
    bound: float = 0.0
    std: float = 1.0
    trainable: bool = True
    dtype: str = "float32"

    @property
    def size(self) -> int:
        """The number of elements of the weight."""
        n = 1
        for d in self.shape:
            n *= d
        return n


class LayerShapeError(Exception):
    """Raised by a shape rule: what the layer needs, and a concrete suggestion.

    ``code`` is the diagnostic code ``onnxbridge check`` reports it under (see docs/checks.md).
    """

    def __init__(self, needs: str, suggestion: str | None = None, *, code: str | None = None):
        super().__init__(needs)
        self.needs = needs
        self.suggestion = suggestion
        self.code = code


@dataclass(frozen=True)
class Example:
    """A parameter combination and input tensors used to test a layer definition automatically."""

    params: dict[str, Any]
    inputs: tuple[TensorInfo, ...]


class LayerDef:
    """Base class of layer definitions. Subclasses set ``family`` and override what they need."""

    type_name: ClassVar[str] = ""
    family: ClassVar[str] = ""
    Params: ClassVar[type[LayerParams]] = LayerParams
    #: how many inputs the layer takes (max None = any number)
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int | None] = 1
    #: how many outputs the layer produces
    num_outputs: ClassVar[int] = 1

    @classmethod
    def describe(cls) -> str:
        """The first line of the layer class's docstring: its one-line description in catalogues and the
        schema."""
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""

    @classmethod
    def infer(cls, p: Any, inputs: list[TensorInfo]) -> list[TensorInfo]:
        """Output tensors for these inputs; raise :class:`LayerShapeError` when the inputs do not fit."""
        return [cls.output(p, inputs[0])]

    @classmethod
    def output(cls, p: Any, x: TensorInfo) -> TensorInfo:
        """Shape rule of single-input, single-output layers (default: shape unchanged)."""
        return x

    @classmethod
    def weights(cls, p: Any, inputs: list[TensorInfo]) -> dict[str, Weight]:
        """Learnable tensors, by local name (``weight``, ``bias``...); sizes follow from the inputs."""
        return {}

    @classmethod
    def lower(cls, p: Any, b: GraphBuilder, inputs: list[str], infos: list[TensorInfo], outputs: list[str]) -> None:
        """Emit ONNX nodes computing ``outputs`` from ``inputs`` (tensor names)."""
        raise NotImplementedError(f"{cls.type_name} has no lowering")

    @classmethod
    def examples(cls) -> list[Example]:
        """Parameter combinations for the generic layer tests (override with several)."""
        return [Example({}, (TensorInfo(("batch", 4, 6, 6)),))]


_LAYERS: dict[str, type[LayerDef]] = {}

DEFAULT_OPSET = 18
_OPSET: ContextVar[int] = ContextVar("onnxbridge_spec_opset", default=DEFAULT_OPSET)


def current_opset() -> int:
    """The ONNX opset the spec being planned or lowered targets (for layers whose shapes depend on it)."""
    return _OPSET.get()


@contextmanager
def targeting_opset(opset: int) -> Iterator[None]:
    """Plan or lower layers for ``opset`` inside the block."""
    token = _OPSET.set(opset)
    try:
        yield
    finally:
        _OPSET.reset(token)


def register_layer(cls: type[LayerDef]) -> type[LayerDef]:
    """Class decorator adding a layer definition to the registry under its class name."""
    name = cls.type_name or cls.__name__
    if name in _LAYERS:
        raise ValueError(f"layer type {name!r} is registered twice ({_LAYERS[name].__module__} and {cls.__module__})")
    if not cls.family:
        raise ValueError(f"layer type {name!r} must set a family")
    cls.type_name = name
    _LAYERS[name] = cls
    return cls


def _load_catalogue() -> None:
    # importing the family modules registers their layers
    from onnxbridge.spec import layers  # noqa: F401


def get_layer(type_name: str) -> type[LayerDef] | None:
    """The definition registered under ``type_name``, or None."""
    _load_catalogue()
    return _LAYERS.get(type_name)


def all_layers() -> dict[str, type[LayerDef]]:
    """Every registered layer definition, by type name."""
    _load_catalogue()
    return dict(sorted(_LAYERS.items()))


def require_rank(x: TensorInfo, ranks: tuple[int, ...], layout: str, suggestion: str | None = None) -> None:
    """Raise a :class:`LayerShapeError` unless ``x`` has one of ``ranks`` (``layout`` names the dims)."""
    if x.rank not in ranks:
        raise LayerShapeError(f"needs {layout}", suggestion)


def got(x: TensorInfo) -> str:
    """A tensor's shape as error messages show it (what a layer got)."""
    return format_shape(x.shape)
