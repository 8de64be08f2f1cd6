"""LSTM, GRU and RNN -> nn.LSTM / nn.GRU / nn.RNN; weights known at run time and what those modules
cannot do (sequence lengths, peepholes, clipping, other activations, GRU ``linear_before_reset=0``) as the
``onnx_recurrent`` helper, which runs the ONNX recurrence step by step.

ONNX and torch order the gates differently: LSTM weights are ONNX ``i o f c`` and torch ``i f g o``
(``g`` is ONNX's cell gate ``c``); GRU weights are ONNX ``z r h`` and torch ``r z n``. torch's GRU
applies the reset gate after the recurrent linear map, which is ONNX ``linear_before_reset=1``.
ONNX ``Y`` has a separate direction axis (``[seq, dirs, batch, hidden]``); torch concatenates the
directions on the feature axis, so ``Y`` is torch's output unflattened — and when the graph only
squeezes or re-flattens it (what exporters write), torch's output is used directly.
"""

from __future__ import annotations

import numpy as np
import onnx

from onnxbridge.codegen.writer import Code, fmt, join, lit
from onnxbridge.frameworks.torch.context import TorchContext, fn
from onnxbridge.frameworks.torch.registry import TORCH_OPS
from onnxbridge.ir.nodes import node_attrs
from onnxbridge.ir.semantics import RECURRENT_ACTIVATIONS, recurrent_activation_params
from onnxbridge.ir.symbolic import Dim, Elem

REG = TORCH_OPS.register

_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
_TORCH_ORDER = {"LSTM": [0, 2, 3, 1], "GRU": [1, 0, 2], "RNN": [0]}
_DEFAULT_ACTIVATIONS = {"LSTM": ["sigmoid", "tanh", "tanh"], "GRU": ["sigmoid", "tanh"], "RNN": ["tanh"]}


def reorder_gates(w: np.ndarray, kind: str, hidden: int) -> np.ndarray:
    """ONNX gate blocks (stacked on axis 0) in torch's order."""
    w = np.asarray(w)
    blocks = w.reshape(_GATES[kind], hidden, *w.shape[1:])
    return np.ascontiguousarray(blocks[_TORCH_ORDER[kind]].reshape(w.shape))


def _module_form(ctx: TorchContext, kind: str, dirs: int) -> tuple[bool, str | None]:
    """Whether torch's RNN module computes this node, and the RNN nonlinearity."""
    acts = [str(a).lower() for a in (ctx.attr("activations") or [])]
    nonlinearity = None
    if kind == "RNN":
        acts = acts or ["tanh"] * dirs
        if len(set(acts)) != 1 or acts[0] not in ("tanh", "relu"):
            return False, None
        nonlinearity = acts[0]
    elif acts and acts != _DEFAULT_ACTIVATIONS[kind] * dirs:
        return False, None
    if ctx.attr("clip") is not None or ctx.attr("activation_alpha") or ctx.attr("activation_beta"):
        return False, None
    if kind == "LSTM":
        if int(ctx.attr("input_forget", 0)):
            return False, None
        peep = ctx.const(7) if ctx.has(7) else None
        if ctx.has(7) and (peep is None or np.any(peep)):
            return False, None
    if kind == "GRU" and not int(ctx.attr("linear_before_reset", 0)):
        return False, None  # torch's GRU applies the reset gate after the linear map
    if ctx.has(4):
        lens = ctx.const(4)
        shape = ctx.type(0).shape
        seq = shape[1 if int(ctx.attr("layout", 0)) else 0] if shape is not None else None
        if lens is None or not isinstance(seq, int) or np.any(lens != seq):
            return False, None
    return True, nonlinearity


