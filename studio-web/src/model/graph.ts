/**
 * Spec <-> graph mapping (docs/studio.md, "Spec <-> graph mapping").
 *
 * A scope is the top-level network or one block definition. Its graph has one node per input
 * (`input:<name>`), per layer (`<layer id>`) and per output (`output:<name>`); edges carry the output index
 * of their source (`sourceHandle`) and the input slot of their target (`targetHandle`).
 *
 * Layers without `input`/`inputs` take the previous layer (the first input for the first layer): that edge
 * is drawn like any other. Writing back, layers come out in a stable topological order (the original order
 * where it is one) and a layer's wiring is written in its original form when it did not change, and
 * otherwise only where the sequential rule would not give the same, so an unchanged graph gives back the
 * very same document.
 */

import {
  type BlockSpec,
  type InputSpec,
  type LayerSpec,
  type OutputSpec,
  type Spec,
  formatRef,
  inputRefs,
  parseRef,
} from "./spec";

export type ScopeKind = "network" | "block";
export type NodeKind = "input" | "layer" | "output";
export type OutputForm = "string" | "object" | "implicit";

export interface GraphNode {
  id: string;
  kind: NodeKind;
  /** The layer object as written (wiring keys included); for layer nodes. */
  layer?: LayerSpec;
  /** The input declaration; for input nodes (a block's inputs have a name only). */
  input?: InputSpec;
  /** The output's name and how it was written; for output nodes. */
  output?: { name: string; form: OutputForm };
  /** Layer nodes: the refs as the loaded document resolved them (canonical text), to keep their form. */
  origRefs?: string[];
  /** Layer nodes: refs that named nothing when loaded, by input slot (kept while the wiring is unchanged). */
  unresolved?: Record<number, string>;
}

export interface GraphEdge {
  id: string;
  source: string;
  sourceHandle: number;
  target: string;
  targetHandle: number;
}

export interface Graph {
  kind: ScopeKind;
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** Whether the document had an `outputs` key (else the last layer is the output). */
  outputsPresent: boolean;
  /** Blocks only: whether the document had an `inputs` key (else the block takes `x`). */
  inputsPresent: boolean;
}

/** The part of a document one canvas edits. */
export interface ScopeSpec {
  kind: ScopeKind;
  inputs: InputSpec[];
  layers: LayerSpec[];
  outputs: OutputSpec[] | null;
  outputForms: OutputForm[];
  inputsPresent: boolean;
}

export const NETWORK_SCOPE = "";

export function blockScope(name: string): string {
  return `block:${name}`;
}

export function scopeBlockName(scope: string): string | null {
  return scope.startsWith("block:") ? scope.slice(6) : null;
}

export const inputNodeId = (name: string) => `input:${name}`;
export const outputNodeId = (name: string) => `output:${name}`;

export function edgeId(source: string, sourceHandle: number, target: string, targetHandle: number): string {
  return `${source}:${sourceHandle}->${target}:${targetHandle}`;
}

// ---------------------------------------------------------------------------------------------------------
// scopes of a document

/** The inputs, layers and outputs of one scope of `spec` (the network, or `block:<name>`). */
export function readScope(spec: Spec, scope: string): ScopeSpec {
  const blockName = scopeBlockName(scope);
  if (blockName === null) {
    const outs = spec.outputs;
    return {
      kind: "network",
      inputs: spec.inputs ?? [],
      layers: spec.layers ?? [],
      outputs: outs ? outs.map((o) => (typeof o === "string" ? { name: parseRef(o).producer, from: o } : o)) : null,
      outputForms: outs ? outs.map((o) => (typeof o === "string" ? "string" : "object")) : [],
      inputsPresent: true,
    };
  }
  const block = spec.blocks?.[blockName];
  if (!block) throw new Error(`no block named ${blockName}`);
  const names = block.inputs ?? ["x"];
  return {
    kind: "block",
    inputs: names.map((name) => ({ name, shape: [] })),
    layers: block.layers ?? [],
    outputs: block.outputs ? block.outputs.map((o) => ({ name: blockOutputName(o), from: o })) : null,
    outputForms: block.outputs ? block.outputs.map(() => "string") : [],
    inputsPresent: block.inputs !== undefined,
  };
}

function blockOutputName(ref: string): string {
  return ref.replace(":", "_");
}

/** `spec` with one scope's inputs, layers and outputs replaced (other keys and their order kept). */
export function writeScope(spec: Spec, scope: string, part: ScopeSpec): Spec {
  const blockName = scopeBlockName(scope);
  if (blockName === null) {
    const outputs = part.outputs === null ? undefined : part.outputs.map((o, i) =>
      part.outputForms[i] === "string" && o.name === parseRef(o.from).producer ? o.from : { name: o.name, from: o.from });
    return replaceKeys(spec, { inputs: part.inputs, layers: part.layers, outputs }) as Spec;
  }
  const block = spec.blocks![blockName];
  const newBlock = replaceKeys(block, {
    inputs: part.inputsPresent || part.inputs.length !== 1 || part.inputs[0].name !== "x"
      ? part.inputs.map((i) => i.name) : undefined,
    layers: part.layers,
    outputs: part.outputs === null ? undefined : part.outputs.map((o) => o.from),
  }) as BlockSpec;
  return replaceKeys(spec, { blocks: replaceKeys(spec.blocks!, { [blockName]: newBlock }) }) as Spec;
}

