"""LSTM / GRU / RNN nodes (with the layout plumbing around them) -> LSTM / GRU / SimpleRNN.

A spec recurrent layer is one ONNX node with its weights in ONNX's own layout (``W_l0``, ``R_l0``,
``B_l0``), a Transpose in front when it is batch-first, and the output reshaped from ONNX's
``[seq, directions, batch, hidden]`` to ``[seq, batch, directions*hidden]`` (or the last state to
``[batch, directions*hidden]``). Exporters write the same thing with Squeeze where there is one direction;
both are recognised. Initial states must be absent or zero (exporters write zeros; the graph module drops
them), and only one of the sequence or the last state may be read.
"""

from __future__ import annotations

import numpy as np
import onnx

from onnxbridge.spec.lift.draft import Draft, WeightSource
from onnxbridge.spec.lift.matchers import COMPOSITE, matcher
from onnxbridge.spec.lift.matchers.common import attr, float32, float32_weight, outputs_used
from onnxbridge.spec.lift.naming import hint_for
from onnxbridge.spec.lift.scope import Scope

_KIND = {"LSTM": ("LSTM", 4), "GRU": ("GRU", 3), "RNN": ("SimpleRNN", 1)}
_DEFAULT_ACTS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"]}


def _ints(scope: Scope, node: onnx.NodeProto, name: str, k: int) -> list[int] | None:
    value = attr(node, name)
    if value is None and len(node.input) > k and node.input[k]:
        c = scope.const(node.input[k])
        value = None if c is None else c.reshape(-1).tolist()
    return None if value is None else [int(v) for v in value]


def _follow(scope: Scope, value: str, op: str, **expect) -> onnx.NodeProto | None:
    user = scope.only_user(value)
    if user is None or user.op_type != op or user.domain not in ("", "ai.onnx"):
        return None
    if "perm" in expect and [int(p) for p in attr(user, "perm", [])] != expect["perm"]:
        return None
    if "axes" in expect and _ints(scope, user, "axes", 1) not in ([expect["axes"]], [expect["axes"] - 4]):
        return None
    if "shape" in expect:
        c = scope.const(scope.inp(user, 1))
        if c is None or c.reshape(-1).tolist() != expect["shape"] or int(attr(user, "allowzero", 0)):
            return None
    return user


def _sequence_out(scope: Scope, y: str, directions: int) -> tuple[list[onnx.NodeProto], str] | None:
    """Y [seq, D, batch, H] -> [seq, batch, D*H]: Transpose + Reshape, or Squeeze(1) for one direction."""
    t = _follow(scope, y, "Transpose", perm=[0, 2, 1, 3])
    if t is not None:
        r = _follow(scope, t.output[0], "Reshape", shape=[0, 0, -1]) or _static_merge(scope, t.output[0], y)
        if r is not None:
            return [t, r], r.output[0]
    if directions == 1:
        s = _follow(scope, y, "Squeeze", axes=1)
        if s is not None:
            return [s], s.output[0]
    return None


def _static_merge(scope: Scope, value: str, y: str) -> onnx.NodeProto | None:
    """A Reshape of [seq, batch, D, H] to [seq, batch, D*H] written with sizes (exporters that baked the
    example's sizes into it: on every input the original accepts, it is the same as [0, 0, -1])."""
    user = scope.only_user(value)
    shape = scope.shape(y)
    if user is None or user.op_type != "Reshape" or shape is None:
        return None
    c = scope.const(scope.inp(user, 1))
    if c is None or c.size != 3 or (int(attr(user, "allowzero", 0)) and 0 in c.reshape(-1).tolist()):
        return None
    seq, d, batch, hidden = shape
    a, b, width = (int(v) for v in c.reshape(-1))
    if not isinstance(d, int) or not isinstance(hidden, int) or width not in (d * hidden, -1):
        return None

    def fits(size, dim) -> bool:
        return size == 0 or (size > 0 and (dim == size or not isinstance(dim, int)))

    return user if fits(a, seq) and fits(b, batch) else None


