/**
 * The document edits, as pure functions `DocState -> DocState`, run through the one command stack.
 *
 * Each edit works on the graph of one scope (graph.ts) and writes it back into the spec, so the wiring
 * rules live in one place. Positions follow renames and removals; nodes that arrive without a position
 * (a fix inserted them, a block replaced a selection) are placed next to their neighbours.
 */

import {
  type Graph,
  type GraphEdge,
  type GraphNode,
  applyGraph,
  blockScope,
  edgeId,
  inputNodeId,
  outputNodeId,
  readScope,
  scopeBlockName,
  specToGraph,
} from "./graph";
import type { DocState, Positions, XY } from "./history";
import { quickLayout } from "./layout";
import { type BlockSpec, type InputSpec, type LayerSpec, type Spec, IDENT, idStem, parseRef, uniqueId } from "./spec";

export const NODE_WIDTH = 200;
export const NODE_HEIGHT = 64;
export const IO_HEIGHT = 52;
const GAP_X = 48;
const GAP_Y = 64;

// ---------------------------------------------------------------------------------------------------------
// helpers

function withGraph(doc: DocState, scope: string, edit: (g: Graph) => Graph | null): DocState {
  const graph = specToGraph(doc.spec, scope);
  const next = edit(graph);
  if (next === null) return doc;
  return { ...doc, spec: applyGraph(doc.spec, scope, next) };
}

function setScopePositions(positions: Positions, scope: string, map: Record<string, XY>): Positions {
  return { ...positions, [scope]: map };
}

/** Every id a new layer of this scope must not take (layers and inputs). */
export function takenIds(spec: Spec, scope: string): string[] {
  const part = readScope(spec, scope);
  return [...part.layers.map((l) => l.id), ...part.inputs.map((i) => i.name)];
}

/** A fresh layer id for `type` in `scope`: conv, conv_1, ... */
export function freshLayerId(spec: Spec, scope: string, type: string): string {
  return uniqueId(idStem(type), takenIds(spec, scope));
}

function isAncestor(graph: Graph, maybeAncestor: string, of: string): boolean {
  const incoming = new Map<string, string[]>();
  for (const e of graph.edges) {
    if (!incoming.has(e.target)) incoming.set(e.target, []);
    incoming.get(e.target)!.push(e.source);
  }
  const stack = [of];
  const seen = new Set<string>();
  while (stack.length) {
    const id = stack.pop()!;
    if (id === maybeAncestor) return true;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...(incoming.get(id) ?? []));
  }
  return false;
}

/** Whether connecting source -> target would close a cycle. */
export function wouldCycle(spec: Spec, scope: string, source: string, target: string): boolean {
  if (source === target) return true;
  return isAncestor(specToGraph(spec, scope), target, source);
}

// ---------------------------------------------------------------------------------------------------------
// adding

export interface NewLayer {
  id: string;
  type: string;
  params?: Record<string, unknown>;
  position: XY;
  /** Connect the new layer's first input to this output. */
  after?: { source: string; handle: number };
  /** With `after`: when that output feeds exactly one input, the new layer goes in between. */
  insert?: boolean;
  /** Move the nodes at and below `position` in its column down one row to make room. */
  makeRoom?: boolean;
}

