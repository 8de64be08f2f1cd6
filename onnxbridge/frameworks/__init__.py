"""Framework bridges. Each framework folder has the same files:

- ``bridge.py``    the framework behind :class:`onnxbridge.frameworks.base.Bridge` (what the rest of the
  package knows about it), registered in :mod:`onnxbridge.frameworks.bridges`
- ``importer.py``  framework model -> ONNX
- ``exporter.py``  ONNX -> live framework object (through the generated source)
- ``codegen.py``   ONNX -> readable framework source (``model.py``)
- ``ops/<family>.py`` one converter per ONNX op, registered in the framework's :class:`OpRegistry`

torch and tensorflow are imported only inside their own folder (ruff's banned-api rule enforces it), so the
core works without them.
"""
