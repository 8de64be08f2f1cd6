"""TensorFlow/Keras -> ONNX with tf2onnx, verified against the native model.

Sources: a live Keras model, a ``.keras`` file (loaded with ``safe_mode=True``: no arbitrary code), a
legacy ``.h5`` file, or a SavedModel directory (its serving signature is converted). The model is traced
as a ``tf.function`` with an input signature taken from the model (batch dim symbolic) and converted
with ``tf2onnx.convert.from_function``; ``tf2onnx.convert.from_keras`` does not work with Keras 3.

Example::

    result = import_to_onnx(keras_model)
    result.onnx_model, result.checks          # the ONNX model and its parity against Keras
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from onnxbridge.errors import ModelLoadError, OnnxBridgeError
from onnxbridge.frameworks.base import ConversionResult
from onnxbridge.frameworks.tensorflow.lazy import import_tensorflow
from onnxbridge.frameworks.tensorflow.origin import origin_doc
from onnxbridge.frameworks.tensorflow.safe_load import family_of, keras_archive_refs, side_effect_ops
from onnxbridge.frameworks.tensorflow.tidy_names import name_layer_weights
from onnxbridge.frameworks.tensorflow.zero_biases import restore_zero_biases, zero_biases
from onnxbridge.ir.layout_folds import fold_conv1d, fold_transpose_pairs
from onnxbridge.ir.norm_folds import fold_layer_norm
from onnxbridge.testing import DEFAULT_ATOL, DEFAULT_RTOL, check_parity, random_inputs

HOP = "TensorFlow -> ONNX"
BATCH_DIM = "batch"
DEFAULT_OPSET = 18


def _tensorflow() -> Any:
    return import_tensorflow(with_tf2onnx=True)


# -- loading -----------------------------------------------------------------------------------------
def check_source_path(source: Any) -> None:
    """The checks on a file source that need no TensorFlow (missing, empty), so a mistyped path is
    reported at once instead of after importing TensorFlow."""
    if not isinstance(source, (str, os.PathLike)):
        return
    path = Path(source)
    if not path.exists():
        raise ModelLoadError(f"{path}: no such file or directory", hint="check the path")
    if path.is_file() and path.stat().st_size == 0:
        raise ModelLoadError(f"{path}: the file is empty", hint="save the model again")


def load_tensorflow_source(source: Any, *, trust: bool = False) -> tuple[Any, str]:
    """A live Keras model or SavedModel object for ``source`` and a label for messages.

    A SavedModel whose graph reaches outside the computation (files, processes, Python, the network) is
    refused before anything in it runs, unless ``trust`` is set; so is a ``.keras`` archive with a layer that
    loads such a program from a path.
    """
    if not isinstance(source, (str, os.PathLike)):
        return source, type(source).__name__
    check_source_path(source)
    path = Path(source)
    if path.is_dir():
        return _load_saved_model(path, trust), str(path)
    suffix = path.suffix.lower()
    if suffix == ".keras":
        if not zipfile.is_zipfile(path):
            raise ModelLoadError(f"{path}: not a Keras archive (.keras files are zip archives)",
                                 hint="the file may be truncated; save it again with model.save()")
        loaders = keras_archive_refs(path)
        if loaders and not trust:
            raise ModelLoadError(f"{path}: TFSMLayer layer(s) {', '.join(loaders)} load a SavedModel program from a path "
                                 "when the archive is opened", hint=_TRUST_HINT)
        return _load_keras(path), str(path)
    if suffix == ".h5":
        with open(path, "rb") as f:
            if f.read(8) != b"\x89HDF\r\n\x1a\n":
                raise ModelLoadError(f"{path}: not an HDF5 file", hint="save the model again")
        return _load_keras(path), str(path)
    raise ModelLoadError(f"{path}: unknown TensorFlow model format {suffix!r}",
                         hint="expected .keras, .h5 or a SavedModel directory")


def _load_keras(path: Path) -> Any:
    _tensorflow()
    import keras

    try:
        with _quiet():
            return keras.models.load_model(str(path), compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - every loader failure becomes one line
        raise ModelLoadError(f"{path}: cannot load the Keras model ({_first_line(exc)})",
                             hint="the file may be corrupt, or need custom layers (which safe mode refuses to "
                                  "run as code)") from None


_TRUST_HINT = ("onnxbridge does not run what a model file carries; if you trust where it came from, pass --trust "
               "(trust=True in Python)")


def _load_saved_model(path: Path, trust: bool) -> Any:
    if not (path / "saved_model.pb").exists():
        raise ModelLoadError(f"{path}: not a SavedModel directory (no saved_model.pb)",
                             hint="pass a SavedModel directory, a .keras or an .h5 file")
    tf = _tensorflow()
    if not trust:
        _refuse_side_effects(path)
    try:
        with _quiet():
            loaded = tf.saved_model.load(str(path))
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"{path}: cannot load the SavedModel ({_first_line(exc)})",
                             hint="the directory may be incomplete or corrupt") from None
    signatures = dict(getattr(loaded, "signatures", {}) or {})
    if not signatures:
        raise ModelLoadError(f"{path}: the SavedModel has no signatures, so its inputs are unknown",
                             hint="save it with tf.saved_model.save(obj, dir, signatures=...) or "
                                  "Keras model.export(dir)")
    return loaded


def _refuse_side_effects(path: Path) -> None:
    """Refuse a SavedModel whose functions touch files, processes, Python or the network (nothing runs)."""
    try:
        found = side_effect_ops(path)
    except Exception as exc:  # noqa: BLE001 - a protobuf that does not parse
        raise ModelLoadError(f"{path}: saved_model.pb is not a readable SavedModel ({_first_line(exc)})",
                             hint="the directory may be incomplete or corrupt") from None
    if found:
        listed = "; ".join(f"{op} ({family_of(op)}) in {', '.join(where[:3])}" for op, where in sorted(found.items()))
        raise ModelLoadError(f"{path}: the SavedModel's functions reach outside the computation, which would run "
                             f"while converting: {listed}", hint=_TRUST_HINT)


# -- the traced function and its input signature -----------------------------------------------------
class _Traceable:
    """A callable over positional tensors, its input specs and output names."""

    def __init__(self, fn: Callable, specs: list[Any], output_names: list[str] | None):
        self.fn = fn
        self.specs = specs
        self.output_names = output_names


def _keras_traceable(model: Any, example_inputs: Any, input_shapes: Mapping[str, Sequence] | None,
                     dynamic_batch: bool) -> _Traceable:
    tf = _tensorflow()
    inputs = getattr(model, "inputs", None)
    names: list[str] = []
    specs: list[Any] = []
    if inputs:
        for t in inputs:
            history = getattr(t, "_keras_history", None)
            layer_name = getattr(getattr(history, "operation", None), "name", None) or t.name
            names.append(layer_name)
            shape = list(t.shape)
            if input_shapes and layer_name in input_shapes:
                shape = _shape_of(input_shapes[layer_name])
            if dynamic_batch and shape:
                shape[0] = None
            specs.append(tf.TensorSpec(shape, tf.as_dtype(t.dtype), name=_safe_name(layer_name, len(specs))))
    elif example_inputs is not None:
        arrays = _as_list(example_inputs)
        for k, a in enumerate(arrays):
            a = np.asarray(a)
            shape = [None if (k2 == 0 and dynamic_batch) else d for k2, d in enumerate(a.shape)]
            specs.append(tf.TensorSpec(shape, tf.as_dtype(a.dtype), name=f"input_{k}"))
    elif input_shapes:
        for name, spec in input_shapes.items():
            shape = _shape_of(spec)
            if dynamic_batch and shape:
                shape[0] = None
            specs.append(tf.TensorSpec(shape, tf.as_dtype(getattr(spec, "dtype", "float32")),
                                       name=_safe_name(name, len(specs))))
    else:
        raise OnnxBridgeError(f"cannot tell the inputs of {type(model).__name__} (a subclassed model that was "
                              "never called)", hint="pass example_inputs or input shapes (--input NAME:SHAPE)")
    multi = len(specs) > 1

    def fn(*args: Any) -> Any:
        out = model(list(args) if multi else args[0], training=False)
        return tuple(tf.nest.flatten(out))

    output_names = list(getattr(model, "output_names", None) or [])
    return _Traceable(fn, specs, output_names or None)


def _signature_traceable(loaded: Any) -> _Traceable:
    tf = _tensorflow()
    signatures = loaded.signatures
    key = "serving_default" if "serving_default" in signatures else sorted(signatures)[0]
    sig = signatures[key]
    kwargs_specs = sig.structured_input_signature[1]
    names = sorted(kwargs_specs)
    specs = [tf.TensorSpec(kwargs_specs[n].shape, kwargs_specs[n].dtype, name=n) for n in names]
    out_names = sorted(sig.structured_outputs) if isinstance(sig.structured_outputs, dict) else None

    def fn(*args: Any) -> Any:
        out = sig(**dict(zip(names, args)))
        return tuple(tf.nest.flatten(out))

    return _Traceable(fn, specs, out_names)


def _shape_of(spec: Any) -> list[int | None]:
    """A shape from an :class:`InputSpec` or a sequence; named (symbolic) dims become None."""
    dims = getattr(spec, "shape", spec)
    return [int(d) if isinstance(d, (int, np.integer)) and d > 0 else None for d in dims]


def _signature_of_call(obj: Any) -> list | None:
    """The input signature of ``obj.__call__`` when it is a ``tf.function`` with one (a converted model)."""
    fn = vars(type(obj)).get("__call__")
    signature = getattr(fn, "input_signature", None)
    return list(signature) if signature else None


def _call_traceable(obj: Any) -> _Traceable:
    """A ``tf.Module`` whose ``__call__`` has an input signature, such as the objects this package makes."""
    tf = _tensorflow()
    specs = [tf.TensorSpec(t.shape, t.dtype, name=t.name or f"input_{k}")
             for k, t in enumerate(_signature_of_call(obj) or [])]

    def fn(*args: Any) -> Any:
        return tuple(tf.nest.flatten(obj(*args)))

    return _Traceable(fn, specs, None)


def _safe_name(name: str, index: int) -> str:
    clean = "".join(c if c.isalnum() or c in "_.-" else "_" for c in name)
    return clean or f"input_{index}"


def _as_list(example_inputs: Any) -> list[Any]:
    if isinstance(example_inputs, Mapping):
        return list(example_inputs.values())
    if isinstance(example_inputs, (list, tuple)):
        return list(example_inputs)
    return [example_inputs]


# -- conversion ---------------------------------------------------------------------------------------
def import_to_onnx(source: Any, *, example_inputs: Any = None, input_shapes: Mapping[str, Sequence] | None = None,
                   verify: bool = True, atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL,
                   opset: int | None = None, dynamic_batch: bool = True, seed: int = 0, trust: bool = False,
                   **options: Any) -> ConversionResult:
    """Convert a Keras model (live, ``.keras``, ``.h5``) or a SavedModel directory to ONNX, verified.

    The batch dim is symbolic (``batch``) unless ``dynamic_batch=False``; ``input_shapes`` overrides
    input shapes by input name; ``example_inputs`` (arrays) give the inputs of a subclassed model
    and are the verification inputs. Keras layers run with ``training=False``. A SavedModel with ops that
    touch files, processes, Python or the network is refused unless ``trust=True``.
    """
    unknown = sorted(k for k, v in options.items() if v not in (None, False))
    if unknown:
        raise OnnxBridgeError(f"option(s) {', '.join(unknown)} do not apply to TensorFlow sources")
    check_source_path(source)
    tf = _tensorflow()
    import tf2onnx

    obj, label = load_tensorflow_source(source, trust=trust)
    if hasattr(obj, "layers") and hasattr(obj, "inputs"):
        traceable = _keras_traceable(obj, example_inputs, input_shapes, dynamic_batch)
    elif _signature_of_call(obj) is not None:
        traceable = _call_traceable(obj)
    elif getattr(obj, "signatures", None):
        traceable = _signature_traceable(obj)
    else:
        traceable = _keras_traceable(obj, example_inputs, input_shapes, dynamic_batch)
    function = tf.function(traceable.fn, autograph=False)
    try:
        with _quiet(), _fusable_gru():
            model, _ = tf2onnx.convert.from_function(function, input_signature=traceable.specs,
                                                     opset=opset or DEFAULT_OPSET,
                                                     custom_op_handlers=CUSTOM_OP_HANDLERS)
    except OnnxBridgeError:
        raise
    except Exception as exc:  # noqa: BLE001 - tf2onnx failures are reported as one line
        raise OnnxBridgeError(f"{label}: tf2onnx could not convert the model ({type(exc).__name__}: "
                              f"{_first_line(exc)})", hint="the model may use ops tf2onnx does not support") from None
    _require_onnx_ops(model, label)
    _freeze_captures(model, function, traceable.specs)
    _tidy(model, traceable, dynamic_batch)
    _readable_names(model, obj)
    name_layer_weights(model)
    restore_zero_biases(model, zero_biases(obj))
    fold_layer_norm(model, [layer.name for layer in getattr(obj, "layers", [])])
    fold_conv1d(model)
    fold_transpose_pairs(model)
    model.graph.doc_string = origin_doc(source, obj)
    notes = [f"converted with tf2onnx {tf2onnx.__version__} (from_function, opset {opset or DEFAULT_OPSET})"]
    loops = sorted({n.op_type for n in model.graph.node if n.op_type in ("Loop", "Scan", "If")})
    if loops:
        notes.append(f"tf2onnx kept control flow in the graph ({', '.join(loops)}): it runs as a loop of small "
                     "ops, slower than a fused recurrent op")
    result = ConversionResult("onnx", model, model, notes=notes)
    if verify:
        feeds = None
        if example_inputs is not None:
            arrays = _as_list(example_inputs)
            names = [i.name for i in _real_inputs(model)]
            feeds = {n: np.asarray(a) for n, a in zip(names, arrays)}
        else:
            feeds = random_inputs(model, seed=seed)
        result.checks.append((HOP, check_parity(model, _native(traceable), inputs=feeds, atol=atol, rtol=rtol)))
    return result


def _erfc(ctx: Any, node: Any, name: str, args: Any) -> None:
    """``tf.math.erfc`` (Keras 3's exact GELU uses it; tf2onnx has no rule): ``1 - Erf(x)``."""
    from tf2onnx import utils

    node.type = "Erf"
    node.domain = ""
    dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(node.input[0]))
    one = ctx.make_const(utils.make_name(f"{name}_one"), np.array(1, dtype=dtype))
    sub = ctx.insert_new_node_on_output("Sub", node.output[0], name=utils.make_name(f"{name}_erfc"))
    ctx.replace_inputs(sub, [one.output[0], node.output[0]])


