import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  addInput, addLayer, addOutput, connect, copyLayers, disconnect, editInput, freshLayerId, moveNodes, paste,
  placeMissing, removeNodes, renameLayer, renameOutput, replaceSpec, setLayerKeys, wouldCycle,
} from "../src/model/commands";
import { blockScope, specToGraph } from "../src/model/graph";
import { CommandStack, type DocState } from "../src/model/history";
import type { Spec } from "../src/model/spec";

const MODELS = join(__dirname, "..", "..", "models");
const digits = parse(readFileSync(join(MODELS, "digits_cnn.yaml"), "utf8")) as Spec;
// a new document lists its outputs explicitly (none yet), so that the last layer added is not the output by default
const empty: DocState = { spec: { name: "digits_cnn", inputs: [], layers: [], outputs: [] }, positions: {} };

describe("building a network by commands", () => {
  it("builds digits_cnn from an empty canvas into the same document", () => {
    const stack = new CommandStack(empty);
    stack.execute("add input", addInput({ name: "image", shape: ["batch", 1, 8, 8], dtype: "float32" }, { x: 0, y: 0 }, ""));
    let prev = { source: "input:image", handle: 0 };
    digits.layers.forEach((layer, i) => {
      const { id, type, ...params } = layer;
      stack.execute(`add ${id}`, addLayer({ id, type, params, position: { x: 250 * (i + 1), y: 0 } }, ""));
      stack.execute("connect", connect(prev.source, prev.handle, id, 0, ""));
      prev = { source: id, handle: 0 };
    });
    stack.execute("output", addOutput("logits", { x: 3000, y: 0 }, "", prev));
    const built = stack.doc.spec;
    expect(built.layers).toEqual(digits.layers);
    expect(built.outputs).toEqual(digits.outputs);
    expect(built.inputs).toEqual(digits.inputs);
    expect(Object.keys(stack.doc.positions[""])).toHaveLength(13);
    // every step undoes back to the empty canvas
    while (stack.canUndo) stack.undo();
    expect(stack.doc).toEqual(empty);
  });

  it("gives fresh ids per type", () => {
    expect(freshLayerId(digits, "", "Conv2d")).toBe("conv");
    expect(freshLayerId({ ...digits, layers: [...digits.layers, { id: "conv", type: "Conv2d" }] }, "", "Conv2d")).toBe("conv_1");
    expect(freshLayerId(digits, "", "ReLU")).toBe("relu");
    expect(freshLayerId(digits, "", "BasicBlock")).toBe("basic_block");
  });

  it("adds an unconnected layer as inputs: [] and connects it later", () => {
    const doc: DocState = { spec: digits, positions: {} };
    const a = addLayer({ id: "extra", type: "ReLU", position: { x: 0, y: 0 } }, "")(doc);
    expect(a.spec.layers[a.spec.layers.length - 1]).toEqual({ id: "extra", type: "ReLU", inputs: [] });
    expect(a.spec.outputs).toEqual(digits.outputs);
    const b = connect("fc2", 0, "extra", 0, "")(a);
    expect(b.spec.layers[b.spec.layers.length - 1]).toEqual({ id: "extra", type: "ReLU" });
  });
});

describe("wiring", () => {
  const doc: DocState = { spec: digits, positions: {} };

  it("refuses a connection that makes a cycle", () => {
    expect(wouldCycle(digits, "", "fc2", "conv1")).toBe(true);
    expect(connect("fc2", 0, "conv1", 0, "")(doc)).toBe(doc);
    expect(wouldCycle(digits, "", "conv1", "fc2")).toBe(false);
  });

  it("replaces the input of a one-input layer", () => {
    const next = connect("relu1", 0, "fc1", 0, "")(doc);
    expect(next.spec.layers.find((l) => l.id === "fc1")).toMatchObject({ input: "relu1" });
    // flatten now feeds nothing: still written as before
    expect(next.spec.layers.find((l) => l.id === "flatten")).toEqual({ id: "flatten", type: "Flatten" });
  });

  it("adds merge inputs in slot order", () => {
    const spec: Spec = {
      inputs: [{ name: "x", shape: ["batch", 4] }],
      layers: [{ id: "a", type: "ReLU" }, { id: "b", type: "Tanh", input: "x" }, { id: "sum", type: "Add", inputs: [] }],
    };
    let d: DocState = { spec, positions: {} };
    d = connect("a", 0, "sum", 0, "")(d);
    d = connect("b", 0, "sum", 5, "")(d); // a free slot far out goes next
    d = connect("x", 0, "sum", 2, "")(d);
    expect(d.spec.layers[2]).toEqual({ id: "sum", type: "Add", inputs: ["a", "b"] });
    d = connect("input:x", 0, "sum", 2, "")(d);
    expect(d.spec.layers[2]).toEqual({ id: "sum", type: "Add", inputs: ["a", "b", "x"] });
    const g = specToGraph(d.spec);
    const first = g.edges.find((e) => e.target === "sum" && e.targetHandle === 0)!;
    d = disconnect([first.id], "")(d);
    expect(d.spec.layers[2]).toEqual({ id: "sum", type: "Add", inputs: ["b", "x"] });
  });
});

