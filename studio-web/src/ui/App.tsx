/** The studio's window: toolbar, palette, canvas with its breadcrumb, inspector, bottom panel, dialogs. */

import { ReactFlowProvider } from "@xyflow/react";
import { useEffect, useRef, useState } from "react";
import type { WorkspaceFile } from "../api";
import { NETWORK_SCOPE, scopeBlockName } from "../model/graph";
import { studio, useStudio } from "../store";
import { Canvas } from "./Canvas";
import { Inspector } from "./Inspector";
import { Palette } from "./Palette";
import { BottomPanel } from "./Panels";

function isTyping(e: KeyboardEvent): boolean {
  const t = e.target as HTMLElement | null;
  return !!t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
}

function useKeys() {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const mod = e.ctrlKey || e.metaKey;
      const key = e.key.toLowerCase();
      if (mod && key === "s") {
        e.preventDefault();
        void studio.save();
        return;
      }
      if (isTyping(e) || studio.get().dialog) return;
      if (mod && key === "z" && !e.shiftKey) {
        e.preventDefault();
        studio.undo();
      } else if (mod && ((key === "z" && e.shiftKey) || key === "y")) {
        e.preventDefault();
        studio.redo();
      } else if (mod && key === "c") {
        if (studio.copySelection()) e.preventDefault();
      } else if (mod && key === "x") {
        if (studio.copySelection()) {
          e.preventDefault();
          studio.removeSelection();
        }
      } else if (mod && key === "v") {
        e.preventDefault();
        studio.pasteClipboard();
      } else if (mod && key === "a") {
        e.preventDefault();
        const doc = studio.stack.doc;
        const scope = studio.get().scope;
        if (scope.startsWith("builtin:")) return;
        const ids = Object.keys(doc.positions[scope] ?? {});
        studio.select(ids);
      } else if ((key === "delete" || key === "backspace") && studio.get().selection.length && !studio.get().scope.startsWith("builtin:")) {
        e.preventDefault();
        studio.removeSelection();
      } else if (key === "escape") {
        if (studio.get().scope !== NETWORK_SCOPE) studio.setScope(NETWORK_SCOPE);
        else studio.select([]);
      } else if (mod && key === "l") {
        e.preventDefault();
        void studio.autoLayout();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
}

function Toolbar() {
  const canUndo = useStudio((s) => s.canUndo);
  const canRedo = useStudio((s) => s.canRedo);
  const undoLabel = useStudio((s) => s.undoLabel);
  const redoLabel = useStudio((s) => s.redoLabel);
  const file = useStudio((s) => s.file);
  const rev = useStudio((s) => s.rev);
  const savedSpec = useStudio((s) => s.savedSpec);
  const session = useStudio((s) => s.session);
  const analyzing = useStudio((s) => s.analyzing);
  const roundTrip = useStudio((s) => s.roundTripMs);
  const busy = useStudio((s) => s.busy);
  const selection = useStudio((s) => s.selection);
  const scope = useStudio((s) => s.scope);
  const name = useStudio((s) => s.doc.spec.name);
  const uploadRef = useRef<HTMLInputElement>(null);
  // rev and savedSpec are read so that the toolbar re-renders when either changes: that is when the
  // unsaved-changes mark can change
  void rev;
  void savedSpec;
  const dirty = studio.isDirty();
  const layersSelected = selection.filter((id) => !id.includes(":"));
  return (
    <header className="toolbar" data-testid="toolbar">
      <div className="brand"><span className="logo" />onnxbridge <span className="muted">studio</span></div>
      <div className="group">
        <button className="btn" data-testid="new" onClick={() => studio.newDocument()} title="A new, empty network">New</button>
        <button className="btn" data-testid="open" onClick={() => studio.setDialog({ kind: "open" })} title="Open a spec or a model from the workspace">Open…</button>
        <button className="btn" data-testid="upload" onClick={() => uploadRef.current?.click()} title="Upload a spec, .onnx, .pt2 or .keras">Upload…</button>
        <input ref={uploadRef} type="file" hidden data-testid="upload-input" accept=".yaml,.yml,.json,.onnx,.pt2,.keras,.zip"
          onChange={(e) => {
            const f = e.target.files?.[0];
            if (f) void studio.upload(f);
            e.target.value = "";
          }} />
        <button className="btn" data-testid="save" onClick={() => void studio.save()} title="Save the spec as YAML (Ctrl+S)">Save</button>
        <button className="btn" data-testid="save-as" onClick={() => studio.setDialog({ kind: "saveAs", suggested: file.path ?? `${name ?? "network"}.yaml` })}>Save as…</button>
      </div>
      <div className="group">
        <button className="btn icon" data-testid="undo" disabled={!canUndo} onClick={() => studio.undo()} title={`Undo${undoLabel ? `: ${undoLabel}` : ""} (Ctrl+Z)`}>↶</button>
        <button className="btn icon" data-testid="redo" disabled={!canRedo} onClick={() => studio.redo()} title={`Redo${redoLabel ? `: ${redoLabel}` : ""} (Ctrl+Shift+Z)`}>↷</button>
      </div>
      <div className="group">
        <button className="btn" data-testid="layout" disabled={scope.startsWith("builtin:")} onClick={() => void studio.autoLayout()} title="Lay the canvas out again (Ctrl+L)">Layout</button>
        <button className="btn" data-testid="make-block-toolbar" disabled={!layersSelected.length || scope !== NETWORK_SCOPE}
          onClick={() => studio.setDialog({ kind: "block", layers: layersSelected })} title="Replace the selected layers by one block">Make block</button>
      </div>
      <div className="group">
        <button className="btn" data-testid="show-export" onClick={() => studio.setPanel("export")} title="Export ONNX, PyTorch or Keras, verified">Export</button>
        <button className="btn" data-testid="netron" onClick={() => void studio.netron()} title="Open the built ONNX model in netron">Netron</button>
      </div>
      <div className="status">
        {busy && <span className="busy" data-testid="busy">{busy}</span>}
        <span className="file mono" data-testid="file-name" title={file.path ?? "not saved yet"}>
          {file.path ?? (file.kind && file.kind !== "spec" ? `imported ${file.kind}` : "untitled")}
          {dirty && <span className="dirty" title="unsaved changes" data-testid="dirty">●</span>}
        </span>
        <span className={`check-state${analyzing ? " busy" : ""}`} data-testid="check-state" title="the live check's round trip">
          {analyzing ? "checking…" : roundTrip !== null ? `✓ ${roundTrip.toFixed(0)} ms` : ""}
        </span>
        <span className={`session ${session}`} data-testid="session-state" title="the whole document, with its undo history, is autosaved in the workspace">
          {session === "saving" ? "autosaving…" : session === "saved" ? "autosaved" : session === "error" ? "autosave failed" : ""}
        </span>
      </div>
    </header>
  );
}

function Breadcrumb() {
  const scope = useStudio((s) => s.scope);
  const name = useStudio((s) => s.doc.spec.name);
  const block = scopeBlockName(scope) ?? (scope.startsWith("builtin:") ? scope.slice(8) : null);
  return (
    <nav className="breadcrumb" data-testid="breadcrumb">
      <button className={block ? "link" : "here"} data-testid="crumb-network" onClick={() => studio.setScope(NETWORK_SCOPE)}>{name || "network"}</button>
      {block && (
        <>
          <span className="sep">›</span>
          <span className="here" data-testid="crumb-block">{block}{scope.startsWith("builtin:") ? " (built-in, read only)" : ""}</span>
        </>
      )}
    </nav>
  );
}

function OpenDialog() {
  const [files, setFiles] = useState<WorkspaceFile[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    studio.listFiles().then(setFiles, (e) => setError(String(e?.message ?? e)));
  }, []);
  return (
    <div className="dialog" data-testid="open-dialog">
      <h3>Open from the workspace</h3>
      {error && <p className="error-text">{error}</p>}
      {!files && !error && <p className="muted">Listing files…</p>}
      {files && !files.length && <p className="muted">No files yet: upload one, or save this network.</p>}
      <div className="file-list">
        {files?.filter((f) => f.kind !== "other").map((f) => (
          <button key={f.path} className="file-row" data-testid="file-row" data-path={f.path} onClick={() => void studio.open(f.path)}>
            <span className={`badge kind-${f.kind}`}>{f.kind}</span>
            <span className="mono">{f.path}</span>
            <span className="muted small push-right">{(f.size / 1024).toFixed(1)} KB</span>
          </button>
        ))}
      </div>
      <div className="dialog-actions">
        <button className="btn" onClick={() => studio.setDialog(null)}>Cancel</button>
      </div>
    </div>
  );
}

