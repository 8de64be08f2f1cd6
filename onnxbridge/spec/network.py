"""Building a spec from Python, the same document a YAML file holds.

Example::

    from onnxbridge.spec import Network

    net = Network("digits_cnn", inputs={"image": ["batch", 1, 8, 8]})
    net.add("Conv2d", id="conv1", out_channels=16, kernel_size=3, padding="same")
    net.add("ReLU")
    net.add("Flatten")
    net.add("Linear", id="fc", out_features=10)
    model = net.build(seed=0)          # an onnx.ModelProto
"""

from __future__ import annotations

from typing import Any

import onnx

from onnxbridge.spec.schema import BlockSpec, LayerSpec, Spec


class Network:
    """A mutable spec under construction; ``net.spec`` validates and returns the :class:`Spec`."""

    def __init__(self, name: str = "network", inputs: dict[str, list] | None = None, *,
                 dtypes: dict[str, str] | None = None, description: str | None = None):
        self.name = name
        self.description = description
        self._inputs = [{"name": n, "shape": list(s), "dtype": (dtypes or {}).get(n, "float32")}
                        for n, s in (inputs or {}).items()]
        self._layers: list[dict[str, Any]] = []
        self._blocks: dict[str, dict[str, Any]] = {}
        self._outputs: list[Any] = []
        self._counts: dict[str, int] = {}

    def input(self, name: str, shape: list, dtype: str = "float32") -> Network:
        """Add a graph input."""
        self._inputs.append({"name": name, "shape": list(shape), "dtype": dtype})
        return self

    def add(self, type: str, id: str | None = None, *, input: str | list[str] | None = None, **params: Any) -> str:
        """Append a layer (or block instance); returns its id (generated from the type when omitted)."""
        if id is None:
            n = self._counts.get(type, 0) + 1
            self._counts[type] = n
            id = f"{type.lower()}{n}"
        layer: dict[str, Any] = {"id": id, "type": type, **params}
        if input is not None:
            layer["input"] = input
        self._layers.append(layer)
        return id

    def block(self, name: str, layers: list[dict[str, Any]], *, params: dict[str, Any] | None = None,
              inputs: list[str] | None = None, outputs: list[str] | None = None, description: str | None = None) -> Network:
        """Define a reusable block (use ``name`` as a layer type afterwards)."""
        self._blocks[name] = BlockSpec(params=params or {}, inputs=inputs or ["x"],
                                       layers=[LayerSpec.model_validate(layer) for layer in layers],
                                       outputs=outputs, description=description).model_dump(by_alias=True, exclude_none=True)
        return self

    def output(self, name: str, source: str | None = None) -> Network:
        """Declare a graph output ``name`` taken from layer ``source`` (default: a layer called ``name``)."""
        self._outputs.append({"name": name, "from": source or name})
        return self

    @property
    def spec(self) -> Spec:
        """The spec document built so far."""
        from onnxbridge.spec.io import spec_from_dict

        data: dict[str, Any] = {"name": self.name, "inputs": self._inputs, "layers": self._layers}
        if self.description:
            data["description"] = self.description
        if self._outputs:
            data["outputs"] = self._outputs
        if self._blocks:
            data["blocks"] = self._blocks
        return spec_from_dict(data, source=f"Network({self.name!r})")

    def build(self, *, seed: int = 0) -> onnx.ModelProto:
        """Validate, infer shapes and lower to ONNX."""
        from onnxbridge.spec.pipeline import build

        return build(self.spec, seed=seed)
