"""Ops whose output size depends on the data: Compress (``index_select`` of the kept positions), Unique
(``torch.unique`` plus ONNX's first-occurrence indices and unsorted order), NonMaxSuppression (greedy
suppression written in torch: torchvision is not a dependency of the generated code)."""

from __future__ import annotations

from onnxbridge.codegen.writer import Code, fmt, lit
from onnxbridge.frameworks.torch.context import TorchContext, fn
from onnxbridge.frameworks.torch.helpers import define
from onnxbridge.frameworks.torch.registry import TORCH_OPS

REG = TORCH_OPS.register


@REG("Compress", since=9)
def compress(ctx: TorchContext) -> None:
    # positions where the condition holds; a shorter condition drops the rest of the axis
    kept = fmt("torch.nonzero({}).reshape(-1)", ctx.t(1))
    axis = ctx.attr("axis")
    if axis is None:
        ctx.emit(fmt("{}.reshape(-1).index_select(0, {})", ctx.t(0), kept))
        return
    ctx.emit(fmt("{}.index_select({}, {})", ctx.t(0), lit(ctx.axis(axis, ctx.rank(0))), kept))


UNIQUE = define("_unique", '''
def _unique(x, dim=None, sort=True):
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
''')


@REG("Unique", since=11)
def unique(ctx: TorchContext) -> None:
    kwargs: dict[str, Code] = {}
    if ctx.attr("axis") is not None:
        kwargs["dim"] = lit(ctx.axis(ctx.attr("axis"), ctx.rank(0)))
    if not int(ctx.attr("sorted", 1)):
        kwargs["sort"] = lit(False)
    ctx.line("{} = {}", ctx.targets(4), fn(ctx.helper(UNIQUE), ctx.t(0), **kwargs))


NMS = define("_non_max_suppression", '''
def _non_max_suppression(boxes, scores, max_output=None, iou_threshold=None, score_threshold=None,
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
''')


@REG("NonMaxSuppression", since=11)
def non_max_suppression(ctx: TorchContext) -> None:
    args = [ctx.t(i) if ctx.has(i) else Code("None") for i in range(2, 5)]
    while args and args[-1] == "None":
        args.pop()
    kwargs = {"center_point_box": lit(1)} if int(ctx.attr("center_point_box", 0)) else {}
    ctx.emit(fn(ctx.helper(NMS), ctx.t(0), ctx.t(1), *args, **kwargs))
