import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  applyGraph, blockScope, graphToScope, readScope, scopeToGraph, specToGraph, stableTopologicalOrder,
} from "../src/model/graph";
import type { Spec } from "../src/model/spec";

const MODELS = join(__dirname, "..", "..", "models");
const files = [
  ...readdirSync(MODELS).filter((f) => f.endsWith(".yaml")).sort(),
  ...readdirSync(join(MODELS, "broken", "specs")).filter((f) => f.endsWith(".yaml")).sort().map((f) => `broken/specs/${f}`),
];

function load(name: string): Spec {
  return parse(readFileSync(join(MODELS, name), "utf8")) as Spec;
}

describe("round trip of every spec in models/", () => {
  it("finds the example specs", () => {
    expect(files).toContain("digits_cnn.yaml");
    expect(files.length).toBeGreaterThanOrEqual(5);
  });
  for (const file of files) {
    it(`${file}: graph -> spec gives back the same document (key order included)`, () => {
      const spec = load(file);
      let out = applyGraph(spec, "", specToGraph(spec));
      for (const name of Object.keys(spec.blocks ?? {})) {
        out = applyGraph(out, blockScope(name), specToGraph(out, blockScope(name)));
      }
      expect(JSON.stringify(out)).toBe(JSON.stringify(spec));
    });
  }
});

describe("spec -> graph", () => {
  it("draws the sequential rule as edges", () => {
    const g = specToGraph(load("digits_cnn.yaml"));
    const ids = g.nodes.map((n) => n.id);
    expect(ids[0]).toBe("input:image");
    expect(ids[ids.length - 1]).toBe("output:logits");
    expect(g.nodes.filter((n) => n.kind === "layer")).toHaveLength(11);
    expect(g.edges).toHaveLength(12);
    expect(g.edges[0]).toMatchObject({ source: "input:image", target: "conv1", sourceHandle: 0, targetHandle: 0 });
    expect(g.edges.find((e) => e.target === "output:logits")).toMatchObject({ source: "fc2" });
  });

  it("gives a merge's k-th input target handle k and id:N source handle N", () => {
    const spec: Spec = {
      inputs: [{ name: "x", shape: ["batch", 8] }],
      layers: [
        { id: "rnn", type: "LSTM", hidden_size: 4 },
        { id: "a", type: "ReLU", input: "x" },
        { id: "cat", type: "Concat", inputs: ["a", "rnn:1", "x"] },
      ],
    };
    const g = specToGraph(spec);
    const into = g.edges.filter((e) => e.target === "cat");
    expect(into.map((e) => [e.source, e.sourceHandle, e.targetHandle])).toEqual([
      ["a", 0, 0], ["rnn", 1, 1], ["input:x", 0, 2],
    ]);
    expect(JSON.stringify(applyGraph(spec, "", g))).toBe(JSON.stringify(spec));
  });

  it("maps a block's body with its inputs and default output", () => {
    const spec = load("resnet_mini.yaml");
    const g = specToGraph(spec, blockScope("BasicBlock"));
    expect(g.kind).toBe("block");
    expect(g.nodes[0]).toMatchObject({ id: "input:x", kind: "input" });
    const add = g.edges.filter((e) => e.target === "add").map((e) => e.source);
    expect(add).toEqual(["bn2", "input:x"]);
    expect(g.nodes[g.nodes.length - 1]).toMatchObject({ kind: "output", output: { form: "implicit" } });
  });

  it("keeps a reference that names nothing while the wiring is unchanged", () => {
    const spec: Spec = { inputs: [{ name: "x", shape: [1, 4] }], layers: [{ id: "a", type: "ReLU", input: "nope" }] };
    const g = specToGraph(spec);
    expect(g.edges.filter((e) => e.target === "a")).toHaveLength(0);
    expect(applyGraph(spec, "", g)).toEqual(spec);
  });
});

