import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { specToGraph } from "../src/model/graph";
import { layoutGraph } from "../src/model/layout";
import type { Spec } from "../src/model/spec";

const MODELS = join(__dirname, "..", "..", "models");

// elkjs loads and warms up in the first test: seconds on a busy machine, so these get a wide time limit
describe("layout", { timeout: 60_000 }, () => {
  it("puts a chain top to bottom, in order, in one column on a tall canvas", async () => {
    const spec = parse(readFileSync(join(MODELS, "digits_cnn.yaml"), "utf8")) as Spec;
    const g = specToGraph(spec);
    const pos = await layoutGraph(g, () => ({ width: 200, height: 64 }), 0.05);
    const ids = g.nodes.map((n) => n.id);
    expect(Object.keys(pos).sort()).toEqual([...ids].sort());
    for (let i = 1; i < ids.length; i++) {
      expect(pos[ids[i]].y).toBeGreaterThanOrEqual(pos[ids[i - 1]].y + 64);
      expect(pos[ids[i]].x).toBe(pos[ids[0]].x);
    }
  });

  it("wraps a long chain into side-by-side columns on a wide canvas, without overlaps", async () => {
    const spec = parse(readFileSync(join(MODELS, "digits_cnn.yaml"), "utf8")) as Spec;
    const g = specToGraph(spec);
    const pos = await layoutGraph(g, () => ({ width: 200, height: 64 }), 1.6, 560);
    const columns = new Set(Object.values(pos).map((p) => p.x));
    expect(columns.size).toBeGreaterThan(1);
    const points = Object.values(pos);
    for (let i = 0; i < points.length; i++) {
      for (let j = i + 1; j < points.length; j++) {
        const overlap = Math.abs(points[i].x - points[j].x) < 200 && Math.abs(points[i].y - points[j].y) < 64;
        expect(overlap).toBe(false);
      }
    }
    // reading order: down each column, then the next column to the right
    const ids = g.nodes.map((n) => n.id);
    for (let i = 1; i < ids.length; i++) {
      const a = pos[ids[i - 1]], b = pos[ids[i]];
      expect(b.x > a.x || (b.x === a.x && b.y > a.y)).toBe(true);
    }
  });

  it("does not wrap what fits the canvas", async () => {
    const spec = parse(readFileSync(join(MODELS, "digits_cnn.yaml"), "utf8")) as Spec;
    const pos = await layoutGraph(specToGraph(spec), () => ({ width: 200, height: 64 }), 1.6, 2000);
    expect(new Set(Object.values(pos).map((p) => p.x)).size).toBe(1);
  });

  it("lays out a 500-layer network", async () => {
    const layers = Array.from({ length: 500 }, (_, i) =>
      i % 10 === 9 ? { id: `add${i}`, type: "Add", inputs: [`l${i - 1}`, `l${i - 5}`] } : { id: `l${i}`, type: "ReLU" });
    // keep ids consistent for the references above
    layers.forEach((l, i) => { if (l.type === "ReLU") l.id = `l${i}`; });
    const fixed = layers.map((l, i) => (l.type === "Add" ? { ...l, id: `l${i}` } : l));
    const spec: Spec = { inputs: [{ name: "x", shape: ["batch", 8] }], layers: fixed };
    const g = specToGraph(spec);
    const t0 = performance.now();
    const pos = await layoutGraph(g, () => ({ width: 200, height: 64 }));
    const ms = performance.now() - t0;
    expect(Object.keys(pos)).toHaveLength(502);
    console.log(`elk layout of 502 nodes: ${ms.toFixed(0)} ms`);
  }, 60_000);
});

describe("quick layout", () => {
  it("puts a chain in one column and a branch side by side", async () => {
    const { quickLayout } = await import("../src/model/layout");
    const spec: Spec = {
      inputs: [{ name: "x", shape: ["batch", 8] }],
      layers: [
        { id: "a", type: "ReLU" }, { id: "b", type: "ReLU" }, { id: "c", type: "Tanh", input: "a" },
        { id: "sum", type: "Add", inputs: ["b", "c"] },
      ],
    };
    const pos = quickLayout(specToGraph(spec), () => ({ width: 200, height: 64 }));
    expect(pos["input:x"].x).toBe(pos.a.x);
    expect(pos.b.y).toBe(pos.c.y);
    expect(Math.abs(pos.b.x - pos.c.x)).toBeGreaterThanOrEqual(200);
    expect(pos.sum.y).toBeGreaterThan(pos.b.y);
    expect(pos["output:sum"].y).toBeGreaterThan(pos.sum.y);
  });

  it("lays out 500 layers in well under a second", async () => {
    const { quickLayout } = await import("../src/model/layout");
    const layers = Array.from({ length: 500 }, (_, i) => ({ id: `l${i}`, type: "ReLU" }));
    const g = specToGraph({ inputs: [{ name: "x", shape: [1] }], layers });
    const t0 = performance.now();
    const pos = quickLayout(g, () => ({ width: 200, height: 64 }));
    expect(Object.keys(pos)).toHaveLength(502);
    console.log(`quick layout of 502 nodes: ${(performance.now() - t0).toFixed(1)} ms`);
  });
});
