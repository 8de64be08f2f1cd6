/**
 * The inspector: the form of the selected layer (generated from the JSON Schema), of a graph input or
 * output, of a multiple selection, or of the network / block itself when nothing is selected.
 *
 * Every field validates as it is typed; a valid value goes into the document at once (typing in one field
 * is one undo step), an invalid one stays in the field with the reason beside it.
 */

import { useEffect, useMemo, useState } from "react";
import { formatShape, type Dim, type InputSpec, type LayerSpec } from "../model/spec";
import * as cmd from "../model/commands";
import { inputNodeId, readScope, scopeBlockName, specToGraph } from "../model/graph";
import { type FieldDesc, blockFields, formatValue, layerFields, parseField, parseLoose, parseShape } from "../model/schemaForm";
import { studio, useStudio } from "../store";
import { deviceColour } from "./Canvas";
import { formatCount } from "./nodes";
import { nodeViews } from "../model/analysis";
import { generatedFor, innerLayers } from "../model/builtin";

const DTYPES = ["float32", "float16", "float64", "int64", "int32", "bool"];

function TextField(props: {
  label: string;
  value: string;
  testid: string;
  hint?: string;
  placeholder?: string;
  required?: boolean;
  check: (text: string) => string | null;
  commit: (text: string) => void;
  mono?: boolean;
  list?: string;
  disabled?: boolean;
}) {
  const [text, setText] = useState(props.value);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    // the document changed under the field (undo, another edit): show it
    setText(props.value);
    setError(null);
  }, [props.value]);
  return (
    <label className={`field${error ? " invalid" : ""}`}>
      <span className="field-label">
        {props.label}
        {props.required && <span className="req" title="required">*</span>}
      </span>
      <input
        type="text"
        className={props.mono ? "mono" : undefined}
        value={text}
        placeholder={props.placeholder}
        list={props.list}
        disabled={props.disabled}
        data-testid={props.testid}
        spellCheck={false}
        onChange={(e) => {
          const t = e.target.value;
          setText(t);
          const err = props.check(t);
          setError(err);
          if (err === null) props.commit(t);
        }}
        onBlur={() => studio.stack.seal()}
        onKeyDown={(e) => {
          if (e.key === "Enter") (e.target as HTMLInputElement).blur();
          if (e.key === "Escape") {
            setText(props.value);
            setError(null);
            (e.target as HTMLInputElement).blur();
          }
        }}
      />
      {error ? <span className="field-error" data-testid={`${props.testid}-error`}>{error}</span>
        : props.hint ? <span className="field-hint">{props.hint}</span> : null}
    </label>
  );
}

function ParamField({ field, layer, scope, inBlock, readOnly }: { field: FieldDesc; layer: LayerSpec; scope: string; inBlock: boolean; readOnly: boolean }) {
  const catalogue = studio.get().catalogue;
  const root = catalogue?.schema ?? {};
  const value = layer[field.name];
  const set = (v: unknown) =>
    studio.exec(`Set ${layer.id}.${field.name}`, cmd.setLayerKeys(layer.id, { [field.name]: v }, scope), { coalesce: `${scope}|${layer.id}|${field.name}` });
  const testid = `param-${field.name}`;
  const hint = field.description + (field.hasDefault && field.default !== null && field.default !== undefined ? ` (default ${formatValue(field.default)})` : "");
  if (field.widget === "checkbox" && (value === undefined || typeof value === "boolean")) {
    const checked = value === undefined ? field.default === true : value;
    return (
      <label className="field check" title={field.description}>
        <input type="checkbox" checked={checked} disabled={readOnly} data-testid={testid}
          onChange={(e) => studio.exec(`Set ${layer.id}.${field.name}`, cmd.setLayerKeys(layer.id, { [field.name]: e.target.checked === field.default ? undefined : e.target.checked }, scope))} />
        <span className="field-label">{field.label}</span>
        <span className="field-hint inline">{field.description}</span>
      </label>
    );
  }
  if (field.widget === "select" && (value === undefined || field.options.includes(String(value)))) {
    return (
      <label className="field">
        <span className="field-label">{field.label}{field.required && <span className="req">*</span>}</span>
        <select value={value === undefined ? "" : String(value)} disabled={readOnly} data-testid={testid}
          onChange={(e) => studio.exec(`Set ${layer.id}.${field.name}`, cmd.setLayerKeys(layer.id, { [field.name]: e.target.value === "" ? undefined : e.target.value }, scope))}>
          {(!field.required || field.hasDefault) && <option value="">{field.hasDefault ? `default (${formatValue(field.default)})` : "(not set)"}</option>}
          {field.options.map((o) => <option key={o} value={o}>{o}</option>)}
        </select>
        <span className="field-hint">{field.description}</span>
      </label>
    );
  }
  const listId = field.options.length ? `opts-${field.name}` : undefined;
  return (
    <>
      <TextField
        label={field.label}
        value={formatValue(value)}
        testid={testid}
        hint={hint}
        required={field.required && !field.hasDefault}
        placeholder={field.hasDefault ? formatValue(field.default) || "default" : "required"}
        mono
        list={listId}
        disabled={readOnly}
        check={(t) => {
          const r = parseField(t, field, root, inBlock);
          return r.ok ? null : r.error;
        }}
        commit={(t) => {
          const r = parseField(t, field, root, inBlock);
          if (r.ok) set(r.value);
        }}
      />
      {listId && <datalist id={listId}>{field.options.map((o) => <option key={o} value={o} />)}</datalist>}
    </>
  );
}

