/**
 * The studio's state and actions: the document on the one command stack, the view (canvas scope,
 * selection, panels), the checker's latest answer, the open file, and the autosaved session.
 *
 * Components read slices with `useStudio(selector)`; every change of the document goes through
 * `studio.exec(label, command)`, which records it for undo and schedules the check and the autosave.
 */

import { useSyncExternalStore } from "react";
import {
  type Analysis, type Catalogue, type CatalogueEntry, type ExportAnswer, type Target, ApiError, api, onAuthError,
  setToken, takeToken,
} from "./api";
import { type PreparedSpec, prepareForAnalysis } from "./model/analysis";
import * as cmd from "./model/commands";
import { NETWORK_SCOPE, blockScope, readScope, scopeBlockName, specToGraph } from "./model/graph";
import { CommandStack, type Command, type DocState, type ExecuteOptions, type Positions, type SerializedHistory, type XY } from "./model/history";
import { layoutGraph, quickLayout } from "./model/layout";
import { deepEqual } from "./model/patch";
import type { Spec } from "./model/spec";

export type Panel = "summary" | "issues" | "code" | "export";

export interface Toast {
  id: number;
  kind: "info" | "ok" | "warning" | "error";
  text: string;
  hint?: string | null;
}

export type Dialog =
  | { kind: "open" }
  | { kind: "saveAs"; suggested: string }
  | { kind: "block"; layers: string[] }
  | { kind: "confirm"; title: string; text: string; confirm: string; onConfirm: () => void };

export interface FileInfo {
  /** Where the spec is saved (for an imported model: the spec's name beside it, not written yet). */
  path: string | null;
  /** The sha256 of the file as opened or last saved (null: a new file). */
  version: string | null;
  kind: string | null;
  /** The file it came from: the spec itself, or the imported model. */
  source: string | null;
  notes: string[];
}

export interface CodeState {
  torch: string | null;
  tensorflow: string | null;
  /** The spec the code was generated from. */
  spec: Spec | null;
  loading: boolean;
  error: string | null;
}

export interface StudioState {
  ready: boolean;
  doc: DocState;
  rev: number;
  canUndo: boolean;
  canRedo: boolean;
  undoLabel: string | null;
  redoLabel: string | null;
  scope: string;
  selection: string[];
  catalogue: Catalogue | null;
  analysis: Analysis | null;
  /** The spec `analysis` belongs to (the document's, not the stripped one sent). */
  analysisFor: Spec | null;
  prepared: PreparedSpec | null;
  analyzing: boolean;
  analysisError: string | null;
  /** Browser-side round trip of the last check (ms), and the server's own time. */
  roundTripMs: number | null;
  file: FileInfo;
  savedSpec: Spec | null;
  toasts: Toast[];
  authError: string | null;
  panel: Panel;
  code: CodeState;
  exported: ExportAnswer | null;
  exporting: Target | null;
  dialog: Dialog | null;
  busy: string | null;
  session: "idle" | "saving" | "saved" | "error";
  /** Set by Fix: the nodes the last fix added or changed, highlighted for a moment. */
  flash: string[];
  /** Bumped when the canvas should fit the view (another document). */
  fitTick: number;
  /** elkjs is laying out a document just opened (drawn meanwhile with the quick layout). */
  layingOut: boolean;
}

/** A new, empty document: no input, no layer, an explicit (empty) output list. */
export function emptySpec(): Spec {
  return { name: "network", inputs: [], layers: [], outputs: [] };
}

const SESSION_SCHEMA = "onnxbridge.studio/1";
/** How long a live check runs before the toolbar says "checking…". */
const SLOW_CHECK_MS = 150;

/** Width over height of the canvas on screen (what a layout should fill), and its height. */
function canvasShape(): [number, number] {
  const el = typeof document === "undefined" ? null : document.querySelector("[data-testid=canvas]");
  return el && el.clientHeight > 0 ? [el.clientWidth / el.clientHeight, el.clientHeight] : [1.6, 600];
}

interface SessionState {
  schema: string;
  spec: Spec;
  positions: Positions;
  history: SerializedHistory;
  path: string | null;
  version: string | null;
  kind: string | null;
  source: string | null;
  scope: string;
  savedSpec: Spec | null;
}

type Listener = () => void;