CUSTOM_OP_HANDLERS: dict[str, tuple[Callable[..., Any], list[Any]]] = {"Erfc": (_erfc, [])}


@contextlib.contextmanager
def _fusable_gru() -> Iterator[None]:
    """While tf2onnx traces the model, run Keras GRU layers with the step function tf2onnx recognises.

    Keras 3 computes a GRU step with slices and adds that tf2onnx's GRU rewriter does not match, so the
    recurrence would stay an ONNX Loop (which the PyTorch and TensorFlow exporters do not convert). The
    same arithmetic written the Keras 2 way (BiasAdd + Split, weights read outside the loop) becomes one
    ONNX GRU node with ``linear_before_reset=1``. Only the trace for tf2onnx is affected; the parity check
    runs the original layers, so an inexact rewrite would fail it.
    """
    from keras.src import backend

    original = getattr(backend, "gru", None)
    if original is None:  # another Keras version: leave its GRU alone (it may stay a Loop)
        yield
        return

    def gru(inputs, initial_state, mask, kernel, recurrent_kernel, bias, activation, recurrent_activation,
            return_sequences=False, go_backwards=False, unroll=False, time_major=False, reset_after=True):
        names = (getattr(activation, "__name__", ""), getattr(recurrent_activation, "__name__", ""))
        if mask is not None or unroll or time_major or not reset_after or bias is None or \
                names != ("tanh", "sigmoid"):
            raise NotImplementedError  # the layer falls back to its own loop
        return _keras2_gru(inputs, initial_state, kernel, recurrent_kernel, bias, return_sequences, go_backwards)

    backend.gru = gru
    try:
        yield
    finally:
        backend.gru = original


