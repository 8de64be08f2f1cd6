"""Helper functions written into the generated ``model.py`` when an op needs more than one torch call.

Each entry is the fixed source of one module-level function (no model data goes into it); converters call
it with tensors and literal arguments (``y = onnx_pad(x, pads, 'edge')``), so
``forward`` keeps one statement per node. The TensorFlow bridge has the same kind of table
(``frameworks/tensorflow/helpers.py``).
"""

from __future__ import annotations

from collections.abc import Callable


def _lines(text: str) -> Callable[[], list[str]]:
    body = text.strip("\n").split("\n")
    return lambda: list(body)


HELPERS: dict[str, Callable[[], list[str]]] = {
    "onnx_slice": _lines('''
def onnx_slice(x, starts, ends, axes=None, steps=None):
    """ONNX Slice with bounds known at run time: Python's slice rules (ONNX clamps the bounds the same
    way); a negative step walks backwards.
    """
    rank = x.dim()
    starts, ends = [int(v) for v in starts], [int(v) for v in ends]
    axes = [int(a) % rank for a in axes] if axes is not None else list(range(len(starts)))
    steps = [int(v) for v in steps] if steps is not None else [1] * len(starts)
    for axis, start, end, step in zip(axes, starts, ends, steps):
        kept = range(x.shape[axis])[start:end:step]
        if step > 0:
            x = x[(slice(None),) * axis + (slice(kept.start, kept.stop, step),)]
        else:
            x = x.index_select(axis, torch.arange(kept.start, kept.stop, step, device=x.device))
    return x
'''),
    "onnx_unsqueeze": _lines('''
def onnx_unsqueeze(x, axes):
    """ONNX Unsqueeze with axes known at run time (negative axes count from the end of the output)."""
    rank = x.dim() + len(axes)
    for axis in sorted(int(a) % rank for a in axes):
        x = x.unsqueeze(axis)
    return x
'''),
    "onnx_reduce": _lines('''
def onnx_reduce(x, axes, op, keepdims=True, noop_with_empty_axes=False):
    """An ONNX reduction (op: sum, mean, max, min, prod, l1, l2, sum_square, log_sum, log_sum_exp) over
    axes known at run time: all axes when none are given, unless noop_with_empty_axes. The max or min of
    nothing is the lowest or highest value of the type, as in ONNX.
    """
    rank = x.dim()
    dims = sorted({int(a) % rank for a in axes}) if rank else []
    if not dims:
        if noop_with_empty_axes:
            return x
        dims = list(range(rank))
    if op in ("max", "min") and any(x.shape[d] == 0 for d in dims):
        if x.dtype == torch.bool:
            low, high = False, True
        elif x.dtype.is_floating_point:
            low, high = -float("inf"), float("inf")
        else:
            low, high = torch.iinfo(x.dtype).min, torch.iinfo(x.dtype).max
        shape = [1 if d in dims else n for d, n in enumerate(x.shape)]
        y = torch.full(shape, low if op == "max" else high, dtype=x.dtype, device=x.device)
        return y if keepdims else y.reshape([n for d, n in enumerate(shape) if d not in dims])
    if op == "prod":
        for d in reversed(dims):
            x = torch.prod(x, d, keepdim=keepdims)
        return x
    if op == "l2":
        return torch.linalg.vector_norm(x, 2.0, dim=dims, keepdim=keepdims).to(x.dtype)
    if op == "log_sum_exp":
        return torch.logsumexp(x, dim=dims, keepdim=keepdims)
    if op in ("max", "min"):
        return (torch.amax if op == "max" else torch.amin)(x, dim=dims, keepdim=keepdims)
    if op == "mean":
        return torch.mean(x, dim=dims, keepdim=keepdims)
    y = torch.sum(x.abs() if op == "l1" else x * x if op == "sum_square" else x, dim=dims, keepdim=keepdims)
    return torch.log(y) if op == "log_sum" else y
'''),
    "onnx_pad": _lines('''
def onnx_pad(x, pads, mode="constant", value=0.0, axes=None):
    """ONNX Pad: pads lists the amounts before every axis, then after every axis (of axes only, when
    given); negative amounts crop. mode: 'constant' (value), 'edge' (repeat the border), 'reflect'
    (mirror it, border excluded) or 'wrap'.
    """
    rank = x.dim()
    pads = [int(p) for p in pads]
    if axes is not None:
        axes = [int(a) % rank for a in axes]
        full = [0] * (2 * rank)
        for k, axis in enumerate(axes):
            full[axis], full[axis + rank] = pads[k], pads[k + len(axes)]
        pads = full
    if mode == "constant":
        pairs = [amount for axis in reversed(range(rank)) for amount in (pads[axis], pads[axis + rank])]
        return F.pad(x, pairs, value=value)
    for axis in range(rank):
        begin, end = pads[axis], pads[axis + rank]
        if begin == 0 and end == 0:
            continue
        size = x.shape[axis]
        index = torch.arange(-begin, size + end, device=x.device)
        if mode == "edge":
            index = index.clamp(0, size - 1)
        elif mode == "reflect":
            period = max(2 * size - 2, 1)
            index = index.remainder(period)
            index = torch.where(index >= size, period - index, index)
        else:
            index = index.remainder(size)
        x = x.index_select(axis, index)
    return x
'''),
    "onnx_resize": _lines('''
def onnx_resize(x, scales=None, sizes=None, roi=None, mode="nearest", coordinate_transformation_mode="half_pixel",
                nearest_mode="round_prefer_floor", cubic_coeff_a=-0.75, exclude_outside=False,
                extrapolation_value=0.0, antialias=False, axes=None, keep_aspect_ratio_policy="stretch"):
    """ONNX Resize (and Upsample) with every mode and coordinate rule, scales or sizes known at run time:
    one axis at a time, each output position a weighted sum of its input neighbours (nearest: the one it
    rounds to), the weights as ONNX defines them.
    """
    rank = x.dim()
    axes = list(range(rank)) if axes is None else [int(a) % rank for a in axes]
    shape = list(x.shape)
    if sizes is not None and len(sizes):
        out = [int(s) for s in sizes]
        factors = [out[k] / shape[a] for k, a in enumerate(axes)]
        if keep_aspect_ratio_policy != "stretch":
            scale = (min if keep_aspect_ratio_policy == "not_larger" else max)(factors)
            factors = [scale] * len(axes)
            out = [int(scale * shape[a] + 0.5) for a in axes]
    else:
        factors = [float(s) for s in scales]
        out = [int(f * shape[a]) for f, a in zip(factors, axes)]
    roi = [float(r) for r in roi] if roi is not None and len(roi) else None
    floating = x.dtype.is_floating_point
    y = x if mode == "nearest" else x.to(torch.promote_types(x.dtype, torch.float32) if floating else torch.float64)
    for k, axis in enumerate(axes):
        factor, size, width = factors[k], shape[axis], factors[k] * shape[axis]
        pos = torch.arange(out[k], dtype=torch.float64, device=x.device)
        coord = coordinate_transformation_mode
        if coord == "align_corners":
            src = pos * 0 if width == 1 else pos * (size - 1) / (width - 1)
        elif coord == "asymmetric":
            src = pos / factor
        elif coord == "tf_crop_and_resize":
            start, end = roi[k], roi[k + len(axes)]
            src = pos * 0 + (end - start) * (size - 1) / 2 if width == 1 else pos * (end - start) * (size - 1) / (width - 1)
            src = src + start * (size - 1)
        elif coord == "pytorch_half_pixel":
            src = pos * 0 - 0.5 if width == 1 else (pos + 0.5) / factor - 0.5
        elif coord == "tf_half_pixel_for_nn":
            src = (pos + 0.5) / factor
        elif coord == "half_pixel_symmetric":
            src = size / 2 * (1 - out[k] / width) + (pos + 0.5) / factor - 0.5
        else:
            src = (pos + 0.5) / factor - 0.5
        whole = src == torch.floor(src)
        ratio = torch.where(whole, 1.0, src - torch.floor(src))  # in (0, 1]: the left neighbour is preferred
        if mode == "nearest":
            up = {"round_prefer_floor": ratio > 0.5, "round_prefer_ceil": ratio >= 0.5, "floor": ratio < 0,
                  "ceil": ratio > 0}[nearest_mode] | whole
            index = (torch.ceil(src) - 1 + up.double()).clamp(0, size - 1).long()
            y = y.index_select(axis, index)
        else:
            support = 1 if mode == "linear" else 2
            scale = min(factor, 1.0) if antialias else 1.0
            first = int(-support / scale // 1) + 1
            n = 2 - 2 * first
            d = (scale * (torch.arange(first, first + n, dtype=torch.float64, device=x.device) - ratio[:, None])).abs()
            if mode == "linear":
                weights = (1 - d).clamp(0, 1)
            else:
                a = cubic_coeff_a
                weights = torch.where(d <= 1, (a + 2) * d ** 3 - (a + 3) * d ** 2 + 1,
                                      torch.where(d < 2, a * d ** 3 - 5 * a * d ** 2 + 8 * a * d - 4 * a, 0.0))
            if antialias:
                weights = weights / weights.sum(-1, keepdim=True)
            taps = torch.ceil(src).long()[:, None] - n // 2 + torch.arange(n, device=x.device)
            if exclude_outside:
                weights = torch.where((taps < 0) | (taps >= size), 0.0, weights)
                total = weights.sum(-1, keepdim=True)
                weights = weights / torch.where(total == 0, 1.0, total)
            matrix = torch.zeros(out[k], size, dtype=torch.float64, device=x.device)
            matrix.scatter_add_(1, taps.clamp(0, size - 1), weights)
            y = torch.movedim(torch.movedim(y, axis, -1) @ matrix.T.to(y.dtype), -1, axis)
        if coord == "tf_crop_and_resize":
            outside = ((src < 0) | (src > size - 1)).reshape([-1 if a == axis else 1 for a in range(rank)])
            y = torch.where(outside, torch.tensor(extrapolation_value, dtype=y.dtype, device=y.device), y)
    if y.dtype != x.dtype:
        if not floating:
            info = torch.iinfo(x.dtype)
            y = y.round().clamp(info.min, info.max)
        y = y.to(x.dtype)
    return y
'''),
    "onnx_recurrent": _lines('''
def onnx_recurrent(kind, x, w, r, b=None, sequence_lens=None, initial_h=None, initial_c=None, p=None,
                   direction="forward", layout=0, activations=None, alphas=None, betas=None, clip=None,
                   input_forget=False, linear_before_reset=False):
    """ONNX LSTM, GRU or RNN (kind) step by step, for weights known at run time and what torch's modules
    lack: per-batch sequence lengths (steps past one keep the state and give zeros), peepholes, cell
    clipping, ONNX's activation functions (alphas, betas: their parameters, None for the default).
    Returns Y, Y_h (and Y_c for an LSTM) laid out as ONNX does.
    """
    if layout:  # batch first: run time first
        x = x.transpose(0, 1)
        initial_h = None if initial_h is None else initial_h.transpose(0, 1)
        initial_c = None if initial_c is None else initial_c.transpose(0, 1)
    steps, batch = x.shape[0], x.shape[1]
    dirs, hidden = w.shape[0], r.shape[-1]
    gates, per = {"LSTM": (4, 3), "GRU": (3, 2), "RNN": (1, 1)}[kind]
    names = activations or {"LSTM": ["sigmoid", "tanh", "tanh"], "GRU": ["sigmoid", "tanh"], "RNN": ["tanh"]}[kind] * dirs
    alphas, betas = alphas or [None] * len(names), betas or [None] * len(names)

    def act(k, v):
        if clip is not None:
            v = v.clamp(-clip, clip)
        name, alpha, beta = names[k].lower(), alphas[k], betas[k]
        if name == "sigmoid":
            return torch.sigmoid(v)
        if name == "tanh":
            return torch.tanh(v)
        if name == "relu":
            return torch.relu(v)
        if name == "leakyrelu":
            return F.leaky_relu(v, 0.01 if alpha is None else alpha)
        if name == "thresholdedrelu":
            return torch.where(v > (1.0 if alpha is None else alpha), v, 0.0)
        if name == "elu":
            return F.elu(v, 1.0 if alpha is None else alpha)
        if name == "softsign":
            return v / (1 + v.abs())
        if name == "softplus":
            return F.softplus(v)
        if name == "hardsigmoid":
            return ((0.2 if alpha is None else alpha) * v + (0.5 if beta is None else beta)).clamp(0, 1)
        if name == "affine":
            return (1.0 if alpha is None else alpha) * v + (0.0 if beta is None else beta)
        if name == "scaledtanh":
            return (1.0 if alpha is None else alpha) * torch.tanh((1.0 if beta is None else beta) * v)
        raise ValueError(f"unknown activation {name}")

    b = x.new_zeros(dirs, 2 * gates * hidden) if b is None else b
    lens = torch.full((batch,), steps, device=x.device) if sequence_lens is None else sequence_lens.long()
    ys, hs, cs = [], [], []
    for d in range(dirs):
        wb, rb = b[d, :gates * hidden], b[d, gates * hidden:]
        inputs = x @ w[d].T + wb
        state = x.new_zeros(batch, hidden) if initial_h is None else initial_h[d]
        cell = x.new_zeros(batch, hidden) if initial_c is None else initial_c[d]
        out = [x.new_zeros(batch, hidden)] * steps
        backward = direction == "reverse" or d == 1
        for t in reversed(range(steps)) if backward else range(steps):
            live = (t < lens)[:, None]
            if kind == "LSTM":
                i, o, f, c = (inputs[t] + state @ r[d].T + rb).chunk(4, -1)
                pi, po, pf = (0, 0, 0) if p is None else p[d].chunk(3)
                i = act(3 * d, i + pi * cell)
                f = 1 - i if input_forget else act(3 * d, f + pf * cell)
                new_cell = f * cell + i * act(3 * d + 1, c)
                new_state = act(3 * d, o + po * new_cell) * act(3 * d + 2, new_cell)
                cell = torch.where(live, new_cell, cell)
            elif kind == "GRU":
                xz, xr, xh = inputs[t].chunk(3, -1)
                (rz, rr, rh), (bz, br, bh) = r[d].chunk(3), rb.chunk(3)
                z = act(2 * d, xz + state @ rz.T + bz)
                reset = act(2 * d, xr + state @ rr.T + br)
                if linear_before_reset:
                    h = act(2 * d + 1, xh + reset * (state @ rh.T + bh))
                else:
                    h = act(2 * d + 1, xh + (reset * state) @ rh.T + bh)
                new_state = (1 - z) * h + z * state
            else:
                new_state = act(d, inputs[t] + state @ r[d].T + rb)
            out[t] = torch.where(live, new_state, 0.0)
            state = torch.where(live, new_state, state)
        ys.append(torch.stack(out))
        hs.append(state)
        cs.append(cell)
    y, y_h, y_c = torch.stack(ys, 1), torch.stack(hs), torch.stack(cs)
    if layout:
        y, y_h, y_c = y.permute(2, 0, 1, 3), y_h.transpose(0, 1), y_c.transpose(0, 1)
    return (y, y_h, y_c) if kind == "LSTM" else (y, y_h)
'''),
    "onnx_dilated_pool": _lines('''
def onnx_dilated_pool(x, kernel, strides, pads, dilations, ceil_mode=False, count_include_pad=False, p=None):
    """ONNX AveragePool (or LpPool, given p) over dilated windows: each window's sum as a convolution of
    every channel by ones (dilated), divided by how many elements it counts (ceil_mode's last windows
    never count what lies past the padding); LpPool takes the p-th root of the sum of |x|^p.
    """
    nd = len(kernel)
    conv = (F.conv1d, F.conv2d, F.conv3d)[nd - 1]
    sizes, ends = list(x.shape[2:]), []
    for d in range(nd):
        span = dilations[d] * (kernel[d] - 1) + 1
        room = sizes[d] + pads[d] + pads[nd + d] - span
        count = (-(-room // strides[d]) if ceil_mode else room // strides[d]) + 1
        if ceil_mode and (count - 1) * strides[d] >= sizes[d] + pads[d]:
            count -= 1
        ends.append((count - 1) * strides[d] + span - sizes[d] - pads[d])  # the last window just fits

    def torch_order(begins, finals):
        return [v for d in reversed(range(nd)) for v in (begins[d], finals[d])]

    values = x if p is None else x.abs().pow(p)
    ones = torch.ones(1, 1, *kernel, dtype=x.dtype, device=x.device)
    flat = F.pad(values.reshape(-1, 1, *sizes), torch_order(pads[:nd], ends))
    total = conv(flat, ones, stride=strides, dilation=dilations)
    if p is not None:
        y = total.pow(1.0 / p)
    else:
        counted = torch.ones(1, 1, *sizes, dtype=x.dtype, device=x.device)
        if count_include_pad:
            counted = F.pad(F.pad(counted, torch_order(pads[:nd], pads[nd:]), value=1.0),
                            torch_order([0] * nd, [e - pads[nd + d] for d, e in enumerate(ends)]))
        else:
            counted = F.pad(counted, torch_order(pads[:nd], ends))
        y = total / conv(counted, ones, stride=strides, dilation=dilations)
    return y.reshape(*x.shape[:2], *y.shape[2:])
'''),
    "onnx_scatter_nd": _lines('''
def onnx_scatter_nd(x, indices, updates, reduction):
    """ONNX ScatterND with reduction mul, max or min: x flattened over the indexed axes, each indexed row
    combined with every update aimed at it (scatter_reduce).
    """
    k = indices.shape[-1]
    head = list(x.shape[:k])
    strides = [1] * k
    for j in reversed(range(k - 1)):
        strides[j] = strides[j + 1] * head[j + 1]
    index = indices.reshape(-1, k) % torch.tensor(head, device=x.device)  # negative indices count from the end
    rows = (index * torch.tensor(strides, device=x.device)).sum(-1)
    flat, source = x.reshape(-1, *x.shape[k:]), updates.reshape(-1, *x.shape[k:])
    rows = rows.reshape(-1, *[1] * (source.dim() - 1)).expand_as(source)
    reduce = {"mul": "prod", "max": "amax", "min": "amin"}[reduction]
    return flat.scatter_reduce(0, rows, source, reduce).reshape(x.shape)
'''),
    "onnx_gather_nd": _lines('''
def onnx_gather_nd(x, indices, batch_dims):
    """ONNX GatherND with batch_dims leading axes shared by x and indices: each batch entry gathers from its
    own slice of x.
    """
    batch = indices.shape[:batch_dims]
    n = int(torch.tensor(batch).prod()) if batch_dims else 1
    data = x.reshape(n, *x.shape[batch_dims:])
    index = indices.reshape(n, -1, indices.shape[-1]).long()
    which = torch.arange(n, device=x.device)[:, None].expand(-1, index.shape[1])
    out = data[(which, *index.movedim(-1, 0))]
    return out.reshape(*indices.shape[:-1], *out.shape[2:])
'''),
    "onnx_pool_indices": _lines('''
def onnx_pool_indices(indices, shape, column_major=False):
    """torch's max-pool indices (row-major within each channel) as ONNX numbers them: over the whole input
    of this shape, row-major, or column-major over the last two axes (storage_order=1).
    """
    n, c, *spatial = shape
    if column_major:
        height, width = spatial[-2:]
        indices = indices % width * height + indices // width
    size = 1
    for d in spatial:
        size *= d
    return indices + torch.arange(n * c, device=indices.device).reshape(n, c, *[1] * len(spatial)) * size
'''),
    "onnx_tree_ensemble": _lines('''
def onnx_tree_ensemble(x, trees, n_targets, aggregate, depth):
    """ONNX TreeEnsemble: every tree walked at once, one level per step, then the reached leaves' weights
    aggregated per target ("sum", "average", "min" or "max")."""
    (roots, root_leafs, features, splits, modes, true_ids, false_ids, true_leafs, false_leafs, missing_true,
     members, leaf_targets, leaf_weights) = trees
    node = roots.expand(x.shape[0], -1)
    leaf = root_leafs.expand(x.shape[0], -1)
    for _ in range(depth):
        at = torch.where(leaf, 0, node)
        v = torch.gather(x, 1, features[at])
        s = splits[at]
        tests = torch.stack([v <= s, v < s, v >= s, v > s, v == s, v != s, (v[..., None] == members[at]).any(-1)], -1)
        go = tests.gather(-1, modes[at][..., None])[..., 0] | (missing_true[at] & torch.isnan(v))
        node = torch.where(leaf, node, torch.where(go, true_ids[at], false_ids[at]))
        leaf = leaf | torch.where(go, true_leafs[at], false_leafs[at])
    weights, targets = leaf_weights[node].to(x.dtype), leaf_targets[node]
    if aggregate in ("sum", "average"):
        out = x.new_zeros(x.shape[0], n_targets).scatter_add(1, targets, weights)
        return out / roots.numel() if aggregate == "average" else out
    start = torch.finfo(x.dtype).max if aggregate == "min" else torch.finfo(x.dtype).min
    reduce = "amin" if aggregate == "min" else "amax"
    return x.new_full((x.shape[0], n_targets), start).scatter_reduce(1, targets, weights, reduce)
'''),
    "onnx_col2im": _lines('''
def onnx_col2im(x, image_shape, block_shape, dilations, pads, strides):
    """ONNX Col2Im for any number of spatial axes: each column entry is added into the image at its block
    position (entries falling into the padding are dropped)."""
    image, block = [int(v) for v in image_shape], [int(v) for v in block_shape]
    nd = len(image)
    counts = [(image[d] + pads[d] + pads[nd + d] - dilations[d] * (block[d] - 1) - 1) // strides[d] + 1
              for d in range(nd)]
    grid = lambda sizes: torch.stack(torch.meshgrid(*[torch.arange(s) for s in sizes], indexing="ij"), -1).reshape(-1, nd)
    pos = grid(counts)[None] * torch.tensor(strides) + grid(block)[:, None] * torch.tensor(dilations) \\
        - torch.tensor(pads[:nd])
    inside = ((pos >= 0) & (pos < torch.tensor(image))).all(-1).reshape(-1)
    steps = torch.tensor([int(torch.tensor(image[d + 1:]).prod()) for d in range(nd)])
    flat = (pos * steps).sum(-1).reshape(-1).to(x.device)
    n, width = x.shape[0], x.shape[1] // len(grid(block))
    cols = x.reshape(n, width, -1)
    inside = inside.to(x.device)
    out = x.new_zeros(n, width, int(torch.tensor(image).prod()))
    out.index_add_(2, flat[inside], cols[..., inside])
    return out.reshape(n, width, *image)
'''),
    "onnx_deform_conv2d": _lines('''
def onnx_deform_conv2d(x, weight, offset, bias=None, mask=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1),
                   groups=1, offset_groups=1):
    """ONNX DeformConv (2-D): each kernel tap reads the input bilinearly at its position moved by the offset
    (zero outside the image), scaled by the mask, then a grouped convolution of those taps."""
    n, c, h, w = x.shape
    out_c, _, kh, kw = weight.shape
    oh, ow = offset.shape[-2:]
    offset = offset.reshape(n, offset_groups, kh, kw, 2, oh, ow)
    mask = torch.ones_like(offset[:, :, :, :, 0]) if mask is None else mask.reshape(n, offset_groups, kh, kw, oh, ow)
    rows = (torch.arange(kh, device=x.device) * dilation[0])[:, None, None, None] \\
        + (torch.arange(oh, device=x.device) * stride[0] - padding[0])[:, None]
    cols = (torch.arange(kw, device=x.device) * dilation[1])[:, None, None] \\
        + torch.arange(ow, device=x.device) * stride[1] - padding[1]
    y, x_pos = rows + offset[:, :, :, :, 0], cols + offset[:, :, :, :, 1]
    planes = x.reshape(n, offset_groups, c // offset_groups, h * w)
    taps = 0
    for dy in (0, 1):
        for dx in (0, 1):
            ty, tx = torch.floor(y) + dy, torch.floor(x_pos) + dx
            weight_yx = (1 - (y - ty).abs()) * (1 - (x_pos - tx).abs()) * mask
            weight_yx = weight_yx * ((ty >= 0) & (ty < h) & (tx >= 0) & (tx < w))
            index = (ty.clamp(0, h - 1) * w + tx.clamp(0, w - 1)).long().reshape(n, offset_groups, 1, -1)
            values = torch.gather(planes, 3, index.expand(-1, -1, c // offset_groups, -1))
            taps = taps + values * weight_yx.reshape(n, offset_groups, 1, -1)
    taps = taps.reshape(n, groups, c // groups * kh * kw, oh * ow)
    kernel = weight.reshape(groups, out_c // groups, -1)
    out = torch.einsum("gok,ngkl->ngol", kernel, taps).reshape(n, out_c, oh, ow)
    return out if bias is None else out + bias.reshape(1, -1, 1, 1)
'''),
    "onnx_unique": _lines('''
def onnx_unique(x, dim=None, sort=True):
    """ONNX Unique: the unique values (or slices along dim), the index of each one's first occurrence, the
    inverse indices and the counts; without sort, in order of first occurrence."""
    flat = x.reshape(-1) if dim is None else x
    values, inverse, counts = torch.unique(flat, sorted=True, return_inverse=True, return_counts=True, dim=dim)
    n = flat.shape[0 if dim is None else dim]
    positions = torch.arange(n, device=x.device)
    first = torch.full((counts.shape[0],), n, dtype=torch.int64, device=x.device)
    first = first.scatter_reduce(0, inverse.reshape(-1), positions, "amin")
    if not sort:
        order = torch.argsort(first)
        values = values.index_select(0 if dim is None else dim, order)
        inverse = torch.argsort(order)[inverse]
        first, counts = first[order], counts[order]
    return values, first, inverse.reshape(-1), counts
'''),
    "onnx_non_max_suppression": _lines('''
def onnx_non_max_suppression(boxes, scores, max_output=None, iou_threshold=None, score_threshold=None,
                         center_point_box=0):
    """ONNX NonMaxSuppression: per batch and class, boxes by falling score (ties: lower index first), each
    kept unless it overlaps a kept one by more than iou_threshold; [batch, class, box] rows."""
    limit = 0 if max_output is None or max_output.numel() == 0 else max(int(max_output.reshape(-1)[0]), 0)
    iou_limit = 0.0 if iou_threshold is None or iou_threshold.numel() == 0 else float(iou_threshold.reshape(-1)[0])
    if center_point_box:
        half = boxes[..., 2:] / 2
        corners = torch.cat([boxes[..., :2] - half, boxes[..., :2] + half], -1)
    else:  # [y1, x1, y2, x2], corners in either order
        corners = torch.stack([torch.minimum(boxes[..., 1], boxes[..., 3]), torch.minimum(boxes[..., 0], boxes[..., 2]),
                               torch.maximum(boxes[..., 1], boxes[..., 3]), torch.maximum(boxes[..., 0], boxes[..., 2])], -1)
    selected = []
    for b in range(scores.shape[0]):
        box = corners[b]
        area = (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1])
        overlap = (torch.minimum(box[:, None, 2:], box[None, :, 2:]) - torch.maximum(box[:, None, :2], box[None, :, :2]))
        inter = overlap.clamp(min=0).prod(-1)
        union = area[:, None] + area[None, :] - inter
        valid = (overlap > 0).all(-1) & (area[:, None] > 0) & (area[None, :] > 0) & (union > 0)
        suppresses = (valid & (inter / torch.where(valid, union, 1) > iou_limit)).tolist()
        for c in range(scores.shape[1]):
            order = torch.argsort(scores[b, c], descending=True, stable=True)
            if score_threshold is not None and score_threshold.numel():
                order = order[scores[b, c][order] > score_threshold.reshape(-1)[0]]
            kept = []
            for i in order.tolist():
                if len(kept) >= limit:
                    break
                if not any(suppresses[k][i] for k in kept):
                    kept.append(i)
            selected += [[b, c, i] for i in kept]
    return torch.tensor(selected, dtype=torch.int64, device=boxes.device).reshape(-1, 3)
'''),
    "onnx_tfidf_vectorizer": _lines('''
def onnx_tfidf_vectorizer(x, pools, output_size, max_skip=0, mode="TF", weights=None):
    """ONNX TfIdfVectorizer: how often each pool n-gram occurs in each row of tokens (items skip_distance
    apart, for every distance up to max_skip + 1; unigrams once), as counts (TF), weights where present
    (IDF) or weighted counts (TFIDF), at each n-gram's output position."""
    rows = x if x.dim() == 2 else x.reshape(1, -1)
    counts = torch.zeros(rows.shape[0], output_size, device=x.device)
    for size, grams, where in pools:
        grams = torch.tensor(grams, dtype=rows.dtype, device=x.device)
        spread = F.one_hot(torch.tensor(where, device=x.device), output_size).float()
        for distance in range(1, max_skip + 2) if size > 1 else [1]:
            span = (size - 1) * distance + 1
            if span > rows.shape[1]:
                break
            windows = rows.unfold(1, span, 1)[..., ::distance]
            hits = (windows[:, :, None, :] == grams[None, None]).all(-1)
            counts = counts + hits.sum(1).float() @ spread
    if mode != "TF":
        weights = torch.ones(output_size, device=x.device) if weights is None else torch.tensor(weights, device=x.device)
        counts = counts * weights if mode == "TFIDF" else torch.where(counts > 0, weights, 0.0)
    return counts if x.dim() == 2 else counts[0]
'''),
    "onnx_mel_weight_matrix": _lines('''
def onnx_mel_weight_matrix(num_mel_bins, dft_length, sample_rate, lower_edge_hertz, upper_edge_hertz, dtype):
    """Triangular filters from the linear-frequency bins of an FFT to mel bins (ONNX MelWeightMatrix)."""
    num_mel_bins, dft_length, sample_rate = int(num_mel_bins), int(dft_length), int(sample_rate)
    low = 2595 * torch.log10(1 + torch.as_tensor(lower_edge_hertz, dtype=torch.float64) / 700)
    high = 2595 * torch.log10(1 + torch.as_tensor(upper_edge_hertz, dtype=torch.float64) / 700)
    mel = torch.arange(num_mel_bins + 2, dtype=torch.float64) * (high - low) / (num_mel_bins + 2) + low
    hertz = 700 * (torch.pow(10, mel / 2595) - 1)
    edges = torch.floor((dft_length + 1) * hertz / sample_rate).long()
    left, center, right = edges[:-2], edges[1:-1], edges[2:]
    j = torch.arange(dft_length // 2 + 1, dtype=torch.float64)[:, None]
    rising = torch.where(center > left, (j - left) / (center - left).clamp(min=1), 1.0)
    falling = (right - j) / (right - center).clamp(min=1)
    weights = torch.where((left <= j) & (j <= center), rising, torch.where((center < j) & (j < right), falling, 0.0))
    return weights.to(dtype)
'''),
}
