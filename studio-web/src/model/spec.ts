/**
 * The spec document as plain JSON, exactly what a YAML spec file holds (see docs/spec-format.md).
 *
 * The studio never reshapes the document: unknown keys are kept, key order is kept, so a file opened and
 * saved unchanged comes back byte for byte the same through the server's YAML writer.
 */

export type Dim = number | string;

export interface InputSpec {
  name: string;
  shape: Dim[];
  dtype?: string;
  description?: string;
  [key: string]: unknown;
}

export interface OutputSpec {
  name: string;
  from: string;
}

/** A layer or block instance: id, type, optional input refs, device, description, and parameters. */
export interface LayerSpec {
  id: string;
  type: string;
  input?: string | string[];
  inputs?: string | string[];
  device?: string;
  description?: string;
  [param: string]: unknown;
}

export interface BlockSpec {
  description?: string;
  params?: Record<string, unknown>;
  inputs?: string[];
  layers: LayerSpec[];
  outputs?: string[];
  [key: string]: unknown;
}

export interface Spec {
  name?: string;
  description?: string;
  inputs: InputSpec[];
  layers: LayerSpec[];
  outputs?: (string | OutputSpec)[];
  blocks?: Record<string, BlockSpec>;
  [key: string]: unknown;
}

/** Keys of a layer that are not parameters of its type. */
export const RESERVED_KEYS = ["id", "type", "input", "inputs", "device", "description"] as const;

export const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The parameters of a layer (every key but id/type/input/inputs/device/description). */
export function layerParams(layer: LayerSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(layer)) {
    if (!(RESERVED_KEYS as readonly string[]).includes(k)) out[k] = v;
  }
  return out;
}

/** A reference `id` or `id:N` split into the producer and the output index. */
export function parseRef(ref: string): { producer: string; index: number } {
  const colon = ref.indexOf(":");
  if (colon < 0) return { producer: ref, index: 0 };
  const index = Number(ref.slice(colon + 1));
  return { producer: ref.slice(0, colon), index: Number.isFinite(index) ? index : 0 };
}

export function formatRef(producer: string, index: number): string {
  return index > 0 ? `${producer}:${index}` : producer;
}

/** The layer's input refs as written (`input` or `inputs`, a string or a list), or null when omitted. */
export function inputRefs(layer: LayerSpec): string[] | null {
  const raw = layer.inputs !== undefined ? layer.inputs : layer.input;
  if (raw === undefined || raw === null) return null;
  return Array.isArray(raw) ? raw.map(String) : [String(raw)];
}

/** `[batch, 16, 4, 4]`, as the command line prints shapes. */
export function formatShape(shape: readonly Dim[] | null | undefined): string {
  if (!shape) return "?";
  return "[" + shape.map(String).join(", ") + "]";
}

/**
 * `text` cut to at most `max` characters, ending in an ellipsis when it was longer (for labels drawn in SVG,
 * where CSS cannot do it; the whole text then goes into the label's tooltip).
 */
export function clipText(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : chars.slice(0, Math.max(1, max - 1)).join("") + "…";
}

/** A fresh id `base`, `base_1`, `base_2`... not in `taken`. */
export function uniqueId(base: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  let clean = base.replace(/[^A-Za-z0-9_]/g, "_");
  if (!/^[A-Za-z_]/.test(clean)) clean = "_" + clean;
  if (!used.has(clean)) return clean;
  for (let i = 1; ; i++) {
    const candidate = `${clean}_${i}`;
    if (!used.has(candidate)) return candidate;
  }
}

/** A short id stem for a layer type: Conv2d -> conv, BatchNorm2d -> bn, Linear -> fc. */
export function idStem(type: string): string {
  const known: Record<string, string> = {
    Conv1d: "conv", Conv2d: "conv", Conv3d: "conv", ConvTranspose1d: "deconv", ConvTranspose2d: "deconv",
    BatchNorm1d: "bn", BatchNorm2d: "bn", LayerNorm: "ln", GroupNorm: "gn", Linear: "fc",
    MaxPool1d: "pool", MaxPool2d: "pool", AvgPool1d: "pool", AvgPool2d: "pool", GlobalAvgPool: "gap",
    GlobalMaxPool: "gmp", MultiHeadAttention: "attn", Embedding: "embed", Dropout: "dropout",
    LeakyReLU: "lrelu", ConvBNAct: "conv_bn", StackedRNN: "rnn", SimpleRNN: "rnn", ResidualBlock: "res",
    TransformerEncoderBlock: "encoder", LogSoftmax: "log_softmax",
  };
  if (known[type]) return known[type];
  // ReLU, GELU, LSTM: one word; BasicBlock: basic_block
  if (/[A-Z]{2}/.test(type)) return type.toLowerCase();
  return type.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
}

/** A deep copy of plain JSON data. */
export function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}
