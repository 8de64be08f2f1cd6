"""Parity helpers: run onnxruntime and a converted model on the same inputs and compare every output.

This is the single numeric oracle of onnxbridge: every conversion test and every CLI conversion uses it.

Example::

    from onnxbridge.testing import check_parity
    report = check_parity(onnx_model, torch_module)     # random inputs made from the model's inputs
    assert report.ok, report.summary()
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from onnxbridge.ir.dtypes import numpy_dtype

DEFAULT_ATOL = 1e-4
DEFAULT_RTOL = 1e-3
DEFAULT_BATCH = 2
DEFAULT_DIM = 5  # value for symbolic dims other than the batch (e.g. sequence length)


@dataclass
class OutputParity:
    """How one output of a candidate compares with onnxruntime's."""

    name: str
    max_abs: float
    max_rel: float
    ok: bool
    expected_shape: tuple[int, ...]
    actual_shape: tuple[int, ...] | None
    note: str = ""


@dataclass
class ParityReport:
    """Per-output comparison; ``ok`` when every output is within ``atol + rtol * |expected|``."""

    outputs: list[OutputParity] = field(default_factory=list)
    atol: float = DEFAULT_ATOL
    rtol: float = DEFAULT_RTOL

    @property
    def ok(self) -> bool:
        """Whether there was at least one output and every output matched within tolerance."""
        return bool(self.outputs) and all(o.ok for o in self.outputs)

    @property
    def worst(self) -> OutputParity | None:
        """The failing output with the largest error, or the largest error overall."""
        if not self.outputs:
            return None
        failing = [o for o in self.outputs if not o.ok]
        return max(failing or self.outputs, key=lambda o: (o.max_abs if np.isfinite(o.max_abs) else np.inf))

    @property
    def max_abs(self) -> float:
        """The largest absolute difference over all outputs (0.0 when there are none)."""
        return max((o.max_abs for o in self.outputs), default=0.0)

    def summary(self) -> str:
        """One line: 'parity ok: max abs 3.1e-07 over 2 outputs' or which output broke and by how much."""
        if not self.outputs:
            return "parity not checked: no outputs"
        w = self.worst
        assert w is not None  # there are outputs
        if self.ok:
            return f"parity ok: max abs error {self.max_abs:.2e} over {len(self.outputs)} output(s) (atol {self.atol:g}, rtol {self.rtol:g})"
        extra = f" ({w.note})" if w.note else ""
        return (f"parity FAILED: output {w.name!r} max abs error {w.max_abs:.3g}, max rel {w.max_rel:.3g}"
                f" (atol {self.atol:g}, rtol {self.rtol:g}){extra}")

    def to_dict(self) -> dict:
        """The report as JSON data: verdict, tolerances and each output's differences and shapes."""
        return {
            "ok": self.ok, "atol": self.atol, "rtol": self.rtol,
            "outputs": [
                {"name": o.name, "max_abs": o.max_abs, "max_rel": o.max_rel, "ok": o.ok,
                 "expected_shape": list(o.expected_shape),
                 "actual_shape": None if o.actual_shape is None else list(o.actual_shape), "note": o.note}
                for o in self.outputs
            ],
        }


def _random_dtype(elem: int) -> type | None:
    """The numpy type random inputs of an element type are made in (None: not one we make)."""
    dtype = numpy_dtype(elem)
    return dtype.type if dtype is not None and dtype.kind in "fiub" and dtype.itemsize <= 8 else None