def _keras2_gru(inputs: Any, initial_state: Any, kernel: Any, recurrent_kernel: Any, bias: Any,
                return_sequences: bool, go_backwards: bool) -> Any:
    tf = _tensorflow()
    from keras.src.backend.tensorflow.rnn import rnn

    kernel, recurrent_kernel, bias = (tf.convert_to_tensor(getattr(v, "value", v))
                                      for v in (kernel, recurrent_kernel, bias))
    input_bias, recurrent_bias = tf.unstack(bias)

    def step(x: Any, states: list) -> tuple:
        h_tm1 = states[0]
        x_z, x_r, x_h = tf.split(tf.nn.bias_add(tf.matmul(x, kernel), input_bias), 3, axis=1)
        r_z, r_r, r_h = tf.split(tf.nn.bias_add(tf.matmul(h_tm1, recurrent_kernel), recurrent_bias), 3, axis=1)
        z = tf.sigmoid(x_z + r_z)
        r = tf.sigmoid(x_r + r_r)
        hh = tf.tanh(x_h + r * r_h)
        h = z * h_tm1 + (1 - z) * hh
        return h, [h]

    return rnn(step, inputs, [initial_state], go_backwards=go_backwards, return_all_outputs=return_sequences,
               input_length=inputs.shape[1])