function LayerInspector({ layer, scope, readOnly }: { layer: LayerSpec; scope: string; readOnly: boolean }) {
  const catalogue = useStudio((s) => s.catalogue);
  const spec = useStudio((s) => s.doc.spec);
  const analysis = useStudio((s) => s.analysis);
  const prepared = useStudio((s) => s.prepared);
  const inBlock = scopeBlockName(scope) !== null;
  const userBlock = spec.blocks?.[layer.type];
  const entry = studio.entry(layer.type);
  const fields = useMemo(() => {
    if (userBlock) return blockFields(userBlock.params);
    return catalogue ? layerFields(catalogue.schema, layer.type, inBlock) : null;
  }, [catalogue, layer.type, inBlock, userBlock]);
  const known = new Set((fields ?? []).map((f) => f.name));
  const extra = Object.keys(layer).filter((k) => !["id", "type", "input", "inputs", "device", "description"].includes(k) && !known.has(k));
  const view = useMemo(() => {
    try {
      return nodeViews(analysis, prepared, scope, specToGraph(spec, scope)).get(layer.id) ?? null;
    } catch {
      return null;
    }
  }, [analysis, prepared, scope, spec, layer.id]);
  const devices = catalogue?.devices ?? ["cpu"];
  const colour = deviceColour(layer.device, devices);
  return (
    <div className="inspector-body" data-testid="inspector-layer">
      <div className="insp-title">
        <span className={`fam-dot fam-${userBlock ? "block" : entry?.family ?? "other"}`} />
        <b>{layer.type}</b>
        {(userBlock || entry?.kind === "block") && (
          <button className="btn small" data-testid="open-block" onClick={() => studio.openBlock(layer.type)}>Open block</button>
        )}
      </div>
      <p className="muted small">{userBlock ? userBlock.description ?? "A block of this network." : entry?.description}</p>
      {view && (
        <div className="insp-stats">
          <span>params <b>{view.params === null ? "—" : formatCount(view.params)}</b></span>
          <span className="mono">{view.outShapes ? view.outShapes.map((s) => formatShape(s)).join(" ") : view.status}</span>
        </div>
      )}
      <TextField
        label="id"
        value={layer.id}
        testid="layer-id"
        mono
        disabled={readOnly}
        hint="unique; becomes the ONNX node name and the attribute name in generated code"
        check={(t) => (t === layer.id ? null : !/^[A-Za-z_][A-Za-z0-9_]*$/.test(t) ? "an identifier: letters, digits, _" : cmd.takenIds(studio.stack.doc.spec, scope).includes(t) ? "already used" : null)}
        commit={(t) => {
          if (t === layer.id) return;
          studio.exec(`Rename ${layer.id} → ${t}`, cmd.renameLayer(layer.id, t, scope));
          studio.select([t]);
        }}
      />
      {fields === null && <p className="muted small">No form for {layer.type}: its parameters are shown as written.</p>}
      {(fields ?? []).map((f) => <ParamField key={`${layer.id}.${f.name}`} field={f} layer={layer} scope={scope} inBlock={inBlock} readOnly={readOnly} />)}
      {extra.map((k) => (
        <TextField key={k} label={k} value={formatValue(layer[k])} testid={`param-${k}`} mono disabled={readOnly}
          hint="not a parameter of this type" check={() => null}
          commit={(t) => studio.exec(`Set ${layer.id}.${k}`, cmd.setLayerKeys(layer.id, { [k]: parseLoose(t) }, scope), { coalesce: `${scope}|${layer.id}|${k}` })} />
      ))}
      <label className="field">
        <span className="field-label">device</span>
        <div className="device-row">
          <span className="device-swatch" style={{ background: colour ?? "transparent" }} />
          <select value={layer.device ?? ""} disabled={readOnly} data-testid="layer-device"
            onChange={(e) => studio.exec(`Place ${layer.id} on ${e.target.value || "default device"}`, cmd.setLayerKeys(layer.id, { device: e.target.value || undefined }, scope))}>
            <option value="">default</option>
            {[...new Set([...devices, ...(layer.device ? [layer.device] : [])])].map((d) => <option key={d} value={d}>{d}</option>)}
          </select>
        </div>
        <span className="field-hint">where this layer runs in generated PyTorch code</span>
      </label>
      <TextField label="description" value={layer.description ?? ""} testid="layer-description" disabled={readOnly}
        check={() => null}
        commit={(t) => studio.exec(`Describe ${layer.id}`, cmd.setLayerKeys(layer.id, { description: t === "" ? undefined : t }, scope), { coalesce: `${scope}|${layer.id}|description` })} />
      {view && view.issues.length > 0 && (
        <div className="insp-issues">
          {view.issues.map((i, k) => (
            <div key={k} className={`issue ${i.level}`}>
              <div><span className="code">{i.code}</span> {i.message}</div>
              {i.suggestion && <div className="muted">{i.suggestion}</div>}
              {i.fix && !readOnly && <button className="btn fix" onClick={() => void studio.fix(i.code, i.layers, i.fix!.description)}>Fix: {i.fix.description}</button>}
            </div>
          ))}
        </div>
      )}
    </div>
  );
}

