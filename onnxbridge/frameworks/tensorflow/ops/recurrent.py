"""Recurrent layers: ONNX LSTM / GRU / RNN -> Keras LSTM / GRU / SimpleRNN (wrapped in Bidirectional).

Gate orders differ: ONNX LSTM packs (input, output, forget, cell), Keras (input, forget, cell, output);
GRU gates are (update, reset, hidden) in both, and ONNX ``linear_before_reset=1`` is Keras ``reset_after``
(with separate input and recurrent biases). Keras works batch-major; the ONNX time-major input is read in
the stored layout ``(batch, time, features)`` (often free, when the graph transposed to time-major just
before), and the outputs are stored batch-major with the matching permutation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from onnxbridge.codegen.writer import Code, call, dotted, lit
from onnxbridge.frameworks.tensorflow.context import (
    TensorFlowContext,
    Value,
    item,
    listing,
    slice_code,
    subscript,
)
from onnxbridge.frameworks.tensorflow.registry import TF_OPS
from onnxbridge.ir.naming import layer_hint

_ACTIVATIONS = {"Sigmoid": "sigmoid", "Tanh": "tanh", "Relu": "relu"}
_DEFAULTS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"], "RNN": ["Tanh"]}


def _ops(name: str) -> Code:
    return dotted("ops", name)


def _check(ctx: TensorFlowContext, op: str, directions: int) -> list[str]:
    if ctx.attr("clip") is not None:
        ctx.fail("cell clipping is not supported by Keras recurrent layers")
    if ctx.attr("input_forget", 0):
        ctx.fail("input_forget=1 is not supported")
    if ctx.attr("activation_alpha") or ctx.attr("activation_beta"):
        ctx.fail("activation_alpha/beta are not supported")
    acts = ctx.attr("activations") or _DEFAULTS[op] * directions
    per = len(_DEFAULTS[op])
    if acts[:per] != acts[per:] and directions == 2:
        ctx.fail("different activations per direction are not supported")
    acts = acts[:per]
    if any(a not in _ACTIVATIONS for a in acts):
        ctx.fail(f"activations {acts} are not supported")
    if op == "LSTM" and acts[1] != acts[2]:
        ctx.fail("LSTM with different cell and output activations is not supported")
    if ctx.has(4):
        lens = ctx.const(4)
        t = ctx.shape(0)[1 if ctx.attr("layout", 0) else 0]
        if lens is None or not isinstance(t, int) or not np.all(lens == t):
            ctx.fail("sequence_lens shorter than the sequence are not supported")
    return [_ACTIVATIONS[a] for a in acts]


def _gates(w: np.ndarray, order: list[int], n: int) -> np.ndarray:
    parts = np.split(w, n, axis=0)
    return np.concatenate([parts[k] for k in order], axis=0)


def _recurrent(op: str):
    def convert(ctx: TensorFlowContext) -> None:
        node = ctx.node
        direction = ctx.attr("direction", "forward")
        directions = 2 if direction == "bidirectional" else 1
        acts = _check(ctx, op, directions)
        hidden = int(ctx.attr("hidden_size"))
        w, r = ctx.const(1), ctx.const(2)
        b = ctx.const(3) if ctx.has(3) else None
        if w is None or r is None or (ctx.has(3) and b is None):
            ctx.fail("weights computed at run time are not supported")
        x_shape = ctx.type(0).shape
        if x_shape and not isinstance(x_shape[-1], int):  # Keras builds the kernel from the input's size
            ctx.fail(f"the input's feature size {x_shape[-1]!r} is not fixed (W takes {w.shape[-1]} features)")
        if op == "LSTM" and ctx.has(7):
            p = ctx.const(7)
            if p is None or np.any(p != 0):
                ctx.fail("peephole connections are not supported by Keras")
        n_gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
        if b is None:
            b = np.zeros((directions, 2 * n_gates * hidden), dtype=w.dtype)
        batch_first = bool(ctx.attr("layout", 0))
        reset_after = bool(ctx.attr("linear_before_reset", 0)) if op == "GRU" else False
        weights: list[np.ndarray] = []
        for d in range(directions):
            wd, rd = w[d], r[d]
            wb, rb = b[d][: n_gates * hidden], b[d][n_gates * hidden:]
            if op == "LSTM":  # iofc -> ifco
                order = [0, 2, 3, 1]
                wd, rd, wb, rb = (_gates(a, order, 4) for a in (wd, rd, wb, rb))
            weights += [np.ascontiguousarray(wd.T), np.ascontiguousarray(rd.T)]
            weights.append(np.stack([wb, rb]) if reset_after else wb + rb)
        x = ctx.x(0, None if batch_first else (1, 0, 2))
        y_used = ctx.used(0)
        last_step = _last_step_only(ctx, batch_first) if y_used and direction == "forward" else None
        if last_step is not None:
            y_used = False  # only the last step of Y is read: it is the final state, no sequence needed
        cls = {"LSTM": "LSTM", "GRU": "GRU", "RNN": "SimpleRNN"}[op]
        opts: dict[str, Any] = dict(units=hidden, return_sequences=True if y_used else None, return_state=True)
        if op == "LSTM":
            opts.update(activation=acts[1] if acts[1] != "tanh" else None,
                        recurrent_activation=acts[0] if acts[0] != "sigmoid" else None)
        elif op == "GRU":
            opts.update(activation=acts[1] if acts[1] != "tanh" else None,
                        recurrent_activation=acts[0] if acts[0] != "sigmoid" else None,
                        reset_after=reset_after)
        else:
            opts.update(activation=acts[0] if acts[0] != "tanh" else None)
        if direction == "reverse":
            opts["go_backwards"] = True
        # initial states: ONNX [directions, batch, hidden]; a zero state is Keras's default
        n_states = 2 if op == "LSTM" else 1
        given = [ctx.has(5 + k) and ctx.fill(5 + k) != 0.0 for k in range(n_states)]
        states: list[Code] = []
        if any(given):
            per_state: list[list[Code]] = []
            for k in range(n_states):
                if given[k]:
                    h0 = ctx.x(5 + k)  # [dirs, batch, hidden], or [batch, dirs, hidden] with layout=1
                    per_state.append([subscript(h0, [slice_code(None, None), lit(d)]) if batch_first else item(h0, d)
                                      for d in range(directions)])
                else:
                    per_state.append([])
            # Keras takes all the states or none: a zero (or absent) one is zeros like the given one
            like = next(p for p in per_state if p)
            for k in range(n_states):
                states += per_state[k] or [call(_ops("zeros_like"), s) for s in like]
        if states and n_states == 2:
            # Keras wants [h, c] per direction: forward h, c then backward h, c
            states = [states[d + k * directions] for d in range(directions) for k in range(n_states)]
        if directions == 2:
            # the wrapper holds both directions' weights (forward first); the inner layer is only a template
            inner = call(dotted("layers", cls), **{k: lit(v) for k, v in opts.items() if v is not None},
                         name=lit(cls.lower()))
            layer = ctx.layer("Bidirectional", layer=inner, merge_mode=Code("None"), weights=weights)
        else:
            layer = ctx.layer(cls, weights=weights, **opts)
        args = [x]
        kwargs = {"initial_state": listing(states)} if states else {}
        # Keras returns the output (sequence, or last step) per direction first, then the states
        base = layer_hint(node)
        sides = ["fwd", "bwd"] if directions == 2 else [""]
        names = [f"{base}_{'seq' if y_used else 'last'}_{d}" for d in sides]
        names += [f"{base}_{st}_{d}" for d in sides for st in (["h", "c"] if n_states == 2 else ["h"])]
        pieces = [ctx.scope.new_var(n) for n in names]
        seqs = pieces[:directions]
        fwd_states = pieces[directions: directions + n_states]
        bwd_states = pieces[directions + n_states:]
        ctx.define_raw(pieces, call(layer, *args, **kwargs))
        ctx.uses.update(pieces)
        # Y: stack directions on axis 2 of the batch-major (batch, time, dirs, hidden)
        if last_step is not None:
            squeeze, take, keep = last_step
            ctx.absorb(squeeze)
            ctx.absorb(take)
            ctx.scope.values[squeeze.output[0]] = Value(squeeze.output[0], 3)  # read by `take` only
            time_axis = 1 if batch_first else 0
            ctx.define(take.output[0], call(_ops("expand_dims"), seqs[0], lit(time_axis)) if keep else seqs[0])
        if y_used:
            seq = call(_ops("stack"), listing(seqs), axis=lit(2)) if directions == 2 else \
                call(_ops("expand_dims"), seqs[0], lit(2))
            if direction == "reverse":
                seq = call(_ops("flip"), seq, axis=lit(1))
            ctx.emit(seq, perm=None if batch_first else (2, 0, 1, 3))
        for k in range(n_states):
            out_idx = 1 + k
            if not ctx.has_output(out_idx):
                continue
            per_dir = [fwd_states[k]] + ([bwd_states[k]] if directions == 2 else [])
            # stored batch-major [batch, dirs, hidden]; ONNX (layout 0) sees [dirs, batch, hidden]
            state = call(_ops("stack"), listing(per_dir), axis=lit(1)) if directions == 2 else \
                call(_ops("expand_dims"), per_dir[0], lit(1))
            ctx.emit(state, out_idx, perm=None if batch_first else (1, 0, 2))

    return convert


def _last_step_only(ctx: TensorFlowContext, batch_first: bool):
    """(Squeeze, Slice/Gather, keeps the time axis) when Y of a forward RNN is only used for its last step.

    tf2onnx writes a Keras RNN without ``return_sequences`` as ``Y -> Squeeze -> Slice(last step)``; the
    last step of Y is the final hidden state, so the Keras layer need not return the whole sequence.
    """
    if ctx.has(4) or ctx.is_output(ctx.output_name(0)):
        return None
    users = ctx.readers(ctx.output_name(0))
    if len(users) != 1 or users[0].op_type != "Squeeze":
        return None
    squeeze = users[0]
    axes = _const_ints(ctx, squeeze.input[1]) if len(squeeze.input) > 1 else \
        next((list(a.ints) for a in squeeze.attribute if a.name == "axes"), None)
    if axes not in ([2], [-2]) if batch_first else axes not in ([1], [-3]):
        return None
    after = ctx.readers(squeeze.output[0])
    if len(after) != 1 or ctx.is_output(squeeze.output[0]):
        return None
    take = after[0]
    time_axis = 1 if batch_first else 0
    steps = ctx.shape(0)[time_axis]
    if not isinstance(steps, int):
        return None
    last = (-1, steps - 1)
    if take.op_type == "Gather" and take.input[0] == squeeze.output[0]:
        axis = next((a.i for a in take.attribute if a.name == "axis"), 0)
        index = _const_ints(ctx, take.input[1])
        if axis == time_axis and index is not None and len(index) == 1 and index[0] in last and \
                (c := ctx.const_of(take.input[1])) is not None and c.ndim == 0:
            return squeeze, take, False
    if take.op_type == "Slice" and take.input[0] == squeeze.output[0] and len(take.input) >= 4:
        starts, ends, axes_ = (_const_ints(ctx, take.input[k]) for k in (1, 2, 3))
        step = _const_ints(ctx, take.input[4]) if len(take.input) > 4 and take.input[4] else [1]
        if axes_ in ([time_axis], [time_axis - 3]) and starts and starts[0] in last and ends and \
                ends[0] >= steps and step == [1]:
            return squeeze, take, True
    return None


def _const_ints(ctx: TensorFlowContext, name: str) -> list[int] | None:
    c = ctx.const_of(name)
    return None if c is None else [int(x) for x in np.asarray(c).reshape(-1)]


TF_OPS.register("LSTM", since=7)(_recurrent("LSTM"))
TF_OPS.register("GRU", since=7)(_recurrent("GRU"))
TF_OPS.register("RNN", since=7)(_recurrent("RNN"))