export class Studio {
  readonly stack: CommandStack;
  private state: StudioState;
  private listeners = new Set<Listener>();
  private analyzeTimer: ReturnType<typeof setTimeout> | null = null;
  private analyzeSeq = 0;
  /** The spec being checked right now (a second request for it would only wait for the same answer). */
  private inFlight: Spec | null = null;
  private sessionTimer: ReturnType<typeof setTimeout> | null = null;
  private toastSeq = 0;
  private entries = new Map<string, CatalogueEntry>();
  /** Timings of the last checks, for the benchmark (window.__studio). */
  readonly timings: { roundTrip: number[]; server: number[] } = { roundTrip: [], server: [] };
  clipboard: cmd.Clipboard | null = null;

  constructor() {
    const doc: DocState = { spec: emptySpec(), positions: {} };
    this.stack = new CommandStack(doc);
    this.state = {
      ready: false, doc, rev: 0, canUndo: false, canRedo: false, undoLabel: null, redoLabel: null,
      scope: NETWORK_SCOPE, selection: [], catalogue: null, analysis: null, analysisFor: null, prepared: null,
      analyzing: false, analysisError: null, roundTripMs: null,
      file: { path: null, version: null, kind: null, source: null, notes: [] }, savedSpec: null, toasts: [], authError: null,
      panel: "summary", code: { torch: null, tensorflow: null, spec: null, loading: false, error: null },
      exported: null, exporting: null, dialog: null, busy: null, session: "idle", flash: [], fitTick: 0, layingOut: false,
    };
    this.stack.subscribe(() => this.onDocChanged());
  }

  // -------------------------------------------------------------------------------------------------------
  // store plumbing

  get(): StudioState {
    return this.state;
  }

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private set(patch: Partial<StudioState>): void {
    this.state = { ...this.state, ...patch };
    for (const l of this.listeners) l();
  }

  private onDocChanged(): void {
    const s = this.stack;
    const scopeGone = scopeBlockName(this.state.scope) !== null && !s.doc.spec.blocks?.[scopeBlockName(this.state.scope)!];
    this.set({
      doc: s.doc, rev: s.version, canUndo: s.canUndo, canRedo: s.canRedo, undoLabel: s.undoLabel, redoLabel: s.redoLabel,
      ...(scopeGone ? { scope: NETWORK_SCOPE, selection: [] } : {}),
    });
    this.scheduleAnalysis();
    this.scheduleSession();
  }

  // -------------------------------------------------------------------------------------------------------
  // messages

  toast(kind: Toast["kind"], text: string, hint?: string | null): void {
    const t: Toast = { id: ++this.toastSeq, kind, text, hint };
    this.set({ toasts: [...this.state.toasts.slice(-2), t] });
    setTimeout(() => this.dismiss(t.id), kind === "error" || kind === "warning" ? 9000 : 3500);
  }

  dismiss(id: number): void {
    this.set({ toasts: this.state.toasts.filter((t) => t.id !== id) });
  }