def _step_by_step(ctx: TorchContext, kind: str) -> None:
    """``onnx_recurrent(...)``: the recurrence written out, for what torch's modules cannot hold."""
    direction = ctx.attr("direction", "forward")
    args: list[Code] = [lit(kind), ctx.t(0), ctx.t(1), ctx.t(2)]
    kwargs: dict[str, Code] = {}
    for i, name in ((3, "b"), (4, "sequence_lens"), (5, "initial_h"), (6, "initial_c"), (7, "p")):
        if ctx.has(i) and (kind == "LSTM" or i < 6):
            kwargs[name] = ctx.t(i)
    if direction != "forward":
        kwargs["direction"] = lit(direction)
    if int(ctx.attr("layout", 0)):
        kwargs["layout"] = lit(1)
    acts = [str(a).lower() for a in (ctx.attr("activations") or [])]
    if acts:
        unknown = sorted({a for a in acts if a not in RECURRENT_ACTIVATIONS})
        if unknown:
            ctx.fail(f"activation(s) {unknown} are not ONNX recurrent activations")
        kwargs["activations"] = lit(acts)
        alphas, betas = recurrent_activation_params(acts, ctx.attr("activation_alpha") or [],
                                                    ctx.attr("activation_beta") or [])
        if any(v is not None for v in alphas):
            kwargs["alphas"] = lit(alphas)
        if any(v is not None for v in betas):
            kwargs["betas"] = lit(betas)
    if ctx.attr("clip") is not None:
        kwargs["clip"] = lit(float(ctx.attr("clip")))
    if kind == "LSTM" and int(ctx.attr("input_forget", 0)):
        kwargs["input_forget"] = lit(True)
    if kind == "GRU" and int(ctx.attr("linear_before_reset", 0)):
        kwargs["linear_before_reset"] = lit(True)
    n_out = 3 if kind == "LSTM" else 2
    hint = kind.lower()
    targets = [ctx.output_var(j, f"{hint}_{suffix}") if j < len(ctx.node.output) and ctx.used(j) else Code("_")
               for j, suffix in enumerate(["y", "h", "c"][:n_out])]
    ctx.line("{} = {}", join(targets), fn(str(ctx.helper("onnx_recurrent")), *args, **kwargs))


def _convert(ctx: TorchContext, kind: str) -> None:
    weight, recurrent, bias = ctx.param(1), ctx.param(2), ctx.param(3)
    direction = ctx.attr("direction", "forward")
    dirs = 2 if direction == "bidirectional" else 1
    module_form, nonlinearity = _module_form(ctx, kind, dirs)
    if weight is None or recurrent is None or (ctx.has(3) and bias is None) or not module_form:
        _step_by_step(ctx, kind)
        return
    hidden = int(ctx.attr("hidden_size", recurrent.shape[-1]))
    layout = int(ctx.attr("layout", 0))
    gates = _GATES[kind] * hidden
    kwargs: dict[str, Code] = {}
    if nonlinearity == "relu":
        kwargs["nonlinearity"] = lit("relu")
    if bias is None:
        kwargs["bias"] = lit(False)
    if layout:
        kwargs["batch_first"] = lit(True)
    if dirs == 2:
        kwargs["bidirectional"] = lit(True)
    params: dict = {}
    for d in range(dirs):
        sfx = "_reverse" if d else ""
        params[f"weight_ih_l0{sfx}"] = (weight, lambda w, d=d: reorder_gates(w[d], kind, hidden))
        params[f"weight_hh_l0{sfx}"] = (recurrent, lambda w, d=d: reorder_gates(w[d], kind, hidden))
        if bias is not None:
            params[f"bias_ih_l0{sfx}"] = (bias, lambda b, d=d: reorder_gates(b[d][:gates], kind, hidden))
            params[f"bias_hh_l0{sfx}"] = (bias, lambda b, d=d: reorder_gates(b[d][gates:], kind, hidden))
    module = ctx.add_module(fn(f"nn.{kind}", lit(int(weight.shape[-1])), lit(hidden), **kwargs), params)

    seq_axis = lit(1 if layout else 0)
    x = ctx.t(0)
    if direction == "reverse":  # torch only runs forward (or both ways): run forward over the flipped sequence
        x = fmt("{}.flip({})", x, seq_axis)
    args = [x]
    h0 = _state(ctx, 5, layout)
    c0 = _state(ctx, 6, layout) if kind == "LSTM" else None
    if kind == "LSTM" and (h0 is not None or c0 is not None):
        h0 = h0 if h0 is not None else fn("torch.zeros_like", c0)  # type: ignore[arg-type]
        c0 = c0 if c0 is not None else fn("torch.zeros_like", h0)
        args.append(fmt("({}, {})", h0, c0))
    elif h0 is not None:
        args.append(h0)

    name = str(module).removeprefix("self.")
    y_direct = _direct_consumer(ctx, dirs, layout, hidden) if direction != "reverse" else []
    if y_direct:
        seq_var = ctx.var_for(y_direct[-1].output[0], name)
        for n in y_direct:
            ctx.absorb(n)
    elif ctx.used(0):
        seq_var = ctx.temp(f"{name}_seq")
    else:
        seq_var = Code("_")
    h_var = _state_out(ctx, 1, layout, f"{name}_h")
    if kind == "LSTM":
        c_var = _state_out(ctx, 2, layout, f"{name}_c")
        states = Code("_") if str(h_var[0]) == str(c_var[0]) == "_" else fmt("({}, {})", h_var[0], c_var[0])
        ctx.line("{}, {} = {}({})", seq_var, states, module, join(args))
        _finish_state(ctx, 2, c_var)
    else:
        ctx.line("{}, {} = {}({})", seq_var, h_var[0], module, join(args))
    _finish_state(ctx, 1, h_var)
    if not y_direct and ctx.used(0):
        y = seq_var
        if direction == "reverse":
            y = fmt("{}.flip({})", y, seq_axis)
        if dirs == 1:
            y = fmt("{}.unsqueeze({})", y, lit(2 if layout else 1))
        elif layout:
            y = fmt("{}.unflatten(2, ({}, {}))", y, lit(dirs), lit(hidden))
        else:
            y = fmt("{}.unflatten(2, ({}, {})).transpose(1, 2)", y, lit(dirs), lit(hidden))
        ctx.line("{} = {}", ctx.output_var(0, name), y)


