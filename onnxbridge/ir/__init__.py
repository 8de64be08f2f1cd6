"""The hub: ONNX models read and written, and the graph layer every spoke uses.

- :mod:`.io` loads and saves models (external data checked, atomic writes);
- :mod:`.conventions` the project's ONNX conventions (:data:`BLOCKS_DOMAIN`, domain spelling, opsets);
- :mod:`.dtypes` the one table of element types; :mod:`.types` tensor types and shape inference;
- :mod:`.nodes` one node's attributes, inputs and subgraphs; :mod:`.traversal` producers, consumers and
  topological order;
- :mod:`.symbolic`, :mod:`.view`, :mod:`.folding`, :mod:`.liveness`, :mod:`.plan` the views code generators
  work on (what is known about each value at conversion time, which nodes must write code);
- :mod:`.naming` readable names from exporter metadata; :mod:`.semantics` ONNX rules both bridges share
  (padding, broadcasting, axes).
"""

from onnxbridge.ir.conventions import BLOCKS_DOMAIN
from onnxbridge.ir.io import atomic_output_dir, atomic_write, load_model, save_model
from onnxbridge.ir.nodes import node_inputs

__all__ = ["BLOCKS_DOMAIN", "atomic_output_dir", "atomic_write", "load_model", "node_inputs", "save_model"]