function InputInspector({ input, scope }: { input: InputSpec; scope: string }) {
  const isBlock = scopeBlockName(scope) !== null;
  const commitName = (t: string) => {
    if (t === input.name) return;
    studio.exec(`Rename input ${input.name} → ${t}`, cmd.editInput(input.name, { ...input, name: t }, scope));
    studio.select([inputNodeId(t)]);
  };
  return (
    <div className="inspector-body" data-testid="inspector-input">
      <div className="insp-title"><span className="fam-dot fam-graph" /><b>Input</b></div>
      <TextField label="name" value={input.name} testid="input-name" mono
        check={(t) => (t === input.name ? null : !/^[A-Za-z_][A-Za-z0-9_]*$/.test(t) ? "an identifier: letters, digits, _" : cmd.takenIds(studio.stack.doc.spec, scope).includes(t) ? "already used" : null)}
        commit={commitName} />
      {!isBlock && (
        <>
          <TextField label="shape" value={(input.shape ?? []).map(String).join(", ")} testid="input-shape" mono
            hint="channels first; names like batch or seq are symbolic dims"
            check={(t) => { const r = parseShape(t); return r.ok ? null : r.error; }}
            commit={(t) => {
              const r = parseShape(t);
              if (r.ok) studio.exec(`Set shape of ${input.name}`, cmd.editInput(input.name, { ...input, shape: r.value as Dim[] }, scope), { coalesce: `${scope}|input|${input.name}|shape` });
            }} />
          <label className="field">
            <span className="field-label">dtype</span>
            <select value={input.dtype ?? "float32"} data-testid="input-dtype"
              onChange={(e) => studio.exec(`Set dtype of ${input.name}`, cmd.editInput(input.name, { ...input, dtype: e.target.value }, scope))}>
              {DTYPES.map((d) => <option key={d} value={d}>{d}</option>)}
            </select>
            <span className="field-hint">token ids use int64</span>
          </label>
        </>
      )}
    </div>
  );
}

function OutputInspector({ name, scope }: { name: string; scope: string }) {
  const isBlock = scopeBlockName(scope) !== null;
  return (
    <div className="inspector-body" data-testid="inspector-output">
      <div className="insp-title"><span className="fam-dot fam-graph" /><b>Output</b></div>
      {isBlock ? <p className="muted small">The block returns the output of the layer connected here.</p> : (
        <TextField label="name" value={name} testid="output-name" mono hint="the output's name in the built model"
          check={(t) => (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(t) ? "an identifier: letters, digits, _" : null)}
          commit={(t) => {
            if (t === name) return;
            studio.exec(`Rename output ${name} → ${t}`, cmd.renameOutput(name, t, scope));
            studio.select([`output:${t}`]);
          }} />
      )}
    </div>
  );
}

