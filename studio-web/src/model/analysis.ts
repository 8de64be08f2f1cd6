/**
 * What the checker's answer means for each node and edge of the canvas.
 *
 * Before a spec goes to `/api/analyze`, layers that are not wired up yet (no input, or a merge with too
 * few) are left out together with everything downstream of them, so that drawing a network shows the
 * shapes of the part that is complete instead of one structural error. Those layers are marked here
 * ("not connected", "not inferred"), exactly as the checker marks layers downstream of an error.
 */

import type { Analysis, Diagnostic, LayerRow } from "../api";
import { type Graph, applyGraph, inputNodeId, scopeBlockName, specToGraph } from "./graph";
import type { Dim, Spec } from "./spec";

export type NodeStatus = "ok" | "warning" | "error" | "not inferred" | "unconnected" | "pending";

export interface Issue {
  level: "error" | "warning" | "suggestion";
  code: string;
  message: string;
  suggestion: string | null;
  fix: Diagnostic["fix"];
  /** The layer paths the checker named (for /api/fix). */
  layers: string[];
}

export interface NodeView {
  status: NodeStatus;
  params: number | null;
  outShapes: (Dim[] | null)[] | null;
  issues: Issue[];
}

export interface PreparedSpec {
  /** What is sent to the checker (null: nothing to check yet). */
  spec: Spec | null;
  /** Top-level layers left out because they are not wired up yet. */
  unconnected: string[];
  /** Top-level layers left out because they depend on one of those. */
  downstream: string[];
}

/** The spec to check: `spec` without the layers that are not wired up yet and what depends on them. */
export function prepareForAnalysis(spec: Spec, minInputs: (type: string) => number): PreparedSpec {
  if (!spec.inputs?.length || !spec.layers?.length) return { spec: null, unconnected: [], downstream: [] };
  let graph: Graph;
  try {
    graph = specToGraph(spec);
  } catch {
    return { spec, unconnected: [], downstream: [] };
  }
  const incoming = new Map<string, number>();
  for (const e of graph.edges) incoming.set(e.target, (incoming.get(e.target) ?? 0) + 1);
  const unconnected = new Set<string>();
  for (const n of graph.nodes) {
    if (n.kind !== "layer") continue;
    const have = (incoming.get(n.id) ?? 0) + Object.keys(n.unresolved ?? {}).length;
    if (have < Math.max(1, minInputs(n.layer!.type))) unconnected.add(n.id);
  }
  if (!unconnected.size) return { spec, unconnected: [], downstream: [] };
  const removed = new Set(unconnected);
  const downstream: string[] = [];
  for (let changed = true; changed;) {
    changed = false;
    for (const e of graph.edges) {
      if (removed.has(e.source) && !removed.has(e.target) && !e.target.startsWith("output:")) {
        removed.add(e.target);
        downstream.push(e.target);
        changed = true;
      }
    }
  }
  const kept: Graph = {
    ...graph,
    nodes: graph.nodes.filter((n) => !removed.has(n.id)),
    edges: graph.edges.filter((e) => !removed.has(e.source) && !removed.has(e.target)),
  };
  if (!kept.nodes.some((n) => n.kind === "layer")) return { spec: null, unconnected: [...unconnected], downstream };
  const stripped = applyGraph(spec, "", { ...kept, outputsPresent: true });
  return { spec: stripped, unconnected: [...unconnected], downstream };
}

function toIssue(d: Diagnostic): Issue {
  return { level: d.level, code: d.code, message: d.message, suggestion: d.suggestion, fix: d.fix, layers: d.layers };
}

/** The path prefix of the block instance whose shapes a block's canvas shows (the first one found). */
export function instancePrefix(analysis: Analysis | null, blockName: string): string | null {
  const row = analysis?.summary?.layers.find((r) => r.type === blockName);
  return row ? row.id : null;
}

const rank: Record<NodeStatus, number> = { pending: 0, ok: 1, warning: 2, "not inferred": 3, unconnected: 4, error: 5 };

/**
 * The view of every layer node of a scope: status, parameter count, output shapes and the issues that
 * name it. Issues deeper inside a block instance are shown on the instance.
 */