def _state_out(scope: Scope, h: str, directions: int) -> tuple[list[onnx.NodeProto], str] | None:
    """Y_h [D, batch, H] -> [batch, D*H]: Transpose + Reshape, or Squeeze(0) for one direction."""
    t = _follow(scope, h, "Transpose", perm=[1, 0, 2])
    if t is not None:
        r = _follow(scope, t.output[0], "Reshape", shape=[0, -1])
        if r is not None:
            return [t, r], r.output[0]
    if directions == 1:
        user = scope.only_user(h)
        if user is not None and user.op_type == "Squeeze" and _ints(scope, user, "axes", 1) in ([0], [-3]):
            return [user], user.output[0]
        if user is not None and user.op_type == "Gather" and int(attr(user, "axis", 0)) == 0:
            index = scope.const(scope.inp(user, 1))  # h[-1] (or h[0]): the only direction's state
            if index is not None and index.ndim == 0 and int(index) in (0, -1):
                return [user], user.output[0]
    return None


@matcher("LSTM", "GRU", "RNN", stage=COMPOSITE)
def recurrent(scope: Scope, node: onnx.NodeProto) -> Draft | None:
    """``LSTM`` / ``GRU`` / ``SimpleRNN`` for the ONNX recurrent op with float32 weights and no initial
    states, sequence lengths or peepholes."""
    layer_type, gates = _KIND[node.op_type]
    x, w, r, b = (scope.inp(node, k) for k in range(4))
    extra = [scope.inp(node, k) for k in range(4, len(node.input))]
    if any(extra) or not float32(scope, x) or scope.rank(x) != 3:
        return None  # sequence lengths, initial states or peepholes: not what a spec layer has
    if not all(float32_weight(scope, v) for v in (w, r)) or (b and not float32_weight(scope, b)):
        return None
    if int(attr(node, "layout", 0)) or attr(node, "clip") is not None or int(attr(node, "input_forget", 0)):
        return None
    direction = attr(node, "direction", "forward")
    if direction not in ("forward", "bidirectional"):
        return None
    d = 2 if direction == "bidirectional" else 1
    hidden = int(attr(node, "hidden_size"))
    features = scope.dims(x)[2]
    if scope.weight_shape(w) != (d, gates * hidden, features) or scope.weight_shape(r) != (d, gates * hidden, hidden):
        return None
    if b and scope.weight_shape(b) != (d, 2 * gates * hidden):
        return None
    acts = attr(node, "activations")
    params: dict = {"hidden_size": hidden}
    if node.op_type == "RNN":
        acts = acts or ["Tanh"] * d
        if len(set(acts)) != 1 or acts[0] not in ("Tanh", "Relu"):
            return None
        if acts[0] == "Relu":
            params["nonlinearity"] = "relu"
    elif acts is not None and list(acts) != _DEFAULT_ACTS[node.op_type] * d:
        return None
    if node.op_type == "GRU" and int(attr(node, "linear_before_reset", 0)) != 1:
        return None  # the spec's GRU resets after the matmul, as PyTorch and Keras do
    used = outputs_used(node, scope)
    if used == [0]:
        post = _sequence_out(scope, node.output[0], d)
        sequences = True
    elif used == [1]:
        post = _state_out(scope, node.output[1], d)
        sequences = False
    else:
        return None
    if post is None:
        return None
    nodes, output = [node, *post[0]], post[1]
    # batch-first: a Transpose in front, and (for sequences) one behind
    pre = scope.producer(x)
    batch_first = False
    source = x
    if pre is not None and pre.op_type == "Transpose" and [int(p) for p in attr(pre, "perm", [])] == [1, 0, 2] \
            and scope.private(x, [node]):
        back = _follow(scope, output, "Transpose", perm=[1, 0, 2]) if sequences else None
        if back is not None or not sequences:
            batch_first = True
            source = scope.inp(pre, 0)
            nodes = [pre, *nodes]
            if back is not None:
                nodes.append(back)
                output = back.output[0]
    if not batch_first:
        params["batch_first"] = False
    if d == 2:
        params["bidirectional"] = True
    if not sequences:
        params["return_sequences"] = False
    weights = {"W_l0": WeightSource(w), "R_l0": WeightSource(r),
               "B_l0": WeightSource(b) if b else WeightSource(w, lambda a: np.zeros((d, 2 * gates * hidden), a.dtype))}
    return Draft(layer_type, params, [source], [output], nodes, weights, hint=hint_for([node]))