function NetworkInspector({ scope }: { scope: string }) {
  const spec = useStudio((s) => s.doc.spec);
  const analysis = useStudio((s) => s.analysis);
  const blockName = scopeBlockName(scope);
  if (blockName !== null) {
    const block = spec.blocks?.[blockName];
    if (!block) return null;
    const instances = spec.layers.filter((l) => l.type === blockName).map((l) => l.id);
    return (
      <div className="inspector-body" data-testid="inspector-block">
        <div className="insp-title"><span className="fam-dot fam-block" /><b>Block {blockName}</b></div>
        <p className="muted small">Edits here change the definition: every instance follows ({instances.join(", ") || "no instance yet"}).
          Values written <span className="mono">$name</span> take the instance's parameter.</p>
        <TextField label="description" value={block.description ?? ""} testid="block-description" check={() => null}
          commit={(t) => studio.exec(`Describe block ${blockName}`, cmd.setDocKeys({ description: t || undefined }, scope), { coalesce: `${scope}|description` })} />
        <TextField label="parameters" value={Object.entries(block.params ?? {}).map(([k, v]) => `${k}=${v === null ? "" : formatValue(v)}`).join("; ")}
          testid="block-params" mono hint="name=default; … (no default: required)"
          check={(t) => (t.split(";").map((p) => p.trim()).filter(Boolean).every((p) => /^[A-Za-z_][A-Za-z0-9_]*\s*(=.*)?$/.test(p)) ? null : "write name=default; name2=…")}
          commit={(t) => {
            const params: Record<string, unknown> = {};
            for (const part of t.split(";").map((p) => p.trim()).filter(Boolean)) {
              const [k, ...rest] = part.split("=");
              const raw = rest.join("=").trim();
              params[k.trim()] = raw === "" ? null : parseLoose(raw);
            }
            studio.exec(`Set parameters of block ${blockName}`, cmd.setDocKeys({ params: Object.keys(params).length ? params : undefined }, scope), { coalesce: `${scope}|params` });
          }} />
      </div>
    );
  }
  const part = readScope(spec, scope);
  return (
    <div className="inspector-body" data-testid="inspector-network">
      <div className="insp-title"><b>Network</b></div>
      <TextField label="name" value={spec.name ?? ""} testid="network-name" mono hint="names the ONNX graph and the generated classes"
        check={(t) => (t === "" || /^[A-Za-z_][A-Za-z0-9_]*$/.test(t) ? null : "an identifier: letters, digits, _")}
        commit={(t) => studio.exec("Rename network", cmd.setDocKeys({ name: t || undefined }, scope), { coalesce: "network|name" })} />
      <TextField label="description" value={spec.description ?? ""} testid="network-description" check={() => null}
        commit={(t) => studio.exec("Describe network", cmd.setDocKeys({ description: t || undefined }, scope), { coalesce: "network|description" })} />
      <div className="insp-stats column">
        <span>{part.layers.length} layers, {Object.keys(spec.blocks ?? {}).length} blocks</span>
        {analysis?.summary && <span>parameters <b data-testid="network-params">{analysis.summary.total_params.toLocaleString()}</b></span>}
      </div>
      <p className="muted small">Select a node to edit it. Shift-drag to select several; then Make block.</p>
    </div>
  );
}

export function Inspector() {
  const selection = useStudio((s) => s.selection);
  const scope = useStudio((s) => s.scope);
  const spec = useStudio((s) => s.doc.spec);
  const readOnly = scope.startsWith("builtin:");
  let body;
  if (readOnly) {
    const entry = studio.entry(scope.slice(8));
    const layers = innerLayers(entry);
    body = (
      <div className="inspector-body" data-testid="inspector-builtin">
        <p className="muted">A built-in block (read only). Use the breadcrumb to go back.</p>
        {layers.length > 0 && (
          <p className="muted small" data-testid="builtin-generated-for">
            Drawn as generated for {generatedFor(entry)}: {layers.length} layers. An instance's layers follow its own
            parameters and input (the Summary table lists them).
          </p>
        )}
      </div>
    );
  } else if (selection.length > 1) {
    const layers = selection.filter((id) => !id.includes(":"));
    body = (
      <div className="inspector-body" data-testid="inspector-multi">
        <div className="insp-title"><b>{selection.length} selected</b></div>
        <div className="insp-actions">
          <button className="btn primary" data-testid="make-block" disabled={!layers.length || scopeBlockName(scope) !== null}
            onClick={() => studio.setDialog({ kind: "block", layers })}>Make block…</button>
          <button className="btn" onClick={() => studio.copySelection()}>Copy</button>
          <button className="btn danger" onClick={() => studio.removeSelection()}>Delete</button>
        </div>
      </div>
    );
  } else if (selection.length === 1) {
    const id = selection[0];
    let part;
    try {
      part = readScope(spec, scope);
    } catch {
      part = null;
    }
    if (id.startsWith("input:")) {
      const input = part?.inputs.find((i) => `input:${i.name}` === id);
      body = input ? <InputInspector key={id} input={input} scope={scope} /> : null;
    } else if (id.startsWith("output:")) {
      body = <OutputInspector key={id} name={id.slice(7)} scope={scope} />;
    } else {
      const layer = part?.layers.find((l) => l.id === id);
      body = layer ? <LayerInspector key={id} layer={layer} scope={scope} readOnly={false} /> : null;
    }
  } else {
    body = <NetworkInspector scope={scope} />;
  }
  return <aside className="inspector" data-testid="inspector">{body}</aside>;
}