export function nodeViews(analysis: Analysis | null, prepared: PreparedSpec | null, scope: string,
                          graph: Graph): Map<string, NodeView> {
  const views = new Map<string, NodeView>();
  const blockName = scopeBlockName(scope);
  const prefix = blockName === null ? "" : instancePrefix(analysis, blockName);
  const pending = analysis === null;
  for (const n of graph.nodes) {
    if (n.kind !== "layer") continue;
    views.set(n.id, { status: pending ? "pending" : "ok", params: null, outShapes: null, issues: [] });
  }
  // the layer a path names, on this canvas
  const local = (path: string): string | null => {
    if (blockName === null) return path.split("/")[0];
    if (prefix === null || !path.startsWith(prefix + "/")) return null;
    return path.slice(prefix.length + 1).split("/")[0];
  };
  const rows = new Map<string, LayerRow>();
  for (const r of analysis?.summary?.layers ?? []) rows.set(r.id, r);
  for (const [id, view] of views) {
    const path = blockName === null ? id : prefix === null ? null : `${prefix}/${id}`;
    const row = path === null ? undefined : rows.get(path);
    if (!row) continue;
    view.params = row.params;
    view.outShapes = row.output_shapes;
    if (row.status === "error") view.status = "error";
    else if (row.status === "not inferred") view.status = "not inferred";
  }
  const bump = (view: NodeView, status: NodeStatus) => {
    if (rank[status] > rank[view.status]) view.status = status;
  };
  for (const d of analysis?.diagnostics ?? []) {
    for (const path of new Set(d.layers.map(local).filter((x): x is string => x !== null))) {
      const view = views.get(path);
      if (!view) continue;
      view.issues.push(toIssue(d));
      bump(view, d.level === "error" ? "error" : d.level === "warning" ? "warning" : "ok");
    }
  }
  for (const s of analysis?.structure ?? []) {
    for (const path of new Set(s.layers.map(local).filter((x): x is string => x !== null))) {
      const view = views.get(path);
      if (!view || view.issues.some((i) => i.message === s.message)) continue;
      view.issues.push({ level: "error", code: "structure", message: s.message, suggestion: null, fix: null, layers: s.layers });
      bump(view, "error");
    }
  }
  if (blockName === null && prepared) {
    for (const id of prepared.unconnected) {
      const view = views.get(id);
      if (!view) continue;
      view.status = "unconnected";
      view.params = null;
      view.outShapes = null;
      view.issues.unshift({ level: "warning", code: "unconnected", message: "not connected",
        suggestion: "drag from the output (bottom) of a layer to this layer's input (top)", fix: null, layers: [id] });
    }
    for (const id of prepared.downstream) {
      const view = views.get(id);
      if (view) {
        view.status = "not inferred";
        view.outShapes = null;
        view.params = null;
      }
    }
  }
  return views;
}

/** The shape on an edge leaving `source` at output `handle`, or null when it is not known. */
export function edgeShape(analysis: Analysis | null, views: Map<string, NodeView>, inputShapes: Map<string, Dim[] | null>,
                          source: string, handle: number): Dim[] | null {
  if (!analysis) return null;
  if (source.startsWith("input:")) return inputShapes.get(source) ?? null;
  const v = views.get(source);
  if (!v || v.status === "unconnected" || v.status === "not inferred") return null;
  return v.outShapes?.[handle] ?? null;
}

/**
 * The shapes of a scope's inputs: the network's from the checker's summary (or the spec), a block's from
 * what feeds its first instance on the network canvas.
 */
export function inputShapes(analysis: Analysis | null, spec: Spec, scope: string): Map<string, Dim[] | null> {
  const out = new Map<string, Dim[] | null>();
  const blockName = scopeBlockName(scope);
  if (blockName === null) {
    for (const i of spec.inputs ?? []) out.set(inputNodeId(i.name), analysis?.summary?.inputs[i.name]?.shape ?? i.shape);
    return out;
  }
  const block = spec.blocks?.[blockName];
  const names = block?.inputs ?? ["x"];
  const prefix = instancePrefix(analysis, blockName);
  if (prefix === null || prefix.includes("/")) return out;
  const top = specToGraph(spec);
  const network = new Map((analysis?.summary?.layers ?? []).map((r) => [r.id, r]));
  const feeding = top.edges.filter((e) => e.target === prefix).sort((a, b) => a.targetHandle - b.targetHandle);
  feeding.forEach((e, k) => {
    if (k >= names.length) return;
    const shape = e.source.startsWith("input:")
      ? analysis?.summary?.inputs[e.source.slice(6)]?.shape ?? null
      : network.get(e.source)?.output_shapes?.[e.sourceHandle] ?? null;
    out.set(inputNodeId(names[k]), shape);
  });
  return out;
}