describe("removing", () => {
  it("keeps a chain connected when a layer is taken out", () => {
    const doc: DocState = { spec: digits, positions: { "": { dropout: { x: 1, y: 1 }, fc2: { x: 2, y: 2 } } } };
    const next = removeNodes(["dropout"], "")(doc);
    expect(next.spec.layers.map((l) => l.id)).not.toContain("dropout");
    expect(next.spec.layers.find((l) => l.id === "fc2")).toEqual({ id: "fc2", type: "Linear", out_features: 10 });
    expect(next.positions[""]).toEqual({ fc2: { x: 2, y: 2 } });
  });

  it("leaves a merge's consumers dangling rather than guessing", () => {
    const spec = parse(readFileSync(join(MODELS, "resnet_mini.yaml"), "utf8")) as Spec;
    const doc: DocState = { spec, positions: {} };
    const next = removeNodes(["add"], blockScope("BasicBlock"))(doc);
    const body = next.spec.blocks!.BasicBlock.layers;
    expect(body.map((l) => l.id)).not.toContain("add");
    expect(body.find((l) => l.id === "relu2")).toEqual({ id: "relu2", type: "ReLU", inputs: [] });
    expect(next.spec.blocks!.BasicBlock.outputs).toBeUndefined();
  });

  it("removes an input node and its edges", () => {
    const doc: DocState = { spec: digits, positions: {} };
    const next = removeNodes(["input:image"], "")(doc);
    expect(next.spec.inputs).toEqual([]);
    expect(next.spec.layers[0]).toEqual({ id: "conv1", type: "Conv2d", inputs: [], out_channels: 16, kernel_size: 3, padding: "same" });
  });
});

describe("editing", () => {
  const doc: DocState = { spec: digits, positions: { "": { fc2: { x: 5, y: 6 } } } };

  it("sets, changes and removes parameters, keeping key order", () => {
    let d = setLayerKeys("conv1", { out_channels: 8, stride: 2 }, "")(doc);
    expect(Object.keys(d.spec.layers[0])).toEqual(["id", "type", "out_channels", "kernel_size", "padding", "stride"]);
    d = setLayerKeys("conv1", { padding: undefined, device: "cuda:0" }, "")(d);
    expect(d.spec.layers[0]).toEqual({ id: "conv1", type: "Conv2d", out_channels: 8, kernel_size: 3, stride: 2, device: "cuda:0" });
    expect(setLayerKeys("conv1", { out_channels: 16 }, "")(doc).spec).toBe(doc.spec);
  });

  it("renames a layer: references and positions follow", () => {
    const d = renameLayer("fc2", "head", "")(doc);
    expect(d.spec.layers[10].id).toBe("head");
    expect(d.spec.outputs).toEqual([{ name: "logits", from: "head" }]);
    expect(d.positions[""]).toEqual({ head: { x: 5, y: 6 } });
    expect(renameLayer("fc2", "fc1", "")(doc)).toBe(doc); // taken
    expect(renameLayer("fc2", "9bad", "")(doc)).toBe(doc); // not an identifier
  });

  it("renames a graph input: references follow", () => {
    const spec: Spec = { inputs: [{ name: "x", shape: [1, 2] }], layers: [{ id: "a", type: "ReLU", input: "x" }] };
    const d = editInput("x", { name: "feat", shape: [1, 2] }, "")({ spec, positions: { "": { "input:x": { x: 1, y: 1 } } } });
    expect(d.spec).toEqual({ inputs: [{ name: "feat", shape: [1, 2] }], layers: [{ id: "a", type: "ReLU", input: "feat" }] });
    expect(d.positions[""]).toEqual({ "input:feat": { x: 1, y: 1 } });
  });

  it("renames an output", () => {
    const d = renameOutput("logits", "scores", "")(doc);
    expect(d.spec.outputs).toEqual([{ name: "scores", from: "fc2" }]);
  });

  it("moves nodes (rounded), and a move to the same place changes nothing", () => {
    const d = moveNodes({ fc2: { x: 10.4, y: 20.6 } }, "")(doc);
    expect(d.positions[""].fc2).toEqual({ x: 10, y: 21 });
    expect(moveNodes({ fc2: { x: 5, y: 6 } }, "")(doc)).toBe(doc);
  });
});

