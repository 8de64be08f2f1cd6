/**
 * The studio server's HTTP API (docs/studio.md, "HTTP API"), with the token on every call.
 *
 * The token arrives once in the page URL (`?token=...`); it is kept in sessionStorage for reloads and
 * removed from the address bar, so it does not end up in bookmarks, screenshots or the history.
 */

import type { Dim, Spec } from "./model/spec";

const TOKEN_KEY = "onnxbridge-studio-token";

/** Take the token from the URL (once) or from sessionStorage; strip it from the address bar. */
export function takeToken(): string | null {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get("token");
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete("token");
    window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
    return fromUrl;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

/** An error the server answered with: its one-line message, the hint, the status, and the whole body. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly hint: string | null = null,
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

let token: string | null = null;
let onUnauthorized: (message: string) => void = () => {};

export function setToken(value: string | null): void {
  token = value;
}

export function onAuthError(handler: (message: string) => void): void {
  onUnauthorized = handler;
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}`, ...extra } : extra;
}

async function failure(res: Response): Promise<ApiError> {
  let body: Record<string, unknown> = {};
  try {
    body = await res.json();
  } catch {
    // not JSON: keep the status line
  }
  const message = typeof body.error === "string" ? body.error : `${res.status} ${res.statusText}`;
  const hint = typeof body.hint === "string" ? body.hint : null;
  if (res.status === 401) onUnauthorized(message);
  return new ApiError(message, res.status, hint, body);
}

async function call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }),
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

// ---------------------------------------------------------------------------------------------------------
// answers

export interface CatalogueParam {
  name: string;
  required: boolean;
  default: unknown;
  description: string;
}

export interface CatalogueEntry {
  type: string;
  family: string;
  kind: "layer" | "block";
  description: string;
  min_inputs: number;
  max_inputs: number | null;
  params: CatalogueParam[];
  /** Built-in blocks: the layers they expand to, generated for `params` on inputs of `input_shapes`. */
  definition?: {
    params?: Record<string, unknown>;
    input_shapes?: Dim[][];
    inputs?: string[];
    layers: Spec["layers"];
    outputs?: string[];
  } | null;
}

export interface Catalogue {
  version: string;
  layers: CatalogueEntry[];
  schema: { $defs: Record<string, JsonSchema> } & JsonSchema;
  devices: string[];
}

export interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  pattern?: string;
  default?: unknown;
  description?: string;
  title?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  $ref?: string;
  [key: string]: unknown;
}

export interface LayerRow {
  id: string;
  type: string;
  depth: number;
  status: "ok" | "error" | "not inferred";
  output_shapes: Dim[][] | null;
  output_dtypes: string[] | null;
  params: number;
  error: string | null;
}

export interface ShapeSummary {
  name: string;
  ok: boolean;
  errors: string[];
  total_params: number;
  inputs: Record<string, { shape: Dim[]; dtype: string }>;
  outputs: Record<string, { shape: Dim[]; dtype: string } | null>;
  layers: LayerRow[];
}

export interface Diagnostic {
  code: string;
  level: "error" | "warning" | "suggestion";
  family: string;
  message: string;
  nodes: string[];
  tensors: string[];
  layers: string[];
  suggestion: string | null;
  fix: { id: string; description: string; changes_outputs: boolean } | null;
}

export interface Analysis {
  ok: boolean;
  summary: ShapeSummary | null;
  diagnostics: Diagnostic[];
  structure: { message: string; layers: string[] }[];
  notes?: string[];
  elapsed_ms: number;
}

export interface FixAnswer {
  spec: Spec;
  applied: { id: string; codes: string[]; description: string; applied: boolean; reason: string | null }[];
  analysis: Analysis;
}

export interface ParityCheck {
  hop: string;
  ok: boolean;
  max_abs: number | null;
  summary: string;
}

export interface ExportAnswer {
  target: Target;
  ok: boolean;
  files: string[];
  checks: ParityCheck[];
  notes: string[];
  download: string;
}

export interface WorkspaceFile {
  path: string;
  kind: "spec" | "onnx" | "torch" | "keras" | "savedmodel" | "other";
  size: number;
  mtime: number;
}

export interface Opened {
  spec: Spec;
  /** The spec's workspace path (for an imported model: a free name beside it, not written yet). */
  path: string;
  version: string | null;
  kind: string;
  notes: string[];
  /** An imported model: the model file and the weights file written beside it. */
  source?: string;
  weights?: string;
}

export type Target = "onnx" | "torch" | "tensorflow";

// ---------------------------------------------------------------------------------------------------------
// routes

export const api = {
  catalogue: () => call<Catalogue>("GET", "/api/catalogue"),
  analyze: (spec: Spec, signal?: AbortSignal) => call<Analysis>("POST", "/api/analyze", { spec }, signal),
  fix: (spec: Spec, code: string, layers: string[]) => call<FixAnswer>("POST", "/api/fix", { spec, code, layers }),
  extractBlock: (spec: Spec, layers: string[], name: string) =>
    call<{ spec: Spec }>("POST", "/api/blocks/extract", { spec, layers, name }),
  initial: () => call<{ path: string | null; kind: string | null }>("GET", "/api/initial"),
  code: (spec: Spec, target: "torch" | "tensorflow", path: string | null) =>
    call<{ source: string; class_name: string }>("POST", "/api/code", { spec, target, path }),
  exportModel: (spec: Spec, target: Target, name: string, path: string | null) =>
    call<ExportAnswer>("POST", "/api/export", { spec, target, name, path }),
  files: () => call<{ files: WorkspaceFile[] }>("GET", "/api/files"),
  open: (path: string) => call<Opened>("POST", "/api/open", { path }),
  save: (path: string, spec: Spec, version: string | null, force = false) =>
    call<{ path: string; version: string; unconnected: string[]; warning: string | null }>("POST", "/api/save", { path, spec, version, force }),
  getSession: () => call<{ state: unknown }>("GET", "/api/session"),
  putSession: (state: unknown) => call<unknown>("PUT", "/api/session", { state }),
  netron: (body: { spec: Spec; path: string | null } | { path: string }) => call<{ url: string }>("POST", "/api/netron", body),

  async upload(file: File): Promise<{ path: string }> {
    const form = new FormData();
    form.append("file", file, file.name);
    const res = await fetch("/api/upload", { method: "POST", headers: headers(), body: form });
    if (!res.ok) throw await failure(res);
    return (await res.json()) as { path: string };
  },

  /** Fetch a workspace file (a folder comes as a zip) with the token and hand it to the browser to save. */
  async download(path: string): Promise<string> {
    const res = await fetch(`/api/download?path=${encodeURIComponent(path)}`, { headers: headers() });
    if (!res.ok) throw await failure(res);
    const blob = await res.blob();
    const disposition = res.headers.get("Content-Disposition") ?? "";
    const named = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
    const base = path.split("/").pop() || "download";
    const name = named ? decodeURIComponent(named[1]) : blob.type === "application/zip" && !base.endsWith(".zip") ? `${base}.zip` : base;
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    return name;
  },
};
