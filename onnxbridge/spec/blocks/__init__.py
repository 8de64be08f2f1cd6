"""Built-in blocks: parameterised sub-networks generated from their parameters and input shapes.

A built-in block is a factory that returns a :class:`BlockSpec` — the same thing a user writes under
``blocks:`` in a spec — so built-in and user blocks are resolved, checked and lowered (to ONNX local
functions) by the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from onnxbridge.spec.params import LayerParams
from onnxbridge.spec.schema import BlockSpec
from onnxbridge.spec.types import TensorInfo


@dataclass(frozen=True)
class BuiltinBlock:
    """A registered built-in block: its parameter model and its factory."""

    name: str
    Params: type[LayerParams]
    build: Callable[[LayerParams, list[TensorInfo]], BlockSpec]
    description: str
    example_params: tuple[dict, ...] = ({},)
    example_inputs: tuple[TensorInfo, ...] = (TensorInfo(("batch", 8, 8, 8)),)


_BLOCKS: dict[str, BuiltinBlock] = {}


def register_block(name: str, params: type[LayerParams], *, examples: tuple[dict, ...] = ({},),
                   example_inputs: tuple[TensorInfo, ...] = (TensorInfo(("batch", 8, 8, 8)),)
                   ) -> Callable[[Callable], Callable]:
    """Decorator registering a built-in block factory ``(params, input_infos) -> BlockSpec``."""

    def decorate(fn: Callable) -> Callable:
        if name in _BLOCKS:
            raise ValueError(f"built-in block {name!r} is registered twice")
        _BLOCKS[name] = BuiltinBlock(name, params, fn, (fn.__doc__ or "").strip().splitlines()[0],
                                     examples, example_inputs)
        return fn

    return decorate


def get_block(name: str) -> BuiltinBlock | None:
    """The built-in block registered under ``name``, or None."""
    from onnxbridge.spec.blocks import builtin  # noqa: F401  (registers the blocks)

    return _BLOCKS.get(name)


def all_blocks() -> dict[str, BuiltinBlock]:
    """Every built-in block, by name."""
    from onnxbridge.spec.blocks import builtin  # noqa: F401

    return dict(sorted(_BLOCKS.items()))