/** A copy of `obj` with `changes` applied in place (key order kept; new keys last; undefined removes). */
function replaceKeys<T extends object>(obj: T, changes: Record<string, unknown>): T {
  let same = true;
  for (const [k, v] of Object.entries(changes)) {
    if ((obj as Record<string, unknown>)[k] !== v) same = false;
  }
  if (same) return obj;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k in changes) {
      if (changes[k] !== undefined) out[k] = changes[k];
    } else {
      out[k] = v;
    }
  }
  for (const [k, v] of Object.entries(changes)) {
    if (!(k in obj) && v !== undefined) out[k] = v;
  }
  return out as T;
}

// ---------------------------------------------------------------------------------------------------------
// spec -> graph

/** The graph of one scope. */
export function scopeToGraph(part: ScopeSpec): Graph {
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  const inputNames = new Set(part.inputs.map((i) => i.name));
  const layerIds = new Set(part.layers.map((l) => l.id));
  for (const input of part.inputs) nodes.push({ id: inputNodeId(input.name), kind: "input", input });

  const sourceOf = (ref: string): { id: string; handle: number; text: string } | null => {
    const { producer, index } = parseRef(ref);
    if (inputNames.has(producer) && !layerIds.has(producer)) return { id: inputNodeId(producer), handle: 0, text: producer };
    if (layerIds.has(producer)) return { id: producer, handle: index, text: formatRef(producer, index) };
    return null;
  };

  let previous: string | null = part.inputs.length ? part.inputs[0].name : null;
  for (const layer of part.layers) {
    const written = inputRefs(layer);
    const refs = written ?? (previous === null ? [] : [previous]);
    const node: GraphNode = { id: layer.id, kind: "layer", layer, origRefs: [] };
    refs.forEach((ref, slot) => {
      const src = sourceOf(ref);
      if (src === null) {
        node.unresolved = { ...node.unresolved, [slot]: ref };
        node.origRefs!.push(ref);
        return;
      }
      node.origRefs!.push(src.text);
      edges.push({ id: edgeId(src.id, src.handle, layer.id, slot), source: src.id, sourceHandle: src.handle,
                   target: layer.id, targetHandle: slot });
    });
    nodes.push(node);
    previous = layer.id;
  }

  const outputs = part.outputs ?? (part.layers.length
    ? [{ name: part.kind === "network" ? part.layers[part.layers.length - 1].id : blockOutputName(part.layers[part.layers.length - 1].id),
         from: part.layers[part.layers.length - 1].id }]
    : []);
  outputs.forEach((out, i) => {
    const id = outputNodeId(out.name);
    const form: OutputForm = part.outputs === null ? "implicit" : part.outputForms[i] ?? "object";
    nodes.push({ id, kind: "output", output: { name: out.name, form } });
    const src = sourceOf(out.from);
    if (src) edges.push({ id: edgeId(src.id, src.handle, id, 0), source: src.id, sourceHandle: src.handle, target: id, targetHandle: 0 });
  });
  return { kind: part.kind, nodes, edges, outputsPresent: part.outputs !== null, inputsPresent: part.inputsPresent };
}

export function specToGraph(spec: Spec, scope: string = NETWORK_SCOPE): Graph {
  return scopeToGraph(readScope(spec, scope));
}

// ---------------------------------------------------------------------------------------------------------
// graph -> spec

/** The layer nodes in a stable topological order: the graph's order wherever it already is one. */
export function stableTopologicalOrder(graph: Graph): GraphNode[] {
  const layers = graph.nodes.filter((n) => n.kind === "layer");
  const rank = new Map(layers.map((n, i) => [n.id, i]));
  const indegree = new Map<string, number>(layers.map((n) => [n.id, 0]));
  const consumers = new Map<string, string[]>();
  const seen = new Set<string>();
  for (const e of graph.edges) {
    if (!rank.has(e.source) || !rank.has(e.target)) continue;
    const key = `${e.source}->${e.target}`;
    if (seen.has(key)) continue; // two edges between the same pair count once
    seen.add(key);
    indegree.set(e.target, indegree.get(e.target)! + 1);
    if (!consumers.has(e.source)) consumers.set(e.source, []);
    consumers.get(e.source)!.push(e.target);
  }
  // available ranks, kept sorted (ascending); the smallest is emitted next
  const available: number[] = [];
  const insert = (r: number) => {
    let lo = 0, hi = available.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (available[mid] < r) lo = mid + 1; else hi = mid;
    }
    available.splice(lo, 0, r);
  };
  for (const n of layers) if (indegree.get(n.id) === 0) insert(rank.get(n.id)!);
  const out: GraphNode[] = [];
  const emitted = new Set<string>();
  while (available.length) {
    const node = layers[available.shift()!];
    out.push(node);
    emitted.add(node.id);
    for (const c of consumers.get(node.id) ?? []) {
      const d = indegree.get(c)! - 1;
      indegree.set(c, d);
      if (d === 0) insert(rank.get(c)!);
    }
  }
  // a cycle: keep the rest in graph order (the checker reports the cycle)
  for (const n of layers) if (!emitted.has(n.id)) out.push(n);
  return out;
}

