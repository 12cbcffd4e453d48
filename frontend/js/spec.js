// The run spec seen from the browser: flattening to dotted keys, diffs between runs, short labels.

/** {"optimizer": {"lr": 0.1}} → {"optimizer.lr": 0.1}; lists stay values. */
export function flatten(value, prefix = "", out = {}) {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (!keys.length && prefix) out[prefix] = {};
    for (const key of keys) flatten(value[key], prefix ? `${prefix}.${key}` : key, out);
  } else if (prefix) {
    out[prefix] = value;
  }
  return out;
}

// The model keys each architecture reads (worker/training/models.py); a spec carries the others at their defaults,
// unused. A cnn reads model.dropout only in its dropout variant.
const MODEL_KEYS = {
  mlp: ["model.arch", "model.hidden", "model.dropout"],
  cnn: ["model.arch", "model.norm", "model.dropout"],
  vgg: ["model.arch", "model.blocks"],
};

/** Whether a dotted key of the spec changes what the run does: model keys of another architecture do not. */
export function keyApplies(spec, key) {
  const model = (spec && spec.model) || {};
  if (key === "dropout_schemes") return model.arch === "mlp";
  if (key === "image_size") return spec.dataset === "dogs-vs-cats" || String(spec.dataset).startsWith("folder:");
  const used = MODEL_KEYS[model.arch];
  if (!key.startsWith("model.") || !used) return true;
  if (key === "model.dropout" && model.arch === "cnn") return model.norm === "dropout";
  return used.includes(key);
}

/** The spec as dotted keys, only those that applied to this run (what its config card lists). */
export function usedConfig(spec) {
  return Object.fromEntries(Object.entries(flatten(spec || {})).filter(([key]) => keyApplies(spec, key)));
}

/** A run's config: what its script sent, or a built-in run's spec (an older API's reply has only `spec`). */
export function runConfig(run) {
  return (run && (run.config ?? run.spec)) || {};
}

/**
 * A config without the keys that did not apply to a built-in run's architecture; a script's own config (its
 * run's spec has no model) is shown whole.
 */
export function shownConfig(run) {
  const config = runConfig(run);
  const model = run && run.spec && run.spec.model;
  if (!model || typeof model !== "object" || !model.arch) return config;
  const out = {};
  for (const [key, value] of Object.entries(usedConfig(config))) setDotted(out, key, value);
  return out;
}

export function getDotted(obj, dotted) {
  let node = obj;
  for (const part of dotted.split(".")) {
    if (!node || typeof node !== "object") return undefined;
    node = node[part];
  }
  return node;
}

export function setDotted(obj, dotted, value) {
  const parts = dotted.split(".");
  let node = obj;
  for (const part of parts.slice(0, -1)) {
    if (!node[part] || typeof node[part] !== "object") node[part] = {};
    node = node[part];
  }
  node[parts[parts.length - 1]] = value;
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// Keys that identify a run rather than configure it: never named in a legend.
const NOT_HYPERPARAMETERS = new Set(["name", "tags", "external"]);

/** The dotted keys whose values differ between the specs (in a stable, readable order). */
export function differingKeys(specs) {
  const flats = specs.map((s) => flatten(s || {}));
  const keys = new Set(flats.flatMap((f) => Object.keys(f)));
  const differing = [...keys].filter(
    (key) => !NOT_HYPERPARAMETERS.has(key) && flats.some((f) => !same(f[key], flats[0][key])),
  );
  return differing.sort((a, b) => keyRank(a) - keyRank(b) || a.localeCompare(b));
}

const ORDER = [
  "dataset",
  "image_size",
  "model.arch",
  "model.hidden",
  "model.blocks",
  "model.norm",
  "model.dropout",
  "init",
  "optimizer.name",
  "optimizer.lr",
  "optimizer.weight_decay",
  "batch_size",
  "epochs",
  "early_stopping.patience",
  "seed",
];
function keyRank(key) {
  const i = ORDER.indexOf(key);
  return i === -1 ? ORDER.length : i;
}

/** Short names for legends: "optimizer.weight_decay" → "weight_decay", "optimizer.name" → "optimizer". */
export function shortKey(key) {
  const leaf = key.split(".").pop();
  if (key === "optimizer.name") return "optimizer";
  if (key === "model.arch") return "arch";
  return leaf;
}

/** Each key's name in a legend: its short name, or the whole dotted key where two keys would share one. */
export function legendNames(keys) {
  const counts = new Map();
  for (const key of keys) counts.set(shortKey(key), (counts.get(shortKey(key)) || 0) + 1);
  return new Map(keys.map((key) => [key, counts.get(shortKey(key)) > 1 ? key : shortKey(key)]));
}

export function formatValue(value) {
  if (value === null || value === undefined) return "none";
  if (Array.isArray(value)) return `[${value.map(formatValue).join(",")}]`;
  if (typeof value === "number" && !Number.isInteger(value)) return String(Number(value.toPrecision(4)));
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** "lr=0.02, weight_decay=0.001" for a run's config, naming only the keys that differ. */
export function diffLabel(config, keys) {
  const names = legendNames(keys);
  const flat = flatten(config || {});
  return keys.map((key) => `${names.get(key)}=${formatValue(flat[key])}`).join(", ");
}

/** The hyperparameters the runs table shows. */
export function specSummary(spec) {
  const s = spec || {};
  return {
    dataset: s.dataset,
    arch: getDotted(s, "model.arch"),
    optimizer: getDotted(s, "optimizer.name"),
    lr: getDotted(s, "optimizer.lr"),
    weight_decay: getDotted(s, "optimizer.weight_decay"),
    batch_size: s.batch_size,
    epochs: s.epochs,
  };
}

/** "mlp 800-800", "cnn batchnorm", "vgg deep" */
export function archLabel(spec) {
  const model = (spec && spec.model) || {};
  if (model.arch === "mlp") return `mlp ${(model.hidden || []).join("-")}`;
  if (model.arch === "cnn") return `cnn ${model.norm || ""}`.trim();
  if (model.arch === "vgg") return `vgg ${Array.isArray(model.blocks) ? model.blocks.join("-") : model.blocks || ""}`;
  return model.arch || "—";
}