/** Add a layer (unconnected unless `after` is given: an unconnected layer is written `inputs: []`). */
export function addLayer(layer: NewLayer, scope: string): (doc: DocState) => DocState {
  return (doc) => {
    const next = withGraph(doc, scope, (g) => {
      const spec: LayerSpec = { id: layer.id, type: layer.type, inputs: [], ...(layer.params ?? {}) };
      const node: GraphNode = { id: layer.id, kind: "layer", layer: spec, origRefs: [] };
      const edges = [...g.edges];
      if (layer.after && layer.insert) {
        const src = layer.after;
        const consumers = edges.filter((e) => e.source === src.source && e.sourceHandle === src.handle);
        if (consumers.length === 1) {
          const c = consumers[0];
          edges.splice(edges.indexOf(c), 1, { id: edgeId(layer.id, 0, c.target, c.targetHandle), source: layer.id,
                                              sourceHandle: 0, target: c.target, targetHandle: c.targetHandle });
        }
      }
      if (layer.after) {
        edges.push({ id: edgeId(layer.after.source, layer.after.handle, layer.id, 0), source: layer.after.source,
                     sourceHandle: layer.after.handle, target: layer.id, targetHandle: 0 });
      }
      const lastLayer = g.nodes.map((n) => n.kind).lastIndexOf("layer");
      const nodes = [...g.nodes];
      nodes.splice(lastLayer < 0 ? g.nodes.filter((n) => n.kind === "input").length : lastLayer + 1, 0, node);
      return { ...g, nodes, edges };
    });
    const map = { ...(doc.positions[scope] ?? {}) };
    if (layer.makeRoom) makeRoom(map, layer.position);
    map[layer.id] = layer.position;
    return { spec: next.spec, positions: setScopePositions(doc.positions, scope, map) };
  };
}

/** Whether a node put at `p` would overlap a node of `positions`. */
export function overlaps(positions: Record<string, XY>, p: XY): boolean {
  return Object.values(positions).some((q) => Math.abs(q.x - p.x) < NODE_WIDTH && Math.abs(q.y - p.y) < NODE_HEIGHT);
}

/** Where a layer inserted after `source` goes: its consumer's place (which moves down), else below it. */
export function insertionPlace(doc: DocState, scope: string, source: string, handle: number): XY | null {
  const at = doc.positions[scope] ?? {};
  const g = specToGraph(doc.spec, scope);
  const consumers = g.edges.filter((e) => e.source === source && e.sourceHandle === handle);
  if (consumers.length === 1 && at[consumers[0].target]) return { ...at[consumers[0].target] };
  if (at[source]) return { x: at[source].x, y: at[source].y + NODE_HEIGHT + GAP_Y };
  return null;
}

/** Add a graph input (network) or block input. */
export function addInput(input: InputSpec, position: XY, scope: string): (doc: DocState) => DocState {
  return (doc) => {
    const blockName = scopeBlockName(scope);
    let spec: Spec;
    if (blockName === null) {
      spec = { ...doc.spec, inputs: [...(doc.spec.inputs ?? []), input] };
    } else {
      const block: BlockSpec = doc.spec.blocks![blockName];
      const names = [...(block.inputs ?? ["x"]), input.name];
      spec = { ...doc.spec, blocks: { ...doc.spec.blocks, [blockName]: { ...block, inputs: names } } };
    }
    const map = { ...(doc.positions[scope] ?? {}), [inputNodeId(input.name)]: position };
    return { spec, positions: setScopePositions(doc.positions, scope, map) };
  };
}

/** Add a graph output named `name`, fed by `from` when given (an unconnected output is not written). */
export function addOutput(name: string, position: XY, scope: string, from?: { source: string; handle: number }):
    (doc: DocState) => DocState {
  return (doc) => {
    const next = withGraph(doc, scope, (g) => {
      const id = outputNodeId(name);
      const edges = [...g.edges];
      if (from) edges.push({ id: edgeId(from.source, from.handle, id, 0), source: from.source,
                             sourceHandle: from.handle, target: id, targetHandle: 0 });
      // an explicit output list from now on, with the implicit one (if any) written out
      const nodes = g.nodes.map((n) => n.kind === "output" && n.output!.form === "implicit"
        ? { ...n, output: { ...n.output!, form: "object" as const } } : n);
      return { ...g, outputsPresent: true, nodes: [...nodes, { id, kind: "output", output: { name, form: "object" } }], edges };
    });
    const map = { ...(next.positions[scope] ?? {}), [outputNodeId(name)]: position };
    return { spec: next.spec, positions: setScopePositions(doc.positions, scope, map) };
  };
}

// ---------------------------------------------------------------------------------------------------------
// wiring

