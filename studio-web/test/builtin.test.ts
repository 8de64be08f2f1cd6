import { describe, expect, it } from "vitest";
import type { CatalogueEntry } from "../src/api";
import { builtinSpec, generatedFor, innerLayers } from "../src/model/builtin";
import { specToGraph } from "../src/model/graph";

// what GET /api/catalogue answers for two built-in blocks (onnxbridge.spec.catalogue.block_definition)
const CONV_BN_ACT: CatalogueEntry = {
  type: "ConvBNAct", family: "block", kind: "block", description: "Conv2d (no bias) -> BatchNorm2d -> activation",
  min_inputs: 1, max_inputs: 1, params: [],
  definition: {
    params: { out_channels: 8 }, input_shapes: [["batch", 8, 8, 8]], inputs: ["x"],
    layers: [
      { id: "conv", type: "Conv2d", out_channels: 8, kernel_size: 3, stride: 1, padding: "same", groups: 1, bias: false },
      { id: "bn", type: "BatchNorm2d" },
      { id: "act", type: "ReLU" },
    ],
  },
};

const MLP: CatalogueEntry = {
  ...CONV_BN_ACT, type: "MLP", description: "Stacked Linear -> activation layers",
  definition: {
    params: { hidden: [16, 8], out_features: 4 }, input_shapes: [["batch", 12]], inputs: ["x"],
    layers: [
      { id: "fc1", type: "Linear", out_features: 16 }, { id: "act1", type: "ReLU" },
      { id: "fc2", type: "Linear", out_features: 8 }, { id: "act2", type: "ReLU" },
      { id: "out", type: "Linear", out_features: 4 },
    ],
  },
};

describe("built-in blocks from the catalogue", () => {
  it("the palette lists the layers the opened block draws, in the same order", () => {
    for (const entry of [CONV_BN_ACT, MLP]) {
      const graph = specToGraph(builtinSpec(entry)!);
      const drawn = graph.nodes.filter((n) => n.kind === "layer").map((n) => `${n.layer!.id} (${n.layer!.type})`);
      expect(innerLayers(entry)).toEqual(drawn);
      expect(drawn.length).toBe(entry.definition!.layers.length);
      // wired as a chain from the block's input to its output
      expect(graph.nodes.filter((n) => n.kind === "input").map((n) => n.id)).toEqual(["input:x"]);
      expect(graph.nodes.filter((n) => n.kind === "output")).toHaveLength(1);
      expect(graph.edges).toHaveLength(drawn.length + 1);
    }
    expect(innerLayers(CONV_BN_ACT)).toEqual(["conv (Conv2d)", "bn (BatchNorm2d)", "act (ReLU)"]);
  });

  it("the opened block's input has the shape the definition was generated for", () => {
    expect(builtinSpec(CONV_BN_ACT)!.inputs).toEqual([{ name: "x", shape: ["batch", 8, 8, 8] }]);
    expect(generatedFor(CONV_BN_ACT)).toBe("out_channels 8 on [batch, 8, 8, 8]");
    expect(generatedFor(MLP)).toBe("hidden [16, 8], out_features 4 on [batch, 12]");
  });

  it("a layer, or a block the server did not describe, has no inner layers", () => {
    const layer: CatalogueEntry = { ...CONV_BN_ACT, type: "Conv2d", family: "conv", kind: "layer", definition: undefined };
    expect(builtinSpec(layer)).toBeNull();
    expect(innerLayers(layer)).toEqual([]);
    expect(innerLayers({ ...CONV_BN_ACT, definition: null })).toEqual([]);
    expect(innerLayers(undefined)).toEqual([]);
  });
});
