/**
 * The one undoable command stack every change of the document goes through.
 *
 * The document is the spec plus node positions. A command is a pure function from one document to the
 * next; the stack stores, per command, the small diffs both ways (see patch.ts), so the whole history is
 * plain JSON that the autosave can keep and a reload can bring back. Successive commands with the same
 * `coalesce` key (dragging a node, typing into a field) within a short time become one entry.
 */

import { type Patch, applyPatch, diff } from "./patch";
import type { Spec } from "./spec";

export interface XY {
  x: number;
  y: number;
}

/** Node positions by scope ("" for the network, "block:<name>" for a block definition) and node id. */
export type Positions = Record<string, Record<string, XY>>;

export interface DocState {
  spec: Spec;
  positions: Positions;
}

export interface HistoryEntry {
  label: string;
  forward: Patch;
  backward: Patch;
  key?: string;
  time: number;
}

export interface SerializedHistory {
  past: HistoryEntry[];
  future: HistoryEntry[];
}

export interface ExecuteOptions {
  /** Merge with the previous command when it had the same key and came less than `coalesceMs` ago. */
  coalesce?: string;
}

export type Command = (doc: DocState) => DocState;

export class CommandStack {
  private past: HistoryEntry[];
  private future: HistoryEntry[];
  private current: DocState;
  private listeners = new Set<() => void>();
  private revision = 0;

  constructor(
    initial: DocState,
    history?: SerializedHistory | null,
    private readonly options: { limit?: number; coalesceMs?: number; now?: () => number } = {},
  ) {
    this.current = initial;
    this.past = history?.past ? [...history.past] : [];
    this.future = history?.future ? [...history.future] : [];
  }

  get doc(): DocState {
    return this.current;
  }

  /** Increases on every change (for React's useSyncExternalStore and for autosave). */
  get version(): number {
    return this.revision;
  }

  get canUndo(): boolean {
    return this.past.length > 0;
  }

  get canRedo(): boolean {
    return this.future.length > 0;
  }

  get undoLabel(): string | null {
    return this.past.length ? this.past[this.past.length - 1].label : null;
  }

  get redoLabel(): string | null {
    return this.future.length ? this.future[this.future.length - 1].label : null;
  }

  /** The labels of the commands that can be undone, oldest first. */
  get labels(): string[] {
    return this.past.map((e) => e.label);
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Run `command`; returns false (and records nothing) when it changed nothing. */
  execute(label: string, command: Command, opts: ExecuteOptions = {}): boolean {
    const before = this.current;
    const after = command(before);
    const now = this.now();
    const last = this.past[this.past.length - 1];
    if (opts.coalesce && last && last.key === opts.coalesce && this.future.length === 0 &&
        now - last.time < (this.options.coalesceMs ?? 1500)) {
      const origin = applyPatch(before, last.backward);
      const forward = diff(origin, after);
      if (forward.length === 0) this.past.pop();
      else this.past[this.past.length - 1] = { ...last, forward, backward: diff(after, origin), time: now };
      this.set(after);
      return true;
    }
    const forward = diff(before, after);
    if (forward.length === 0) return false;
    this.past.push({ label, forward, backward: diff(after, before), key: opts.coalesce, time: now });
    const limit = this.options.limit ?? 500;
    if (this.past.length > limit) this.past.splice(0, this.past.length - limit);
    this.future = [];
    this.set(after);
    return true;
  }

  undo(): string | null {
    const entry = this.past.pop();
    if (!entry) return null;
    this.future.push({ ...entry, key: undefined });
    this.set(applyPatch(this.current, entry.backward));
    return entry.label;
  }

  redo(): string | null {
    const entry = this.future.pop();
    if (!entry) return null;
    this.past.push({ ...entry, key: undefined });
    this.set(applyPatch(this.current, entry.forward));
    return entry.label;
  }

  /** Stop the last command from merging with the next one (e.g. when a field loses focus). */
  seal(): void {
    const last = this.past[this.past.length - 1];
    if (last) last.key = undefined;
  }

  /** Replace the document and forget the history (opening another file). */
  reset(doc: DocState, history?: SerializedHistory | null): void {
    this.past = history?.past ? [...history.past] : [];
    this.future = history?.future ? [...history.future] : [];
    this.set(doc);
  }

  toJSON(): SerializedHistory {
    return { past: this.past, future: this.future };
  }

  private now(): number {
    return this.options.now ? this.options.now() : Date.now();
  }

  private set(doc: DocState): void {
    this.current = doc;
    this.revision++;
    for (const l of this.listeners) l();
  }
}
