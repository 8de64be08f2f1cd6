/**
 * The overview map: every node as a small rectangle, the part in view as a frame; click or drag in it to
 * move the view there, the wheel zooms. It draws a few SVG paths (one per node status) instead of one
 * element per node, so a network of hundreds of layers costs no more than a small one.
 */

import { type Node, Panel, type ReactFlowState, useReactFlow, useStore } from "@xyflow/react";
import { type PointerEvent, type WheelEvent, memo, useMemo, useRef } from "react";
import type { LayerNodeData } from "./nodes";

const W = 168;
const H = 120;

const viewport = (s: ReactFlowState) => ({ t: s.transform, w: s.width, h: s.height });
const sameViewport = (a: ReturnType<typeof viewport>, b: ReturnType<typeof viewport>) =>
  a.w === b.w && a.h === b.h && a.t[0] === b.t[0] && a.t[1] === b.t[1] && a.t[2] === b.t[2];

function statusOf(n: Node): string {
  if (n.type !== "layer") return "io";
  return ((n.data as LayerNodeData).view?.status ?? "pending").replace(" ", "-");
}

function OverviewImpl({ nodes }: { nodes: Node[] }) {
  const flow = useReactFlow();
  const { t, w, h } = useStore(viewport, sameViewport);
  const dragging = useRef(false);

  // node rectangles, grouped by status: one path each; recomputed only when the nodes change
  const shapes = useMemo(() => {
    const groups = new Map<string, string[]>();
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const n of nodes) {
      const nw = n.measured?.width ?? 200, nh = n.measured?.height ?? 60;
      const { x, y } = n.position;
      x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x + nw); y1 = Math.max(y1, y + nh);
      const key = statusOf(n);
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key)!.push(`M${x} ${y}h${nw}v${nh}h${-nw}z`);
    }
    return { groups: [...groups.entries()].map(([k, parts]) => [k, parts.join("")] as const), box: { x0, y0, x1, y1 } };
  }, [nodes]);

  // the frame of the view, in flow coordinates
  const view = { x: -t[0] / t[2], y: -t[1] / t[2], w: w / t[2], h: h / t[2] };
  const b = shapes.box;
  const x0 = Math.min(b.x0, view.x), y0 = Math.min(b.y0, view.y);
  const x1 = Math.max(b.x1, view.x + view.w), y1 = Math.max(b.y1, view.y + view.h);
  const pad = 40;
  const scale = Math.max((x1 - x0 + 2 * pad) / W, (y1 - y0 + 2 * pad) / H, 1e-6);
  const vbW = W * scale, vbH = H * scale;
  const vbX = (x0 + x1) / 2 - vbW / 2, vbY = (y0 + y1) / 2 - vbH / 2;

  const moveTo = (e: PointerEvent<SVGSVGElement>) => {
    const r = e.currentTarget.getBoundingClientRect();
    const fx = vbX + ((e.clientX - r.left) / r.width) * vbW;
    const fy = vbY + ((e.clientY - r.top) / r.height) * vbH;
    void flow.setViewport({ x: w / 2 - fx * t[2], y: h / 2 - fy * t[2], zoom: t[2] });
  };
  const onWheel = (e: WheelEvent<SVGSVGElement>) => {
    const zoom = Math.min(2.5, Math.max(0.05, t[2] * (e.deltaY < 0 ? 1.15 : 1 / 1.15)));
    const cx = view.x + view.w / 2, cy = view.y + view.h / 2;
    void flow.setViewport({ x: w / 2 - cx * zoom, y: h / 2 - cy * zoom, zoom });
  };
  if (!nodes.length || !Number.isFinite(b.x0)) return null;
  return (
    <Panel position="bottom-right" className="overview" data-testid="minimap">
      <svg
        width={W}
        height={H}
        viewBox={`${vbX} ${vbY} ${vbW} ${vbH}`}
        onPointerDown={(e) => { dragging.current = true; e.currentTarget.setPointerCapture(e.pointerId); moveTo(e); }}
        onPointerMove={(e) => dragging.current && moveTo(e)}
        onPointerUp={() => { dragging.current = false; }}
        onWheel={onWheel}
        role="img"
        aria-label="overview of the canvas"
      >
        {shapes.groups.map(([k, d]) => <path key={k} d={d} className={`mini-${k}`} />)}
        <path
          className="overview-mask"
          fillRule="evenodd"
          d={`M${vbX} ${vbY}h${vbW}v${vbH}h${-vbW}z M${view.x} ${view.y}h${view.w}v${view.h}h${-view.w}z`}
        />
        <rect className="overview-view" x={view.x} y={view.y} width={view.w} height={view.h} strokeWidth={1.5 * scale} />
      </svg>
    </Panel>
  );
}

export const Overview = memo(OverviewImpl);
