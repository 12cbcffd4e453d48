// The launch form's fields and its model (every field holds a list of values: one in single mode, several in
// grid mode). No DOM, so tests/browser/test_view_helpers.py calls them directly.

const ARCHS = ["mlp", "cnn", "vgg"];
// The built-in loop's datasets (trainboard/spec.py BUILTIN_DATASETS); "folder:NAME" is any image folder.
export const DATASETS = ["mnist", "fashion-mnist", "cifar10", "dogs-vs-cats"];
export const DATASET_LABELS = {
  mnist: "mnist (28×28 digits)",
  "fashion-mnist": "fashion-mnist (28×28 garments)",
  cifar10: "cifar10 (32×32 RGB, 10 classes)",
  "dogs-vs-cats": "dogs-vs-cats (RGB at image size)",
};
export const FOLDER_PREFIX = "folder:";
export const BLOCK_NAMES = ["shallow", "shallow-fat", "deep"];
export const BLOCK_FILTERS = { shallow: "16-32-64", "shallow-fat": "32-64-128", deep: "32-64-128-64-32" };

// Relevance: a field shows when any value of the form could use it.
const hasArch = (m, arch) => m["model.arch"].includes(arch);
const usesDropout = (m) => hasArch(m, "mlp") || (hasArch(m, "cnn") && m["model.norm"].includes("dropout"));
const resized = (m) => m.dataset.some((d) => d === "dogs-vs-cats" || String(d).startsWith(FOLDER_PREFIX));
const mlpDropout = (m) => hasArch(m, "mlp") && m["model.dropout"].some((p) => Number(p) > 0);

/**
 * kind: text | tags | select | number | list | blocks | bool
 * grid: whether the field takes several values in grid mode
 * optional: blank means "none" (null)
 * range {gt, ge, lt, le}, int: what a number may be; list fields: item (each number's rules) and count (how many);
 * noun: how a message names the field (default: its label). These mirror trainboard/spec.py: the API checks again.
 */
export const FIELDS = [
  { key: "name", label: "Name", kind: "text", section: "run", maxLength: 200, placeholder: "e.g. fig1 weight decay", hint: "shown in the runs table; empty: architecture-dataset" },
  { key: "tags", label: "Tags", kind: "tags", section: "run", maxLength: 64, maxItems: 32, placeholder: "fig1, baseline", hint: "comma-separated" },
  { key: "dataset", label: "Dataset", kind: "dataset", section: "model", options: DATASETS, labels: DATASET_LABELS, grid: true, hint: "an image folder: $TRAINBOARD_DATA_DIR/NAME/{train,test}/<class>/*.jpg" },
  { key: "image_size", label: "Image size (px)", kind: "number", section: "model", grid: true, int: true, range: { ge: 8, le: 256 }, noun: "the image size", optional: true, placeholder: "64", when: resized, hint: "images are resized to this square; blank: 64" },
  { key: "model.arch", label: "Architecture", kind: "select", section: "model", options: ARCHS, grid: true, labels: { mlp: "mlp (fully connected)", cnn: "cnn (MNIST conv net)", vgg: "vgg (DeepBoi conv blocks)" } },
  { key: "model.hidden", label: "Hidden sizes", kind: "list", section: "model", grid: true, when: (m) => hasArch(m, "mlp"), item: { int: true, range: { ge: 1, le: 8192 }, noun: "a hidden size" }, count: { min: 1, max: 8, noun: "hidden sizes" }, placeholder: "800, 800", hint: "units per hidden layer" },
  { key: "model.norm", label: "Conv regularizer", kind: "select", section: "model", options: ["batchnorm", "dropout"], grid: true, when: (m) => hasArch(m, "cnn") },
  { key: "model.blocks", label: "Conv blocks", kind: "blocks", section: "model", grid: true, when: (m) => hasArch(m, "vgg") },
  { key: "model.dropout", label: "Dropout p", kind: "number", section: "model", grid: true, when: usesDropout, range: { ge: 0, lt: 1 }, noun: "dropout p", hint: "0 = none; cnn with dropout: 0 means 0.5" },
  { key: "init", label: "Weight init", kind: "select", section: "model", options: ["zero", "normal", "glorot"], grid: true },
  { key: "optimizer.name", label: "Optimizer", kind: "select", section: "optim", options: ["sgd", "momentum", "adam"], grid: true, labels: { sgd: "SGD", momentum: "SGD + momentum 0.9", adam: "Adam" } },
  { key: "optimizer.lr", label: "Learning rate", kind: "number", section: "optim", grid: true, range: { gt: 0, le: 10 } },
  { key: "optimizer.weight_decay", label: "Weight decay (L2)", kind: "number", section: "optim", grid: true, range: { ge: 0, le: 1 } },
  { key: "batch_size", label: "Batch size", kind: "number", section: "optim", grid: true, int: true, range: { ge: 1, le: 4096 } },
  { key: "epochs", label: "Epochs", kind: "number", section: "optim", grid: true, int: true, range: { ge: 1, le: 1000 } },
  { key: "early_stopping.patience", label: "Early-stopping patience", kind: "number", section: "optim", grid: true, int: true, range: { ge: 1, le: 1000 }, optional: true, placeholder: "none", hint: "epochs without a better valid accuracy" },
  { key: "seed", label: "Seed", kind: "number", section: "exec", grid: true, int: true, range: { ge: 0, le: 2 ** 31 - 1 } },
  { key: "device", label: "Device", kind: "select", section: "exec", options: ["auto", "cpu", "cuda"], grid: true },
  { key: "limit_train", label: "Limit training examples", kind: "number", section: "exec", grid: true, int: true, range: { ge: 1 }, noun: "the training-examples limit", optional: true, placeholder: "all", hint: "for quick runs" },
  { key: "dropout_schemes", label: "Dropout schemes N (fig3)", kind: "list", section: "eval", grid: true, when: mlpDropout, item: { int: true, range: { ge: 1, le: 1000 }, noun: "N" }, count: { min: 0, max: 100, noun: "values of N" }, placeholder: "10, 20, …, 100", hint: "masks averaged at evaluation; needs an mlp with dropout", preset: "10,20,30,40,50,60,70,80,90,100" },
  { key: "n_misclassified", label: "Misclassified images kept", kind: "number", section: "eval", grid: true, int: true, range: { ge: 0, le: 400 }, noun: "the number of images" },
  { key: "valid_fraction", label: "Validation fraction", kind: "number", section: "eval", grid: true, range: { gt: 0, lt: 1 } },
  { key: "augment", label: "Augment training images", kind: "bool", section: "eval" },
  { key: "external", label: "External run (no worker: my script posts its metrics)", kind: "bool", section: "eval" },
];
export const FIELD_KEYS = FIELDS.map((f) => f.key);
export const SECTIONS = [
  ["run", "Run"],
  ["model", "Data and model"],
  ["optim", "Optimization"],
  ["exec", "Execution"],
  ["eval", "Evaluation and more"],
];