describe("graph -> spec", () => {
  const chain: Spec = {
    name: "n",
    inputs: [{ name: "x", shape: ["batch", 4] }],
    layers: [
      { id: "a", type: "Linear", out_features: 8 },
      { id: "b", type: "ReLU" },
      { id: "c", type: "Linear", out_features: 2 },
    ],
  };

  it("writes a new layer inserted into a chain without explicit inputs", () => {
    const g = specToGraph(chain);
    g.nodes.splice(4, 0, { id: "d", kind: "layer", layer: { id: "d", type: "Dropout", inputs: [] }, origRefs: [] });
    g.edges = g.edges.filter((e) => !(e.source === "b" && e.target === "c"));
    g.edges.push({ id: "1", source: "b", sourceHandle: 0, target: "d", targetHandle: 0 });
    g.edges.push({ id: "2", source: "d", sourceHandle: 0, target: "c", targetHandle: 0 });
    const out = applyGraph(chain, "", g);
    expect(out.layers.map((l) => l.id)).toEqual(["a", "b", "d", "c"]);
    expect(out.layers.every((l) => l.input === undefined && l.inputs === undefined)).toBe(true);
    // the output still comes from c, the last layer, so it stays implicit
    expect(out.outputs).toBeUndefined();
  });

  it("writes input only where the sequential rule would not give the same wiring", () => {
    const g = specToGraph(chain);
    // c now reads a directly (skipping b)
    g.edges = g.edges.filter((e) => e.target !== "c");
    g.edges.push({ id: "x", source: "a", sourceHandle: 0, target: "c", targetHandle: 0 });
    const out = applyGraph(chain, "", g);
    expect(out.layers[2]).toEqual({ id: "c", type: "Linear", input: "a", out_features: 2 });
    expect(Object.keys(out.layers[2])).toEqual(["id", "type", "input", "out_features"]);
    expect(out.layers[1]).toBe(chain.layers[1]);
  });

  it("writes an unconnected layer as inputs: []", () => {
    const g = specToGraph(chain);
    g.edges = g.edges.filter((e) => e.target !== "b");
    const out = applyGraph(chain, "", g);
    expect(out.layers[1]).toEqual({ id: "b", type: "ReLU", inputs: [] });
  });

  it("orders layers topologically, keeping the original order where it is one", () => {
    const spec: Spec = {
      inputs: [{ name: "x", shape: [1, 4] }],
      layers: [
        { id: "late", type: "ReLU", input: "early" },
        { id: "early", type: "ReLU", input: "x" },
      ],
      outputs: ["late"],
    };
    const g = specToGraph(spec);
    expect(stableTopologicalOrder(g).map((n) => n.id)).toEqual(["early", "late"]);
    const out = applyGraph(spec, "", g);
    expect(out.layers.map((l) => l.id)).toEqual(["early", "late"]);
    // the wiring means the same after reordering
    expect(specToGraph(out).edges.map((e) => `${e.source}>${e.target}`).sort())
      .toEqual(g.edges.map((e) => `${e.source}>${e.target}`).sort());
  });

  it("keeps cycles in graph order instead of losing layers", () => {
    const spec: Spec = {
      inputs: [{ name: "x", shape: [1, 4] }],
      layers: [{ id: "a", type: "Add", inputs: ["x", "b"] }, { id: "b", type: "ReLU" }],
    };
    const out = applyGraph(spec, "", specToGraph(spec));
    expect(out.layers.map((l) => l.id)).toEqual(["a", "b"]);
    expect(out).toEqual(spec);
  });

  it("writes outputs explicitly once the output no longer comes from the last layer", () => {
    const g = specToGraph(chain);
    g.nodes.splice(4, 0, { id: "s", kind: "layer", layer: { id: "s", type: "Softmax", inputs: [] }, origRefs: [] });
    g.edges.push({ id: "1", source: "c", sourceHandle: 0, target: "s", targetHandle: 0 });
    const out = applyGraph(chain, "", g);
    expect(out.layers.map((l) => l.id)).toEqual(["a", "b", "c", "s"]);
    expect(out.outputs).toEqual(["c"]);
  });

  it("round-trips a scope part through its graph", () => {
    const part = readScope(load("mlp.yaml"), "");
    expect(graphToScope(scopeToGraph(part))).toEqual(part);
  });
});