/** Connect an output to an input slot; a slot holds one input, so an existing edge there is replaced. */
export function connect(source: string, sourceHandle: number, target: string, targetHandle: number, scope: string):
    (doc: DocState) => DocState {
  return (doc) => withGraph(doc, scope, (g) => {
    if (source === target || isAncestor(g, target, source)) return null;
    const targetNode = g.nodes.find((n) => n.id === target);
    const sourceNode = g.nodes.find((n) => n.id === source);
    if (!targetNode || targetNode.kind === "input" || !sourceNode || sourceNode.kind === "output") return null;
    const unresolved = { ...(targetNode.unresolved ?? {}) };
    delete unresolved[targetHandle];
    const nodes = g.nodes.map((n) => n.id === target ? { ...n, unresolved } : n);
    const edges = g.edges.filter((e) => !(e.target === target && e.targetHandle === targetHandle));
    // a new input slot of a merge goes after the existing ones
    const used = edges.filter((e) => e.target === target).map((e) => e.targetHandle);
    const slot = targetHandle > Math.max(-1, ...used) + 1 ? Math.max(-1, ...used) + 1 : targetHandle;
    edges.push({ id: edgeId(source, sourceHandle, target, slot), source, sourceHandle, target, targetHandle: slot });
    const outputsPresent = g.outputsPresent || targetNode.kind === "output";
    return { ...g, nodes: outputsPresent !== g.outputsPresent ? nodes.map((n) => n.kind === "output" && n.output!.form === "implicit"
      ? { ...n, output: { ...n.output!, form: "object" as const } } : n) : nodes, edges, outputsPresent };
  });
}

/** Remove edges by id. */
export function disconnect(edgeIds: string[], scope: string): (doc: DocState) => DocState {
  const drop = new Set(edgeIds);
  return (doc) => withGraph(doc, scope, (g) => {
    const edges = g.edges.filter((e) => !drop.has(e.id));
    return edges.length === g.edges.length ? null : { ...g, edges };
  });
}

// ---------------------------------------------------------------------------------------------------------
// removing

/**
 * Remove nodes. A removed layer with exactly one input hands that input on to its consumers, so taking a
 * layer out of a chain keeps the chain connected.
 */
export function removeNodes(ids: string[], scope: string): (doc: DocState) => DocState {
  const drop = new Set(ids);
  return (doc) => {
    let spec = doc.spec;
    const graph = specToGraph(spec, scope);
    const incoming = (id: string, edges: GraphEdge[]) => edges.filter((e) => e.target === id);
    let edges = graph.edges;
    for (const id of ids) {
      const node = graph.nodes.find((n) => n.id === id);
      if (!node) continue;
      const ins = incoming(id, edges);
      const outs = edges.filter((e) => e.source === id);
      edges = edges.filter((e) => e.source !== id && e.target !== id);
      if (node.kind === "layer" && ins.length === 1) {
        for (const o of outs) {
          if (o.sourceHandle !== 0 || drop.has(o.target)) continue;
          const src = ins[0];
          edges.push({ id: edgeId(src.source, src.sourceHandle, o.target, o.targetHandle), source: src.source,
                       sourceHandle: src.sourceHandle, target: o.target, targetHandle: o.targetHandle });
        }
      }
    }
    const nodes = graph.nodes.filter((n) => !drop.has(n.id));
    let next: Graph = { ...graph, nodes, edges };
    const outputsRemoved = graph.nodes.some((n) => n.kind === "output" && drop.has(n.id));
    if (outputsRemoved) next = { ...next, outputsPresent: true };
    spec = applyGraph(spec, scope, next);
    const map = { ...(doc.positions[scope] ?? {}) };
    for (const id of ids) delete map[id];
    return { spec, positions: setScopePositions(doc.positions, scope, map) };
  };
}

// ---------------------------------------------------------------------------------------------------------
// moving

export function moveNodes(moves: Record<string, XY>, scope: string): (doc: DocState) => DocState {
  return (doc) => {
    const map = { ...(doc.positions[scope] ?? {}) };
    let changed = false;
    for (const [id, xy] of Object.entries(moves)) {
      const old = map[id];
      const rounded = { x: Math.round(xy.x), y: Math.round(xy.y) };
      if (!old || old.x !== rounded.x || old.y !== rounded.y) {
        map[id] = rounded;
        changed = true;
      }
    }
    return changed ? { ...doc, positions: setScopePositions(doc.positions, scope, map) } : doc;
  };
}