def _require_onnx_ops(model: onnx.ModelProto, label: str) -> None:
    """tf2onnx leaves TensorFlow ops it cannot convert in the graph (and only logs): refuse that model."""
    from onnxbridge.errors import UnsupportedOpsError

    local = {(f.domain, f.name) for f in model.functions}
    missing: dict[str, list[str]] = {}
    for node in model.graph.node:
        if (node.domain, node.op_type) in local:
            continue
        if not onnx.defs.has(node.op_type, node.domain or ""):
            missing.setdefault(node.op_type, []).append(node.name or node.output[0])
    if missing:
        error = UnsupportedOpsError("ONNX (tf2onnx)", missing)
        error.message = f"{label}: " + error.message
        error.hint = "these TensorFlow ops have no ONNX conversion in tf2onnx"
        error.args = (error.message,)
        raise error


def _freeze_captures(model: onnx.ModelProto, function: Any, specs: list[Any]) -> None:
    """Constant tensors the traced function captured become initializers, not graph inputs.

    tf2onnx freezes captured variables but leaves captured constant tensors (e.g. the mean and variance a
    Keras ``Normalization`` layer was given, as in EfficientNetV2) as placeholders, which would make them
    inputs the user has to feed.
    """
    tf = _tensorflow()
    concrete = function.get_concrete_function(*specs)  # the trace tf2onnx converted (cached)
    captured = {internal.name: external for external, internal in concrete.graph.captures
                if external.dtype != tf.resource and hasattr(external, "numpy")}
    g = model.graph
    frozen = [i for i in g.input if i.name in captured]
    for vi in frozen:
        g.initializer.append(onnx.numpy_helper.from_array(np.asarray(captured[vi.name].numpy()), vi.name))
        g.input.remove(vi)