function NameDialog({ title, label, initial, confirm, testid, check, onOk }: {
  title: string; label: string; initial: string; confirm: string; testid: string;
  check: (v: string) => string | null; onOk: (v: string) => void;
}) {
  const [value, setValue] = useState(initial);
  const error = check(value);
  return (
    <form className="dialog" data-testid={testid} onSubmit={(e) => { e.preventDefault(); if (!error) onOk(value); }}>
      <h3>{title}</h3>
      <label className={`field${error ? " invalid" : ""}`}>
        <span className="field-label">{label}</span>
        <input autoFocus className="mono" value={value} onChange={(e) => setValue(e.target.value)} data-testid={`${testid}-input`} spellCheck={false} />
        {error && <span className="field-error">{error}</span>}
      </label>
      <div className="dialog-actions">
        <button type="button" className="btn" onClick={() => studio.setDialog(null)}>Cancel</button>
        <button type="submit" className="btn primary" disabled={!!error} data-testid={`${testid}-ok`}>{confirm}</button>
      </div>
    </form>
  );
}

function Dialogs() {
  const dialog = useStudio((s) => s.dialog);
  const blocks = useStudio((s) => s.doc.spec.blocks);
  if (!dialog) return null;
  let body;
  if (dialog.kind === "open") body = <OpenDialog />;
  else if (dialog.kind === "saveAs") {
    body = (
      <NameDialog title="Save the spec as" label="workspace path (.yaml)" initial={dialog.suggested} confirm="Save" testid="save-dialog"
        check={(v) => (!/^[^/\\][^\\]*\.(ya?ml|json)$/.test(v) || v.split("/").includes("..") ? "a relative path ending in .yaml" : null)}
        onOk={(v) => void studio.save(v)} />
    );
  } else if (dialog.kind === "block") {
    let n = 1;
    while (blocks?.[`Block${n}`] || studio.entry(`Block${n}`)) n++;
    body = (
      <NameDialog title={`Make a block of ${dialog.layers.length} layers`} label="block name (a class name in generated code)" initial={`Block${n}`} confirm="Make block" testid="block-dialog"
        check={(v) => (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(v) ? "an identifier, e.g. ConvUnit" : blocks?.[v] || studio.entry(v) ? "that name is taken" : null)}
        onOk={(v) => void studio.makeBlock(v, dialog.layers).then((ok) => ok && studio.setDialog(null))} />
    );
  } else {
    body = (
      <div className="dialog" data-testid="confirm-dialog">
        <h3>{dialog.title}</h3>
        <p>{dialog.text}</p>
        <div className="dialog-actions">
          <button className="btn" data-testid="confirm-cancel" onClick={() => studio.setDialog(null)}>Cancel</button>
          <button className="btn danger" data-testid="confirm-ok" onClick={() => { studio.setDialog(null); dialog.onConfirm(); }}>{dialog.confirm}</button>
        </div>
      </div>
    );
  }
  return <div className="backdrop" onMouseDown={(e) => e.target === e.currentTarget && studio.setDialog(null)}>{body}</div>;
}

