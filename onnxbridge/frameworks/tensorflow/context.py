"""What a TensorFlow/Keras op converter sees: :class:`TensorFlowContext` (the shared reading API plus the
layout-aware writing calls), the :class:`Value` it holds per tensor, and small code-building helpers.

Internally the graph is converted to channels-last (see :mod:`.layout`): every tensor is stored with a
permutation of its ONNX axes, and a converter asks for its inputs in the layout it needs (``ctx.x_cl(0)``
for a convolution, ``ctx.x_any(0)`` for an element-wise op) and says how it stores its outputs.

Example::

    @TF_OPS.register("Relu")
    def relu(ctx: TensorFlowContext) -> None:
        x, perm = ctx.x_any(0)
        ctx.emit(call(dotted("ops", "relu"), x), perm=perm)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx

from onnxbridge.codegen.writer import Code, call, dotted, fmt, ident, join, lit
from onnxbridge.frameworks.context import ConverterContext
from onnxbridge.frameworks.tensorflow import layout as L
from onnxbridge.frameworks.widening import SIGN_BIT, Wide, Widening
from onnxbridge.ir import dtypes
from onnxbridge.ir.naming import layer_hint, module_path, value_hint
from onnxbridge.ir.symbolic import Elem
from onnxbridge.ir.types import TensorType
from onnxbridge.ir.view import GraphView

if TYPE_CHECKING:
    from onnxbridge.frameworks.tensorflow.codegen import ClassScope, Scope

INLINE_LIMIT = 16
_SIGN_BIT = Code(f"np.int64({SIGN_BIT})")  # constants with at most this many elements are written as literals

# the element types Keras tensors hold (TensorFlow has CPU kernels for the arithmetic of each)
_KERAS_ELEMS = frozenset({onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16,
                          onnx.TensorProto.BFLOAT16, onnx.TensorProto.INT64, onnx.TensorProto.INT32,
                          onnx.TensorProto.INT16, onnx.TensorProto.INT8, onnx.TensorProto.UINT8,
                          onnx.TensorProto.UINT16, onnx.TensorProto.UINT32, onnx.TensorProto.UINT64,
                          onnx.TensorProto.BOOL, onnx.TensorProto.STRING})


def dtype_name(elem: int | None) -> str:
    """The Keras dtype name of an ONNX element type (float32 when unknown); ValueError when Keras has none."""
    if elem is None:
        return "float32"
    name = dtypes.dtype_name(elem)
    if elem not in _KERAS_ELEMS or name is None:
        raise ValueError(f"element type {dtypes.onnx_type_name(elem)} is not supported")
    return name


@dataclass
class Value:
    """What the converter holds for one ONNX tensor."""

    name: str
    rank: int | None
    code: Code | None = None          # the variable (or expression) holding the stored tensor
    perm: L.Perm | None = None        # stored = transpose(logical, perm); None = as in ONNX
    const: np.ndarray | None = None   # known value
    instance: bool = False            # a constant that differs between instances of a block class
    sym: list[Elem] | None = None     # value of a small int tensor computed from run-time dims
    fill: float | None = None         # every element has this value
    feature_perm: np.ndarray | None = None  # [N, F] with features stored in this order (flattened NHWC)

    @property
    def layout(self) -> L.Perm:
        """The stored permutation (the identity when stored as in ONNX)."""
        return self.perm if self.perm is not None else L.identity(self.rank or 0)


@dataclass
class Stmt:
    """One statement of generated code, with what it defines and uses (for dead-code removal)."""

    lines: list[tuple[str, tuple[Code, ...]]]
    defines: set[str]
    uses: set[str]
    init: list[tuple[str, tuple[Code, ...]]] = field(default_factory=list)
    weights: list[tuple[tuple[str, ...], str, list[np.ndarray]]] = field(default_factory=list)
    constants: dict[str, np.ndarray] = field(default_factory=dict)
    keep: bool = False


def listing(codes: Sequence[Code]) -> Code:
    """``[a, b, c]`` from code fragments."""
    return fmt("[{}]", join(list(codes))) if codes else Code("[]")


def item(x: Code, index: int) -> Code:
    """``x[index]`` for an integer index."""
    return fmt("{}[{}]", x, lit(int(index)))


def slice_code(start: int | None, stop: int | None, step: int = 1) -> Code:
    """``start:stop:step`` (parts left out when None/1), for use inside :func:`subscript`."""
    text = f"{'' if start is None else lit(int(start))}:{'' if stop is None else lit(int(stop))}"
    return Code(text + (f":{lit(int(step))}" if step != 1 else ""))


def subscript(x: Code, items: Sequence[Code]) -> Code:
    """``x[i0, i1, ...]`` from :func:`slice_code` / :func:`lit` fragments (always a tuple key, which
    Keras symbolic tensors need)."""
    return fmt("{}[{},]", x, join(list(items))) if len(items) == 1 else fmt("{}[{}]", x, join(list(items)))


def _py(value: Any) -> Code:
    return value if isinstance(value, Code) else lit(value)


def np_literal(array: np.ndarray, *, scalar: bool = True) -> Code:
    """``np.array([...], dtype='float32')`` for a small array, or a plain number for a float scalar
    (unless ``scalar=False``)."""
    array = np.asarray(array)
    if scalar and array.ndim == 0 and array.dtype.kind == "f":
        return lit(float(array))
    values = array.tolist()
    return call(dotted("np", "array"), lit(values), dtype=lit(str(array.dtype)))


def _keras_bias_misadds(a_shape: Sequence[int | None], b_shape: Sequence[int | None]) -> bool:
    """Whether Keras's ``ops.add(a, b)`` on TensorFlow would add ``b`` along the wrong axis.

    Keras turns an addition whose second operand squeezes to one vector of a known size into
    ``tf.nn.bias_add``, along the last axis when that size matches ``a``'s last dim (else along axis 1),
    whatever axis the vector lies along: ``(3, 4, 4) + (1, 4, 1)`` adds along the last axis. It also drops
    leading axes of ``b`` beyond ``a``'s rank.
    """
    big = [(k, d) for k, d in enumerate(b_shape) if d is None or d > 1]
    if len(big) != 1 or big[0][1] is None or len(a_shape) < 2:
        return False
    k, size = big[0]
    if size not in (a_shape[1], a_shape[-1]):
        return False
    if len(b_shape) > len(a_shape):
        return True
    axis = len(a_shape) - len(b_shape) + k
    return axis != (len(a_shape) - 1 if a_shape[-1] == size else 1)


def add_code(a: Code, b: Code, a_shape: Sequence[int | None], b_shape: Sequence[int | None]) -> Code:
    """``ops.add(a, b)`` for operands Keras sees with these shapes, adding as numpy broadcasting does.

    Keras's bias shortcut (see :func:`_keras_bias_misadds`) would add some operands along the wrong axis,
    silently; those are swapped (addition commutes), or, when both would be misread, written as
    ``a - (-b)`` (the same float result).
    """
    if not _keras_bias_misadds(a_shape, b_shape):
        return call(dotted("ops", "add"), a, b)
    if not _keras_bias_misadds(b_shape, a_shape):
        return call(dotted("ops", "add"), b, a)
    return call(dotted("ops", "subtract"), a, call(dotted("ops", "negative"), b))


class TensorFlowContext(ConverterContext):
    """The converter's view of one node while a Keras body is written (see the base class for the reading
    API): inputs come as code in the layout the converter asks for (``x``, ``x_cl``, ``x_any``, ``aligned``),
    outputs are assigned with the layout they are stored in (``emit(expr, j, perm=...)``)."""

    framework = "TensorFlow"

    def __init__(self, scope: Scope, node: onnx.NodeProto, widening: Widening | None = None):
        super().__init__(node, scope.view, scope.absorbed)
        self.scope = scope
        self.uses: set[str] = set()
        self._init: list = []
        self._weights: list = []
        self._emitted = False
        self._last_accessor: tuple[str, ...] = ()
        #: uint64 inputs computed as int64 (see ``frameworks/widening.py``): the converter sees the int64 world
        self.widening = widening
        self._wide: dict[int, Value] = {}

    # -- what this converter knows beyond the reading API ---------------------------------------------
    def value(self, i: int) -> Value:
        """What the converter holds for input ``i`` (its code, stored layout, known value)."""
        try:
            v = self.scope.values[self.node.input[i]]
        except (KeyError, IndexError):
            self.fail(f"input {i} is missing")
        wide = self.widening.inputs.get(i) if self.widening else None
        if wide is None:
            return v
        if i not in self._wide:
            self._wide[i] = self._widened(v, wide)
        return self._wide[i]

    def _widened(self, v: Value, wide: Wide) -> Value:
        """Input value ``v`` as the int64 one a widened node computes with."""
        if v.const is not None:
            return Value(v.name, v.rank, const=wide.value(v.const), instance=v.instance)
        if v.code is None:
            return v
        stored = self.scope.view_code(v, v.layout, self.uses)
        bits = call(dotted("ops", "view"), stored, lit("int64"))
        if wide.how == "flip":
            bits = call(dotted("ops", "bitwise_xor"), bits, _SIGN_BIT)
        var = self.scope.new_var(f"{v.name}_bits")
        self._stmt([("{} = {}", (var, bits))], {var})
        return Value(v.name, v.rank, code=var, perm=v.perm)

    def type(self, i: int) -> TensorType:
        """What is known of input ``i``'s type (int64 for a narrow input of a widened node)."""
        t = super().type(i)
        return Widening.type(t, self.widening.inputs.get(i)) if self.widening else t

    def out_type(self, j: int = 0) -> TensorType:
        """What is known of output ``j``'s type (int64 for a narrow output of a widened node)."""
        t = super().out_type(j)
        return Widening.type(t, self.widening.outputs.get(j)) if self.widening else t

    def const(self, i: int) -> np.ndarray | None:
        """Input ``i``'s value when it is known at conversion time (as int64 when it is widened)."""
        c = super().const(i)
        wide = self.widening.inputs.get(i) if self.widening else None
        return wide.value(c) if wide is not None and c is not None else c

    def narrow_outputs(self) -> None:
        """After a widened node's code: each narrow output back in its type (``ops.view(y, "uint64")``)."""
        if not self.widening:
            return
        for j, wide in self.widening.outputs.items():
            name = self.node.output[j]
            v = self.scope.values.get(name)
            if v is None:
                continue
            if v.const is not None:
                v.const = wide.narrow_value(v.const)
                continue
            if v.code is None:
                continue
            stored = self.scope.view_code(v, v.layout, self.uses)
            if wide.how == "flip":
                stored = call(dotted("ops", "bitwise_xor"), stored, _SIGN_BIT)
            self.define(name, call(dotted("ops", "view"), stored, lit(dtype_name(wide.narrow))), v.perm)

    def is_instance_const(self, i: int) -> bool:
        """Whether input ``i`` is a block weight: a constant that differs between instances of the class."""
        return self.value(i).instance

    def fill(self, i: int) -> float | None:
        """The value every element of input ``i`` has, when that is known (a zero state, say)."""
        if not self.has(i):
            return None
        v = self.value(i)
        if v.fill is not None:
            return v.fill
        if v.const is not None and v.const.size and np.all(v.const == v.const.reshape(-1)[0]):
            return float(v.const.reshape(-1)[0])
        return None

    def known_out_shape(self, j: int = 0) -> tuple | None:
        """Output ``j``'s shape as ONNX knows it (None for a dim known only at run time), for a layer that
        computes its shape at run time to restore; None when no dim is known."""
        shape = self.out_type(j).shape
        if shape is None or not any(isinstance(d, int) for d in shape):
            return None
        return tuple(int(d) if isinstance(d, int) else None for d in shape)

    def perm(self, i: int) -> L.Perm:
        """The permutation input ``i`` is stored with."""
        v = self.value(i)
        return v.layout if v.rank is not None else L.identity(self.rank(i))

    def dtype(self, elem: int | None) -> str:
        """The Keras dtype name for an ONNX element type (``"float32"``; float32 when unknown)."""
        try:
            return dtype_name(elem)
        except ValueError as exc:
            self.fail(str(exc))

    def static_out_shape(self, j: int = 0) -> list[int | None]:
        """Output ``j``'s shape for ``tf.ensure_shape`` in a helper layer (None for a dim known at run time):
        a helper whose output shape depends on run-time values tells Keras the rank ONNX inference found."""
        return [d if isinstance(d, int) else None for d in self.out_shape(j)]

    def nested(self, view: GraphView) -> ClassScope:
        """A body for a subgraph (a Loop's), written as a layer class whose ``call`` runs it."""
        return self.scope.nested(view)

    def readers(self, value: str) -> list[onnx.NodeProto]:
        """The converted nodes of this body that read ``value``."""
        return self.scope.consumers.get(value, [])

    def _const(self, name: str) -> np.ndarray | None:
        v = self.scope.values.get(name)
        if v is None:
            return None
        if v.const is not None:
            return v.const
        if v.sym is not None and all(isinstance(d, int) for d in v.sym):
            return np.asarray(v.sym, dtype=np.int64)
        return None

    def _symbolic(self, name: str) -> tuple[Elem, ...] | None:
        v = self.scope.values.get(name)
        return tuple(v.sym) if v is not None and v.sym is not None else None

    def _rank(self, name: str) -> int | None:
        v = self.scope.values.get(name)
        r = v.rank if v is not None else None
        return r if r is not None else self.view.type(name).rank

    # -- inputs as code --
    def x(self, i: int, perm: Sequence[int] | None = None) -> Code:
        """Input ``i`` as code, stored with ``perm`` (default: exactly as ONNX sees it)."""
        v = self.value(i)
        if v.rank is None:
            v.rank = self.type(i).rank
            if v.rank is None and perm is not None:
                v.rank = len(perm)
        return self.scope.view_code(v, tuple(perm) if perm is not None else None, self.uses)

    def tensor_arg(self, i: int) -> Code:
        """Input ``i`` as a positional argument of a layer call: constants become arrays (Keras layers take
        only tensors or arrays positionally), everything else as :meth:`x`."""
        c = self.const(i)
        if c is not None and c.size <= INLINE_LIMIT and not self.value(i).instance:
            return np_literal(c, scalar=False)
        return self.x(i)

    def x_cl(self, i: int) -> Code:
        """Input ``i`` stored channels-last (NWC/NHWC/NDHWC)."""
        return self.x(i, L.channels_last(self.rank(i)))

    def x_any(self, i: int) -> tuple[Code, L.Perm]:
        """Input ``i`` in whatever layout it already has, with that layout."""
        v = self.value(i)
        if v.const is not None or v.sym is not None or v.feature_perm is not None:
            return self.x(i), L.identity(self.rank(i))
        return self.x(i, v.layout), v.layout

    def aligned(self, indices: Sequence[int], out_rank: int | None = None,
                perm: Sequence[int] | None = None) -> tuple[list[Code], L.Perm]:
        """Inputs of a broadcasting element-wise op, all in one layout (the first permuted input's).

        ``perm`` forces the layout (for inputs combined with an already converted tensor).
        """
        rank = out_rank if out_rank is not None else max(self.rank(i) for i in indices)
        if perm is not None:
            perm = tuple(perm) if not L.is_identity(perm) else None
        for i in indices if perm is None else ():
            v = self.value(i)
            if v.const is None and v.sym is None and v.feature_perm is None and v.rank == rank \
                    and not L.is_identity(v.layout):
                perm = v.layout
                break
        if perm is None:
            return [self.x(i) for i in indices], L.identity(rank)
        codes = []
        for i in indices:
            v = self.value(i)
            r = self.rank(i)
            if v.const is not None:
                c = v.const.reshape((1,) * (rank - v.const.ndim) + v.const.shape) if v.const.ndim else v.const
                codes.append(self.scope.constant_code(np.transpose(c, perm) if c.ndim else c, v.name, v.instance,
                                                      self.uses))
            elif r == rank:
                codes.append(self.x(i, perm))
            elif all(d == 1 for d in self.shape(i)):
                codes.append(self.x(i))
            else:  # lower rank: make it full rank, then store it like the others
                lifted = call(dotted("ops", "reshape"), self.x(i), lit(tuple([1] * (rank - r)) + tuple(
                    -1 if not isinstance(d, int) else d for d in self.shape(i))))
                codes.append(call(dotted("ops", "transpose"), lifted, lit(perm)))
        return codes, perm

    def stored_shape(self, i: int, rank: int, perm: Sequence[int] | None) -> tuple[int | None, ...]:
        """The shape of input ``i`` as :meth:`aligned` passes it when its layout is ``perm`` (unknown sizes
        None): what Keras sees."""
        shape = tuple(d if isinstance(d, int) else None for d in self.shape(i))
        if perm is None or L.is_identity(perm) or (len(shape) < rank and self.value(i).const is None
                                                   and all(d == 1 for d in shape)):
            return shape
        if self.value(i).const is not None and not shape:
            return shape
        full = (1,) * (rank - len(shape)) + shape
        return tuple(full[p] for p in perm)

    # -- emitting --
    def from_inputs(self, i: int) -> bool:
        """Whether input ``i`` is computed from the model's inputs. In ``build_model`` a Keras layer called on
        anything else runs once, while the model is built, and is left out of the model with its weights."""
        return not self.scope.functional or self.view.from_inputs(self.node.input[i])

    def layer(self, cls: str, *, hint: str | None = None, weights: Sequence[np.ndarray] = (), module: str = "layers",
              **kwargs: Any) -> Code:
        """A Keras layer for this node (``layers.<cls>(..., name=<node name>)``); returns the callable."""
        if weights and not any(self.from_inputs(k) for k, name in enumerate(self.node.input) if name):
            self.fail(f"a Keras {cls} layer here would read no model input: it would run once while the model "
                      "is built and be left out of it, with its weights; export the model with constant folding "
                      "on (torch.onnx.export's default) so that this node becomes a constant")
        args = {k: _py(v) for k, v in kwargs.items() if v is not None}
        fn = dotted(module, cls) if module else ident(cls)
        if hint is None:
            # the exporter's module path first: weights deduplicated by an optimizer may carry another
            # layer's name
            path = module_path(self.node)
            weight = self.node.input[1] if len(self.node.input) > 1 else None
            hint = ".".join(path) if path else layer_hint(self.node, weight)
            if not self.node.name and hint == layer_hint(self.node):
                # Keras names its own operations after them (ops.reshape -> "reshape", "reshape_1"): a layer
                # named after its bare op type could take one of those names
                hint = f"{hint}_layer"
        ref, accessor = self.scope.layer_ref(fn, hint, args, self._init)
        self._last_accessor = accessor
        if weights:
            self._weights.append((accessor, "layer", [np.asarray(w) for w in weights]))
        return ref

    def constant(self, array: np.ndarray, hint: str | None = None) -> Code:
        """A constant tensor (a literal when small, else stored with the weights)."""
        instance = any(self.scope.values[n].instance for n in self.node.input if n in self.scope.values)
        return self.scope.constant_code(np.asarray(array), hint or self.node.output[0], instance, self.uses)

    def helper(self, name: str) -> Code:
        """A helper layer class written into the generated module (see ``helpers.py``)."""
        from onnxbridge.frameworks.tensorflow.helpers import HELPER_NEEDS

        self.scope.converter.helpers.update((name, *HELPER_NEEDS.get(name, ())))
        return ident(name)

    def _stmt(self, lines: list, defines: set[str]) -> None:
        stmt = Stmt(lines, defines, set(self.uses), init=list(self._init), weights=list(self._weights))
        self._init.clear()
        self._weights.clear()
        self.scope.emit(stmt)
        self._emitted = True

    def emit(self, expr: Code, j: int = 0, perm: Sequence[int] | None = None, **extra: Any) -> Code:
        """``out_j = expr``: output ``j`` (stored with ``perm``) in a new variable named after the tensor."""
        return self.define(self.node.output[j], expr, perm, **extra)

    def let(self, hint: str, expr: Code) -> Code:
        """``hint = expr`` in a fresh variable: an intermediate value of this converter (not an ONNX tensor)
        that its later statements read."""
        var = self.scope.new_var(hint)
        self.define_raw(var, expr)
        self.uses.add(var)
        return var

    def define_raw(self, targets: Code | Sequence[Code], expr: Code) -> None:
        """``targets = expr`` for intermediate variables (not ONNX tensors), e.g. a tuple to unpack."""
        targets = [targets] if isinstance(targets, Code) else list(targets)
        text = join(targets) if targets else Code("_")
        self._stmt([("{} = {}", (text, expr))], set(targets))

    def define(self, name: str, expr: Code, perm: Sequence[int] | None = None, **extra: Any) -> Code:
        """Assign tensor ``name`` (an output of this node, or of a node fused into it)."""
        var = self.scope.new_var(value_hint(name, self.node))
        self._stmt([("{} = {}", (var, expr))], {var})
        rank = self.view.type(name).rank
        if rank is None and perm is not None:
            rank = len(perm)
        value = Value(name, rank, code=var, perm=None if perm is None or L.is_identity(perm) else tuple(perm))
        for k, v in extra.items():
            setattr(value, k, v)
        self.scope.values[name] = value
        return var

    def outs(self, expr: Code, perms: Sequence[Sequence[int] | None]) -> list[Code]:
        """Unpack a tuple-valued expression into the node's outputs (unused ones get ``_``)."""
        names = list(self.node.output) + [""] * (len(perms) - len(self.node.output))
        targets = []
        for name in names[: len(perms)]:
            targets.append(self.scope.new_var(value_hint(name, self.node)) if name else Code("_"))
        self._stmt([("{} = {}", (join(targets), expr))], {t for t in targets if t != "_"})
        for name, var, perm in zip(names, targets, perms):
            if name:
                rank = self.view.type(name).rank
                if rank is None and perm is not None:
                    rank = len(perm)
                self.scope.values[name] = Value(name, rank, code=var,
                                                perm=None if perm is None or L.is_identity(perm) else tuple(perm))
        return targets

    def alias(self, source: int | Value, j: int = 0, perm: Sequence[int] | None = None, *,
              keep_perm: bool = False) -> None:
        """Output ``j`` is input ``source`` (or a value) itself, stored with ``perm`` (or, with ``keep_perm``,
        as the source is): no code, e.g. Identity, or a Transpose that only relabels the stored tensor."""
        v = self.value(source) if isinstance(source, int) else source
        name = self.node.output[j]
        new = Value(name, self.out_type(j).rank, code=v.code, const=v.const, instance=v.instance, sym=v.sym,
                    fill=v.fill, feature_perm=v.feature_perm)
        if new.rank is None:
            new.rank = v.rank
        if keep_perm:
            new.perm = v.perm
        elif perm is not None and not L.is_identity(perm):
            new.perm = tuple(perm)
        self.scope.values[name] = new

    def set_const(self, j: int, array: np.ndarray) -> None:
        """Output ``j`` is known now: ``array`` (no code; later nodes fold with it)."""
        name = self.node.output[j]
        instance = any(self.scope.values[n].instance for n in self.node.input if n in self.scope.values)
        self.scope.values[name] = Value(name, np.ndim(array), const=np.asarray(array), instance=instance)