const DEFAULTS = {
  name: "",
  tags: [],
  dataset: "mnist",
  image_size: null,
  "model.arch": "mlp",
  "model.hidden": [800, 800],
  "model.dropout": 0,
  "model.norm": "batchnorm",
  "model.blocks": "deep",
  init: "glorot",
  "optimizer.name": "sgd",
  "optimizer.lr": 0.02,
  "optimizer.weight_decay": 0,
  batch_size: 64,
  epochs: 10,
  "early_stopping.patience": null,
  seed: 0,
  device: "auto",
  limit_train: null,
  dropout_schemes: [],
  n_misclassified: 36,
  valid_fraction: 0.1,
  augment: false,
  external: false,
};

/** The form's model: every field holds a list of values (one in single mode). */
export function defaultModel() {
  return Object.fromEntries(FIELD_KEYS.map((key) => [key, [DEFAULTS[key]]]));
}

/** The model of a run's spec, a grid's lists replacing the single values they vary. */
export function modelFromSpec(spec, grid = {}) {
  const model = defaultModel();
  for (const key of FIELD_KEYS) {
    let node = spec;
    for (const part of key.split(".")) node = node && typeof node === "object" ? node[part] : undefined;
    if (node !== undefined) model[key] = [node];
    if (Array.isArray(grid[key]) && grid[key].length) model[key] = [...grid[key]];
  }
  return model;
}

/** A model saved in the session: known keys with at least one value; anything else keeps its default. */
export function restoredModel(saved) {
  const restored = Object.entries(saved).filter(([key, values]) => FIELD_KEYS.includes(key) && Array.isArray(values) && values.length);
  return { ...defaultModel(), ...Object.fromEntries(restored) };
}

/** Whether a field applies to the model (e.g. hidden sizes only with an mlp). */
export function visible(field, model) {
  return !field.when || field.when(model);
}

// ---- values → text (text → values and problems: validate.js) -------------------------------------------------
export function listText(value) {
  return Array.isArray(value) ? value.join(", ") : value === null || value === undefined ? "" : String(value);
}

export function isBlank(value) {
  return value === "" || value === null || value === undefined || (Array.isArray(value) && value.length === 0);
}