function refText(e: GraphEdge, nodes: Map<string, GraphNode>): string {
  const src = nodes.get(e.source);
  if (src?.kind === "input") return src.input!.name;
  return formatRef(e.source, e.sourceHandle);
}

/** The refs feeding each input slot of `nodeId`, in slot order (gaps closed). */
export function slotRefs(graph: Graph, nodeId: string, nodes?: Map<string, GraphNode>): string[] {
  const byId = nodes ?? new Map(graph.nodes.map((n) => [n.id, n]));
  const node = byId.get(nodeId);
  const slots: [number, string][] = graph.edges
    .filter((e) => e.target === nodeId)
    .map((e) => [e.targetHandle, refText(e, byId)]);
  for (const [slot, ref] of Object.entries(node?.unresolved ?? {})) slots.push([Number(slot), ref]);
  slots.sort((a, b) => a[0] - b[0]);
  return slots.map((s) => s[1]);
}

function sameList(a: readonly string[] | null | undefined, b: readonly string[]): boolean {
  return !!a && a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The layer object with its wiring written as `refs` require (original form kept when unchanged). */
function writeWiring(node: GraphNode, refs: string[], implicit: string | null): LayerSpec {
  const layer = node.layer!;
  const key = layer.inputs !== undefined ? "inputs" : layer.input !== undefined ? "input" : null;
  if (key === null && implicit !== null && sameList([implicit], refs)) return layer;
  if (key !== null && sameList(node.origRefs, refs)) return layer;
  let wiring: [string, string | string[]] | null;
  if (implicit !== null && sameList([implicit], refs)) wiring = null;
  else if (refs.length === 1) wiring = ["input", refs[0]];
  else wiring = ["inputs", refs];
  const out: Record<string, unknown> = {};
  let placed = false;
  for (const [k, v] of Object.entries(layer)) {
    if (k === "input" || k === "inputs") {
      if (wiring && !placed) out[wiring[0]] = wiring[1];
      placed = true;
      continue;
    }
    out[k] = v;
    if (k === "type" && key === null && wiring) {
      out[wiring[0]] = wiring[1];
      placed = true;
    }
  }
  if (wiring && !placed) out[wiring[0]] = wiring[1];
  return out as LayerSpec;
}

/** The scope part of the document that `graph` describes. */
export function graphToScope(graph: Graph): ScopeSpec {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const inputs = graph.nodes.filter((n) => n.kind === "input").map((n) => n.input!);
  const ordered = stableTopologicalOrder(graph);
  const layers: LayerSpec[] = [];
  let previous: string | null = inputs.length ? inputs[0].name : null;
  for (const node of ordered) {
    layers.push(writeWiring(node, slotRefs(graph, node.id, byId), previous));
    previous = node.id;
  }
  const outNodes = graph.nodes.filter((n) => n.kind === "output");
  const outs: OutputSpec[] = [];
  const forms: OutputForm[] = [];
  for (const n of outNodes) {
    const refs = slotRefs(graph, n.id, byId);
    if (!refs.length) continue; // an unconnected output is not part of the document
    outs.push({ name: n.output!.name, from: refs[0] });
    forms.push(n.output!.form);
  }
  const last = layers.length ? layers[layers.length - 1].id : null;
  const implicitStill = !graph.outputsPresent && outs.length === 1 && forms[0] === "implicit" && last !== null
    && outs[0].from === last && outs[0].name === (graph.kind === "network" ? last : blockOutputName(last));
  const noneAtAll = !graph.outputsPresent && outs.length === 0;
  return {
    kind: graph.kind,
    inputs,
    layers,
    outputs: implicitStill || noneAtAll ? null : outs,
    // an implicit output that stops being the last layer is written out: as a bare id when it can be
    outputForms: forms.map((f, i) => (f === "implicit" ? (outs[i].name === outs[i].from ? "string" : "object") : f)),
    inputsPresent: graph.inputsPresent,
  };
}

/** `spec` with the scope replaced by what `graph` describes. */
export function applyGraph(spec: Spec, scope: string, graph: Graph): Spec {
  return writeScope(spec, scope, graphToScope(graph));
}