/** Replace all positions of a scope (auto-layout). */
export function setPositions(map: Record<string, XY>, scope: string): (doc: DocState) => DocState {
  return (doc) => ({ ...doc, positions: setScopePositions(doc.positions, scope, map) });
}

// ---------------------------------------------------------------------------------------------------------
// editing

function mapLayers(spec: Spec, scope: string, fn: (l: LayerSpec) => LayerSpec): Spec {
  const blockName = scopeBlockName(scope);
  if (blockName === null) {
    const layers = spec.layers.map(fn);
    return layers.every((l, i) => l === spec.layers[i]) ? spec : { ...spec, layers };
  }
  const block = spec.blocks![blockName];
  const layers = block.layers.map(fn);
  if (layers.every((l, i) => l === block.layers[i])) return spec;
  return { ...spec, blocks: { ...spec.blocks, [blockName]: { ...block, layers } } };
}

/**
 * Set, change or remove (value `undefined`) keys of one layer: parameters, `device`, `description`.
 * A key that is new goes after the existing ones.
 */
export function setLayerKeys(layerId: string, changes: Record<string, unknown>, scope: string):
    (doc: DocState) => DocState {
  return (doc) => ({
    ...doc,
    spec: mapLayers(doc.spec, scope, (l) => {
      if (l.id !== layerId) return l;
      const out: Record<string, unknown> = {};
      let changed = false;
      for (const [k, v] of Object.entries(l)) {
        if (k in changes) {
          if (changes[k] !== undefined) out[k] = changes[k];
          if (JSON.stringify(changes[k]) !== JSON.stringify(v)) changed = true;
        } else out[k] = v;
      }
      for (const [k, v] of Object.entries(changes)) {
        if (!(k in l) && v !== undefined) {
          out[k] = v;
          changed = true;
        }
      }
      return changed ? (out as LayerSpec) : l;
    }),
  });
}

function renameRef(ref: string, from: string, to: string): string {
  const { producer, index } = parseRef(ref);
  if (producer !== from) return ref;
  return ref.includes(":") ? `${to}:${index}` : to;
}

function renameInScope(spec: Spec, scope: string, from: string, to: string, isLayer: boolean): Spec {
  let out = mapLayers(spec, scope, (l) => {
    let next: LayerSpec = l;
    if (isLayer && l.id === from) next = { ...next, id: to };
    for (const key of ["input", "inputs"] as const) {
      const v = next[key];
      if (v === undefined) continue;
      const renamed = Array.isArray(v) ? v.map((r) => renameRef(r, from, to)) : renameRef(String(v), from, to);
      if (JSON.stringify(renamed) !== JSON.stringify(v)) next = { ...next, [key]: renamed };
    }
    return next;
  });
  const blockName = scopeBlockName(scope);
  if (blockName === null) {
    if (out.outputs) {
      out = { ...out, outputs: out.outputs.map((o) => typeof o === "string" ? renameRef(o, from, to)
        : { ...o, from: renameRef(o.from, from, to) }) };
    }
  } else {
    const block = out.blocks![blockName];
    if (block.outputs) {
      out = { ...out, blocks: { ...out.blocks, [blockName]: { ...block, outputs: block.outputs.map((r) => renameRef(r, from, to)) } } };
    }
  }
  return out;
}

/** Rename a layer: every reference to it follows. Returns null when the new id is invalid or taken. */
export function renameLayer(from: string, to: string, scope: string): (doc: DocState) => DocState {
  return (doc) => {
    if (from === to || !IDENT.test(to) || takenIds(doc.spec, scope).includes(to)) return doc;
    const spec = renameInScope(doc.spec, scope, from, to, true);
    const map = { ...(doc.positions[scope] ?? {}) };
    if (map[from]) {
      map[to] = map[from];
      delete map[from];
    }
    return { spec, positions: setScopePositions(doc.positions, scope, map) };
  };
}

