/**
 * Parameter forms generated from the spec's JSON Schema (`schema.$defs["Layer_<Type>"]`).
 *
 * Each property becomes a field (checkbox, choice, number or text) with its default, description and
 * whether it is required; what the user types is parsed (`3`, `3, 3`, `[3, 3]`, `same`, `$channels`) and
 * validated against the property's schema at once, with a message that says what is allowed.
 */

import type { JsonSchema } from "../api";
import { type Dim, IDENT, RESERVED_KEYS } from "./spec";

export type Widget = "checkbox" | "select" | "number" | "text";

export interface FieldDesc {
  name: string;
  label: string;
  description: string;
  required: boolean;
  hasDefault: boolean;
  default: unknown;
  widget: Widget;
  /** Choices for a select, or suggestions for a text field. */
  options: string[];
  schema: JsonSchema | null;
}

type Root = { $defs?: Record<string, JsonSchema> };

function resolve(schema: JsonSchema, root: Root): JsonSchema {
  let s = schema;
  for (let i = 0; i < 8 && s.$ref; i++) {
    const name = s.$ref.replace(/^#\/\$defs\//, "");
    const target = root.$defs?.[name];
    if (!target) break;
    s = { ...target, ...Object.fromEntries(Object.entries(s).filter(([k]) => k !== "$ref")) };
  }
  return s;
}

function alternatives(schema: JsonSchema, root: Root): JsonSchema[] {
  const s = resolve(schema, root);
  const alts = s.anyOf ?? s.oneOf;
  if (!alts) return [s];
  return alts.flatMap((a) => alternatives(a, root));
}

function typesOf(s: JsonSchema): string[] {
  if (Array.isArray(s.type)) return s.type;
  if (s.type) return [s.type];
  if (s.enum) return [...new Set(s.enum.map((v) => (v === null ? "null" : typeof v)))];
  if (s.const !== undefined) return [typeof s.const];
  return [];
}

/** The form fields of a layer type (its parameters), or null when the schema does not know the type. */
export function layerFields(schema: Root, type: string, inBlock = false): FieldDesc[] | null {
  const def = schema.$defs?.[`Layer_${type}`];
  if (!def || !def.properties) return null;
  // inside a block a value may also be a "$name" reference: validate against the block variant, while
  // widgets, defaults and descriptions come from the layer's own definition
  const blockDef = inBlock ? schema.$defs?.[`BlockLayer_${type}`] : undefined;
  const required = new Set(def.required ?? []);
  const fields: FieldDesc[] = [];
  for (const [name, prop] of Object.entries(def.properties)) {
    if ((RESERVED_KEYS as readonly string[]).includes(name)) continue;
    const field = fieldOf(name, prop, required.has(name), schema);
    const referable = blockDef?.properties?.[name];
    if (referable) {
      field.schema = referable;
      if (field.widget === "number") field.widget = "text";
    }
    fields.push(field);
  }
  return fields;
}

function fieldOf(name: string, prop: JsonSchema, required: boolean, root: Root): FieldDesc {
  const alts = alternatives(prop, root).filter((a) => !(a.type === "string" && a.pattern?.startsWith("^\\$")));
  const nonNull = alts.filter((a) => !typesOf(a).every((t) => t === "null"));
  let widget: Widget = "text";
  let options: string[] = [];
  if (nonNull.length === 1) {
    const only = nonNull[0];
    const t = typesOf(only);
    if (t.length === 1 && t[0] === "boolean") widget = "checkbox";
    else if (only.enum) {
      widget = "select";
      options = only.enum.map(String);
    } else if (t.length === 1 && (t[0] === "integer" || t[0] === "number")) widget = "number";
  } else {
    options = nonNull.flatMap((a) => (a.enum ? a.enum.map(String) : []));
  }
  const hasDefault = "default" in prop;
  return {
    name,
    label: name,
    description: prop.description ?? "",
    required,
    hasDefault,
    default: prop.default,
    widget,
    options,
    schema: prop,
  };
}

/** Fields of an instance of a block defined in the spec: its params, null defaults being required. */
export function blockFields(params: Record<string, unknown> | undefined): FieldDesc[] {
  return Object.entries(params ?? {}).map(([name, def]) => ({
    name,
    label: name,
    description: def === null ? "required block parameter" : `block parameter (default ${formatValue(def)})`,
    required: def === null,
    hasDefault: def !== null,
    default: def,
    widget: typeof def === "boolean" ? "checkbox" : "text",
    options: [],
    schema: null,
  }));
}

// ---------------------------------------------------------------------------------------------------------
// values

/** How a value is shown in a text field: `3`, `3, 3`, `same`. */
export function formatValue(value: unknown): string {
  if (value === undefined) return "";
  if (value === null) return "null";
  if (Array.isArray(value)) return value.map(formatValue).join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function scalar(text: string): unknown {
  const t = text.trim();
  if (/^[-+]?\d+$/.test(t)) return Number(t);
  if (/^[-+]?(\d+\.\d*|\.\d+|\d+)(e[-+]?\d+)?$/i.test(t)) return Number(t);
  if (t === "true" || t === "True") return true;
  if (t === "false" || t === "False") return false;
  if (t === "null" || t === "None" || t === "~") return null;
  return t.replace(/^(['"])(.*)\1$/, "$2");
}

/** The candidate values a text can mean, the most natural first. */
function readings(text: string): unknown[] {
  const t = text.trim();
  const out: unknown[] = [];
  if (t.startsWith("{") && t.endsWith("}")) {
    try {
      out.push(JSON.parse(t)); // an object (an ONNX op's attributes, say) is written as JSON
    } catch {
      // not JSON: only the plain text reading is left
    }
  } else if (t.startsWith("[") && t.endsWith("]")) {
    try {
      out.push(JSON.parse(t));
    } catch {
      const inner = t.slice(1, -1).trim();
      out.push(inner ? inner.split(",").map(scalar) : []);
    }
  } else if (t.includes(",")) {
    out.push(t.split(",").filter((p) => p.trim() !== "").map(scalar));
  } else {
    out.push(scalar(t));
  }
  if (!out.some((v) => v === t)) out.push(t); // the text as a plain string, last
  return out;
}

export type Parsed = { ok: true; value: unknown } | { ok: false; error: string };

/**
 * Parse what the user typed for `field`. An empty text unsets the parameter (its default applies), which
 * is an error only for a required parameter without a default.
 */
export function parseField(text: string, field: FieldDesc, root: Root, allowParamRef = false): Parsed {
  if (text.trim() === "") {
    if (field.required && !field.hasDefault) return { ok: false, error: "required" };
    return { ok: true, value: undefined };
  }
  if (allowParamRef && /^\$[A-Za-z_][A-Za-z0-9_]*$/.test(text.trim())) return { ok: true, value: text.trim() };
  const candidates = readings(text);
  if (!field.schema) return { ok: true, value: candidates[0] };
  for (const value of candidates) {
    if (validate(value, field.schema, root) === null) return { ok: true, value };
  }
  return { ok: false, error: validate(candidates[0], field.schema, root) ?? "invalid value" };
}

/** Null when `value` satisfies `schema`, else what is wrong, in words. */
export function validate(value: unknown, schema: JsonSchema, root: Root): string | null {
  const s = resolve(schema, root);
  const alts = s.anyOf ?? s.oneOf;
  if (alts) {
    for (const a of alts) if (validate(value, a, root) === null) return null;
    return `expected ${describe(s, root)}`;
  }
  if (s.const !== undefined && value !== s.const) return `expected ${JSON.stringify(s.const)}`;
  if (s.enum && !s.enum.some((e) => e === value)) return `expected one of ${s.enum.map(String).join(", ")}`;
  const types = typesOf(s);
  if (types.length && !types.some((t) => hasType(value, t))) return `expected ${describe(s, root)}`;
  if (typeof value === "number") {
    if (s.minimum !== undefined && value < s.minimum) return `must be at least ${s.minimum}`;
    if (s.maximum !== undefined && value > s.maximum) return `must be at most ${s.maximum}`;
    if (s.exclusiveMinimum !== undefined && value <= s.exclusiveMinimum) return `must be greater than ${s.exclusiveMinimum}`;
    if (s.exclusiveMaximum !== undefined && value >= s.exclusiveMaximum) return `must be less than ${s.exclusiveMaximum}`;
  }
  if (typeof value === "string" && s.pattern && !new RegExp(s.pattern).test(value)) return `does not match ${s.pattern}`;
  if (Array.isArray(value)) {
    if (s.minItems !== undefined && value.length < s.minItems) return `needs at least ${s.minItems} item(s)`;
    if (s.maxItems !== undefined && value.length > s.maxItems) return `takes at most ${s.maxItems} item(s)`;
    if (s.items) {
      for (let i = 0; i < value.length; i++) {
        const err = validate(value[i], s.items, root);
        if (err) return `item ${i + 1}: ${err}`;
      }
    }
  }
  return null;
}

function hasType(value: unknown, t: string): boolean {
  switch (t) {
    case "integer": return typeof value === "number" && Number.isInteger(value);
    case "number": return typeof value === "number" && Number.isFinite(value);
    case "string": return typeof value === "string";
    case "boolean": return typeof value === "boolean";
    case "array": return Array.isArray(value);
    case "object": return typeof value === "object" && value !== null && !Array.isArray(value);
    case "null": return value === null;
    default: return true;
  }
}

/** `an integer > 0`, `an integer or a list of integers`, `one of same, valid`. */
export function describe(schema: JsonSchema, root: Root): string {
  const s = resolve(schema, root);
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return alts.map((a) => describe(a, root)).filter((d) => d !== "null").join(" or ") || "null";
  if (s.enum) return `one of ${s.enum.map(String).join(", ")}`;
  const t = typesOf(s)[0];
  const bounds: string[] = [];
  if (s.exclusiveMinimum !== undefined) bounds.push(`> ${s.exclusiveMinimum}`);
  if (s.minimum !== undefined) bounds.push(`>= ${s.minimum}`);
  if (s.exclusiveMaximum !== undefined) bounds.push(`< ${s.exclusiveMaximum}`);
  if (s.maximum !== undefined) bounds.push(`<= ${s.maximum}`);
  const b = bounds.length ? " " + bounds.join(" and ") : "";
  switch (t) {
    case "integer": return `an integer${b}`;
    case "number": return `a number${b}`;
    case "boolean": return "true or false";
    case "string": return s.pattern?.startsWith("^\\$") ? "a $parameter" : "text";
    case "null": return "null";
    case "array": return `a list of ${s.items ? plural(describe(s.items, root)) : "values"}`;
    default: return "a value";
  }
}

function plural(d: string): string {
  return d.replace(/^an? (integer|number)/, "$1s");
}

// ---------------------------------------------------------------------------------------------------------
// inputs

/** Parse a shape typed as `batch, 1, 8, 8` (or `[batch, 1, 8, 8]`). */
export function parseShape(text: string): { ok: true; value: Dim[] } | { ok: false; error: string } {
  const inner = text.trim().replace(/^\[/, "").replace(/\]$/, "");
  const parts = inner.split(/[,×]/).map((p) => p.trim()).filter((p) => p !== "");
  if (!parts.length) return { ok: false, error: "give at least one dimension, e.g. batch, 3, 32, 32" };
  const dims: Dim[] = [];
  for (const p of parts) {
    if (/^\d+$/.test(p)) {
      const n = Number(p);
      if (n < 1) return { ok: false, error: `dimension ${p} must be a positive integer or a name like batch` };
      dims.push(n);
    } else if (IDENT.test(p)) dims.push(p);
    else return { ok: false, error: `dimension ${JSON.stringify(p)} must be a positive integer or a name like batch` };
  }
  return { ok: true, value: dims };
}

/** A value typed without a schema to check it against: `3` -> 3, `3, 3` -> [3, 3], `same` -> "same". */
export function parseLoose(text: string): unknown {
  if (text.trim() === "") return undefined;
  return readings(text)[0];
}
