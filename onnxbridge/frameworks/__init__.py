"""Framework bridges.

Each framework folder has the same files:

- ``bridge.py``    the framework behind :class:`onnxbridge.frameworks.base.Bridge` (what the rest of the
  package knows about it), registered in :mod:`onnxbridge.frameworks.bridges`
- ``importer.py``  framework model -> ONNX
- ``exporter.py``  ONNX -> live framework object (through the generated source)
- ``codegen.py``   ONNX -> readable framework source (``model.py``), driving the converters
- ``context.py``   what a converter sees: the shared :class:`~onnxbridge.frameworks.context.ConverterContext`
  reading API plus the framework's code-writing calls
- ``registry.py``  the framework's :class:`~onnxbridge.frameworks.registry.OpRegistry`
- ``ops/<family>.py`` one converter per ONNX op, ``convert(ctx)``, registered at the opset it is valid from

The graph analysis they share (views, folding, liveness, naming, ONNX semantics) lives in :mod:`onnxbridge.ir`.
torch and tensorflow are imported only inside their own folder (ruff's banned-api rule enforces it), so the
core works without them.
"""