/** Change a graph input (its name, shape, dtype); references follow a new name. */
export function editInput(name: string, next: InputSpec, scope: string): (doc: DocState) => DocState {
  return (doc) => {
    const blockName = scopeBlockName(scope);
    if (next.name !== name && (!IDENT.test(next.name) || takenIds(doc.spec, scope).includes(next.name))) return doc;
    let spec: Spec;
    if (blockName === null) {
      spec = { ...doc.spec, inputs: doc.spec.inputs.map((i) => (i.name === name ? next : i)) };
    } else {
      const block = doc.spec.blocks![blockName];
      spec = { ...doc.spec, blocks: { ...doc.spec.blocks, [blockName]: {
        ...block, inputs: (block.inputs ?? ["x"]).map((n) => (n === name ? next.name : n)) } } };
    }
    if (next.name === name) return { ...doc, spec };
    spec = renameInScope(spec, scope, name, next.name, false);
    const map = { ...(doc.positions[scope] ?? {}) };
    const oldId = inputNodeId(name), newId = inputNodeId(next.name);
    if (map[oldId]) {
      map[newId] = map[oldId];
      delete map[oldId];
    }
    return { spec, positions: setScopePositions(doc.positions, scope, map) };
  };
}

/** Rename a graph output. */
export function renameOutput(name: string, to: string, scope: string): (doc: DocState) => DocState {
  return (doc) => {
    if (name === to || !IDENT.test(to)) return doc;
    const next = withGraph(doc, scope, (g) => {
      if (g.nodes.some((n) => n.id === outputNodeId(to))) return null;
      const oldId = outputNodeId(name), newId = outputNodeId(to);
      return {
        ...g,
        outputsPresent: true,
        nodes: g.nodes.map((n) => (n.id === oldId ? { ...n, id: newId, output: { name: to, form: "object" } } : n)),
        edges: g.edges.map((e) => (e.target === oldId ? { ...e, id: edgeId(e.source, e.sourceHandle, newId, 0), target: newId } : e)),
      };
    });
    if (next === doc) return doc;
    const map = { ...(doc.positions[scope] ?? {}) };
    if (map[outputNodeId(name)]) {
      map[outputNodeId(to)] = map[outputNodeId(name)];
      delete map[outputNodeId(name)];
    }
    return { spec: next.spec, positions: setScopePositions(doc.positions, scope, map) };
  };
}

/** Set top-level keys of the spec (name, description), or of a block definition when in a block scope. */
export function setDocKeys(changes: Record<string, unknown>, scope: string): (doc: DocState) => DocState {
  return (doc) => {
    const apply = (obj: Record<string, unknown>) => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(obj)) {
        if (k in changes) {
          if (changes[k] !== undefined) out[k] = changes[k];
        } else out[k] = v;
      }
      for (const [k, v] of Object.entries(changes)) if (!(k in obj) && v !== undefined) out[k] = v;
      return out;
    };
    const blockName = scopeBlockName(scope);
    if (blockName === null) {
      // a new top-level key such as name/description goes first, as people write it
      const fresh = Object.keys(changes).filter((k) => !(k in doc.spec) && changes[k] !== undefined);
      const head: Record<string, unknown> = {};
      for (const k of fresh) head[k] = changes[k];
      const rest = apply(doc.spec);
      for (const k of fresh) delete rest[k];
      return { ...doc, spec: { ...head, ...rest } as Spec };
    }
    const block = doc.spec.blocks![blockName];
    return { ...doc, spec: { ...doc.spec, blocks: { ...doc.spec.blocks, [blockName]: apply(block) as typeof block } } };
  };
}

// ---------------------------------------------------------------------------------------------------------
// copy / paste

export interface Clipboard {
  layers: LayerSpec[];
  positions: Record<string, XY>;
}