  private fail(what: string, err: unknown): void {
    if (err instanceof ApiError) {
      if (err.status === 401) return; // the banner says it
      this.toast("error", `${what}: ${err.message}`, err.hint);
    } else {
      this.toast("error", `${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // start

  async start(): Promise<void> {
    setToken(takeToken());
    onAuthError((message) => this.set({ authError: message }));
    try {
      // all at once: the catalogue is the biggest answer, the session may be big too
      const [catalogue, initial, session] = await Promise.all([api.catalogue(), api.initial(), api.getSession()]);
      for (const e of catalogue.layers) this.entries.set(e.type, e);
      this.set({ catalogue });
      // the session wins unless the server was started on another file than the session's
      const state = session?.state as SessionState | null;
      const valid = !!state && state.schema === SESSION_SCHEMA && !!state.spec;
      const sameFile = valid && (!initial.path || initial.path === state!.source || initial.path === state!.path);
      if (valid && sameFile) this.restore(state!);
      else if (initial.path) await this.open(initial.path);
      else if (valid) this.restore(state!);
    } catch (err) {
      this.fail("cannot reach the studio server", err);
    }
    this.set({ ready: true });
    this.scheduleAnalysis(0);
    this.scheduleSession(0);
  }

  private restore(state: SessionState): void {
    this.stack.reset({ spec: state.spec, positions: state.positions ?? {} }, state.history);
    const block = scopeBlockName(state.scope ?? "");
    const scope = block !== null && !state.spec.blocks?.[block] ? NETWORK_SCOPE : state.scope ?? NETWORK_SCOPE;
    this.set({
      file: { path: state.path, version: state.version, kind: state.kind, source: state.source ?? state.path, notes: [] },
      savedSpec: state.savedSpec ?? null, scope, session: "saved", fitTick: this.state.fitTick + 1,
    });
    this.ensurePositions();
  }

  // -------------------------------------------------------------------------------------------------------
  // the document

  /** Run one command on the document (recorded for undo). */
  exec(label: string, command: Command, opts?: ExecuteOptions): boolean {
    return this.stack.execute(label, command, opts);
  }

  undo(): void {
    const label = this.stack.undo();
    if (label) this.toast("info", `Undid: ${label}`);
  }

  redo(): void {
    const label = this.stack.redo();
    if (label) this.toast("info", `Redid: ${label}`);
  }

  entry(type: string): CatalogueEntry | undefined {
    return this.entries.get(type);
  }

  /** The fewest inputs a layer of `type` takes (merges: 2; a user block: its input count). */
  minInputs = (type: string): number => {
    const e = this.entries.get(type);
    if (e) return e.min_inputs;
    const block = this.state.doc.spec.blocks?.[type];
    if (block) return (block.inputs ?? ["x"]).length;
    return 1;
  };

  /** How many input slots a layer of `type` has (null: any number). */
  maxInputs(type: string): number | null {
    const e = this.entries.get(type);
    if (e) return e.max_inputs;
    const block = this.state.doc.spec.blocks?.[type];
    if (block) return (block.inputs ?? ["x"]).length;
    return 1;
  }

  setScope(scope: string): void {
    if (scope === this.state.scope) return;
    this.set({ scope, selection: [] });
    this.ensurePositions();
    this.scheduleSession();
  }

  select(ids: string[]): void {
    if (ids.length === this.state.selection.length && ids.every((id, i) => id === this.state.selection[i])) return;
    this.set({ selection: ids });
  }

  setPanel(panel: Panel): void {
    this.set({ panel });
  }

  setDialog(dialog: Dialog | null): void {
    this.set({ dialog });
  }

  /** Give every node of the current scope a position (a document opened without them). */
  ensurePositions(): void {
    const { spec, positions } = this.stack.doc;
    const scope = this.state.scope;
    if (scope.startsWith("builtin:")) return; // a built-in block is not part of the document
    let graph;
    try {
      graph = specToGraph(spec, scope);
    } catch {
      return;
    }
    const have = positions[scope] ?? {};
    if (graph.nodes.every((n) => have[n.id])) return;
    // filling in places for nodes that had none is not an edit: no undo entry
    const placed = cmd.placeMissing(spec, scope, have);
    this.stack.reset({ spec, positions: { ...positions, [scope]: placed } }, this.stack.toJSON());
  }

  /** Lay the current canvas out again with elkjs (one undoable step). */
  async autoLayout(): Promise<void> {
    const { spec } = this.stack.doc;
    const scope = this.state.scope;
    const graph = specToGraph(spec, scope);
    this.set({ busy: "Laying out..." });
    try {
      const map = graph.nodes.length > 300 ? quickLayout(graph, cmd.nodeSize) : await layoutGraph(graph, cmd.nodeSize, ...canvasShape());
      this.exec("Auto-layout", cmd.setPositions(map, scope));
      this.set({ fitTick: this.state.fitTick + 1 });
    } catch (err) {
      this.fail("layout failed", err);
    } finally {
      this.set({ busy: null });
    }
  }

  /**
   * A document from outside (opened, uploaded, new), with a fresh history. It is drawn at once with the
   * quick layout; elkjs's layout replaces it when it arrives, unless the document was touched meanwhile.
   */
  async load(spec: Spec, file: FileInfo): Promise<void> {
    const positions: Positions = {};
    for (const scope of cmd.allScopes(spec)) positions[scope] = cmd.placeMissing(spec, scope, {});
    this.stack.reset({ spec, positions }, null);
    void this.refineLayout(this.stack.doc);
    this.set({ file, savedSpec: file.version ? spec : null, scope: NETWORK_SCOPE, selection: [], exported: null, fitTick: this.state.fitTick + 1,
               analysis: null, analysisFor: null, code: { torch: null, tensorflow: null, spec: null, loading: false, error: null } });
  }

  private async refineLayout(drawn: DocState): Promise<void> {
    const better: Positions = {};
    this.set({ layingOut: true });
    try {
      for (const scope of cmd.allScopes(drawn.spec)) {
        const graph = specToGraph(drawn.spec, scope);
        if (graph.nodes.length > 150) return; // elk takes seconds there; the quick layout stays
        better[scope] = await layoutGraph(graph, cmd.nodeSize, ...canvasShape());
      }
      if (this.stack.doc !== drawn) return; // the user moved on: keep what they see
      this.stack.reset({ spec: drawn.spec, positions: better }, null);
      this.set({ fitTick: this.state.fitTick + 1 });
    } catch {
      // no better layout: the quick one stays
    } finally {
      this.set({ layingOut: false });
    }
  }

  newDocument(): void {
    const go = () => {
      this.stack.reset({ spec: emptySpec(), positions: {} }, null);
      this.set({ file: { path: null, version: null, kind: null, source: null, notes: [] }, savedSpec: null, scope: NETWORK_SCOPE,
                 selection: [], exported: null, analysis: null, analysisFor: null });
    };
    if (this.isDirty()) {
      this.set({ dialog: { kind: "confirm", title: "New network", text: "The current network has unsaved changes (they stay in the undo history only until you start over). Start a new one?", confirm: "Start new", onConfirm: go } });
    } else go();
  }

  isDirty(): boolean {
    const { spec } = this.stack.doc;
    if (this.state.savedSpec) return !deepEqual(spec, this.state.savedSpec);
    return spec.layers.length > 0 || spec.inputs.length > 0;
  }

  // -------------------------------------------------------------------------------------------------------
  // editing helpers used by the canvas and the forms

  /** Add a layer of `type` at `position`, after `after` when given (else after the one selected node). */
  addLayer(type: string, position: XY | null, after?: { source: string; handle: number } | null): string {
    const { spec, positions } = this.stack.doc;
    const scope = this.state.scope;
    if (type === "__input") return this.addInput(position);
    if (type === "__output") return this.addOutput(position);
    const id = cmd.freshLayerId(spec, scope, type);
    let link = after ?? null;
    if (link === undefined || link === null) {
      const sel = this.state.selection;
      if (after !== null && sel.length === 1 && !sel[0].startsWith("output:")) link = { source: sel[0], handle: 0 };
    }
    const at = positions[scope] ?? {};
    // dropped on a free spot it stays there; else (or added by keyboard) it goes into the chain
    let place = position;
    let room = false;
    if (!place || cmd.overlaps(at, place)) {
      const chained = link ? cmd.insertionPlace(this.stack.doc, scope, link.source, link.handle) : null;
      if (chained) {
        place = chained;
        room = true;
      } else {
        place = place ?? { x: 0, y: 0 };
        while (cmd.overlaps(at, place)) place = { x: place.x + cmd.NODE_WIDTH + 48, y: place.y };
      }
    }
    // no parameters yet: required ones show as errors in the form until they are typed
    this.exec(`Add ${type} ${id}`, cmd.addLayer({ id, type, position: place, after: link ?? undefined, insert: true, makeRoom: room }, scope));
    this.select([id]);
    return id;
  }

  addInput(position: XY | null): string {
    const { spec } = this.stack.doc;
    const scope = this.state.scope;
    const taken = cmd.takenIds(spec, scope);
    const name = taken.includes("x") ? cmd.freshLayerId(spec, scope, "input") : "x";
    const shape = scopeBlockName(scope) === null ? ["batch", 3, 32, 32] : [];
    this.exec(`Add input ${name}`, cmd.addInput({ name, shape, dtype: "float32" } as never, position ?? { x: 0, y: -120 }, scope));
    const id = `input:${name}`;
    this.select([id]);
    return id;
  }

  addOutput(position: XY | null): string {
    const { spec } = this.stack.doc;
    const scope = this.state.scope;
    const existing = new Set(specToGraph(spec, scope).nodes.filter((n) => n.kind === "output").map((n) => n.output!.name));
    let name = "out";
    for (let i = 1; existing.has(name) || cmd.takenIds(spec, scope).includes(name); i++) name = `out${i}`;
    const sel = this.state.selection;
    const from = sel.length === 1 && !sel[0].startsWith("output:") ? { source: sel[0], handle: 0 } : undefined;
    const at = this.stack.doc.positions[scope] ?? {};
    const place = position ?? (from && at[from.source] ? { x: at[from.source].x, y: at[from.source].y + cmd.NODE_HEIGHT + 64 } : { x: 0, y: 0 });
    this.exec(`Add output ${name}`, cmd.addOutput(name, place, scope, from));
    const id = `output:${name}`;
    this.select([id]);
    return id;
  }

  removeSelection(): void {
    const ids = this.state.selection;
    if (!ids.length) return;
    this.exec(ids.length === 1 ? `Delete ${ids[0]}` : `Delete ${ids.length} nodes`, cmd.removeNodes(ids, this.state.scope));
    this.select([]);
  }

  copySelection(): number {
    const layers = this.state.selection.filter((id) => !id.includes(":"));
    if (!layers.length) return 0;
    this.clipboard = cmd.copyLayers(this.stack.doc, layers, this.state.scope);
    try {
      sessionStorage.setItem("onnxbridge-studio-clipboard", JSON.stringify(this.clipboard));
    } catch {
      // private mode: the in-memory copy still works
    }
    this.toast("info", `Copied ${layers.length} layer${layers.length > 1 ? "s" : ""}`);
    return layers.length;
  }

  pasteClipboard(): void {
    let clip = this.clipboard;
    if (!clip) {
      try {
        const raw = sessionStorage.getItem("onnxbridge-studio-clipboard");
        clip = raw ? (JSON.parse(raw) as cmd.Clipboard) : null;
      } catch {
        clip = null;
      }
    }
    if (!clip || !clip.layers.length) return;
    const { command, ids } = cmd.paste(this.stack.doc, clip, { x: 40, y: 40 }, this.state.scope);
    this.exec(`Paste ${ids.length} layer${ids.length > 1 ? "s" : ""}`, command);
    this.select(ids);
    // a second paste lands further off
    this.clipboard = { ...clip, positions: Object.fromEntries(Object.entries(clip.positions).map(([k, p]) => [k, { x: p.x + 40, y: p.y + 40 }])) };
  }

  // -------------------------------------------------------------------------------------------------------
  // checking

  scheduleAnalysis(delay = 150): void {
    if (this.analyzeTimer) clearTimeout(this.analyzeTimer);
    this.analyzeTimer = setTimeout(() => void this.analyze(), delay);
  }

  /** Send the document's spec (without the layers not wired up yet) to /api/analyze. */
  async analyze(): Promise<void> {
    const spec = this.stack.doc.spec;
    if (!this.state.catalogue || spec === this.state.analysisFor || spec === this.inFlight) return;
    const prepared = prepareForAnalysis(spec, this.minInputs);
    if (prepared.spec === null) {
      this.set({ analysis: null, analysisFor: spec, prepared, analyzing: false, analysisError: null });
      return;
    }
    const seq = ++this.analyzeSeq;
    this.inFlight = spec;
    // "checking…" only for a check that takes a while: shown at once, it would flicker on every edit, and its
    // re-render would compete with the server for the CPU while the answer is being made
    const slow = setTimeout(() => { if (seq === this.analyzeSeq) this.set({ analyzing: true }); }, SLOW_CHECK_MS);
    const t0 = performance.now();
    try {
      const analysis = await api.analyze(prepared.spec);
      const ms = performance.now() - t0;
      if (seq !== this.analyzeSeq) {
        if (this.inFlight === spec) this.inFlight = null;
        return; // a newer edit is being checked
      }
      this.timings.roundTrip.push(ms);
      this.timings.server.push(analysis.elapsed_ms);
      this.set({ analysis, analysisFor: spec, prepared, analyzing: false, analysisError: null, roundTripMs: ms });
    } catch (err) {
      if (this.inFlight === spec) this.inFlight = null;
      if (seq !== this.analyzeSeq) return;
      this.set({ analyzing: false, analysisError: err instanceof Error ? err.message : String(err), analysisFor: spec });
    } finally {
      clearTimeout(slow);
    }
    if (this.inFlight === spec) this.inFlight = null;
    if (this.stack.doc.spec !== spec) this.scheduleAnalysis(0);
  }

  /** Apply the checker's fix for `code` at `layers`, as one undoable step, and show what changed. */
  async fix(code: string, layers: string[], description: string): Promise<void> {
    const before = this.stack.doc.spec;
    this.set({ busy: "Fixing..." });
    try {
      const answer = await api.fix(before, code, layers);
      const applied = answer.applied.filter((a) => a.applied);
      if (!applied.length) {
        const reason = answer.applied.find((a) => a.reason)?.reason;
        this.toast("error", `The fix was not applied${reason ? `: ${reason}` : ""}`);
        return;
      }
      if (this.stack.doc.spec !== before) {
        this.toast("error", "The network changed while the fix ran; try again");
        return;
      }
      const oldIds = new Set(readScope(before, NETWORK_SCOPE).layers.map((l) => l.id));
      const changed = readScope(answer.spec, NETWORK_SCOPE).layers.filter((l) => !oldIds.has(l.id)).map((l) => l.id);
      this.exec(`Fix ${code}: ${applied.map((a) => a.description).join("; ") || description}`, cmd.replaceSpec(answer.spec));
      this.set({ analysis: answer.analysis, analysisFor: this.stack.doc.spec, prepared: { spec: answer.spec, unconnected: [], downstream: [] }, flash: changed, selection: changed.length ? changed : this.state.selection });
      this.toast("ok", `Fixed: ${applied.map((a) => a.description).join("; ")}`);
      setTimeout(() => this.set({ flash: [] }), 2500);
    } catch (err) {
      this.fail("fix failed", err);
    } finally {
      this.set({ busy: null });
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // blocks

  /** Replace the selected layers by one instance of a new block `name` (server-side extraction). */
  async makeBlock(name: string, layers: string[]): Promise<boolean> {
    const before = this.stack.doc;
    this.set({ busy: "Making the block..." });
    try {
      const { spec } = await api.extractBlock(before.spec, layers, name);
      const at = before.positions[NETWORK_SCOPE] ?? {};
      const pts = layers.map((id) => at[id]).filter(Boolean);
      const centre = pts.length ? { x: Math.round(pts.reduce((s, p) => s + p.x, 0) / pts.length), y: Math.round(pts.reduce((s, p) => s + p.y, 0) / pts.length) } : undefined;
      const newIds = readScope(spec, NETWORK_SCOPE).layers.map((l) => l.id).filter((id) => !at[id]);
      const placeAt: Record<string, XY> = {};
      if (centre && newIds.length === 1) placeAt[newIds[0]] = centre;
      this.exec(`Make block ${name}`, cmd.replaceSpec(spec, placeAt));
      this.select(newIds);
      this.toast("ok", `Block ${name} made from ${layers.length} layers; it is in the palette now`);
      return true;
    } catch (err) {
      this.fail("cannot make the block", err);
      return false;
    } finally {
      this.set({ busy: null });
    }
  }

  /** Open a block's definition as its own canvas (user blocks; built-in ones are shown read-only). */
  openBlock(type: string): void {
    if (this.stack.doc.spec.blocks?.[type]) {
      this.setScope(blockScope(type));
      return;
    }
    const entry = this.entries.get(type);
    if (entry?.kind === "block") this.setScope(`builtin:${type}`);
  }

  // -------------------------------------------------------------------------------------------------------
  // files

  async listFiles() {
    return (await api.files()).files;
  }

  async open(path: string): Promise<void> {
    this.set({ busy: `Opening ${path}...` });
    try {
      const opened = await api.open(path);
      await this.load(opened.spec, { path: opened.path, version: opened.version, kind: opened.kind,
                                     source: opened.source ?? opened.path, notes: opened.notes ?? [] });
      this.set({ dialog: null });
      this.toast("ok", opened.kind === "spec" ? `Opened ${opened.path}` : `Imported ${opened.source ?? path} (${opened.kind}); weights in ${opened.weights ?? "the workspace"}; save to keep the spec as ${opened.path}`);

    } catch (err) {
      this.fail(`cannot open ${path}`, err);
    } finally {
      this.set({ busy: null });
    }
  }

  async upload(file: File): Promise<void> {
    this.set({ busy: `Uploading ${file.name}...` });
    try {
      const { path } = await api.upload(file);
      this.set({ busy: null });
      await this.open(path);
    } catch (err) {
      this.fail(`cannot upload ${file.name}`, err);
      this.set({ busy: null });
    }
  }

  /** Save the spec as YAML into the workspace; asks before overwriting a file that changed on disk. */
  async save(path?: string, force = false): Promise<boolean> {
    const target = path ?? this.state.file.path;
    if (!target) {
      this.set({ dialog: { kind: "saveAs", suggested: `${this.stack.doc.spec.name ?? "network"}.yaml` } });
      return false;
    }
    const spec = this.stack.doc.spec;
    const version = target === this.state.file.path ? this.state.file.version : null;
    this.set({ busy: `Saving ${target}...` });
    try {
      const saved = await api.save(target, spec, version, force);
      this.set({ file: { ...this.state.file, path: saved.path, version: saved.version, kind: "spec", source: saved.path }, savedSpec: spec, dialog: null });
      // saved as drawn either way; layers off every input-to-output path are worth a word
      if (saved.warning) this.toast("warning", `Saved ${saved.path}, but ${saved.warning}`, "connect them to an input and an output, or delete them");
      else this.toast("ok", `Saved ${saved.path}`);
      this.scheduleSession(0);
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        this.set({ dialog: { kind: "confirm", title: "The file changed on disk",
          text: `${target} was changed by someone else since it was opened${path && path !== this.state.file.path ? " (or it already exists)" : ""}. Overwrite it with this network?`,
          confirm: "Overwrite", onConfirm: () => void this.save(target, true) } });
        return false;
      }
      this.fail(`cannot save ${target}`, err);
      return false;
    } finally {
      this.set({ busy: null });
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // code, export, netron

  async loadCode(): Promise<void> {
    const spec = this.stack.doc.spec;
    if (this.state.code.spec === spec && !this.state.code.error) return;
    this.set({ code: { ...this.state.code, loading: true, error: null } });
    try {
      const path = this.state.file.path;
      const [torch, tf] = await Promise.all([api.code(spec, "torch", path), api.code(spec, "tensorflow", path)]);
      this.set({ code: { torch: torch.source, tensorflow: tf.source, spec, loading: false, error: null } });
    } catch (err) {
      this.set({ code: { torch: null, tensorflow: null, spec, loading: false, error: err instanceof ApiError ? `${err.message}${err.hint ? ` (${err.hint})` : ""}` : String(err) } });
    }
  }

  async exportModel(target: Target): Promise<void> {
    const spec = this.stack.doc.spec;
    this.set({ exporting: target, panel: "export" });
    try {
      const name = spec.name ?? "network";
      const answer = await api.exportModel(spec, target, name, this.state.file.path);
      this.set({ exported: answer });
      const ok = answer.checks.every((c) => c.ok);
      this.toast(ok ? "ok" : "error", `${target === "onnx" ? "ONNX" : target === "torch" ? "PyTorch" : "Keras"} export ${ok ? "verified" : "did NOT match"}: ${answer.files.join(", ")}`);
    } catch (err) {
      this.fail("export failed", err);
    } finally {
      this.set({ exporting: null });
    }
  }

  async download(path: string): Promise<void> {
    try {
      const name = await api.download(path);
      this.toast("ok", `Downloaded ${name}`);
    } catch (err) {
      this.fail(`cannot download ${path}`, err);
    }
  }

  async netron(): Promise<void> {
    const win = window.open("about:blank", "_blank");
    try {
      const { url } = await api.netron({ spec: this.stack.doc.spec, path: this.state.file.path });
      if (win) win.location.href = url;
      else window.open(url, "_blank");
    } catch (err) {
      win?.close();
      this.fail("cannot open netron", err);
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // autosave

  scheduleSession(delay = 500): void {
    if (!this.state.ready && delay > 0) return;
    if (this.sessionTimer) clearTimeout(this.sessionTimer);
    this.sessionTimer = setTimeout(() => void this.saveSession(), delay);
  }

  sessionState(): SessionState {
    const { spec, positions } = this.stack.doc;
    const scope = this.state.scope.startsWith("builtin:") ? NETWORK_SCOPE : this.state.scope;
    return { schema: SESSION_SCHEMA, spec, positions, history: this.stack.toJSON(), path: this.state.file.path,
             version: this.state.file.version, kind: this.state.file.kind, source: this.state.file.source, scope,
             savedSpec: this.state.savedSpec };
  }

  async saveSession(): Promise<void> {
    this.set({ session: "saving" });
    try {
      await api.putSession(this.sessionState());
      this.set({ session: "saved" });
    } catch {
      this.set({ session: "error" });
    }
  }
}

export const studio = new Studio();

/** Read a slice of the studio state; the component re-renders when that slice changes. */
export function useStudio<T>(selector: (s: StudioState) => T): T {
  return useSyncExternalStore(studio.subscribe, () => selector(studio.get()));
}
