"""Parameter types shared by layer definitions, with error messages that say what is allowed."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


class LayerParams(BaseModel):
    """Base of every layer's parameter model: unknown parameters are errors, values are checked."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _int_or_tuple(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected an integer or a list of integers")
    if isinstance(value, int):
        return value
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return tuple(value)
    raise ValueError("expected an integer or a list of integers")


def _positive(value: Any) -> Any:
    values = value if isinstance(value, tuple) else (value,)
    if any(v < 1 for v in values):
        raise ValueError("expected positive integers")
    return value


def _non_negative(value: Any) -> Any:
    values = value if isinstance(value, tuple) else (value,)
    if any(v < 0 for v in values):
        raise ValueError("expected integers >= 0")
    return value


IntOrTuple = Union[int, tuple[int, ...]]
#: kernel sizes, strides, dilations: a positive int or one per spatial dim
PositiveInts = Annotated[IntOrTuple, BeforeValidator(lambda v: _positive(_int_or_tuple(v)))]
#: explicit paddings: an int >= 0 or one per spatial dim (or begin/end pairs: 2 per dim)
NonNegativeInts = Annotated[IntOrTuple, BeforeValidator(lambda v: _non_negative(_int_or_tuple(v)))]
#: convolution padding: explicit numbers, or "same" / "valid"
Padding = Union[Literal["same", "valid"], NonNegativeInts]

Activation = Literal["relu", "leaky_relu", "elu", "gelu", "silu", "sigmoid", "tanh", "hardswish", "none"]

Probability = Annotated[float, Field(ge=0.0, lt=1.0)]


def expand(value: IntOrTuple, n: int, what: str) -> tuple[int, ...]:
    """``3`` -> ``(3, 3)`` for n=2; a tuple must already have n items."""
    if isinstance(value, int):
        return (value,) * n
    if len(value) != n:
        raise ValueError(f"{what} needs {n} value(s), one per spatial dimension, got {list(value)}")
    return tuple(value)
