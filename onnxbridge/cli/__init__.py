"""The ``onnxbridge`` command line: a thin shell over the Python API (no logic lives here)."""
