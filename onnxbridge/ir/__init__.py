"""Reading and writing ONNX models, and small graph helpers."""

from onnxbridge.ir.io import atomic_output_dir, atomic_write, load_model, save_model

__all__ = ["atomic_output_dir", "atomic_write", "load_model", "save_model"]
