"""The TensorFlow/Keras bridge: Keras models and SavedModels to ONNX (tf2onnx), and ONNX to a live
``tf.Module``, a SavedModel and readable Keras 3 source with our own converter.

TensorFlow is imported only inside :mod:`.importer` and :mod:`.exporter` functions; code generation
(:mod:`.codegen`, the op registry) works without it.
"""
