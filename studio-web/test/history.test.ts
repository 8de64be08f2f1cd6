import { describe, expect, it } from "vitest";
import { CommandStack, type DocState } from "../src/model/history";
import { applyPatch, diff } from "../src/model/patch";
import type { Spec } from "../src/model/spec";

const spec: Spec = {
  name: "n",
  inputs: [{ name: "x", shape: ["batch", 4] }],
  layers: [
    { id: "a", type: "Linear", out_features: 8 },
    { id: "b", type: "ReLU" },
  ],
};
const doc: DocState = { spec, positions: { "": { a: { x: 0, y: 0 } } } };

const setParam = (id: string, key: string, value: unknown) => (d: DocState): DocState => ({
  ...d,
  spec: { ...d.spec, layers: d.spec.layers.map((l) => (l.id === id ? { ...l, [key]: value } : l)) },
});

describe("patches", () => {
  it("diff then apply gives the target, without touching the source", () => {
    const a = { x: [1, 2, 3, 4, 5], y: { z: 1, w: [{ k: 1 }] } };
    const b = { x: [1, 2, 9, 4, 5, 6], y: { z: 2, w: [{ k: 1 }], v: "new" } };
    const frozen = JSON.stringify(a);
    expect(applyPatch(a, diff(a, b))).toEqual(b);
    expect(applyPatch(b, diff(b, a))).toEqual(a);
    expect(JSON.stringify(a)).toBe(frozen);
  });

  it("stores one parameter change as one small operation", () => {
    const after = setParam("a", "out_features", 16)(doc);
    const ops = diff(doc, after);
    expect(ops).toEqual([{ op: "set", path: ["spec", "layers", 0, "out_features"], value: 16 }]);
  });

  it("stores an inserted layer as one splice", () => {
    const after = { ...doc, spec: { ...spec, layers: [spec.layers[0], { id: "d", type: "Dropout" }, spec.layers[1]] } };
    const ops = diff(doc, after);
    expect(ops).toEqual([{ op: "splice", path: ["spec", "layers"], index: 1, remove: 0, insert: [{ id: "d", type: "Dropout" }] }]);
  });

  it("treats a change of key order as a change", () => {
    const a = { id: "a", type: "ReLU" };
    const b = { type: "ReLU", id: "a" };
    expect(JSON.stringify(applyPatch(a, diff(a, b)))).toBe(JSON.stringify(b));
  });
});

describe("command stack", () => {
  it("undoes and redoes", () => {
    const stack = new CommandStack(doc);
    stack.execute("set out_features", setParam("a", "out_features", 16));
    stack.execute("set p", setParam("b", "description", "act"));
    expect(stack.doc.spec.layers[0].out_features).toBe(16);
    expect(stack.undo()).toBe("set p");
    expect(stack.doc.spec.layers[1].description).toBeUndefined();
    expect(stack.undo()).toBe("set out_features");
    expect(stack.doc).toEqual(doc);
    expect(stack.canUndo).toBe(false);
    expect(stack.redo()).toBe("set out_features");
    expect(stack.doc.spec.layers[0].out_features).toBe(16);
    expect(stack.canRedo).toBe(true);
  });

  it("records nothing for a command that changes nothing", () => {
    const stack = new CommandStack(doc);
    expect(stack.execute("noop", (d) => ({ ...d }))).toBe(false);
    expect(stack.canUndo).toBe(false);
  });

  it("a new command clears the redo list", () => {
    const stack = new CommandStack(doc);
    stack.execute("one", setParam("a", "out_features", 1));
    stack.undo();
    stack.execute("two", setParam("a", "out_features", 2));
    expect(stack.canRedo).toBe(false);
    expect(stack.labels).toEqual(["two"]);
  });

  it("coalesces typing and dragging into one entry", () => {
    let t = 0;
    const stack = new CommandStack(doc, null, { now: () => t });
    for (const v of [1, 12, 128]) {
      t += 100;
      stack.execute("type", setParam("a", "out_features", v), { coalesce: "a.out_features" });
    }
    expect(stack.labels).toEqual(["type"]);
    stack.undo();
    expect(stack.doc.spec.layers[0].out_features).toBe(8);
    stack.redo();
    expect(stack.doc.spec.layers[0].out_features).toBe(128);
  });

  it("does not coalesce after a pause, across keys, or after seal()", () => {
    let t = 0;
    const stack = new CommandStack(doc, null, { now: () => t, coalesceMs: 1000 });
    stack.execute("1", setParam("a", "out_features", 1), { coalesce: "k" });
    t += 5000;
    stack.execute("2", setParam("a", "out_features", 2), { coalesce: "k" });
    stack.execute("3", setParam("a", "out_features", 3), { coalesce: "other" });
    stack.seal();
    stack.execute("4", setParam("a", "out_features", 4), { coalesce: "other" });
    expect(stack.labels).toEqual(["1", "2", "3", "4"]);
  });

  it("drops a coalesced entry that returned to where it started", () => {
    const stack = new CommandStack(doc, null, { now: () => 0 });
    stack.execute("type", setParam("a", "out_features", 9), { coalesce: "k" });
    stack.execute("type", setParam("a", "out_features", 8), { coalesce: "k" });
    expect(stack.canUndo).toBe(false);
  });

  it("serialises its history as JSON and restores it", () => {
    const stack = new CommandStack(doc);
    stack.execute("one", setParam("a", "out_features", 1));
    stack.execute("two", setParam("a", "out_features", 2));
    stack.undo();
    const saved = JSON.parse(JSON.stringify({ doc: stack.doc, history: stack.toJSON() }));
    const again = new CommandStack(saved.doc, saved.history);
    expect(again.labels).toEqual(["one"]);
    expect(again.redo()).toBe("two");
    expect(again.doc.spec.layers[0].out_features).toBe(2);
    again.undo();
    again.undo();
    expect(again.doc).toEqual(doc);
  });

  it("keeps at most `limit` entries", () => {
    const stack = new CommandStack(doc, null, { limit: 3 });
    for (let i = 1; i <= 5; i++) stack.execute(`${i}`, setParam("a", "out_features", i));
    expect(stack.labels).toEqual(["3", "4", "5"]);
  });

  it("notifies subscribers on every change", () => {
    const stack = new CommandStack(doc);
    let calls = 0;
    const off = stack.subscribe(() => calls++);
    stack.execute("one", setParam("a", "out_features", 1));
    stack.undo();
    stack.redo();
    off();
    stack.undo();
    expect(calls).toBe(3);
  });
});
