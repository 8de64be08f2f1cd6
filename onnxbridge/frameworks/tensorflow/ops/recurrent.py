"""Recurrent layers: ONNX LSTM / GRU / RNN -> Keras LSTM / GRU / SimpleRNN (wrapped in Bidirectional); weights
known at run time and what Keras's layers cannot do (sequence lengths, peepholes, clipping, other activations)
as the ``Recurrent`` helper layer, which runs the ONNX recurrence step by step (``tf.scan``).

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
from onnxbridge.frameworks.tensorflow.helpers import define
from onnxbridge.frameworks.tensorflow.registry import TF_OPS
from onnxbridge.ir.naming import layer_hint
from onnxbridge.ir.semantics import RECURRENT_ACTIVATIONS, recurrent_activation_params

RECURRENT = define("Recurrent", '''
class Recurrent(keras.layers.Layer):
    """ONNX LSTM, GRU or RNN (``kind``) step by step, for weights known at run time and what Keras's layers
    lack: per-batch sequence lengths (steps past one keep the state and give zeros), peepholes, cell
    clipping, ONNX's activation functions (alphas, betas: their parameters, None for the default).
    Returns Y, Y_h (and Y_c for an LSTM) laid out as ONNX does; ``shapes``: their static shapes."""

    def __init__(self, kind, hidden_size, direction="forward", layout=0, activations=None, alphas=None,
                 betas=None, clip=None, input_forget=False, linear_before_reset=False, shapes=None, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.kind, self.hidden, self.direction, self.layout = kind, hidden_size, direction, layout
        self.dirs = 2 if direction == "bidirectional" else 1
        defaults = {"LSTM": ["sigmoid", "tanh", "tanh"], "GRU": ["sigmoid", "tanh"], "RNN": ["tanh"]}[kind]
        self.names = [a.lower() for a in activations or defaults * self.dirs]
        self.alphas, self.betas = alphas or [None] * len(self.names), betas or [None] * len(self.names)
        self.clip, self.input_forget, self.linear_before_reset = clip, input_forget, linear_before_reset
        self.shapes = shapes

    def _act(self, k, v):
        if self.clip is not None:
            v = tf.clip_by_value(v, -self.clip, self.clip)
        name, alpha, beta = self.names[k], self.alphas[k], self.betas[k]
        if name == "sigmoid":
            return tf.sigmoid(v)
        if name == "tanh":
            return tf.tanh(v)
        if name == "relu":
            return tf.nn.relu(v)
        if name == "leakyrelu":
            return tf.nn.leaky_relu(v, 0.01 if alpha is None else alpha)
        if name == "thresholdedrelu":
            return tf.where(v > (1.0 if alpha is None else alpha), v, tf.zeros_like(v))
        if name == "elu":
            return tf.where(v > 0, v, (1.0 if alpha is None else alpha) * (tf.exp(v) - 1))
        if name == "softsign":
            return tf.nn.softsign(v)
        if name == "softplus":
            return tf.nn.softplus(v)
        if name == "hardsigmoid":
            return tf.clip_by_value((0.2 if alpha is None else alpha) * v + (0.5 if beta is None else beta), 0.0, 1.0)
        if name == "affine":
            return (1.0 if alpha is None else alpha) * v + (0.0 if beta is None else beta)
        if name == "scaledtanh":
            return (1.0 if alpha is None else alpha) * tf.tanh((1.0 if beta is None else beta) * v)
        raise ValueError(f"unknown activation {name}")

    def call(self, x, w, r, b=None, sequence_lens=None, initial_h=None, initial_c=None, p=None):
        if self.layout:  # batch first: run time first
            x = tf.transpose(x, [1, 0, 2])
            initial_h = None if initial_h is None else tf.transpose(initial_h, [1, 0, 2])
            initial_c = None if initial_c is None else tf.transpose(initial_c, [1, 0, 2])
        steps, batch, hidden = tf.shape(x)[0], tf.shape(x)[1], self.hidden
        gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[self.kind]
        zeros = tf.zeros(tf.stack([batch, hidden]), x.dtype)
        b = tf.zeros([self.dirs, 2 * gates * hidden], x.dtype) if b is None else b
        lens = tf.fill([batch], steps) if sequence_lens is None else tf.cast(sequence_lens, tf.int32)
        ys, hs, cs = [], [], []
        for d in range(self.dirs):
            wb, rb, rd = b[d, :gates * hidden], b[d, gates * hidden:], r[d]
            inputs = tf.einsum("tbi,gi->tbg", x, w[d]) + wb
            h0 = zeros if initial_h is None else initial_h[d]
            c0 = zeros if initial_c is None else initial_c[d]
            peep = None if p is None else tf.split(p[d], 3)

            def step(carry, elems, d=d, rd=rd, rb=rb, peep=peep):
                state, cell, _ = carry
                xt, t = elems
                live = (t < lens)[:, None]
                if self.kind == "LSTM":
                    i, o, f, c = tf.split(xt + tf.matmul(state, rd, transpose_b=True) + rb, 4, axis=-1)
                    pi, po, pf = (0.0, 0.0, 0.0) if peep is None else peep
                    i = self._act(3 * d, i + pi * cell)
                    f = 1 - i if self.input_forget else self._act(3 * d, f + pf * cell)
                    new_cell = f * cell + i * self._act(3 * d + 1, c)
                    new_state = self._act(3 * d, o + po * new_cell) * self._act(3 * d + 2, new_cell)
                    cell = tf.where(live, new_cell, cell)
                elif self.kind == "GRU":
                    xz, xr, xh = tf.split(xt, 3, axis=-1)
                    (rz, rr, rh), (bz, br, bh) = tf.split(rd, 3), tf.split(rb, 3)
                    z = self._act(2 * d, xz + tf.matmul(state, rz, transpose_b=True) + bz)
                    reset = self._act(2 * d, xr + tf.matmul(state, rr, transpose_b=True) + br)
                    if self.linear_before_reset:
                        h = self._act(2 * d + 1, xh + reset * (tf.matmul(state, rh, transpose_b=True) + bh))
                    else:
                        h = self._act(2 * d + 1, xh + tf.matmul(reset * state, rh, transpose_b=True) + bh)
                    new_state = (1 - z) * h + z * state
                else:
                    new_state = self._act(d, xt + tf.matmul(state, rd, transpose_b=True) + rb)
                out = tf.where(live, new_state, tf.zeros_like(new_state))
                return tf.where(live, new_state, state), cell, out

            backward = self.direction == "reverse" or d == 1
            states, cells, out = tf.scan(step, (inputs, tf.range(steps)), initializer=(h0, c0, zeros),
                                         reverse=backward)
            ys.append(out)
            hs.append(states[0] if backward else states[-1])
            cs.append(cells[0] if backward else cells[-1])
        y, y_h, y_c = tf.stack(ys, 1), tf.stack(hs), tf.stack(cs)
        if self.layout:
            y, y_h, y_c = tf.transpose(y, [2, 0, 1, 3]), tf.transpose(y_h, [1, 0, 2]), tf.transpose(y_c, [1, 0, 2])
        outs = (y, y_h, y_c) if self.kind == "LSTM" else (y, y_h)
        return outs if self.shapes is None else tuple(o if s is None else tf.ensure_shape(o, s)
                                                       for o, s in zip(outs, self.shapes))
''')

_ACTIVATIONS = {"Sigmoid": "sigmoid", "Tanh": "tanh", "Relu": "relu"}
_DEFAULTS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"], "RNN": ["Tanh"]}


def _ops(name: str) -> Code:
    return dotted("ops", name)


def _check(ctx: TensorFlowContext, op: str, directions: int) -> list[str] | None:
    """The Keras activation names for this node, or None where Keras's recurrent layers cannot compute it."""
    if ctx.attr("clip") is not None or ctx.attr("input_forget", 0):
        return None
    if ctx.attr("activation_alpha") or ctx.attr("activation_beta"):
        return None
    acts = ctx.attr("activations") or _DEFAULTS[op] * directions
    per = len(_DEFAULTS[op])
    if acts[:per] != acts[per:] and directions == 2:
        return None
    acts = acts[:per]
    if any(a not in _ACTIVATIONS for a in acts):
        return None
    if op == "LSTM" and acts[1] != acts[2]:
        return None
    if op == "LSTM" and ctx.has(7):
        p = ctx.const(7)
        if p is None or np.any(p != 0):
            return None  # peephole connections
    if ctx.has(4):
        lens = ctx.const(4)
        t = ctx.shape(0)[1 if ctx.attr("layout", 0) else 0]
        if lens is None or not isinstance(t, int) or not np.all(lens == t):
            return None
    return [_ACTIVATIONS[a] for a in acts]


