"""The shared, safe source writer used by every code generator."""

from onnxbridge.codegen.writer import Code, NameScope, SourceWriter, call, ident, lit

__all__ = ["Code", "NameScope", "SourceWriter", "call", "ident", "lit"]
