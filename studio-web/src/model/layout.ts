/**
 * Automatic layout with elkjs: layered, top to bottom, so a network reads like its YAML (first layer at
 * the top). Ports keep a merge's inputs in slot order. elkjs is loaded on first use (its own chunk), so
 * the canvas does not wait for it.
 */

import type { Graph } from "./graph";
import type { XY } from "./history";

export interface Size {
  width: number;
  height: number;
}

type Elk = { layout: (graph: unknown) => Promise<ElkResult> };
type ElkResult = { children?: { id: string; x?: number; y?: number }[] };

let elk: Promise<Elk> | null = null;

async function engine(): Promise<Elk> {
  if (!elk) {
    elk = (async () => {
      if (import.meta.env.MODE !== "test") {
        // in the browser, elk runs in a worker so a big layout does not freeze the page
        const [{ default: ELK }, { default: workerUrl }] = await Promise.all([
          import("elkjs/lib/elk-api.js"),
          import("elkjs/lib/elk-worker.min.js?url"),
        ]);
        return new (ELK as unknown as new (o: { workerUrl: string }) => Elk)({ workerUrl });
      }
      // tests run in Node, without workers: the same engine in-process
      const m = await import("elkjs/lib/elk.bundled.js");
      return new (m.default as unknown as new () => Elk)();
    })();
  }
  return elk;
}

export const LAYOUT_OPTIONS: Record<string, string> = {
  "elk.algorithm": "layered",
  "elk.direction": "DOWN",
  "elk.edgeRouting": "POLYLINE",
  "elk.layered.spacing.nodeNodeBetweenLayers": "64",
  "elk.spacing.nodeNode": "48",
  "elk.layered.spacing.edgeNodeBetweenLayers": "24",
  "elk.layered.nodePlacement.strategy": "BRANDES_KOEPF",
  "elk.layered.nodePlacement.bk.fixedAlignment": "BALANCED",
  "elk.layered.considerModelOrder.strategy": "NODES_AND_EDGES",
  "elk.layered.crossingMinimization.forceNodeModelOrder": "false",
  // a long network is cut where one edge crosses and its parts stand side by side, to fit the canvas
  "elk.layered.wrapping.strategy": "SINGLE_EDGE",
  "elk.layered.wrapping.additionalEdgeSpacing": "24",
  "elk.layered.spacing.edgeEdgeBetweenLayers": "16",
};

/**
 * Positions (top-left corners) for every node of `graph`, given each node's size; `aspect` is the width
 * over the height of the canvas it should fit (a long chain wraps into columns).
 */
export async function layoutGraph(graph: Graph, sizeOf: (id: string) => Size, aspect = 1.6,
                                  height = 720): Promise<Record<string, XY>> {
  const inSlots = new Map<string, number>();
  const outSlots = new Map<string, number>();
  for (const e of graph.edges) {
    inSlots.set(e.target, Math.max(inSlots.get(e.target) ?? 0, e.targetHandle + 1));
    outSlots.set(e.source, Math.max(outSlots.get(e.source) ?? 0, e.sourceHandle + 1));
  }
  const ids = new Set(graph.nodes.map((n) => n.id));
  const children = graph.nodes.map((n) => {
    const size = sizeOf(n.id);
    const ports = [];
    const ins = inSlots.get(n.id) ?? 0, outs = outSlots.get(n.id) ?? 0;
    for (let i = 0; i < ins; i++) ports.push({ id: `${n.id}::in${i}`, layoutOptions: { "elk.port.side": "NORTH", "elk.port.index": String(i) } });
    for (let i = 0; i < outs; i++) ports.push({ id: `${n.id}::out${i}`, layoutOptions: { "elk.port.side": "SOUTH", "elk.port.index": String(i) } });
    return {
      id: n.id,
      width: size.width,
      height: size.height,
      ports,
      layoutOptions: { "elk.portConstraints": "FIXED_ORDER" },
    };
  });
  const edges = graph.edges.filter((e) => ids.has(e.source) && ids.has(e.target)).map((e) => ({
    id: e.id,
    sources: [`${e.source}::out${e.sourceHandle}`],
    targets: [`${e.target}::in${e.targetHandle}`],
  }));
  // wrap only what would not fit the canvas's height as one column of layers
  const rows = depthCount(graph);
  const tall = rows * (Math.max(...graph.nodes.map((n) => sizeOf(n.id).height), 0) + 64) > height * 1.15;
  const layoutOptions: Record<string, string> = { ...LAYOUT_OPTIONS, "elk.aspectRatio": String(Math.max(0.05, Math.min(4, aspect))) };
  if (!tall) layoutOptions["elk.layered.wrapping.strategy"] = "OFF";
  const result = await (await engine()).layout({ id: "root", layoutOptions, children, edges });
  const out: Record<string, XY> = {};
  for (const c of result.children ?? []) out[c.id] = { x: Math.round(c.x ?? 0), y: Math.round(c.y ?? 0) };
  return out;
}