/** The selected layers of a scope, with their positions, for pasting. */
export function copyLayers(doc: DocState, ids: string[], scope: string): Clipboard {
  const part = readScope(doc.spec, scope);
  const graph = specToGraph(doc.spec, scope);
  const chosen = new Set(ids);
  const layers: LayerSpec[] = [];
  for (const l of part.layers) {
    if (!chosen.has(l.id)) continue;
    // write the wiring explicitly: the sequential rule would mean something else after pasting
    const refs = graph.edges.filter((e) => e.target === l.id).sort((a, b) => a.targetHandle - b.targetHandle)
      .map((e) => {
        const src = graph.nodes.find((n) => n.id === e.source)!;
        return src.kind === "input" ? src.input!.name : (e.sourceHandle ? `${e.source}:${e.sourceHandle}` : e.source);
      });
    const out: Record<string, unknown> = { id: l.id, type: l.type, inputs: refs };
    for (const [k, v] of Object.entries(l)) if (!(k in out) && k !== "input") out[k] = v;
    layers.push(out as LayerSpec);
  }
  const positions: Record<string, XY> = {};
  for (const id of ids) if (doc.positions[scope]?.[id]) positions[id] = doc.positions[scope][id];
  return { layers, positions };
}

/**
 * Paste layers with fresh ids, shifted by `offset`. Refs among the pasted layers follow their new ids; refs
 * to layers or inputs outside keep pointing there when they exist in this scope, and are dropped otherwise.
 * Returns the command and the new ids.
 */
export function paste(doc: DocState, clip: Clipboard, offset: XY, scope: string):
    { command: (doc: DocState) => DocState; ids: string[] } {
  const taken = new Set(takenIds(doc.spec, scope));
  const rename = new Map<string, string>();
  for (const l of clip.layers) {
    const id = uniqueId(l.id, taken);
    taken.add(id);
    rename.set(l.id, id);
  }
  const existing = new Set(takenIds(doc.spec, scope));
  const layers = clip.layers.map((l) => {
    const refs = ((l.inputs as string[]) ?? []).map((r) => {
      const { producer, index } = parseRef(r);
      if (rename.has(producer)) return index ? `${rename.get(producer)}:${index}` : rename.get(producer)!;
      return existing.has(producer) ? r : null;
    }).filter((r): r is string => r !== null);
    return { ...l, id: rename.get(l.id)!, inputs: refs };
  });
  const ids = layers.map((l) => l.id);
  const command = (d: DocState): DocState => {
    const next = withGraph(d, scope, (g) => {
      const extra: GraphNode[] = layers.map((l) => ({ id: l.id, kind: "layer", layer: l, origRefs: [] }));
      const edges = [...g.edges];
      const known = new Set([...g.nodes.map((n) => n.id), ...ids]);
      const inputNames = new Set(readScope(d.spec, scope).inputs.map((i) => i.name));
      for (const l of layers) {
        (l.inputs as string[]).forEach((r, slot) => {
          const { producer, index } = parseRef(r);
          const src = inputNames.has(producer) ? inputNodeId(producer) : producer;
          if (!known.has(src)) return;
          edges.push({ id: edgeId(src, index, l.id, slot), source: src, sourceHandle: index, target: l.id, targetHandle: slot });
        });
      }
      const lastLayer = g.nodes.map((n) => n.kind).lastIndexOf("layer");
      const nodes = [...g.nodes];
      nodes.splice(lastLayer < 0 ? nodes.filter((n) => n.kind === "input").length : lastLayer + 1, 0,
        ...extra);
      return { ...g, nodes, edges };
    });
    const map = { ...(d.positions[scope] ?? {}) };
    clip.layers.forEach((l) => {
      const p = clip.positions[l.id] ?? { x: 0, y: 0 };
      map[rename.get(l.id)!] = { x: p.x + offset.x, y: p.y + offset.y };
    });
    return { spec: next.spec, positions: setScopePositions(d.positions, scope, map) };
  };
  return { command, ids };
}

// ---------------------------------------------------------------------------------------------------------
// whole-spec changes (fixes, blocks made from a selection, opening)

/**
 * Replace the spec (a fix or a server-side edit), keeping the positions of the nodes that are still there
 * and placing new ones next to their neighbours.
 */
