/** The bottom panel: summary (parameters, per-layer table), issues, generated code, and exports. */

import { useEffect, useMemo, useRef, useState } from "react";
import type { LayerRow, Target } from "../api";
import type { Issue } from "../model/analysis";
import { formatShape } from "../model/spec";
import { type Panel, studio, useStudio } from "../store";

const ROW = 22;

/** The per-layer table, drawing only the rows in view (a network can have thousands of layers). */
function LayerTable({ rows }: { rows: LayerRow[] }) {
  const [top, setTop] = useState(0);
  const [height, setHeight] = useState(400);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const first = Math.max(0, Math.floor(top / ROW) - 8);
  const last = Math.min(rows.length, Math.ceil((top + height) / ROW) + 8);
  return (
    <div className="table-box" ref={box} onScroll={(e) => setTop((e.target as HTMLDivElement).scrollTop)}>
      <table className="table" data-testid="layer-table">
        <thead><tr><th>layer</th><th>type</th><th>output shape</th><th className="num">params</th><th>status</th></tr></thead>
        <tbody>
          {first > 0 && <tr style={{ height: first * ROW }} />}
          {rows.slice(first, last).map((r) => (
            <tr key={r.id} className={`st-${r.status.replace(" ", "-")}`} onClick={() => studio.select([r.id.split("/")[0]])}>
              <td className="mono" style={{ paddingLeft: 8 + r.depth * 16 }}>{r.id.split("/").pop()}</td>
              <td>{r.type}</td>
              <td className="mono">{r.output_shapes ? r.output_shapes.map((s) => formatShape(s)).join(" ") : "—"}</td>
              <td className="num mono">{r.params.toLocaleString()}</td>
              <td>{r.status}</td>
            </tr>
          ))}
          {last < rows.length && <tr style={{ height: (rows.length - last) * ROW }} />}
        </tbody>
      </table>
    </div>
  );
}

function SummaryPanel() {
  const analysis = useStudio((s) => s.analysis);
  const analyzing = useStudio((s) => s.analyzing);
  const error = useStudio((s) => s.analysisError);
  const roundTrip = useStudio((s) => s.roundTripMs);
  const layers = useStudio((s) => s.doc.spec.layers.length);
  const summary = analysis?.summary;
  const notes = useStudio((s) => s.file.notes);
  const source = useStudio((s) => s.file.source);
  const kind = useStudio((s) => s.file.kind);
  const imported = notes.length > 0 && kind !== "spec" ? (
    <details className="notes" data-testid="import-notes" open>
      <summary>Imported from <span className="mono">{source}</span> ({kind}): {notes.length} note{notes.length > 1 ? "s" : ""}</summary>
      <ul>{notes.map((n, i) => <li key={i}>{n}</li>)}</ul>
    </details>
  ) : null;
  if (error) return <div className="panel-body"><p className="error-text">The check could not run: {error}</p></div>;
  if (!summary) {
    return (
      <div className="panel-body">
        <p className="muted">{layers ? (analyzing ? "Checking…" : analysis ? "The network has structural problems (see Issues); fix them to see shapes." : "Nothing to check yet: connect an input to a layer.") : "Add an input and a layer to see shapes and parameter counts."}</p>
      </div>
    );
  }
  return (
    <div className="panel-body summary" data-testid="summary">
      {imported}
      <div className="summary-head">
        <span>total parameters <b data-testid="total-params">{summary.total_params.toLocaleString()}</b></span>
        {Object.entries(summary.inputs).map(([k, v]) => <span key={k} className="mono">{k} {formatShape(v.shape)}</span>)}
        <span className="arrow">→</span>
        {Object.entries(summary.outputs).map(([k, v]) => <span key={k} className="mono">{k} {v ? formatShape(v.shape) : "not inferred"}</span>)}
        <span className="muted push-right">{summary.ok ? "shapes ok" : `${summary.errors.length} shape error(s)`} · checked in {roundTrip?.toFixed(0)} ms (server {analysis?.elapsed_ms.toFixed(1)} ms)</span>
      </div>
      <LayerTable rows={summary.layers} />
    </div>
  );
}

interface Row extends Issue {
  where: string[];
}

function useIssues(): Row[] {
  const analysis = useStudio((s) => s.analysis);
  const prepared = useStudio((s) => s.prepared);
  return useMemo(() => {
    const rows: Row[] = [];
    for (const d of analysis?.diagnostics ?? []) rows.push({ ...d, where: d.layers, fix: d.fix });
    for (const s of analysis?.structure ?? []) {
      if (!rows.some((r) => r.message === s.message)) rows.push({ level: "error", code: "structure", message: s.message, suggestion: null, fix: null, layers: s.layers, where: s.layers });
    }
    for (const id of prepared?.unconnected ?? []) {
      rows.push({ level: "warning", code: "unconnected", message: `${id}: not connected`, where: [id], fix: null, layers: [id],
                  suggestion: "drag from the output (bottom) of a layer to this layer's input (top)" });
    }
    const rank = { error: 0, warning: 1, suggestion: 2 };
    return rows.sort((a, b) => rank[a.level] - rank[b.level]);
  }, [analysis, prepared]);
}

export function issueCount(rows: Row[]): { errors: number; warnings: number } {
  return { errors: rows.filter((r) => r.level === "error").length, warnings: rows.filter((r) => r.level === "warning").length };
}

