"""The PyTorch bridge: PyTorch -> ONNX (``importer``) and ONNX -> PyTorch (``exporter``, ``codegen``).

ONNX -> PyTorch is our own converter: ``codegen`` writes a readable ``model.py`` (one ``nn.Module``
class per graph and per block function) from converters registered per op in ``ops/<family>.py``;
``exporter`` runs that source to get the live module, so the live module and the file are the same code.
"""
