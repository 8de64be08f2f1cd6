"""Framework bridges. Each framework folder has the same files:

- ``importer.py``  framework model -> ONNX
- ``exporter.py``  ONNX -> live framework object (through the generated source)
- ``codegen.py``   ONNX -> readable framework source (``model.py``)
- ``ops/<family>.py`` one converter per ONNX op, registered in the framework's :class:`OpRegistry`

torch and tensorflow are imported only inside their own folder, so the core works without them.
"""
