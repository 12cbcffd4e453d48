// From the launch form's model to the request (a run, or a sweep when a field has several values) and from the
// API's 422 back to the field it names. No DOM, so tests/browser/test_view_helpers.py calls them directly.

import { setDotted } from "../../spec.js";
import { FIELDS, FIELD_KEYS, isBlank, visible } from "./fields.js";

export const MAX_SWEEP_RUNS = 256; // the API's limit, said before launching

/** {kind: "run", body: spec} or {kind: "sweep", body: {name, base, grid}}; fields that do not apply are left out. */
export function buildRequest(model, gridMode) {
  const base = {};
  const grid = {};
  for (const field of FIELDS) {
    if (!visible(field, model)) continue;
    const values = model[field.key];
    if (!values.length) continue;
    if (gridMode && field.grid && values.length > 1) {
      grid[field.key] = values;
      continue;
    }
    const value = values[0];
    if (field.key === "name" && isBlank(value)) continue;
    if (field.optional && isBlank(value)) continue;
    if ((field.key === "tags" || field.key === "dropout_schemes") && isBlank(value)) continue;
    setDotted(base, field.key, value);
  }
  if (Object.keys(grid).length) {
    const name = base.name || "sweep";
    delete base.name; // each run of a sweep is named after the sweep and its values
    return { kind: "sweep", body: { name, base, grid } };
  }
  return { kind: "run", body: base };
}

/** How many runs a request launches (the grid's cartesian product) and its factors ("3 optimizer.lr"). */
export function runCount({ kind, body }) {
  if (kind !== "sweep") return { n: 1, factors: [] };
  const grid = Object.entries(body.grid);
  return { n: grid.reduce((p, [, v]) => p * v.length, 1), factors: grid.map(([k, v]) => `${v.length} ${k}`) };
}

/** The form field a FastAPI error location points at, e.g. ["body","optimizer","lr"] → "optimizer.lr". */
export function fieldFor(detail) {
  let parts = (detail.loc || []).map(String).filter((p) => p !== "body");
  if (parts[0] === "base") parts = parts.slice(1);
  if (parts[0] === "grid" && parts.length > 1) parts = parts[1].split(".").concat(parts.slice(2));
  for (let n = parts.length; n > 0; n--) {
    const key = parts.slice(0, n).join(".");
    if (FIELD_KEYS.includes(key)) return key;
  }
  // a model-level message names its field in the text ("model.arch 'vgg' takes ...")
  const msg = String(detail.msg || "");
  let best = null;
  for (const key of FIELD_KEYS) {
    const at = msg.search(new RegExp(`(^|[^\\w.])${key.replace(/\./g, "\\.")}(?![\\w])`));
    if (at >= 0 && (best === null || at < best.at || (at === best.at && key.length > best.key.length))) best = { key, at };
  }
  return best ? best.key : null;
}

/**
 * An error's message as shown under its field, without pydantic's "Value error, " prefix and naming the value it
 * refused when that is a single value: "'abc': Input should be a valid integer".
 */
export function errorMessage(detail) {
  const msg = String(detail.msg || "invalid").replace(/^Value error, /, "");
  const input = detail.input;
  const value = typeof input === "string" ? `'${input}'` : typeof input === "number" || typeof input === "boolean" ? String(input) : null;
  return value === null ? msg : `${value}: ${msg}`;
}