export function replaceSpec(spec: Spec, placeAt?: Record<string, XY>): (doc: DocState) => DocState {
  return (doc) => {
    const positions: Positions = {};
    for (const scope of allScopes(spec)) {
      const old = { ...(doc.positions[scope] ?? {}), ...(scope === "" ? placeAt ?? {} : {}) };
      positions[scope] = placeMissing(spec, scope, old);
    }
    return { spec, positions };
  };
}

/** The scopes of a document: the network and every user block. */
export function allScopes(spec: Spec): string[] {
  return ["", ...Object.keys(spec.blocks ?? {}).map(blockScope)];
}

/**
 * Positions for every node of a scope: the given ones where present, and for the others a place below
 * their producer (beside the straight line between producer and consumer when both are placed), clear of
 * the nodes already there. A scope with no positions at all gets the quick layered layout.
 */
export function placeMissing(spec: Spec, scope: string, given: Record<string, XY>): Record<string, XY> {
  let graph: Graph;
  try {
    graph = specToGraph(spec, scope);
  } catch {
    return given;
  }
  const out: Record<string, XY> = {};
  for (const n of graph.nodes) if (given[n.id]) out[n.id] = given[n.id];
  const missing = graph.nodes.filter((n) => !out[n.id]);
  if (!missing.length) return out;
  if (missing.length === graph.nodes.length) return quickLayout(graph, nodeSize);
  const occupied = (p: XY) => Object.values(out).some((q) => Math.abs(q.x - p.x) < NODE_WIDTH + 20 && Math.abs(q.y - p.y) < NODE_HEIGHT + 16);
  const free = (p: XY) => {
    let q = { ...p };
    for (let i = 0; i < 50 && occupied(q); i++) q = { x: q.x + NODE_WIDTH + GAP_X, y: q.y };
    return q;
  };
  const all = Object.values(out);
  const maxY = all.length ? Math.max(...all.map((p) => p.y)) : 0;
  let spare = { x: all.length ? Math.max(...all.map((p) => p.x)) + NODE_WIDTH + GAP_X : 0, y: all.length ? Math.min(...all.map((p) => p.y)) : maxY };
  for (let pass = 0; pass < 3; pass++) {
    for (const n of missing) {
      if (out[n.id]) continue;
      const producer = graph.edges.find((e) => e.target === n.id && out[e.source]);
      const consumer = graph.edges.find((e) => e.source === n.id && out[e.target]);
      if (producer && consumer) {
        // inserted into an edge: it takes the consumer's place, and the consumer's column moves down
        const b = out[consumer.target];
        const at = { ...b };
        makeRoom(out, at);
        out[n.id] = at;
      } else if (producer) {
        const a = out[producer.source];
        const at = { x: a.x, y: a.y + NODE_HEIGHT + GAP_Y };
        makeRoom(out, at);
        out[n.id] = at;
      } else if (consumer && pass > 0) {
        const b = out[consumer.target];
        out[n.id] = free({ x: b.x, y: b.y - NODE_HEIGHT - GAP_Y });
      } else if (pass === 2) {
        out[n.id] = free(spare);
        spare = { x: spare.x, y: spare.y + NODE_HEIGHT + GAP_Y };
      }
    }
  }
  return out;
}

/** Move the nodes at or below `at` in its column down by one row, so that a node fits at `at`. */
function makeRoom(positions: Record<string, XY>, at: XY): void {
  const column = Object.values(positions).filter((p) => Math.abs(p.x - at.x) < NODE_WIDTH / 2 && p.y > at.y - NODE_HEIGHT);
  if (!column.some((p) => Math.abs(p.y - at.y) < NODE_HEIGHT + 16)) return;
  for (const [id, p] of Object.entries(positions)) {
    if (Math.abs(p.x - at.x) < NODE_WIDTH / 2 && p.y > at.y - NODE_HEIGHT) positions[id] = { x: p.x, y: p.y + NODE_HEIGHT + GAP_Y };
  }
}

/** The size the layout assumes for a node. */
export function nodeSize(id: string): { width: number; height: number } {
  return { width: NODE_WIDTH, height: id.startsWith("input:") || id.startsWith("output:") ? IO_HEIGHT : NODE_HEIGHT };
}