def _step_by_step(ctx: TensorFlowContext, op: str) -> None:
    """The ``Recurrent`` helper layer: the recurrence written out, for what Keras's layers cannot hold."""
    options: dict[str, Any] = {}
    acts = [str(a).lower() for a in (ctx.attr("activations") or [])]
    if acts:
        unknown = sorted({a for a in acts if a not in RECURRENT_ACTIVATIONS})
        if unknown:
            ctx.fail(f"activation(s) {unknown} are not ONNX recurrent activations")
        options["activations"] = acts
        alphas, betas = recurrent_activation_params(acts, ctx.attr("activation_alpha") or [],
                                                    ctx.attr("activation_beta") or [])
        options["alphas"] = alphas if any(v is not None for v in alphas) else None
        options["betas"] = betas if any(v is not None for v in betas) else None
    if ctx.attr("clip") is not None:
        options["clip"] = float(ctx.attr("clip"))
    if op == "LSTM" and int(ctx.attr("input_forget", 0)):
        options["input_forget"] = True
    if op == "GRU" and int(ctx.attr("linear_before_reset", 0)):
        options["linear_before_reset"] = True
    direction = ctx.attr("direction", "forward")
    n_out = 3 if op == "LSTM" else 2
    layer = ctx.layer(str(ctx.helper(RECURRENT)), module="", kind=op, hidden_size=int(ctx.attr("hidden_size", ctx.shape(2)[-1])),
                      direction=direction if direction != "forward" else None,
                      layout=1 if int(ctx.attr("layout", 0)) else None, **options,
                      shapes=[ctx.static_out_shape(j) if j < len(ctx.node.output) and ctx.node.output[j]
                              else None for j in range(n_out)])
    kwargs = {name: ctx.tensor_arg(i) for i, name in ((3, "b"), (4, "sequence_lens"), (5, "initial_h"),
                                                      (6, "initial_c"), (7, "p"))
              if ctx.has(i) and (op == "LSTM" or i < 6)}
    ctx.outs(call(layer, ctx.x(0), ctx.tensor_arg(1), ctx.tensor_arg(2), **kwargs), [None] * n_out)


def _gates(w: np.ndarray, order: list[int], n: int) -> np.ndarray:
    parts = np.split(w, n, axis=0)
    return np.concatenate([parts[k] for k in order], axis=0)


def _recurrent(op: str):
    def convert(ctx: TensorFlowContext) -> None:
        node = ctx.node
        direction = ctx.attr("direction", "forward")
        directions = 2 if direction == "bidirectional" else 1
        acts = _check(ctx, op, directions)
        w, r = ctx.const(1), ctx.const(2)
        b = ctx.const(3) if ctx.has(3) else None
        if acts is None or w is None or r is None or (ctx.has(3) and b is None):
            _step_by_step(ctx, op)
            return
        x_shape = ctx.type(0).shape
        if x_shape and not isinstance(x_shape[-1], int):  # Keras builds the kernel from the input's size
            ctx.fail(f"the input's feature size {x_shape[-1]!r} is not fixed (W takes {w.shape[-1]} features)")
        hidden = int(ctx.attr("hidden_size"))
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
