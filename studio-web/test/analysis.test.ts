import { describe, expect, it } from "vitest";
import type { Analysis } from "../src/api";
import { edgeShape, inputShapes, nodeViews, prepareForAnalysis } from "../src/model/analysis";
import { blockScope, specToGraph } from "../src/model/graph";
import type { Spec } from "../src/model/spec";

const minInputs = (type: string) => (type === "Add" ? 2 : 1);

const spec: Spec = {
  inputs: [{ name: "x", shape: ["batch", 4] }],
  layers: [
    { id: "a", type: "Linear", out_features: 8 },
    { id: "b", type: "ReLU" },
    { id: "loose", type: "Tanh", inputs: [] },
    { id: "after_loose", type: "ReLU" },
    { id: "sum", type: "Add", inputs: ["b"] },
  ],
  outputs: [{ name: "out", from: "b" }],
};

function row(id: string, type: string, shape: (string | number)[] | null, params = 0, status: "ok" | "error" | "not inferred" = "ok") {
  return { id, type, depth: id.split("/").length - 1, status, output_shapes: shape ? [shape] : null, output_dtypes: null, params, error: null };
}

describe("the spec sent to the checker", () => {
  it("leaves out layers not wired up yet and what depends on them", () => {
    const p = prepareForAnalysis(spec, minInputs);
    expect(p.unconnected.sort()).toEqual(["loose", "sum"]);
    expect(p.downstream).toEqual(["after_loose"]);
    expect(p.spec!.layers.map((l) => l.id)).toEqual(["a", "b"]);
    expect(p.spec!.outputs).toEqual([{ name: "out", from: "b" }]);
  });

  it("sends a complete spec unchanged", () => {
    const whole: Spec = { inputs: spec.inputs, layers: spec.layers.slice(0, 2) };
    expect(prepareForAnalysis(whole, minInputs).spec).toBe(whole);
  });

  it("sends nothing when there is no input or no layer", () => {
    expect(prepareForAnalysis({ inputs: [], layers: [{ id: "a", type: "ReLU" }] }, minInputs).spec).toBeNull();
    expect(prepareForAnalysis({ inputs: spec.inputs, layers: [] }, minInputs).spec).toBeNull();
    expect(prepareForAnalysis({ inputs: spec.inputs, layers: [{ id: "l", type: "ReLU", inputs: [] }] }, minInputs).spec).toBeNull();
  });
});

describe("what the checker's answer means for the canvas", () => {
  const analysis: Analysis = {
    ok: false,
    summary: {
      name: "n", ok: false, errors: [], total_params: 40,
      inputs: { x: { shape: ["batch", 4], dtype: "float32" } },
      outputs: { out: { shape: ["batch", 8], dtype: "float32" } },
      layers: [row("a", "Linear", ["batch", 8], 40), row("b", "ReLU", null, 0, "error")],
    },
    diagnostics: [{ code: "OB501", level: "error", family: "spec", message: "layer b is wrong", nodes: [], tensors: [], layers: ["b"],
                    suggestion: "do this", fix: { id: "f", description: "fix it", changes_outputs: false } }],
    structure: [],
    elapsed_ms: 1,
  };

  it("gives each node its status, parameters, shapes and issues", () => {
    const prepared = prepareForAnalysis(spec, minInputs);
    const g = specToGraph(spec);
    const views = nodeViews(analysis, prepared, "", g);
    expect(views.get("a")).toMatchObject({ status: "ok", params: 40, outShapes: [["batch", 8]], issues: [] });
    expect(views.get("b")!.status).toBe("error");
    expect(views.get("b")!.issues[0]).toMatchObject({ code: "OB501", suggestion: "do this", fix: { description: "fix it" } });
    expect(views.get("loose")).toMatchObject({ status: "unconnected" });
    expect(views.get("loose")!.issues[0].message).toBe("not connected");
    expect(views.get("after_loose")).toMatchObject({ status: "not inferred", outShapes: null });
    const shapes = inputShapes(analysis, spec, "");
    expect(edgeShape(analysis, views, shapes, "input:x", 0)).toEqual(["batch", 4]);
    expect(edgeShape(analysis, views, shapes, "a", 0)).toEqual(["batch", 8]);
    expect(edgeShape(analysis, views, shapes, "after_loose", 0)).toBeNull();
    expect(edgeShape(null, views, shapes, "a", 0)).toBeNull();
  });

  it("marks every node pending before the first answer", () => {
    const views = nodeViews(null, null, "", specToGraph(spec));
    expect([...views.values()].every((v) => v.status === "pending")).toBe(true);
  });

  it("shows a block's inner shapes from its first instance, and problems deeper in on the instance", () => {
    const withBlock: Spec = {
      inputs: [{ name: "x", shape: ["batch", 4] }],
      blocks: { Twice: { layers: [{ id: "p", type: "ReLU" }, { id: "q", type: "Linear", out_features: 3 }] } },
      layers: [{ id: "first", type: "Twice" }, { id: "second", type: "Twice" }],
    };
    const a: Analysis = {
      ok: false, elapsed_ms: 1, structure: [],
      summary: { name: "n", ok: true, errors: [], total_params: 0, inputs: { x: { shape: ["batch", 4], dtype: "float32" } }, outputs: {},
                 layers: [row("first", "Twice", ["batch", 3], 15), row("first/p", "ReLU", ["batch", 4]), row("first/q", "Linear", ["batch", 3], 15),
                          row("second", "Twice", null, 0, "error"), row("second/p", "ReLU", ["batch", 3]), row("second/q", "Linear", null, 0, "error")] },
      diagnostics: [{ code: "OB509", level: "error", family: "spec", message: "second/q broke", nodes: [], tensors: [], layers: ["second/q"], suggestion: null, fix: null }],
    };
    const top = nodeViews(a, null, "", specToGraph(withBlock));
    expect(top.get("second")!.status).toBe("error");
    expect(top.get("second")!.issues[0].message).toBe("second/q broke");
    const inner = nodeViews(a, null, blockScope("Twice"), specToGraph(withBlock, blockScope("Twice")));
    expect(inner.get("q")).toMatchObject({ params: 15, outShapes: [["batch", 3]], status: "ok" });
    expect(inputShapes(a, withBlock, blockScope("Twice")).get("input:x")).toEqual(["batch", 4]);
  });
});