function Toasts() {
  const toasts = useStudio((s) => s.toasts);
  return (
    <div className="toasts" data-testid="toasts">
      {toasts.map((t) => (
        <div key={t.id} className={`toast ${t.kind}`} data-testid={`toast-${t.kind}`} onClick={() => studio.dismiss(t.id)}>
          <div>{t.text}</div>
          {t.hint && <div className="muted small">{t.hint}</div>}
        </div>
      ))}
    </div>
  );
}

function AuthBanner() {
  const error = useStudio((s) => s.authError);
  if (!error) return null;
  return (
    <div className="auth-banner" data-testid="auth-error">
      <b>The studio server refused this page ({error}).</b> Open the address that <span className="mono">onnxbridge studio</span> printed
      when it started (it ends in <span className="mono">?token=…</span>); a restarted server has a new token. Your work is kept in the workspace.
    </div>
  );
}

export function App() {
  useKeys();
  const ready = useStudio((s) => s.ready);
  return (
    <ReactFlowProvider>
      <div className="app" data-testid="app" data-ready={ready ? "true" : "false"}>
        <AuthBanner />
        <Toolbar />
        <div className="main">
          <Palette />
          <div className="workspace">
            <Breadcrumb />
            <Canvas />
            <BottomPanel />
          </div>
          <Inspector />
        </div>
        <Dialogs />
        <Toasts />
      </div>
    </ReactFlowProvider>
  );
}
