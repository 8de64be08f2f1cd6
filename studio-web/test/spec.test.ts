import { describe, expect, it } from "vitest";
import { clipText, formatShape } from "../src/model/spec";

describe("clipText", () => {
  it("keeps a text that fits", () => {
    expect(clipText("[batch, 16, 8, 8]", 30)).toBe("[batch, 16, 8, 8]");
    expect(clipText("x".repeat(30), 30)).toBe("x".repeat(30));
  });

  it("cuts a longer one to the limit, ending in an ellipsis", () => {
    const shape = formatShape(["batch_size", 3, "image_height_in_pixels", "image_width_in_pixels"]);
    const cut = clipText(shape, 30);
    expect([...cut].length).toBe(30);
    expect(cut.endsWith("…")).toBe(true);
    expect(shape.startsWith(cut.slice(0, -1))).toBe(true);
  });

  it("counts characters, not UTF-16 units", () => {
    expect(clipText("ααααα", 5)).toBe("ααααα");
    expect(clipText("αααααα", 5)).toBe("αααα…");
  });
});