def _native(traceable: _Traceable) -> Callable:
    """The original model as a plain callable over numpy arrays (the parity reference)."""
    tf = _tensorflow()

    def run(*arrays: np.ndarray) -> list[np.ndarray]:
        outs = traceable.fn(*[tf.convert_to_tensor(a) for a in arrays])
        return [np.asarray(o) for o in outs]

    return run


def _real_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    inits = {i.name for i in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


def _tidy(model: onnx.ModelProto, traceable: _Traceable, dynamic_batch: bool) -> None:
    """Readable names: outputs named like the Keras outputs, the symbolic batch dim called ``batch``."""
    g = model.graph
    names = traceable.output_names
    if names and len(names) == len(g.output):
        taken = {i.name for i in g.input} | {i.name for i in g.initializer} | {n for node in g.node for n in node.output}
        mapping = {}
        for out, name in zip(g.output, names):
            clean = _safe_name(name, 0)
            if clean not in taken or clean == out.name:
                mapping[out.name] = clean
                taken.add(clean)
        _rename(model, mapping)
    if dynamic_batch:
        batch_params = {i.type.tensor_type.shape.dim[0].dim_param for i in _real_inputs(model)
                        if i.type.tensor_type.shape.dim and i.type.tensor_type.shape.dim[0].dim_param}
        for vi in list(g.input) + list(g.output) + list(g.value_info):
            for d in vi.type.tensor_type.shape.dim:
                if d.dim_param in batch_params:
                    d.dim_param = BATCH_DIM


_CALL_WRAPPER = re.compile(r"^(Stateful)?PartitionedCall(_\d+)?$")
_TRACE_DOC = re.compile(r"^converted from b?['\"]__inference_")


def _readable_names(model: onnx.ModelProto, source: Any) -> None:
    """Node names without what TensorFlow and Keras put around a layer's path; no tf2onnx trace text.

    tf2onnx names a node by its TensorFlow op path: ``StatefulPartitionedCall/model_1/stem_1/convolution``
    for a SavedModel's serving function, ``model_1/stem_1/convolution`` for a Keras model (Keras 3 scopes
    each layer as ``<name>_1`` inside the model's ``<name>_1``). Generated code names its modules and
    variables after these paths, so they become ``stem/convolution``. The graph takes the Keras model's
    name, and tf2onnx's doc string (``converted from b'__inference_fn_180'``) goes.
    """
    g = model.graph
    if _TRACE_DOC.match(g.doc_string):
        g.doc_string = ""
    name = getattr(source, "name", None) if hasattr(source, "layers") else None
    if isinstance(name, str) and name.isidentifier() and g.name == "tf2onnx":
        g.name = name
    paths = []
    for node in g.node:
        parts = node.name.split("/")
        while len(parts) > 1 and _CALL_WRAPPER.match(parts[0]):
            parts.pop(0)
        paths.append(parts)
    firsts = {p[0] for p in paths if len(p) > 2}
    model_scope = next(iter(firsts)) if len(firsts) == 1 else None  # every layer path starts with it
    pattern = rf"{re.escape(name)}(_\d+)?" if name else r".+_\d+"  # a SavedModel: Keras' scope of its model
    if model_scope is not None and not re.fullmatch(pattern, model_scope):
        model_scope = None  # one layer holding every other one: its name is worth keeping
    scope_names = {p[1] if model_scope is not None and len(p) > 2 and p[0] == model_scope else p[0]
                   for p in paths if len(p) > 1}
    scopes = _layer_scopes(scope_names, _keras_layer_names(source))

    def readable(parts: list[str]) -> str:
        if model_scope is not None and len(parts) > 2 and parts[0] == model_scope:
            parts = parts[1:]
        return "/".join([scopes.get(parts[0], parts[0])] + parts[1:]) if len(parts) > 1 else parts[0]

    taken = {n.name for n in g.node}
    for node, parts in zip(g.node, paths):
        new = readable(parts)
        if new != node.name and new not in taken:
            taken.add(new)
            node.name = new
    # the values too (weights are saved under their names): graph inputs and outputs keep theirs
    fixed = {v.name for v in list(g.input) + list(g.output)}
    values = [i.name for i in g.initializer] + [o for n in g.node for o in n.output]
    taken, mapping = set(fixed) | set(values), {}
    for value in values:
        parts = value.split("/")
        while len(parts) > 1 and _CALL_WRAPPER.match(parts[0]):
            parts.pop(0)
        new = readable(parts)
        if value not in fixed and new != value and new not in taken:
            taken.add(new)
            mapping[value] = new
    _rename(model, mapping)
    for init in g.initializer:
        init.name = mapping.get(init.name, init.name)


def _layer_scopes(scopes: set[str], layer_names: set[str]) -> dict[str, str]:
    """Keras 3 scope names -> layer names: a layer's scope is its name made unique with ``_<n>``
    (``stem`` -> ``stem_1``; ``dense_1`` -> ``dense_1_2`` when ``dense`` took ``dense_1``).

    With the layers' names known, a scope is the longest name it extends; without them (a SavedModel),
    the suffix is dropped when every scope has one.
    """
    if layer_names:
        out = {}
        for scope in scopes:
            owners = [n for n in layer_names if re.fullmatch(rf"{re.escape(n)}_\d+", scope)]
            if owners:
                out[scope] = max(owners, key=len)
        return out
    if scopes and all(re.search(r".+_\d+$", s) for s in scopes):
        return {s: s.rsplit("_", 1)[0] for s in scopes}
    return {}


def _keras_layer_names(source: Any) -> set[str]:
    """The names of a Keras model's layers, nested models' layers included (none for other objects)."""
    names: set[str] = set()
    stack, seen = list(getattr(source, "layers", None) or []), set()
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if isinstance(getattr(layer, "name", None), str):
            names.add(layer.name)
        stack.extend(getattr(layer, "layers", None) or [])
    return names


def _rename(model: onnx.ModelProto, mapping: dict[str, str]) -> None:
    if not mapping:
        return
    g = model.graph
    for node in g.node:
        for k, n in enumerate(node.output):
            if n in mapping:
                node.output[k] = mapping[n]
        for k, n in enumerate(node.input):
            if n in mapping:
                node.input[k] = mapping[n]
    for vi in list(g.output) + list(g.value_info):
        if vi.name in mapping:
            vi.name = mapping[vi.name]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence tf2onnx/TensorFlow chatter (they log at INFO and print to stdout)."""
    loggers = [logging.getLogger(n) for n in ("tf2onnx", "tensorflow", "absl")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