def _state(ctx: TorchContext, i: int, layout: int) -> Code | None:
    if not ctx.has(i):
        return None
    s = ctx.t(i)
    return fmt("{}.transpose(0, 1)", s) if layout else s  # ONNX layout 1 puts batch first, torch never does


def _state_out(ctx: TorchContext, j: int, layout: int, hint: str) -> tuple[Code, bool]:
    if j >= len(ctx.node.output) or not ctx.used(j):
        return Code("_"), False
    if layout:
        return ctx.temp(f"{hint}_t"), True
    return ctx.output_var(j, hint), False


def _finish_state(ctx: TorchContext, j: int, var: tuple[Code, bool]) -> None:
    if var[1]:
        ctx.emit(fmt("{}.transpose(0, 1)", var[0]), j)


def _direct_consumer(ctx: TorchContext, dirs: int, layout: int, hidden: int) -> list[onnx.NodeProto]:
    """The nodes after Y that only turn it back into torch's output layout, if that is all they do.

    Exporters write ``Squeeze`` of the direction axis (one direction) or ``Transpose(0, 2, 1, 3)`` then
    ``Reshape(seq, batch, -1)`` (both directions); the last node's output is torch's output itself.
    """
    y = ctx.node.output[0]
    user = _only_user(ctx, y)
    if user is None:
        return []
    if user.op_type == "Squeeze" and dirs == 1:
        axes = node_attrs(user).get("axes")
        if axes is None and len(user.input) > 1:
            axes = ctx.const_of(user.input[1])
        want = 2 if layout else 1
        if axes is not None and [int(a) for a in np.asarray(axes).reshape(-1)] in ([want], [want - 4]):
            return [user]
        return []
    if user.op_type == "Transpose" and not layout and [int(p) for p in node_attrs(user).get("perm", [])] == [0, 2, 1, 3]:
        reshape = _only_user(ctx, user.output[0])
        if reshape is not None and reshape.op_type == "Reshape" and _flattens_directions(ctx, reshape, [
                {ctx.input_name(0): 0, user.output[0]: 0, y: 0}, {ctx.input_name(0): 1, user.output[0]: 1, y: 2}], dirs * hidden):
            return [user, reshape]
    if user.op_type == "Reshape" and layout and _flattens_directions(ctx, user, [
            {ctx.input_name(0): 0, y: 0}, {ctx.input_name(0): 1, y: 1}], dirs * hidden):
        return [user]
    return []


def _only_user(ctx: TorchContext, value: str) -> onnx.NodeProto | None:
    users = ctx.readers(value)
    return users[0] if len(users) == 1 and not ctx.is_output(value) else None


def _flattens_directions(ctx: TorchContext, reshape: onnx.NodeProto, same_axes: list[dict[str, int]], width: int) -> bool:
    """Whether a Reshape's target is ``[seq, batch, dirs * hidden]`` (its first two dims unchanged)."""
    target = ctx.elems_of(reshape.input[1])
    if target is None or len(target) != 3 or target[2] not in (-1, width):
        return False
    found = ctx.view.dims(ctx.input_name(0))
    x_dims: list[Elem | None] = list(found) if found else [None, None]
    for axis in (0, 1):
        e = target[axis]
        if e == 0 and not node_attrs(reshape).get("allowzero", 0):
            continue
        if isinstance(e, int) and e == x_dims[axis] and isinstance(x_dims[axis], int):
            continue
        if isinstance(e, Dim) and same_axes[axis].get(e.value) == e.axis:
            continue
        if isinstance(e, Dim) and e == x_dims[axis]:
            continue
        return False
    return True


@REG("LSTM", since=7)
def lstm(ctx: TorchContext) -> None:
    """ONNX ``LSTM`` as an ``nn.LSTM`` module holding its weights."""
    _convert(ctx, "LSTM")


@REG("GRU", since=7)
def gru(ctx: TorchContext) -> None:
    """ONNX ``GRU`` as an ``nn.GRU`` module holding its weights."""
    _convert(ctx, "GRU")


@REG("RNN", since=7)
def rnn(ctx: TorchContext) -> None:
    """ONNX ``RNN`` as an ``nn.RNN`` module holding its weights."""
    _convert(ctx, "RNN")