function IssuesPanel({ rows }: { rows: Row[] }) {
  if (!rows.length) return <div className="panel-body"><p className="muted" data-testid="no-issues">No issues found.</p></div>;
  return (
    <div className="panel-body issues" data-testid="issues">
      {rows.map((r, i) => (
        <div key={i} className={`issue-row ${r.level}`} data-testid="issue-row">
          <span className={`badge ${r.level}`}>{r.level}</span>
          <span className="code mono">{r.code}</span>
          <div className="issue-text">
            <div>{r.message}</div>
            {r.suggestion && <div className="muted">{r.suggestion}</div>}
          </div>
          <div className="issue-where">
            {r.where.map((w) => (
              <button key={w} className="chip mono" onClick={() => studio.select([w.split("/")[0]])}>{w}</button>
            ))}
          </div>
          {r.fix && <button className="btn fix" data-testid="issue-fix" onClick={() => void studio.fix(r.code, r.layers, r.fix!.description)}>Fix</button>}
        </div>
      ))}
    </div>
  );
}

function CodePanel() {
  const code = useStudio((s) => s.code);
  const spec = useStudio((s) => s.doc.spec);
  const [target, setTarget] = useState<"torch" | "tensorflow">("torch");
  useEffect(() => {
    const t = setTimeout(() => void studio.loadCode(), 400);
    return () => clearTimeout(t);
  }, [spec]);
  const source = target === "torch" ? code.torch : code.tensorflow;
  return (
    <div className="panel-body code" data-testid="code-panel">
      <div className="code-bar">
        <div className="seg">
          <button className={target === "torch" ? "on" : ""} data-testid="code-torch" onClick={() => setTarget("torch")}>PyTorch</button>
          <button className={target === "tensorflow" ? "on" : ""} data-testid="code-keras" onClick={() => setTarget("tensorflow")}>Keras</button>
        </div>
        <span className="muted small">{code.loading ? "generating…" : code.spec !== spec ? "updating…" : "model.py, generated from the current network"}</span>
        <button className="btn small push-right" disabled={!source} onClick={() => void navigator.clipboard?.writeText(source ?? "").then(() => studio.toast("ok", "Copied the source"))}>Copy</button>
      </div>
      {code.error ? <p className="error-text">{code.error}</p> : (
        <pre className="code-source" data-testid={`code-${target}-source`}>{source ?? ""}</pre>
      )}
    </div>
  );
}

const TARGETS: { target: Target; label: string }[] = [
  { target: "onnx", label: "ONNX" },
  { target: "torch", label: "PyTorch" },
  { target: "tensorflow", label: "Keras" },
];

function ExportPanel() {
  const exported = useStudio((s) => s.exported);
  const exporting = useStudio((s) => s.exporting);
  return (
    <div className="panel-body export" data-testid="export-panel">
      <div className="code-bar">
        {TARGETS.map((t) => (
          <button key={t.target} className="btn" data-testid={`export-${t.target}`} disabled={exporting !== null} onClick={() => void studio.exportModel(t.target)}>
            {exporting === t.target ? `Exporting ${t.label}…` : `Export ${t.label}`}
          </button>
        ))}
        <span className="muted small">written under exports/ in the workspace, each hop checked against onnxruntime</span>
      </div>
      {exported && (
        <div data-testid="export-result">
          <div className="export-files">
            {exported.files.map((f) => <span key={f} className="chip mono">{f}</span>)}
            <button className="btn primary" data-testid="export-download" onClick={() => void studio.download(exported.download)}>Download</button>
          </div>
          {exported.checks.length === 0 ? (
            <p className="muted small">Built from the spec: the ONNX model is the reference every other export is checked against.</p>
          ) : (
          <table className="table" data-testid="parity-table">
            <thead><tr><th>check</th><th>result</th><th className="num">max |Δ|</th><th>summary</th></tr></thead>
            <tbody>
              {exported.checks.map((c, i) => (
                <tr key={i} className={c.ok ? "st-ok" : "st-error"} data-testid="parity-row">
                  <td>{c.hop}</td>
                  <td><span className={`badge ${c.ok ? "ok" : "error"}`}>{c.ok ? "match" : "MISMATCH"}</span></td>
                  <td className="num mono">{c.max_abs === null || c.max_abs === undefined ? "—" : c.max_abs.toExponential(2)}</td>
                  <td>{c.summary}</td>
                </tr>
              ))}
            </tbody>
          </table>
          )}
          {exported.notes.map((n, i) => <p key={i} className="muted small">{n}</p>)}
        </div>
      )}
    </div>
  );
}

export function BottomPanel() {
  const panel = useStudio((s) => s.panel);
  const [open, setOpen] = useState(true);
  useEffect(() => setOpen(true), [panel]);
  const rows = useIssues();
  const { errors, warnings } = issueCount(rows);
  const tabs: { id: Panel; label: string }[] = [
    { id: "summary", label: "Summary" },
    { id: "issues", label: "Issues" },
    { id: "code", label: "Code" },
    { id: "export", label: "Export" },
  ];
  return (
    <section className={`bottom-panel${open ? "" : " shut"}`} data-testid="bottom-panel">
      <nav className="tabs">
        {tabs.map((t) => (
          <button key={t.id} className={panel === t.id && open ? "on" : ""} data-testid={`tab-${t.id}`} onClick={() => { studio.setPanel(t.id); setOpen(true); }}>
            {t.label}
            {t.id === "issues" && (errors || warnings) ? (
              <span className={`tab-count ${errors ? "error" : "warning"}`} data-testid="issue-count">{errors + warnings}</span>
            ) : null}
          </button>
        ))}
        <button className="collapse" data-testid="panel-toggle" title={open ? "Hide the panel" : "Show the panel"} onClick={() => setOpen(!open)}>{open ? "▾" : "▴"}</button>
      </nav>
      {!open ? null : panel === "summary" && <SummaryPanel />}
      {open && panel === "issues" && <IssuesPanel rows={rows} />}
      {open && panel === "code" && <CodePanel />}
      {open && panel === "export" && <ExportPanel />}
    </section>
  );
}