def graph_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    """The real inputs of the graph (inputs that are not also initializers)."""
    inits = {i.name for i in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


def random_inputs(model: onnx.ModelProto, *, batch: int = DEFAULT_BATCH, dims: Mapping[str, int] | None = None,
                  shapes: Mapping[str, Sequence[int]] | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs for every graph input, made from its type and shape.

    Symbolic dims: the first dim takes ``batch``; others take ``dims[name]`` or 5. Integer inputs that
    index a constant table (Gather on an initializer, e.g. token ids into an embedding) stay in range.
    ``shapes`` overrides whole shapes per input name.
    """
    from onnxbridge.errors import InputDataError
    from onnxbridge.limits import check_memory
    from onnxbridge.spec.lower import check_seed

    check_seed(seed)
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise InputDataError(f"batch {batch!r} is not a positive integer", hint="use a batch such as --batch 2")
    rng = np.random.default_rng(seed)
    dims = dict(dims or {})
    shapes = dict(shapes or {})
    bounds = _index_bounds(model)
    planned: list[tuple[str, tuple[int, ...], type]] = []
    for vi in graph_inputs(model):
        tt = vi.type.tensor_type
        dtype = _random_dtype(tt.elem_type)
        if dtype is None:
            known = tt.elem_type in TensorProto.DataType.values()
            raise InputDataError(f"input {vi.name!r}: cannot generate data of type "
                                 f"{TensorProto.DataType.Name(tt.elem_type) if known else tt.elem_type}",
                                 hint="give the inputs yourself (inputs={...})")
        if vi.name in shapes:
            shape = tuple(int(d) for d in shapes[vi.name])
        else:
            shape = tuple(_concrete_dim(d, axis, batch, dims) for axis, d in enumerate(tt.shape.dim))
        if any(d < 0 for d in shape):
            raise InputDataError(f"input {vi.name!r}: shape {list(shape)} has a negative dimension",
                                 hint="fix the model's input shape")
        planned.append((vi.name, shape, dtype))
    # the arrays are drawn in float64 (or int64) before the cast: 8 bytes a value while one is drawn
    sizes = {name: int(np.prod(shape, dtype=object)) for name, shape, _ in planned}
    needed = sum(sizes[n] * np.dtype(t).itemsize for n, _, t in planned) + 8 * max(sizes.values(), default=0)
    if needed:
        shown = ", ".join(f"{n} {list(s)}" for n, s, _ in planned[:3]) + (", ..." if len(planned) > 3 else "")
        check_memory(needed, f"making the random inputs ({shown})", hint="use a smaller --batch or smaller dimensions")
    feeds: dict[str, np.ndarray] = {}
    for vi_name, shape, dtype in planned:
        if np.issubdtype(dtype, np.floating):
            data: np.ndarray = rng.standard_normal(shape).astype(dtype)
        elif dtype is np.bool_:
            data = rng.integers(0, 2, shape).astype(np.bool_)
        else:
            high = bounds.get(vi_name, 10)
            data = rng.integers(0, max(high, 1), shape).astype(dtype)
        feeds[vi_name] = data
    return feeds


def _concrete_dim(d: onnx.TensorShapeProto.Dimension, axis: int, batch: int, dims: Mapping[str, int]) -> int:
    if d.HasField("dim_value") and d.dim_value > 0:
        return int(d.dim_value)
    if d.dim_param in dims:
        return int(dims[d.dim_param])
    return batch if axis == 0 else DEFAULT_DIM


def _index_bounds(model: onnx.ModelProto) -> dict[str, int]:
    """For inputs used as Gather indices into a constant table: the table's size along the axis."""
    inits = {i.name: i for i in model.graph.initializer}
    bounds: dict[str, int] = {}
    for node in model.graph.node:
        if node.op_type == "Gather" and len(node.input) == 2 and node.input[0] in inits:
            axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
            table = inits[node.input[0]].dims
            if not -len(table) <= axis < len(table):  # an invalid model: onnxruntime will say so
                continue
            size = table[axis]
            bounds[node.input[1]] = min(bounds.get(node.input[1], size), size)
    # indices often pass through a Cast first (tf2onnx); follow one Cast/Identity hop back to the input
    producers = {o: n for n in model.graph.node for o in n.output}
    for name, size in list(bounds.items()):
        node = producers.get(name)
        if node is not None and node.op_type in ("Cast", "Identity") and node.input:
            bounds[node.input[0]] = min(bounds.get(node.input[0], size), size)
    return bounds


def run_onnxruntime(model: onnx.ModelProto, inputs: Mapping[str, np.ndarray], *,
                    providers: Sequence[str] = ("CPUExecutionProvider",)) -> list[np.ndarray]:
    """Run ``model`` in onnxruntime and return its outputs in graph order."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 4  # failures surface as exceptions; keep stderr for the user
    session = onnxruntime_session(model, opts, providers=providers)
    names = [i.name for i in session.get_inputs()]
    try:
        return session.run(None, {n: inputs[n] for n in names})
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
        raise _refused("run", exc) from None


def onnxruntime_session(model: onnx.ModelProto, options: Any = None, *,
                        providers: Sequence[str] = ("CPUExecutionProvider",)) -> Any:
    """An ``onnxruntime.InferenceSession`` for ``model``, also for models over protobuf's 2 GiB limit.

    A large model's weights are written once to a temporary external-data file for onnxruntime to read,
    and put back into ``model`` afterwards (so it is unchanged, and never held twice). A model onnxruntime
    refuses raises :class:`onnxbridge.errors.RuntimeRefusedError` with its reason.
    """
    import onnxruntime as ort

    from onnxbridge.errors import RuntimeRefusedError
    from onnxbridge.ir.io import fits_in_protobuf
    from onnxbridge.ir.opsets import missing_ops

    missing = missing_ops(model)
    if missing:  # onnxruntime would crash on one inside a function: refuse them all here
        where, op, opset, since = missing[0]
        has = f"it exists from opset {since}" if since else "ONNX does not define it"
        raise RuntimeRefusedError(f"{where} uses {op}, which opset {opset} does not have ({has})",
                                  hint="run 'onnxbridge check --fix' on it, or raise the model's opset")
    if fits_in_protobuf(model):
        try:
            return ort.InferenceSession(model.SerializeToString(), options, providers=list(providers))
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
            raise _refused("load", exc) from None
    return _session_through_disk(model, options, providers)


def _session_through_disk(model: onnx.ModelProto, options: Any, providers: Sequence[str]) -> Any:
    """The session of a model over 2 GiB: written to a temporary folder (``TMPDIR``), removed afterwards."""
    import tempfile

    try:
        scratch = tempfile.TemporaryDirectory(prefix="onnxbridge-ort-")
    except OSError as exc:
        raise _scratch_error(exc, Path(tempfile.gettempdir()) / "onnxbridge-ort-*") from None
    with scratch as tmp:
        return session_from_files(model, Path(tmp), options, providers=providers)


def session_from_files(model: onnx.ModelProto, folder: Path, options: Any = None, *,
                       providers: Sequence[str] = ("CPUExecutionProvider",)) -> Any:
    """An ``onnxruntime.InferenceSession`` of ``model`` written into the empty ``folder`` with its weights as
    external data (how onnxruntime reads a model over protobuf's 2 GiB limit); ``model`` is left as it was.

    A failure to write the copy (a full disk) raises :class:`onnxbridge.errors.OutputError` naming the file;
    the caller removes ``folder``.
    """
    import onnxruntime as ort

    moved: list[tuple[onnx.TensorProto, bytes]] = []
    target = folder / "weights.data"
    try:
        try:
            with open(target, "wb") as f:
                for tensor in model.graph.initializer:
                    if len(tensor.raw_data) < 1024:
                        continue
                    data = tensor.raw_data
                    offset = f.tell()
                    f.write(data)
                    moved.append((tensor, data))
                    tensor.ClearField("raw_data")
                    tensor.data_location = TensorProto.EXTERNAL
                    for key, value in (("location", "weights.data"), ("offset", str(offset)),
                                       ("length", str(len(data)))):
                        entry = tensor.external_data.add()
                        entry.key, entry.value = key, value
            target = folder / "model.onnx"
            target.write_bytes(model.SerializeToString())
        except OSError as exc:
            raise _scratch_error(exc, target) from None
        try:
            return ort.InferenceSession(str(folder / "model.onnx"), options, providers=list(providers))
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
            raise _refused("load", exc) from None
    finally:
        for tensor, data in moved:
            del tensor.external_data[:]
            tensor.data_location = TensorProto.DEFAULT
            tensor.raw_data = data


def _scratch_error(exc: OSError, path: Path) -> Exception:
    """The one-line error for a failure to write onnxruntime's temporary copy of a large model at ``path``."""
    from onnxbridge.errors import OutputError
    from onnxbridge.ir.io import write_failure

    failure = write_failure(exc)
    if failure is None:
        return exc
    what, _ = failure
    return OutputError(f"{path}: cannot write the temporary copy onnxruntime reads a model over 2 GiB from: {what} "
                       "(the copy was removed)",
                       hint=f"free some space in {path.parent.parent}, or set TMPDIR to a folder with room")


def _refused(what: str, exc: BaseException) -> Exception:
    from onnxbridge.errors import RuntimeRefusedError

    text = str(exc).strip().splitlines()
    return RuntimeRefusedError(f"onnxruntime cannot {what} the model: {text[0][:300] if text else type(exc).__name__}",
                               hint="run 'onnxbridge check' on it")


def as_numpy(value: object) -> np.ndarray:
    """Turn a torch tensor, TF tensor, numpy array or scalar into a numpy array; strings (TensorFlow gives
    UTF-8 bytes) come back as ``str`` objects, as onnxruntime gives them."""
    if hasattr(value, "detach"):  # torch.Tensor
        from onnxbridge.frameworks.torch.arrays import numpy_from_tensor

        return numpy_from_tensor(value)
    if hasattr(value, "numpy"):  # tf.Tensor / EagerTensor
        array = np.asarray(value.numpy())
        if array.dtype.kind in "OS":  # a 0-d string comes back as a bytes scalar
            array = np.asarray(array, dtype=object)
            if array.size:
                array = np.vectorize(lambda v: v.decode("utf-8") if isinstance(v, bytes) else v,
                                     otypes=[object])(array)
        return array
    return np.asarray(value)


def run_candidate(candidate: Callable, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Call a converted model positionally and return its outputs as numpy arrays.

    A framework's model is called through its bridge (:meth:`Bridge.call
    <onnxbridge.frameworks.base.Bridge.call>`: a torch module gets torch tensors on its device, under
    no_grad); anything else (a plain function) gets the numpy arrays.
    """
    from onnxbridge.frameworks.bridges import bridge_of

    bridge = bridge_of(candidate)
    result = bridge.call(candidate, inputs) if bridge is not None else candidate(*inputs)
    if isinstance(result, dict):
        result = list(result.values())
    if not isinstance(result, (list, tuple)):
        result = [result]
    return [as_numpy(r) for r in result]


def compare_outputs(expected: Sequence[np.ndarray], actual: Sequence[np.ndarray], names: Sequence[str], *,
                    atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL) -> ParityReport:
    """Compare two lists of outputs element-wise; shapes and dtypes kinds must match."""
    report = ParityReport(atol=atol, rtol=rtol)
    if len(actual) != len(expected):
        report.outputs.append(OutputParity(
            name="<outputs>", max_abs=float("inf"), max_rel=float("inf"), ok=False,
            expected_shape=(len(expected),), actual_shape=(len(actual),),
            note=f"expected {len(expected)} outputs, got {len(actual)}"))
        return report
    for name, e, a in zip(names, expected, actual):
        e = np.asarray(e)
        a = np.asarray(a)
        if e.shape != a.shape:
            report.outputs.append(OutputParity(name, float("inf"), float("inf"), False, e.shape, a.shape,
                                               note=f"shape {list(a.shape)} instead of {list(e.shape)}"))
            continue
        if e.dtype == object or a.dtype == object:  # strings: equal or not
            same = e.shape == a.shape and bool(np.all(e.astype(str) == a.astype(str)))
            report.outputs.append(OutputParity(name, 0.0 if same else float("inf"), 0.0 if same else float("inf"),
                                               same, e.shape, a.shape, note="" if same else "different strings"))
            continue
        if e.dtype == np.bool_ or a.dtype == np.bool_:
            e, a = e.astype(np.int8), a.astype(np.int8)
        e64, a64 = e.astype(np.float64), a.astype(np.float64)
        both_nan = np.isnan(e64) & np.isnan(a64)
        same_inf = np.isinf(e64) & (e64 == a64)
        diff = np.where(both_nan | same_inf, 0.0, np.abs(e64 - a64))
        diff = np.where(np.isnan(diff), np.inf, diff)
        max_abs = float(diff.max()) if diff.size else 0.0
        rel = diff / np.maximum(np.abs(e64), 1e-12)
        max_rel = float(rel.max()) if rel.size else 0.0
        ok = bool(np.all(diff <= atol + rtol * np.abs(np.where(np.isfinite(e64), e64, 0.0))))
        report.outputs.append(OutputParity(name, max_abs, max_rel, ok, e.shape, a.shape))
    return report


def check_parity(model: onnx.ModelProto, candidate: Callable, *, inputs: Mapping[str, np.ndarray] | None = None,
                 atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL, seed: int = 0,
                 batch: int = DEFAULT_BATCH, dims: Mapping[str, int] | None = None,
                 input_transform: Callable[[list[np.ndarray]], list[np.ndarray]] | None = None,
                 output_transform: Callable[[list[np.ndarray]], list[np.ndarray]] | None = None) -> ParityReport:
    """Run ``model`` in onnxruntime and ``candidate`` on the same inputs; compare every output.

    ``candidate`` is anything callable with the graph inputs positionally (a torch ``nn.Module``, a TF
    module, a plain function). ``input_transform``/``output_transform`` adapt layouts (e.g. NHWC).
    """
    feeds = dict(inputs) if inputs is not None else random_inputs(model, batch=batch, dims=dims, seed=seed)
    ordered = [feeds[i.name] for i in graph_inputs(model)]
    expected = run_onnxruntime(model, feeds)
    cand_inputs = input_transform(ordered) if input_transform else ordered
    actual = run_candidate(candidate, cand_inputs)
    if output_transform:
        actual = output_transform(actual)
    names = [o.name for o in model.graph.output]
    return compare_outputs(expected, actual, names, atol=atol, rtol=rtol)


def check_onnx_parity(reference: onnx.ModelProto, candidate: onnx.ModelProto, *,
                      inputs: Mapping[str, np.ndarray] | None = None, atol: float = DEFAULT_ATOL,
                      rtol: float = DEFAULT_RTOL, seed: int = 0, batch: int = DEFAULT_BATCH) -> ParityReport:
    """Compare two ONNX models (e.g. before and after a repair, or a round trip) through onnxruntime."""
    feeds = dict(inputs) if inputs is not None else random_inputs(reference, batch=batch, seed=seed)
    expected = run_onnxruntime(reference, feeds)
    cand_names = [i.name for i in graph_inputs(candidate)]
    ref_names = [i.name for i in graph_inputs(reference)]
    # a round trip may rename inputs: match by position when the names differ
    cand_feeds = {c: feeds[r] for c, r in zip(cand_names, ref_names)} if set(cand_names) != set(ref_names) else feeds
    actual = run_onnxruntime(candidate, cand_feeds)
    names = [o.name for o in reference.graph.output]
    return compare_outputs(expected, actual, names, atol=atol, rtol=rtol)


def initializer_array(model: onnx.ModelProto, name: str) -> np.ndarray:
    """The numpy value of an initializer, by name."""
    for init in model.graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init)
    raise KeyError(name)
