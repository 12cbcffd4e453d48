// The launch form's command mode without the DOM: its model (the command line, the config as key/value rows or
// as JSON, device, GPUs, name, tags), what the model means (the argument list, the config, a grid over config
// keys and every problem, by field) and the request it sends. tests/browser/test_view_helpers.py calls these.

import { joinCommand, missingPlaceholders, splitCommand } from "../../command.js";
import { flatten, setDotted } from "../../spec.js";
import { isBlank } from "./fields.js";
import { splitOn } from "./validate.js";

export const COMMAND_KEYS = ["name", "tags", "command", "config", "device", "gpus"];
const KEY = /^[\w-]+(\.[\w-]+)*$/;
const DEVICES = ["auto", "cpu", "cuda"];

/** A fresh command-mode model: name, tags, device and gpus hold value lists, as the built-in fields do. */
export function defaultCommandModel() {
  return {
    name: [""],
    tags: [[]],
    command: "python train.py --lr {lr} --epochs {epochs}",
    rows: [
      { key: "lr", text: "0.1" },
      { key: "epochs", text: "3" },
    ],
    json: false,
    jsonText: "",
    device: ["auto"],
    gpus: [0],
  };
}

/** A value's text → the value: JSON where it parses (0.1, true, [1, 2], "0.1"), else the text itself. */
export function parseConfigValue(text) {
  const trimmed = String(text).trim();
  try {
    return JSON.parse(trimmed);
  } catch {
    return trimmed;
  }
}

