/** The palette: every layer type and block of the catalogue, grouped by family and searchable. */

import { type DragEvent, useMemo, useState } from "react";
import { generatedFor, innerLayers } from "../model/builtin";
import { studio, useStudio } from "../store";
import { LAYER_MIME } from "./Canvas";

interface Item {
  type: string;
  label: string;
  family: string;
  description: string;
  /** A built-in block's layers (from the catalogue's definition of it), and what they were generated for. */
  inner?: string[];
  innerFor?: string;
}

const FAMILY_ORDER = ["graph", "linear", "conv", "pool", "norm", "activation", "reshape", "recurrent", "attention",
  "embedding", "merge", "upsample", "block", "network blocks"];

const FAMILY_LABEL: Record<string, string> = {
  graph: "Inputs and outputs", linear: "Linear", conv: "Convolution", pool: "Pooling", norm: "Normalisation",
  activation: "Activation", reshape: "Reshape", recurrent: "Recurrent", attention: "Attention", embedding: "Embedding",
  merge: "Merge", upsample: "Upsample", block: "Built-in blocks", "network blocks": "Blocks of this network", op: "ONNX ops",
};

function onDragStart(e: DragEvent, type: string) {
  e.dataTransfer.setData(LAYER_MIME, type);
  e.dataTransfer.setData("text/plain", type);
  e.dataTransfer.effectAllowed = "copy";
}

export function Palette() {
  const catalogue = useStudio((s) => s.catalogue);
  const blocks = useStudio((s) => s.doc.spec.blocks);
  const scope = useStudio((s) => s.scope);
  const [query, setQuery] = useState("");
  const [closed, setClosed] = useState<Record<string, boolean>>({});

  const groups = useMemo(() => {
    const items: Item[] = [
      { type: "__input", label: "Input", family: "graph", description: "A graph input (name, shape, dtype)" },
      { type: "__output", label: "Output", family: "graph", description: "A graph output, fed by one layer" },
    ];
    for (const e of catalogue?.layers ?? []) {
      const inner = innerLayers(e);
      items.push({ type: e.type, label: e.type, family: e.family, description: e.description,
        ...(inner.length ? { inner, innerFor: generatedFor(e) } : {}) });
    }
    for (const [name, b] of Object.entries(blocks ?? {})) {
      items.push({ type: name, label: name, family: "network blocks", description: b.description ?? "a block defined in this network" });
    }
    const q = query.trim().toLowerCase();
    const shown = q ? items.filter((i) => i.label.toLowerCase().includes(q) || i.description.toLowerCase().includes(q) || i.family.includes(q)) : items;
    const byFamily = new Map<string, Item[]>();
    for (const i of shown) {
      if (!byFamily.has(i.family)) byFamily.set(i.family, []);
      byFamily.get(i.family)!.push(i);
    }
    const order = (f: string) => (FAMILY_ORDER.indexOf(f) < 0 ? 99 : FAMILY_ORDER.indexOf(f));
    return [...byFamily.entries()].sort((a, b) => order(a[0]) - order(b[0]));
  }, [catalogue, blocks, query]);

  const readOnly = scope.startsWith("builtin:");
  return (
    <aside className="palette" data-testid="palette">
      <div className="palette-search">
        <input
          type="search"
          placeholder="Search layers…"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          data-testid="palette-search"
          aria-label="Search layers"
        />
      </div>
      <div className="palette-list">
        {!catalogue && <div className="muted pad">Loading the catalogue…</div>}
        {groups.map(([family, items]) => (
          <section key={family} className="palette-group" data-testid={`palette-group-${family.replace(" ", "-")}`}>
            <button className="palette-family" onClick={() => setClosed((c) => ({ ...c, [family]: !c[family] }))}>
              <span className={`chev${closed[family] && !query ? " shut" : ""}`}>▾</span>
              <span className={`fam-dot fam-${family === "network blocks" ? "block" : family}`} />
              {FAMILY_LABEL[family] ?? family}
              <span className="count">{items.length}</span>
            </button>
            {(!closed[family] || query) && (
              <div className="palette-items">
                {items.map((i) => (
                  <div
                    key={i.type}
                    className={`palette-item${readOnly ? " disabled" : ""}`}
                    draggable={!readOnly}
                    onDragStart={(e) => onDragStart(e, i.type)}
                    onDoubleClick={() => !readOnly && studio.addLayer(i.type, null)}
                    onKeyDown={(e) => {
                      if (e.key === "Enter" && !readOnly) studio.addLayer(i.type, null);
                    }}
                    tabIndex={0}
                    role="button"
                    title={`${i.description}${i.inner ? `\n\nLayers (for ${i.innerFor}): ${i.inner.join(" → ")}` : ""}\n\nDrag onto the canvas, or double-click to add it after the selected layer.`}
                    data-testid={`palette-item-${i.label}`}
                  >
                    {i.label}
                  </div>
                ))}
              </div>
            )}
          </section>
        ))}
      </div>
    </aside>
  );
}
