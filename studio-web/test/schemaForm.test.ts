import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { blockFields, describe as describeSchema, layerFields, parseField, parseShape, validate } from "../src/model/schemaForm";

// parts of what `onnxbridge schema` prints (the JSON Schema the server's catalogue carries)
const schema = JSON.parse(readFileSync(join(__dirname, "schema-fragment.json"), "utf8"));

describe("fields from the JSON Schema", () => {
  const fields = layerFields(schema, "Conv2d")!;
  const byName = Object.fromEntries(fields.map((f) => [f.name, f]));

  it("lists the parameters with widgets, defaults and required", () => {
    expect(fields.map((f) => f.name)).toEqual(["out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias"]);
    expect(byName.out_channels).toMatchObject({ widget: "number", required: true, hasDefault: false });
    expect(byName.bias).toMatchObject({ widget: "checkbox", default: true, required: false });
    expect(byName.padding).toMatchObject({ widget: "text", options: ["same", "valid"], default: 0 });
    expect(byName.out_channels.description).toMatch(/output channels/);
    expect(layerFields(schema, "ReLU")).toEqual([]);
    expect(layerFields(schema, "NoSuchLayer")).toBeNull();
  });

  it("uses a select for a plain enum", () => {
    const mlp = Object.fromEntries(layerFields(schema, "MLP")!.map((f) => [f.name, f]));
    expect(mlp.activation.widget).toBe("select");
    expect(mlp.activation.options).toContain("gelu");
  });

  it("parses what people type", () => {
    expect(parseField("16", byName.out_channels, schema)).toEqual({ ok: true, value: 16 });
    expect(parseField("3", byName.kernel_size, schema)).toEqual({ ok: true, value: 3 });
    expect(parseField("3, 5", byName.kernel_size, schema)).toEqual({ ok: true, value: [3, 5] });
    expect(parseField("[3,5]", byName.kernel_size, schema)).toEqual({ ok: true, value: [3, 5] });
    expect(parseField("same", byName.padding, schema)).toEqual({ ok: true, value: "same" });
    expect(parseField("", byName.stride, schema)).toEqual({ ok: true, value: undefined });
    expect(parseField('{"allowzero": 1}', { ...byName.stride, schema: { type: "object" } }, schema)).toEqual({ ok: true, value: { allowzero: 1 } });
  });

  it("says what is wrong at once", () => {
    expect(parseField("", byName.out_channels, schema)).toEqual({ ok: false, error: "required" });
    expect(parseField("0", byName.out_channels, schema)).toEqual({ ok: false, error: "must be greater than 0" });
    expect(parseField("1.5", byName.out_channels, schema)).toMatchObject({ ok: false, error: "expected an integer > 0" });
    expect(parseField("big", byName.kernel_size, schema)).toEqual({ ok: false, error: "expected an integer or a list of integers" });
    expect(parseField("full", byName.padding, schema)).toMatchObject({ ok: false });
    const mlp = Object.fromEntries(layerFields(schema, "MLP")!.map((f) => [f.name, f]));
    expect(parseField("1.0", mlp.dropout, schema)).toEqual({ ok: false, error: "must be less than 1" });
    expect(parseField("64, x", mlp.hidden, schema)).toMatchObject({ ok: false });
  });

  it("accepts $parameter references inside a block", () => {
    const inBlock = Object.fromEntries(layerFields(schema, "Conv2d", true)!.map((f) => [f.name, f]));
    expect(parseField("$channels", inBlock.out_channels, schema, true)).toEqual({ ok: true, value: "$channels" });
    expect(validate("$channels", inBlock.out_channels.schema!, schema)).toBeNull();
    // defaults and widgets are the layer's own
    expect(inBlock.bias).toMatchObject({ widget: "checkbox", default: true });
    expect(inBlock.stride).toMatchObject({ hasDefault: true, default: 1 });
    expect(parseField("0", inBlock.out_channels, schema, true)).toMatchObject({ ok: false });
  });

  it("describes schemas in words", () => {
    expect(describeSchema(byName.padding.schema!, schema)).toBe("one of same, valid or an integer or a list of integers");
  });
});

describe("block instance fields", () => {
  it("makes null defaults required", () => {
    const fields = blockFields({ channels: null, stride: 1, act: true });
    expect(fields.map((f) => [f.name, f.required, f.widget])).toEqual([
      ["channels", true, "text"], ["stride", false, "text"], ["act", false, "checkbox"],
    ]);
    expect(parseField("32", fields[0], schema)).toEqual({ ok: true, value: 32 });
    expect(parseField("", fields[0], schema)).toEqual({ ok: false, error: "required" });
  });
});

describe("shapes", () => {
  it("parses dims and names", () => {
    expect(parseShape("batch, 1, 8, 8")).toEqual({ ok: true, value: ["batch", 1, 8, 8] });
    expect(parseShape("[batch, max_len]")).toEqual({ ok: true, value: ["batch", "max_len"] });
    expect(parseShape("batch, 0")).toMatchObject({ ok: false });
    expect(parseShape("")).toMatchObject({ ok: false });
    expect(parseShape("batch, 3-1")).toMatchObject({ ok: false });
  });
});