/**
 * A fast layered layout of our own for big graphs (hundreds of layers), where elk takes seconds: layers
 * by longest path from the inputs, order within a layer by the mean position of the producers, each row
 * centred. Chains come out as one straight column.
 */
export function quickLayout(graph: Graph, sizeOf: (id: string) => Size, gap = { x: 48, y: 64 }): Record<string, XY> {
  const preds = new Map<string, string[]>();
  for (const n of graph.nodes) preds.set(n.id, []);
  for (const e of graph.edges) if (preds.has(e.target) && preds.has(e.source)) preds.get(e.target)!.push(e.source);
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const depthOf = (id: string): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0; // a cycle: cut it here
    visiting.add(id);
    let d = 0;
    for (const p of preds.get(id) ?? []) d = Math.max(d, depthOf(p) + 1);
    visiting.delete(id);
    depth.set(id, d);
    return d;
  };
  // iterative warm-up in graph order keeps the recursion shallow on long chains
  for (const n of graph.nodes) depthOf(n.id);
  const rows: string[][] = [];
  for (const n of graph.nodes) {
    const d = depth.get(n.id)!;
    (rows[d] ??= []).push(n.id);
  }
  const x = new Map<string, number>();
  const out: Record<string, XY> = {};
  let y = 0;
  for (const row of rows) {
    if (!row) continue;
    const keyed = row.map((id, i) => {
      const ps = (preds.get(id) ?? []).filter((p) => x.has(p));
      return { id, key: ps.length ? ps.reduce((s, p) => s + x.get(p)!, 0) / ps.length : i * 1e-3 };
    });
    keyed.sort((a, b) => a.key - b.key);
    const widths = keyed.map((k) => sizeOf(k.id).width);
    const total = widths.reduce((s, w) => s + w, 0) + gap.x * (keyed.length - 1);
    let left = -total / 2;
    let height = 0;
    keyed.forEach((k, i) => {
      const size = sizeOf(k.id);
      x.set(k.id, left + widths[i] / 2);
      out[k.id] = { x: Math.round(left), y };
      left += widths[i] + gap.x;
      height = Math.max(height, size.height);
    });
    y += height + gap.y;
  }
  return out;
}

/** How many layers deep the graph is (its longest path, in nodes). */
export function depthCount(graph: Graph): number {
  const preds = new Map<string, string[]>(graph.nodes.map((n) => [n.id, []]));
  for (const e of graph.edges) preds.get(e.target)?.push(e.source);
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const of = (id: string): number => {
    const d = depth.get(id);
    if (d !== undefined) return d;
    if (visiting.has(id)) return 0;
    visiting.add(id);
    let best = 0;
    for (const p of preds.get(id) ?? []) best = Math.max(best, of(p) + 1);
    visiting.delete(id);
    depth.set(id, best);
    return best;
  };
  let max = 0;
  for (const n of graph.nodes) max = Math.max(max, of(n.id) + 1);
  return max;
}
