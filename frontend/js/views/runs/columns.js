// The runs table's chosen columns as data: any config or summary key of the runs on screen, as a dotted key
// ("config.optimizer.lr", "summary.best_valid_acc"); their values and words (the API sorts by them). No DOM, so
// tests/browser/test_view_helpers.py calls them directly.

import { num } from "../../dom.js";
import { flatten, formatValue, shownConfig } from "../../spec.js";

export const SECTIONS = ["config", "summary"];
const IDENTITY = new Set(["name", "tags", "external"]); // a run's name and tags have columns of their own
const STORE_KEY = "trainboard.runs.cols";

/** A run's config (a built-in run's: the keys its architecture used) and summary as {"config.lr": 0.1, "summary.x": 0.9}. */
export function runValues(run) {
  const out = {};
  for (const [key, value] of Object.entries(flatten(shownConfig(run)))) {
    if (!IDENTITY.has(key)) out[`config.${key}`] = value;
  }
  for (const [key, value] of Object.entries(flatten(run.summary || {}))) out[`summary.${key}`] = value;
  return out;
}

/** Every config and summary key present in these runs, config first, each section in A→Z order. */
export function discoverKeys(runs) {
  const keys = new Set();
  for (const run of runs) for (const key of Object.keys(runValues(run))) if (isColumnKey(key)) keys.add(key);
  return [...keys].sort((a, b) => sectionRank(a) - sectionRank(b) || a.localeCompare(b, "en", { numeric: true }));
}

const sectionRank = (key) => SECTIONS.indexOf(key.split(".")[0]);

/** "config.x" or "summary.x"; no comma, since the URL lists the columns separated by commas. */
export function isColumnKey(key) {
  return typeof key === "string" && /^(config|summary)\.[^,]+$/.test(key) && key.length <= 200;
}

/** The URL's `cols=config.lr,summary.best_acc` → the keys, each once, in order; anything else is dropped. */
export function parseColumns(text) {
  return [...new Set(String(text || "").split(",").map((s) => s.trim()).filter(isColumnKey))];
}

/** The columns a page opens with: the URL's when it names any (`cols` present), else the last choice made here. */
export function initialColumns(query, stored) {
  return parseColumns("cols" in query ? query.cols : stored);
}

/** What a cell shows: numbers as the table's other numbers, lists and mappings compact, nothing as "—". */
export function cellText(value) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "number") return num(value);
  if (typeof value === "boolean") return String(value);
  if (typeof value === "string") return value;
  return formatValue(value);
}

/** The header of a column: its key without the section ("optimizer.lr"); the section is in `columnTitle`. */
export function columnLabel(key) {
  return key.slice(key.indexOf(".") + 1);
}

export function columnTitle(key) {
  const [section] = key.split(".");
  return `${columnLabel(key)} (${section === "config" ? "config" : "summary"} key ${key})`;
}

/** Whether a column's values are mostly numbers (right-aligned, mono). */
export function numericColumn(runs, key) {
  const values = runs.map((run) => runValues(run)[key]).filter((v) => v !== undefined && v !== null);
  return values.length > 0 && values.every((v) => typeof v === "number");
}

/** The last choice of columns, kept across reloads and visits to a plain #/runs. */
export const columnStore = {
  read() {
    try {
      return localStorage.getItem(STORE_KEY) || "";
    } catch {
      return "";
    }
  },
  write(cols) {
    try {
      localStorage.setItem(STORE_KEY, cols.join(","));
    } catch {
      // storage refused (private mode): the URL still holds the choice
    }
  },
};
