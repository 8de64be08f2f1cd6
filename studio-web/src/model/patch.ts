/**
 * Small structural diffs of plain JSON documents, so that the undo history stores only what changed.
 *
 * `diff(a, b)` gives the operations that turn `a` into `b`; `applyPatch(a, ops)` performs them without
 * mutating `a` (unchanged subtrees are shared). Arrays are diffed by trimming the common head and tail,
 * which turns inserting, removing or editing a layer into one small operation.
 */

export type Path = (string | number)[];

export type PatchOp =
  | { op: "set"; path: Path; value: unknown }
  | { op: "del"; path: Path }
  | { op: "splice"; path: Path; index: number; remove: number; insert: unknown[] };

export type Patch = PatchOp[];

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Deep equality of JSON values (key order matters: it is part of the written document). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const ka = Object.keys(a), kb = Object.keys(b);
    if (ka.length !== kb.length) return false;
    for (let i = 0; i < ka.length; i++) {
      if (ka[i] !== kb[i] || !deepEqual(a[ka[i]], b[kb[i]])) return false;
    }
    return true;
  }
  return false;
}

/** The operations that turn `a` into `b`. */
export function diff(a: unknown, b: unknown, path: Path = []): Patch {
  if (a === b) return [];
  if (Array.isArray(a) && Array.isArray(b)) return diffArrays(a, b, path);
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a), kb = Object.keys(b);
    // a change of key order is a change of the document: replace the object
    const common = kb.filter((k) => k in a);
    const orderKept = ka.filter((k) => k in b).every((k, i) => k === common[i]);
    const appendedOnly = kb.every((k, i) => i < common.length ? k === common[i] : !(k in a));
    if (!orderKept || !appendedOnly) return [{ op: "set", path, value: b }];
    const ops: Patch = [];
    for (const k of ka) if (!(k in b)) ops.push({ op: "del", path: [...path, k] });
    for (const k of kb) {
      if (k in a) ops.push(...diff(a[k], b[k], [...path, k]));
      else ops.push({ op: "set", path: [...path, k], value: b[k] });
    }
    return ops;
  }
  if (deepEqual(a, b)) return [];
  return [{ op: "set", path, value: b }];
}

function diffArrays(a: unknown[], b: unknown[], path: Path): Patch {
  let head = 0;
  while (head < a.length && head < b.length && deepEqual(a[head], b[head])) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head &&
         deepEqual(a[a.length - 1 - tail], b[b.length - 1 - tail])) tail++;
  const removed = a.length - head - tail;
  const inserted = b.slice(head, b.length - tail);
  if (removed === 0 && inserted.length === 0) return [];
  if (removed === inserted.length && removed <= 4) {
    // edits in place: recurse, so that changing one parameter stores one value
    const ops: Patch = [];
    for (let i = 0; i < removed; i++) ops.push(...diff(a[head + i], b[head + i], [...path, head + i]));
    return ops;
  }
  return [{ op: "splice", path, index: head, remove: removed, insert: inserted }];
}

function update(root: unknown, path: Path, depth: number, fn: (v: unknown) => unknown): unknown {
  if (depth === path.length) return fn(root);
  const key = path[depth];
  if (Array.isArray(root)) {
    const copy = root.slice();
    copy[key as number] = update(root[key as number], path, depth + 1, fn);
    return copy;
  }
  const obj = (isObject(root) ? root : {}) as Obj;
  return { ...obj, [key]: update(obj[key as string], path, depth + 1, fn) };
}

function deleteKey(root: unknown, path: Path): unknown {
  const parent = path.slice(0, -1);
  const key = path[path.length - 1];
  return update(root, parent, 0, (v) => {
    if (Array.isArray(v)) return v.filter((_, i) => i !== key);
    const out: Obj = {};
    for (const [k, val] of Object.entries(v as Obj)) if (k !== key) out[k] = val;
    return out;
  });
}

/** `doc` with `patch` applied (a new value; `doc` is not changed). */
export function applyPatch<T>(doc: T, patch: Patch): T {
  let out: unknown = doc;
  for (const op of patch) {
    if (op.op === "set") out = update(out, op.path, 0, () => op.value);
    else if (op.op === "del") out = deleteKey(out, op.path);
    else out = update(out, op.path, 0, (v) => {
      const copy = (v as unknown[]).slice();
      copy.splice(op.index, op.remove, ...op.insert);
      return copy;
    });
  }
  return out as T;
}
