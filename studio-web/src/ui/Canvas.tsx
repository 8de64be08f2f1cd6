/**
 * The canvas: React Flow showing one scope (the network, or one block definition) of the document.
 *
 * Nodes and edges are derived from the document, the checker's answer and the selection; each flow node
 * object is reused while what it shows is unchanged, so React Flow re-renders only the nodes an edit
 * touched. Dragging moves nodes in a local overlay and records one "Move" command when the drag ends.
 */

import {
  type Connection, Controls, type Edge, type EdgeChange, type Node,
  type NodeChange, Position, ReactFlow, type ReactFlowState, getNodesBounds, useReactFlow, useStore,
} from "@xyflow/react";
import { type DragEvent, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { type NodeView, edgeShape, inputShapes, nodeViews } from "../model/analysis";
import { builtinSpec } from "../model/builtin";
import * as cmd from "../model/commands";
import { type Graph, NETWORK_SCOPE, scopeBlockName, specToGraph } from "../model/graph";
import type { XY } from "../model/history";
import { quickLayout } from "../model/layout";
import { studio, useStudio } from "../store";
import { Overview } from "./MiniMap";
import { HANDLE_SPREAD, type IONodeData, type LayerNodeData, type ShapeEdgeData, edgeTypes, nodeTypes } from "./nodes";

export const LAYER_MIME = "application/x-onnxbridge-layer";

const DEVICE_COLOURS = ["#38bdf8", "#4ade80", "#f472b6", "#facc15", "#a78bfa", "#fb923c"];

export function deviceColour(device: string | undefined | null, devices: string[]): string | null {
  if (!device) return null;
  const norm = device === "cuda" ? "cuda:0" : device;
  const i = devices.indexOf(norm);
  if (i >= 0) return DEVICE_COLOURS[i % DEVICE_COLOURS.length];
  const m = /^cuda:(\d+)$/.exec(norm);
  return DEVICE_COLOURS[(m ? Number(m[1]) + 1 : 0) % DEVICE_COLOURS.length];
}


type Cached<T> = { deps: unknown[]; value: T };

function sameArray<T>(a: T[], b: T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameDeps(a: unknown[], b: unknown[]): boolean {
  return a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
}

/**
 * The size and handles a node will have, for React Flow before it has measured it: with them, nodes out of
 * view are not rendered just to be measured (hundreds of layers open fast). Once measured, the real
 * size and handle places replace these.
 */
function estimated(ins: number, outs: number, height: number) {
  const at = (i: number, n: number) => (n <= 1 ? cmd.NODE_WIDTH / 2 : 100 - HANDLE_SPREAD / 2 + (HANDLE_SPREAD * i) / (n - 1));
  const handles = [];
  for (let i = 0; i < ins; i++) handles.push({ id: `in${i}`, type: "target" as const, position: Position.Top, x: at(i, ins) - 5, y: -5, width: 10, height: 10 });
  for (let i = 0; i < Math.max(outs, 0); i++) handles.push({ id: `out${i}`, type: "source" as const, position: Position.Bottom, x: at(i, outs) - 5, y: height - 5, width: 10, height: 10 });
  return { initialWidth: cmd.NODE_WIDTH, initialHeight: height, handles };
}

const GRID = 24;
const gridStyle = (s: ReactFlowState) => {
  const [x, y, zoom] = s.transform;
  const gap = GRID * zoom;
  return `${x % gap}px ${y % gap}px/${gap}px ${gap}px`;
};

/**
 * The dot grid behind the nodes, as one CSS background that follows the view: much cheaper to repaint
 * while panning and zooming than an SVG pattern.
 */
function DotGrid() {
  const background = useStore(gridStyle);
  return <div className="dot-grid" style={{ background: `radial-gradient(circle, #2f3647 1.2px, transparent 1.5px) ${background}` }} />;
}

/** A per-id cache of flow objects: the same object back while its dependencies are the same. */
function useCache<T>() {
  const ref = useRef(new Map<string, Cached<T>>());
  const get = useCallback((id: string, deps: unknown[], make: () => T, seen: Set<string>): T => {
    seen.add(id);
    const hit = ref.current.get(id);
    if (hit && sameDeps(hit.deps, deps)) return hit.value;
    const value = make();
    ref.current.set(id, { deps, value });
    return value;
  }, []);
  const prune = useCallback((seen: Set<string>) => {
    for (const k of ref.current.keys()) if (!seen.has(k)) ref.current.delete(k);
  }, []);
  return [get, prune] as const;
}

export function Canvas() {
  const doc = useStudio((s) => s.doc);
  const scope = useStudio((s) => s.scope);
  const selection = useStudio((s) => s.selection);
  const analysis = useStudio((s) => s.analysis);
  const prepared = useStudio((s) => s.prepared);
  const catalogue = useStudio((s) => s.catalogue);
  const flash = useStudio((s) => s.flash);
  const fitTick = useStudio((s) => s.fitTick);
  const flow = useReactFlow();

  const readOnly = scope.startsWith("builtin:");
  // the catalogue's definition of a built-in block: the same layers its palette entry lists
  const builtin = useMemo(() => (readOnly && catalogue ? builtinSpec(studio.entry(scope.slice(8))) : null), [readOnly, scope, catalogue]);
  const graph: Graph | null = useMemo(() => {
    try {
      return readOnly ? (builtin ? specToGraph(builtin) : null) : specToGraph(doc.spec, scope);
    } catch {
      return null;
    }
  }, [doc.spec, scope, readOnly, builtin]);

  const builtinPositions = useMemo(() => (readOnly && graph ? quickLayout(graph, cmd.nodeSize) : null), [readOnly, graph]);
  const positions: Record<string, XY> = builtinPositions ?? doc.positions[scope] ?? {};

  // the checker's view of every node, each object kept while its content is the same
  const viewCache = useRef(new Map<string, { json: string; view: NodeView }>());
  const views = useMemo(() => {
    const out = new Map<string, NodeView>();
    if (!graph || readOnly) return out;
    const fresh = nodeViews(analysis, prepared, scope, graph);
    for (const [id, view] of fresh) {
      const json = JSON.stringify(view);
      const hit = viewCache.current.get(id);
      if (hit && hit.json === json) out.set(id, hit.view);
      else {
        viewCache.current.set(id, { json, view });
        out.set(id, view);
      }
    }
    return out;
  }, [analysis, prepared, scope, graph, readOnly]);
  // a built-in block's input: the shape its definition was generated for
  const ioShapes = useMemo(() => (readOnly ? (builtin ? inputShapes(null, builtin, NETWORK_SCOPE) : new Map())
    : inputShapes(analysis, doc.spec, scope)), [analysis, doc.spec, scope, readOnly, builtin]);

  // React Flow's measurements and the drag overlay
  const measured = useRef(new Map<string, { width: number; height: number }>());
  const [measureTick, setMeasureTick] = useState(0);
  const [overlay, setOverlay] = useState<Record<string, XY> | null>(null);
  const [selectedEdges, setSelectedEdges] = useState<string[]>([]);
  const [cacheNode, pruneNodes] = useCache<Node>();
  const lastNodes = useRef<Node[]>([]);
  const lastEdges = useRef<Edge[]>([]);
  const [cacheEdge, pruneEdges] = useCache<Edge>();
  const selected = useMemo(() => new Set(selection), [selection]);
  const flashing = useMemo(() => new Set(flash), [flash]);
  const devices = catalogue?.devices ?? [];

  const nodes: Node[] = useMemo(() => {
    void measureTick;
    if (!graph) return [];
    const seen = new Set<string>();
    const slotsIn = new Map<string, number>();
    const slotsOut = new Map<string, number>();
    for (const e of graph.edges) {
      slotsIn.set(e.target, Math.max(slotsIn.get(e.target) ?? 0, e.targetHandle + 1));
      slotsOut.set(e.source, Math.max(slotsOut.get(e.source) ?? 0, e.sourceHandle + 1));
    }
    const out: Node[] = [];
    for (const n of graph.nodes) {
      const position = overlay?.[n.id] ?? positions[n.id] ?? { x: 0, y: 0 };
      const m = measured.current.get(n.id);
      const isSel = selected.has(n.id);
      if (n.kind === "layer") {
        const layer = n.layer!;
        const entry = studio.entry(layer.type);
        const userBlock = !readOnly && !!doc.spec.blocks?.[layer.type];
        const max = studio.maxInputs(layer.type);
        const used = slotsIn.get(n.id) ?? 0;
        const inSlots = max === 1 ? 1 : Math.max(used, max === null ? used : Math.min(max, Math.max(used, studio.minInputs(layer.type))));
        const openSlot = max === null ? true : inSlots < max;
        const view = views.get(n.id) ?? null;
        const family = userBlock ? "block" : entry?.family ?? "other";
        const outSlots = Math.max(slotsOut.get(n.id) ?? 1, view?.outShapes?.length ?? 1);
        const colour = deviceColour(layer.device, devices);
        const isFlash = flashing.has(n.id);
        out.push(cacheNode(n.id, [layer, view, position, isSel, inSlots, openSlot, outSlots, colour, isFlash, family, m, readOnly, userBlock], () => ({
          id: n.id,
          type: "layer",
          position,
          selected: isSel,
          measured: m,
          ...(m ? {} : estimated(inSlots + (openSlot ? 1 : 0), outSlots, cmd.NODE_HEIGHT)),
          data: { layer, family, isBlock: userBlock || entry?.kind === "block", view, inSlots, openSlot, outSlots,
                  deviceColor: colour, flash: isFlash, readOnly } satisfies LayerNodeData,
        }), seen));
      } else {
        const name = n.kind === "input" ? n.input!.name : n.output!.name;
        let shape = null;
        if (n.kind === "input") shape = ioShapes.get(n.id) ?? null;
        else {
          const e = graph.edges.find((x) => x.target === n.id);
          shape = e ? edgeShape(analysis, views, ioShapes, e.source, e.sourceHandle) : null;
        }
        const dtype = n.kind === "input" && scopeBlockName(scope) === null ? n.input!.dtype ?? "float32" : null;
        const shapeKey = shape ? JSON.stringify(shape) : "";
        out.push(cacheNode(n.id, [n.kind, name, shapeKey, dtype, position, isSel, m, readOnly], () => ({
          id: n.id,
          type: "io",
          position,
          selected: isSel,
          measured: m,
          ...(m ? {} : estimated(n.kind === "output" ? 1 : 0, n.kind === "input" ? 1 : 0, cmd.IO_HEIGHT)),
          data: { kind: n.kind as "input" | "output", name, shape, dtype, readOnly } satisfies IONodeData,
        }), seen));
      }
    }
    pruneNodes(seen);
    return sameArray(lastNodes.current, out) ? lastNodes.current : (lastNodes.current = out);
  }, [graph, positions, overlay, views, selected, flashing, devices, ioShapes, analysis, scope, readOnly, doc.spec.blocks, cacheNode, pruneNodes, measureTick]);

  const edgeSel = useMemo(() => new Set(selectedEdges), [selectedEdges]);
  const edges: Edge[] = useMemo(() => {
    if (!graph) return [];
    const seen = new Set<string>();
    const out = graph.edges.map((e) => {
      const shape = readOnly ? null : edgeShape(analysis, views, ioShapes, e.source, e.sourceHandle);
      const known = analysis !== null && !readOnly;
      const key = shape ? JSON.stringify(shape) : "";
      const isSel = edgeSel.has(e.id);
      return cacheEdge(e.id, [key, known, isSel, e.source, e.target], () => ({
        id: e.id,
        source: e.source,
        target: e.target,
        sourceHandle: `out${e.sourceHandle}`,
        targetHandle: `in${e.targetHandle}`,
        type: "shape",
        selected: isSel,
        data: { shape, known } satisfies ShapeEdgeData,
      }), seen);
    });
    pruneEdges(seen);
    return sameArray(lastEdges.current, out) ? lastEdges.current : (lastEdges.current = out);
  }, [graph, analysis, views, ioShapes, edgeSel, readOnly, cacheEdge, pruneEdges]);

  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    // another document or canvas: show it whole when it is readable so, else its top at a readable zoom
    const t = setTimeout(() => {
      const shown = flow.getNodes();
      const el = box.current;
      if (!shown.length || !el) return;
      const b = getNodesBounds(shown);
      const pad = 40;
      const w = el.clientWidth, h = el.clientHeight;
      const whole = Math.min((w - 2 * pad) / Math.max(b.width, 1), (h - 2 * pad) / Math.max(b.height, 1), 1.1);
      if (whole >= 0.7) {
        void flow.fitView({ padding: 0.2, maxZoom: 1.1, duration: 0 });
        return;
      }
      const zoom = Math.max(0.3, Math.min(0.9, (w - 2 * pad) / Math.max(b.width, 1)));
      void flow.setViewport({ x: w / 2 - (b.x + b.width / 2) * zoom, y: pad - b.y * zoom, zoom }, { duration: 0 });
    }, 60);
    return () => clearTimeout(t);
  }, [fitTick, scope, flow]);

  useEffect(() => setSelectedEdges([]), [scope]);

  const onNodesChange = useCallback((changes: NodeChange[]) => {
    let dims = false;
    let moves: Record<string, XY> | null = null;
    let sel: Set<string> | null = null;
    for (const c of changes) {
      if (c.type === "dimensions" && c.dimensions) {
        const old = measured.current.get(c.id);
        if (!old || old.width !== c.dimensions.width || old.height !== c.dimensions.height) {
          measured.current.set(c.id, c.dimensions);
          dims = true;
        }
      } else if (c.type === "position" && c.position) {
        (moves ??= {})[c.id] = c.position;
      } else if (c.type === "select") {
        sel ??= new Set(studio.get().selection);
        if (c.selected) sel.add(c.id);
        else sel.delete(c.id);
      }
    }
    if (dims) setMeasureTick((t) => t + 1);
    if (moves) setOverlay((o) => ({ ...(o ?? {}), ...moves }));
    if (sel) studio.select([...sel]);
  }, []);

  const onNodeDragStop = useCallback((_: unknown, __: Node, dragged: Node[]) => {
    setOverlay((o) => {
      if (o) {
        const moves: Record<string, XY> = {};
        for (const n of dragged) moves[n.id] = o[n.id] ?? n.position;
        const label = dragged.length === 1 ? `Move ${dragged[0].id}` : `Move ${dragged.length} nodes`;
        queueMicrotask(() => studio.exec(label, cmd.moveNodes(moves, studio.get().scope)));
      }
      return null;
    });
  }, []);

  const onEdgesChange = useCallback((changes: EdgeChange[]) => {
    const add: string[] = [], drop: string[] = [];
    for (const c of changes) if (c.type === "select") (c.selected ? add : drop).push(c.id);
    if (add.length || drop.length) setSelectedEdges((s) => [...new Set([...s.filter((id) => !drop.includes(id)), ...add])]);
  }, []);

  const onConnect = useCallback((c: Connection) => {
    if (!c.source || !c.target) return;
    const sh = Number((c.sourceHandle ?? "out0").replace("out", ""));
    const th = Number((c.targetHandle ?? "in0").replace("in", ""));
    const ok = studio.exec(`Connect ${c.source} → ${c.target}`, cmd.connect(c.source, sh, c.target, th, studio.get().scope));
    if (!ok) studio.toast("error", `Cannot connect ${c.source} to ${c.target}`, "a connection must not close a cycle");
  }, []);

  const isValidConnection = useCallback((c: Connection | Edge) => {
    if (readOnly || !c.source || !c.target || c.source === c.target) return false;
    if (c.source.startsWith("output:") || c.target.startsWith("input:")) return false;
    return !cmd.wouldCycle(studio.stack.doc.spec, studio.get().scope, c.source, c.target);
  }, [readOnly]);

  const onNodeDoubleClick = useCallback((_: unknown, node: Node) => {
    if (node.type !== "layer") return;
    const layer = (node.data as LayerNodeData).layer;
    if (studio.stack.doc.spec.blocks?.[layer.type] || studio.entry(layer.type)?.kind === "block") studio.openBlock(layer.type);
  }, []);

  const onDragOver = useCallback((e: DragEvent) => {
    if (e.dataTransfer.types.includes(LAYER_MIME)) {
      e.preventDefault();
      e.dataTransfer.dropEffect = "copy";
    }
  }, []);

  const onDrop = useCallback((e: DragEvent) => {
    const type = e.dataTransfer.getData(LAYER_MIME);
    if (!type || readOnly) return;
    e.preventDefault();
    const p = flow.screenToFlowPosition({ x: e.clientX, y: e.clientY });
    studio.addLayer(type, { x: Math.round(p.x - cmd.NODE_WIDTH / 2), y: Math.round(p.y - 24) });
  }, [flow, readOnly]);

  const onPaneClick = useCallback(() => {
    studio.select([]);
    setSelectedEdges([]);
  }, []);

  // Delete removes the selected edges too (nodes are handled by the app's keys)
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable)) return;
      if ((e.key === "Delete" || e.key === "Backspace") && selectedEdges.length && !readOnly) {
        studio.exec(selectedEdges.length === 1 ? "Disconnect" : `Disconnect ${selectedEdges.length} edges`, cmd.disconnect(selectedEdges, studio.get().scope));
        setSelectedEdges([]);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [selectedEdges, readOnly]);

  if (readOnly && !builtin) {
    const entry = studio.entry(scope.slice(8));
    return (
      <div className="canvas-empty" data-testid="builtin-block">
        <h3>{scope.slice(8)}</h3>
        <p>{entry?.description}</p>
        <p className="muted">A built-in block: its layers are generated from its parameters when the network is built
          ({entry?.params.map((p) => p.name).join(", ")}).</p>
      </div>
    );
  }

  const big = nodes.length > 250;
  return (
    <div className="canvas" data-testid="canvas" ref={box} onDragOver={onDragOver} onDrop={onDrop}>
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        edgeTypes={edgeTypes}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onNodeDragStop={onNodeDragStop}
        onConnect={onConnect}
        isValidConnection={isValidConnection}
        onNodeDoubleClick={onNodeDoubleClick}
        onPaneClick={onPaneClick}
        deleteKeyCode={null}
        selectionKeyCode="Shift"
        multiSelectionKeyCode={["Meta", "Control"]}
        zoomOnDoubleClick={false}
        panOnScroll
        zoomActivationKeyCode={["Control", "Meta"]}
        nodesDraggable={!readOnly}
        nodesConnectable={!readOnly}
        minZoom={0.05}
        maxZoom={2.5}
        onlyRenderVisibleElements={big}
        proOptions={{ hideAttribution: true }}
        colorMode="dark"
        fitView
        fitViewOptions={{ padding: 0.2, maxZoom: 1.1 }}
      >
        <DotGrid />
        <Overview nodes={nodes} />
        <Controls showInteractive={false} />
      </ReactFlow>
      {nodes.length === 0 && (
        <div className="canvas-hint" data-testid="canvas-hint">
          <b>Empty canvas.</b> Drag an <b>Input</b> and then layers from the palette on the left, or open a file.
          <br />Select a layer before adding the next one and they are connected for you.
        </div>
      )}
    </div>
  );
}