describe("copy and paste", () => {
  it("pastes with fresh ids, internal wiring kept and outside refs kept when they exist", () => {
    const doc: DocState = { spec: digits, positions: { "": { fc1: { x: 0, y: 0 }, relu3: { x: 100, y: 0 } } } };
    const clip = copyLayers(doc, ["fc1", "relu3"], "");
    expect(clip.layers[0]).toEqual({ id: "fc1", type: "Linear", inputs: ["flatten"], out_features: 64 });
    const { command, ids } = paste(doc, clip, { x: 40, y: 40 }, "");
    expect(ids).toEqual(["fc1_1", "relu3_1"]);
    const d = command(doc);
    const pasted = d.spec.layers.slice(-2);
    expect(pasted).toEqual([
      { id: "fc1_1", type: "Linear", input: "flatten", out_features: 64 },
      { id: "relu3_1", type: "ReLU" },
    ]);
    expect(d.positions[""].relu3_1).toEqual({ x: 140, y: 40 });
    // the original network is untouched (its output is now written out, being no longer last)
    expect(d.spec.layers.slice(0, 11)).toEqual(digits.layers);
  });

  it("drops refs to layers that are not in the target canvas", () => {
    const doc: DocState = { spec: digits, positions: {} };
    const clip = copyLayers(doc, ["fc1"], "");
    const other: DocState = { spec: { inputs: [{ name: "x", shape: [1, 4] }], layers: [{ id: "a", type: "ReLU" }] }, positions: {} };
    const d = paste(other, clip, { x: 0, y: 0 }, "").command(other);
    expect(d.spec.layers[1]).toEqual({ id: "fc1", type: "Linear", inputs: [], out_features: 64 });
  });
});

describe("replacing the spec", () => {
  it("keeps positions and puts a new layer into the column of the edge it was inserted into", () => {
    const positions = { "": { "input:image": { x: 0, y: 0 }, conv1: { x: 0, y: 128 }, fc: { x: 0, y: 256 }, "output:fc": { x: 0, y: 384 }, side: { x: 400, y: 256 } } };
    const before: Spec = {
      inputs: [{ name: "image", shape: ["batch", 1, 8, 8] }],
      layers: [{ id: "conv1", type: "Conv2d", out_channels: 4, kernel_size: 3 }, { id: "fc", type: "Linear", out_features: 10 },
               { id: "side", type: "ReLU", input: "conv1" }],
      outputs: ["fc"],
    };
    const fixed: Spec = { ...before, layers: [before.layers[0], { id: "flatten", type: "Flatten" }, ...before.layers.slice(1)] };
    fixed.layers[2] = { ...fixed.layers[2] };
    const d = replaceSpec(fixed)({ spec: before, positions });
    expect(d.positions[""].conv1).toEqual({ x: 0, y: 128 });
    expect(d.positions[""].flatten).toEqual({ x: 0, y: 256 });
    expect(d.positions[""].fc).toEqual({ x: 0, y: 384 });
    expect(d.positions[""]["output:fc"]).toEqual({ x: 0, y: 512 });
    expect(d.positions[""].side).toEqual({ x: 400, y: 256 }); // another column: untouched
  });

  it("places every node of a spec with no positions without overlaps", () => {
    const placed = placeMissing(digits, "", {});
    const points = Object.values(placed);
    expect(points).toHaveLength(13);
    const keys = new Set(points.map((p) => `${p.x},${p.y}`));
    expect(keys.size).toBe(13);
  });
});

describe("inserting after a layer", () => {
  it("puts the new layer between a layer and its only consumer", () => {
    const doc: DocState = { spec: digits, positions: {} };
    const d = addLayer({ id: "bn2", type: "BatchNorm2d", position: { x: 0, y: 0 }, after: { source: "conv2", handle: 0 }, insert: true }, "")(doc);
    expect(d.spec.layers.map((l) => l.id).slice(3, 6)).toEqual(["conv2", "bn2", "relu2"]);
    expect(d.spec.layers.every((l) => l.input === undefined && l.inputs === undefined)).toBe(true);
    expect(d.spec.outputs).toEqual(digits.outputs);
  });
});