/** A value → its text in a row: a string as it is unless it would read back as something else ("0.1", "a,b"). */
export function valueText(value, multi = false) {
  if (typeof value !== "string") return JSON.stringify(value);
  const plain = parseConfigValue(value) === value && !(multi && /[,"'[\]{}]/.test(value));
  return plain ? value : JSON.stringify(value);
}

/** A config (and a grid of several values per dotted key) → rows {key, text}. */
export function rowsFromConfig(config, grid = {}) {
  const flat = flatten(config || {});
  for (const key of Object.keys(grid)) if (!(key in flat)) flat[key] = grid[key][0];
  return Object.entries(flat).map(([key, value]) => {
    const values = Array.isArray(grid[key]) && grid[key].length ? grid[key] : [value];
    return { key, text: values.map((v) => valueText(v, values.length > 1)).join(", ") };
  });
}

/**
 * Rows → {config, grid, problems}: a row with several comma-separated values (grid mode) puts its first in the
 * config and all of them in the grid. Blank rows are skipped; each problem names its key.
 */
export function configFromRows(rows, multi = false) {
  const config = {};
  const grid = {};
  const problems = [];
  const keys = [];
  for (const row of rows || []) {
    const key = String(row.key ?? "").trim();
    const text = String(row.text ?? "");
    if (!key && !text.trim()) continue;
    if (!key) {
      problems.push(`a key is needed for the value '${text.trim()}'`);
      continue;
    }
    if (!KEY.test(key)) problems.push(`'${key}' is not a dotted key (letters, digits, _ and -, parts joined by dots)`);
    else if (keys.includes(key)) problems.push(`'${key}' is given twice`);
    if (!text.trim()) problems.push(`${key}: a value is needed (write "" for an empty string)`);
    const split = multi ? splitOn(text, ",", "value", { nested: true }) : { tokens: [text.trim()], problems: [] };
    problems.push(...split.problems.map((p) => `${key}: ${p}`));
    if (!KEY.test(key) || keys.includes(key) || !split.tokens.length) continue;
    keys.push(key);
    const values = split.tokens.map(parseConfigValue);
    setDotted(config, key, values[0]);
    if (values.length > 1) grid[key] = values;
  }
  for (const key of keys) {
    const outer = keys.find((other) => key.startsWith(`${other}.`));
    if (outer) problems.push(`'${key}' is inside '${outer}', which has a value of its own`);
  }
  return { config, grid, problems };
}

/** The JSON editor's text → {config, problems}: it must be one JSON object (blank is {}). */
export function parseConfigJson(text) {
  if (!String(text).trim()) return { config: {}, problems: [] };
  let config;
  try {
    config = JSON.parse(text);
  } catch (error) {
    return { config: {}, problems: [`the JSON does not parse: ${error.message}`] };
  }
  if (!config || typeof config !== "object" || Array.isArray(config)) return { config: {}, problems: ['the config must be a JSON object, e.g. {"lr": 0.1}'] };
  return { config, problems: [] };
}

/** What the model means: {argv, config, grid, problems: {command: [...], config: [...]}}. */
export function commandState(model, gridMode) {
  const { argv, problems: commandProblems } = splitCommand(model.command);
  const parsed = model.json ? { ...parseConfigJson(model.jsonText), grid: {} } : configFromRows(model.rows, gridMode);
  const missing = missingPlaceholders(argv, parsed.config);
  return { argv, config: parsed.config, grid: parsed.grid, problems: { command: [...commandProblems, ...missing], config: parsed.problems } };
}

/** {kind: "run", body} or, when a config key has several values, {kind: "sweep", body: {name, base, grid}}. */
export function commandRequest(model, gridMode, state = commandState(model, gridMode)) {
  const base = {};
  if (!isBlank(model.name[0])) base.name = model.name[0];
  base.command = state.argv;
  base.config = state.config;
  base.device = model.device[0] ?? "auto";
  base.gpus = model.gpus[0] ?? 0;
  if (!isBlank(model.tags[0])) base.tags = model.tags[0];
  if (!gridMode || !Object.keys(state.grid).length) return { kind: "run", body: base };
  const name = base.name || "sweep";
  delete base.name; // each run of a sweep is named after the sweep and its values
  return { kind: "sweep", body: { name, base, grid: state.grid } };
}

/** The command-mode field a FastAPI error location points at: ["body", "command", 2] → "command". */
export function commandFieldFor(detail) {
  let parts = (detail.loc || []).map(String).filter((p) => p !== "body");
  if (parts[0] === "base") parts = parts.slice(1);
  if (parts[0] === "grid") return "config";
  return COMMAND_KEYS.includes(parts[0]) ? parts[0] : null;
}

/** Grid mode off: each row keeps its first value. */
export function firstValues(rows) {
  return rows.map((row) => {
    const { tokens } = splitOn(row.text, ",", "value", { nested: true });
    return { ...row, text: tokens.length > 1 ? tokens[0] : row.text };
  });
}

/** The device a run was queued for: its own field, its spec's, or its queue's name ("cmd-cuda", "cmd-cuda-2gpus"). */
function runDevice(run) {
  const named = run.device ?? (run.spec && run.spec.device) ?? String(run.queue || "").replace(/^cmd-/, "").replace(/-\d+gpus$/, "");
  return DEVICES.includes(named) ? named : "auto";
}

/** A command run → the model that launches it again (Clone). */
export function commandModelFromRun(run) {
  return {
    ...defaultCommandModel(),
    name: [run.name ? `${run.name} copy` : ""],
    tags: [run.tags ?? (run.spec && run.spec.tags) ?? []],
    command: joinCommand(run.command),
    rows: rowsFromConfig(run.config || {}),
    device: [runDevice(run)],
    gpus: [Number.isInteger(run.gpus) ? run.gpus : 0],
  };
}

/** A model saved in the session: each known part of the right shape, anything else at its default. */
export function restoredCommandModel(saved) {
  const model = defaultCommandModel();
  if (!saved || typeof saved !== "object") return model;
  for (const key of ["name", "tags", "device", "gpus"]) if (Array.isArray(saved[key]) && saved[key].length) model[key] = saved[key];
  if (typeof saved.command === "string") model.command = saved.command;
  if (Array.isArray(saved.rows)) model.rows = saved.rows.filter((r) => r && typeof r === "object").map((r) => ({ key: String(r.key ?? ""), text: String(r.text ?? "") }));
  model.json = saved.json === true;
  if (typeof saved.jsonText === "string") model.jsonText = saved.jsonText;
  return model;
}
