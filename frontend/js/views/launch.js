// Launch view: a form for any run spec, with a grid mode (any field takes several values → POST /sweeps).

import { ApiError, errorText, getRun, post } from "../api.js";
import { h, toast } from "../dom.js";
import { loadPresets, presetLauncher } from "../presets.js";
import { navigate } from "../router.js";
import { setDotted } from "../spec.js";

const STORE_KEY = "trainboard.launch";
const GRID_HINT_LIST = "alternatives separated by |";

const ARCHS = ["mlp", "cnn", "vgg"];
const BLOCK_NAMES = ["shallow", "shallow-fat", "deep"];
const BLOCK_FILTERS = { shallow: "16-32-64", "shallow-fat": "32-64-128", deep: "32-64-128-64-32" };

// Relevance: a field shows when any value of the form could use it.
const hasArch = (m, arch) => m["model.arch"].includes(arch);
const usesDropout = (m) => hasArch(m, "mlp") || (hasArch(m, "cnn") && m["model.norm"].includes("dropout"));
const mlpDropout = (m) => hasArch(m, "mlp") && m["model.dropout"].some((p) => Number(p) > 0);

/**
 * kind: text | tags | select | number | list | blocks | bool
 * grid: whether the field takes several values in grid mode
 * optional: blank means "none" (null)
 */
const FIELDS = [
  { key: "name", label: "Name", kind: "text", section: "run", placeholder: "e.g. fig1 weight decay", hint: "shown in the runs table; empty: architecture-dataset" },
  { key: "tags", label: "Tags", kind: "tags", section: "run", placeholder: "fig1, baseline", hint: "comma-separated" },
  { key: "dataset", label: "Dataset", kind: "select", section: "model", options: ["mnist", "dogs-vs-cats"], grid: true },
  { key: "model.arch", label: "Architecture", kind: "select", section: "model", options: ARCHS, grid: true, labels: { mlp: "mlp (fully connected)", cnn: "cnn (MNIST conv net)", vgg: "vgg (DeepBoi, 64×64 RGB)" } },
  { key: "model.hidden", label: "Hidden sizes", kind: "list", section: "model", grid: true, when: (m) => hasArch(m, "mlp"), placeholder: "800, 800", hint: "units per hidden layer" },
  { key: "model.norm", label: "Conv regularizer", kind: "select", section: "model", options: ["batchnorm", "dropout"], grid: true, when: (m) => hasArch(m, "cnn") },
  { key: "model.blocks", label: "Conv blocks", kind: "blocks", section: "model", grid: true, when: (m) => hasArch(m, "vgg") },
  { key: "model.dropout", label: "Dropout p", kind: "number", section: "model", grid: true, when: usesDropout, hint: "0 = none; cnn with dropout: 0 means 0.5" },
  { key: "init", label: "Weight init", kind: "select", section: "model", options: ["zero", "normal", "glorot"], grid: true },
  { key: "optimizer.name", label: "Optimizer", kind: "select", section: "optim", options: ["sgd", "momentum", "adam"], grid: true, labels: { sgd: "SGD", momentum: "SGD + momentum 0.9", adam: "Adam" } },
  { key: "optimizer.lr", label: "Learning rate", kind: "number", section: "optim", grid: true },
  { key: "optimizer.weight_decay", label: "Weight decay (L2)", kind: "number", section: "optim", grid: true },
  { key: "batch_size", label: "Batch size", kind: "number", section: "optim", grid: true, int: true },
  { key: "epochs", label: "Epochs", kind: "number", section: "optim", grid: true, int: true },
  { key: "early_stopping.patience", label: "Early-stopping patience", kind: "number", section: "optim", grid: true, int: true, optional: true, placeholder: "none", hint: "epochs without a better valid accuracy" },
  { key: "seed", label: "Seed", kind: "number", section: "exec", grid: true, int: true },
  { key: "device", label: "Device", kind: "select", section: "exec", options: ["auto", "cpu", "cuda"], grid: true },
  { key: "limit_train", label: "Limit training examples", kind: "number", section: "exec", grid: true, int: true, optional: true, placeholder: "all", hint: "for quick runs" },
  { key: "dropout_schemes", label: "Dropout schemes N (fig3)", kind: "list", section: "eval", grid: true, when: mlpDropout, placeholder: "10, 20, …, 100", hint: "masks averaged at evaluation; needs an mlp with dropout", preset: "10,20,30,40,50,60,70,80,90,100" },
  { key: "n_misclassified", label: "Misclassified images kept", kind: "number", section: "eval", grid: true, int: true },
  { key: "valid_fraction", label: "Validation fraction", kind: "number", section: "eval", grid: true },
  { key: "augment", label: "Augment training images", kind: "bool", section: "eval" },
  { key: "external", label: "External run (no worker: my script posts its metrics)", kind: "bool", section: "eval" },
];
const FIELD_KEYS = FIELDS.map((f) => f.key);
const SECTIONS = [
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
function defaultModel() {
  return Object.fromEntries(FIELD_KEYS.map((key) => [key, [DEFAULTS[key]]]));
}

function modelFromSpec(spec, grid = {}) {
  const model = defaultModel();
  for (const key of FIELD_KEYS) {
    let node = spec;
    for (const part of key.split(".")) node = node && typeof node === "object" ? node[part] : undefined;
    if (node !== undefined) model[key] = [node];
    if (Array.isArray(grid[key]) && grid[key].length) model[key] = [...grid[key]];
  }
  return model;
}

// ---- parsing text into values --------------------------------------------------------------------------------
function parseScalar(token, field) {
  const text = token.trim();
  if (text === "" || /^(none|null)$/i.test(text)) return field.optional ? null : text;
  const n = Number(text);
  return text !== "" && Number.isFinite(n) ? n : text; // an unparsable string goes to the API, whose 422 names the field
}

function parseList(text) {
  const items = text.split(/[,\s]+/).filter(Boolean);
  return items.map((t) => (Number.isFinite(Number(t)) ? Number(t) : t));
}

function listText(value) {
  return Array.isArray(value) ? value.join(", ") : value === null || value === undefined ? "" : String(value);
}

function isBlank(value) {
  return value === "" || value === null || value === undefined || (Array.isArray(value) && value.length === 0);
}

export function cartesianSize(model, grid) {
  return FIELDS.filter((f) => grid && f.grid).reduce((n, f) => n * Math.max(1, model[f.key].length), 1);
}

export function mount(root, route) {
  let destroyed = false;
  let gridMode = route.query.grid === "1";
  let model = defaultModel();
  let busy = false;
  const widgets = new Map(); // key -> {wrap, error}

  try {
    const saved = JSON.parse(sessionStorage.getItem(STORE_KEY) || "null");
    if (saved && saved.model && !route.query.from) {
      const restored = Object.entries(saved.model).filter(([key, values]) => FIELD_KEYS.includes(key) && Array.isArray(values) && values.length);
      model = { ...defaultModel(), ...Object.fromEntries(restored) };
      gridMode = route.query.grid === "1" || Boolean(saved.grid);
    }
  } catch {
    /* ignore a broken saved form */
  }

  // ---- layout ----------------------------------------------------------------------------------------------
  const gridToggle = h("input", { type: "checkbox", checked: gridMode, name: "grid-mode", "aria-label": "Grid search" });
  gridToggle.addEventListener("change", () => {
    gridMode = gridToggle.checked;
    if (!gridMode) for (const key of FIELD_KEYS) model[key] = model[key].slice(0, 1);
    renderForm();
  });
  const formBanner = h("div", { class: "banner banner-error", hidden: true, role: "alert", dataset: { testid: "form-error" } });
  const sectionsEl = h("div", { class: "form-sections" });
  const countEl = h("div", { class: "run-count", dataset: { testid: "run-count" } });
  const preview = h("pre", { class: "spec-preview", dataset: { testid: "spec-preview" } });
  const launchButton = h("button", { type: "submit", class: "primary big", dataset: { testid: "launch" } }, "Launch");
  const resetButton = h(
    "button",
    {
      type: "button",
      onclick: () => {
        model = defaultModel();
        renderForm();
      },
    },
    "Reset to defaults",
  );
  const form = h(
    "form",
    { class: "launch-form", novalidate: true, autocomplete: "off" },
    h(
      "div",
      { class: "launch-main" },
      formBanner,
      sectionsEl,
    ),
    h(
      "aside",
      { class: "launch-side card" },
      h("label", { class: "switch" }, gridToggle, h("span", {}, "Grid search"), h("small", { class: "muted" }, "every field takes several values; one run per combination")),
      countEl,
      h("div", { class: "actions" }, launchButton, resetButton),
      h("details", { class: "preview" }, h("summary", {}, "Request body"), preview),
    ),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    launch();
  });
  const presetsEl = h("section", { class: "presets", hidden: true });
  root.append(
    h("div", { class: "page-head" }, h("div", { class: "page-title" }, h("h1", {}, "Launch"), h("span", { class: "muted" }, "a run, or a grid of runs"))),
    presetsEl,
    form,
  );

  // ---- widgets ---------------------------------------------------------------------------------------------
  function set(key, values) {
    model[key] = values;
    clearError(key);
    updateDerived();
  }

  function widget(field) {
    const values = model[field.key];
    const multi = gridMode && field.grid;
    const id = `f-${field.key.replace(/\./g, "-")}`;
    let control;
    let hint = field.hint || "";
    switch (field.kind) {
      case "text":
        control = h("input", { id, name: field.key, type: "text", value: values[0] ?? "", placeholder: field.placeholder || "" });
        control.addEventListener("input", () => set(field.key, [control.value]));
        break;
      case "tags":
        control = h("input", { id, name: field.key, type: "text", value: listText(values[0]), placeholder: field.placeholder || "" });
        control.addEventListener("input", () => set(field.key, [control.value.split(",").map((t) => t.trim()).filter(Boolean)]));
        break;
      case "bool":
        control = h("input", { id, name: field.key, type: "checkbox", checked: Boolean(values[0]) });
        control.addEventListener("change", () => set(field.key, [control.checked]));
        break;
      case "select":
        if (multi) {
          control = h(
            "div",
            { class: "checks", id, role: "group" },
            field.options.map((option) => {
              const box = h("input", { type: "checkbox", name: field.key, value: option, checked: values.includes(option) });
              box.addEventListener("change", () => {
                const chosen = [...control.querySelectorAll("input:checked")].map((b) => b.value);
                set(field.key, chosen.length ? chosen : [field.options[0]]);
                if (!chosen.length) box.checked = option === field.options[0];
              });
              return h("label", { class: "check" }, box, (field.labels && field.labels[option]) || option);
            }),
          );
        } else {
          control = h(
            "select",
            { id, name: field.key },
            field.options.map((option) => h("option", { value: option, selected: values[0] === option }, (field.labels && field.labels[option]) || option)),
          );
          control.addEventListener("change", () => set(field.key, [control.value]));
        }
        break;
      case "number": {
        const text = values.map((v) => (v === null || v === undefined ? "" : String(v))).join(", ");
        control = h("input", { id, name: field.key, type: "text", inputmode: "decimal", value: text, placeholder: field.placeholder || "", spellcheck: "false" });
        control.addEventListener("input", () => {
          const raw = control.value;
          const tokens = multi ? raw.split(",") : [raw];
          const parsed = tokens.filter((t, i) => t.trim() !== "" || tokens.length === 1 || i === 0).map((t) => parseScalar(t, field));
          set(field.key, parsed.length ? parsed : [field.optional ? null : ""]);
        });
        if (multi) hint = `comma-separated values${field.hint ? ` · ${field.hint}` : ""}`;
        break;
      }
      case "list": {
        control = h("input", { id, name: field.key, type: "text", value: values.map(listText).join(" | "), placeholder: field.placeholder || "", spellcheck: "false" });
        control.addEventListener("input", () => {
          const alternatives = multi ? control.value.split("|") : [control.value];
          set(field.key, alternatives.map((t) => parseList(t)).filter((v, i, all) => v.length || all.length === 1));
        });
        if (multi) hint = `${GRID_HINT_LIST}, e.g. 800, 800 | 1024${field.hint ? ` · ${field.hint}` : ""}`;
        if (field.preset) {
          const fill = h("button", { type: "button", class: "small link-button", onclick: () => {
            control.value = multi && control.value.trim() ? `${control.value} | ${field.preset}` : field.preset;
            control.dispatchEvent(new Event("input"));
          } }, "10 … 100");
          control = h("div", { class: "with-button" }, control, fill);
        }
        break;
      }
      case "blocks":
        control = blocksWidget(field, values, multi, id);
        hint = Object.entries(BLOCK_FILTERS).map(([k, v]) => `${k} ${v}`).join(" · ");
        break;
      default:
        control = h("span", {}, "?");
    }
    const error = h("p", { class: "field-error", role: "alert", hidden: true, dataset: { errorFor: field.key } });
    const wrap = h(
      "div",
      { class: `field field-${field.kind}${multi ? " multi" : ""}`, dataset: { field: field.key } },
      field.kind === "bool"
        ? h("label", { class: "check", for: id }, control, field.label)
        : [h("label", { for: id, class: "label" }, field.label, multi ? h("span", { class: "grid-mark", title: "grid: several values allowed" }, "grid") : null), control],
      hint ? h("small", { class: "hint" }, hint) : null,
      error,
    );
    widgets.set(field.key, { wrap, error, field });
    return wrap;
  }

  function blocksWidget(field, values, multi, id) {
    const named = values.filter((v) => typeof v === "string" && BLOCK_NAMES.includes(v));
    const custom = values.filter((v) => !(typeof v === "string" && BLOCK_NAMES.includes(v)));
    const customInput = h("input", {
      type: "text",
      name: `${field.key}.custom`,
      placeholder: multi ? "custom: 16, 32, 64 | 8, 16" : "filter counts, e.g. 16, 32, 64",
      value: custom.map(listText).join(" | "),
      "aria-label": "Custom filter counts",
    });
    if (multi) {
      const boxes = BLOCK_NAMES.map((name) => {
        const box = h("input", { type: "checkbox", name: field.key, value: name, checked: named.includes(name) });
        box.addEventListener("change", sync);
        return h("label", { class: "check" }, box, name);
      });
      customInput.addEventListener("input", sync);
      const el = h("div", { class: "checks", id, role: "group" }, boxes, customInput);
      function sync() {
        const chosen = [...el.querySelectorAll("input[type=checkbox]:checked")].map((b) => b.value);
        const lists = customInput.value.split("|").map(parseList).filter((l) => l.length);
        set(field.key, [...chosen, ...lists].length ? [...chosen, ...lists] : ["deep"]);
      }
      return el;
    }
    const select = h(
      "select",
      { id, name: field.key },
      BLOCK_NAMES.map((name) => h("option", { value: name, selected: named[0] === name && !custom.length }, `${name} (${BLOCK_FILTERS[name]})`)),
      h("option", { value: "custom", selected: custom.length > 0 }, "custom…"),
    );
    customInput.hidden = !custom.length;
    const sync = () => {
      customInput.hidden = select.value !== "custom";
      set(field.key, [select.value === "custom" ? parseList(customInput.value) : select.value]);
    };
    select.addEventListener("change", sync);
    customInput.addEventListener("input", sync);
    return h("div", { class: "with-button" }, select, customInput);
  }

  function renderForm() {
    widgets.clear();
    sectionsEl.replaceChildren(
      ...SECTIONS.map(([id, title]) =>
        h("fieldset", { class: "card form-section", dataset: { section: id } }, h("legend", {}, title), h("div", { class: "field-grid" }, FIELDS.filter((f) => f.section === id).map(widget))),
      ),
    );
    gridToggle.checked = gridMode;
    updateDerived();
  }

  // ---- the request body ------------------------------------------------------------------------------------
  function visible(field) {
    return !field.when || field.when(model);
  }

  function build() {
    const base = {};
    const grid = {};
    for (const field of FIELDS) {
      if (!visible(field)) continue;
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

  function updateDerived() {
    for (const { wrap, field } of widgets.values()) wrap.hidden = !visible(field);
    const { kind, body } = build();
    const n = kind === "sweep" ? Object.values(body.grid).reduce((p, v) => p * v.length, 1) : 1;
    const factors = kind === "sweep" ? Object.entries(body.grid).map(([k, v]) => `${v.length} ${k}`) : [];
    countEl.replaceChildren(
      ...[
        h("strong", { dataset: { testid: "n-runs" } }, `${n} ${n === 1 ? "run" : "runs"}`),
        factors.length ? h("span", { class: "muted" }, ` = ${factors.join(" × ")}`) : null,
        kind === "sweep" ? h("div", { class: "muted small-text" }, "launched as one sweep (POST /api/sweeps)") : null,
        n > 256 ? h("div", { class: "small-text" }, "a sweep may have at most 256 runs") : null,
      ].filter(Boolean),
    );
    countEl.classList.toggle("too-many", n > 256);
    launchButton.textContent = n === 1 ? "Launch run" : `Launch ${n} runs`;
    preview.textContent = `POST /api/${kind === "sweep" ? "sweeps" : "runs"}\n${JSON.stringify(body, null, 2)}`;
    try {
      sessionStorage.setItem(STORE_KEY, JSON.stringify({ model, grid: gridMode }));
    } catch {
      /* storage disabled */
    }
  }

  // ---- errors ----------------------------------------------------------------------------------------------
  function clearError(key) {
    const w = widgets.get(key);
    if (w) {
      w.error.hidden = true;
      w.error.textContent = "";
      w.wrap.classList.remove("invalid");
    }
  }

  function clearErrors() {
    for (const key of widgets.keys()) clearError(key);
    formBanner.hidden = true;
    formBanner.replaceChildren();
  }

  /** The form field a FastAPI error location points at, e.g. ["body","optimizer","lr"] → "optimizer.lr". */
  function fieldFor(detail) {
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

  function showErrors(error) {
    clearErrors();
    const details = Array.isArray(error.detail) ? error.detail : [{ loc: [], msg: errorText(error) }];
    const general = [];
    let first = null;
    for (const detail of details) {
      const msg = String(detail.msg || "invalid").replace(/^Value error, /, "");
      const key = fieldFor(detail);
      const w = key && widgets.get(key);
      if (w && !w.wrap.hidden) {
        w.error.hidden = false;
        w.error.textContent = w.error.textContent ? `${w.error.textContent}; ${msg}` : msg;
        w.wrap.classList.add("invalid");
        first = first || w.wrap;
      } else {
        general.push(key ? `${key}: ${msg}` : msg);
      }
    }
    if (general.length || !first) {
      formBanner.hidden = false;
      formBanner.replaceChildren(h("strong", {}, "The server refused this launch: "), general.length ? general.join("; ") : "see the highlighted fields");
    } else {
      formBanner.hidden = false;
      formBanner.replaceChildren(h("strong", {}, "Check the highlighted fields."));
    }
    (first || formBanner).scrollIntoView({ block: "center", behavior: "smooth" });
    const input = first && first.querySelector("input, select");
    if (input) input.focus({ preventScroll: true });
  }

  async function launch() {
    if (busy) return;
    clearErrors();
    const { kind, body } = build();
    busy = true;
    launchButton.disabled = true;
    const label = launchButton.textContent;
    launchButton.textContent = "Launching…";
    try {
      if (kind === "sweep") {
        const sweep = await post("/sweeps", body);
        toast(`Sweep #${sweep.id} launched: ${sweep.runs.length} runs`);
        navigate("/runs", { sweep_id: sweep.id });
      } else {
        const run = await post("/runs", body);
        toast(`Run #${run.id} launched`);
        navigate(`/runs/${run.id}`);
      }
    } catch (error) {
      if (destroyed) return;
      if (error instanceof ApiError && error.status === 404 && kind === "sweep") {
        clearErrors();
        formBanner.hidden = false;
        formBanner.replaceChildren(
          h("strong", {}, "This server has no sweeps API (POST /api/sweeps answered 404). "),
          "Give every field a single value to launch one run, or update the server.",
        );
      } else if (error instanceof ApiError && (error.status === 422 || error.status === 400)) {
        showErrors(error);
      } else {
        formBanner.hidden = false;
        formBanner.replaceChildren(h("strong", {}, "Launch failed: "), errorText(error));
      }
    } finally {
      busy = false;
      launchButton.disabled = false;
      if (launchButton.textContent === "Launching…") launchButton.textContent = label;
    }
  }

  // ---- presets (the report's figures) -----------------------------------------------------------------------
  async function showPresets() {
    const presets = await loadPresets();
    if (destroyed || !Array.isArray(presets) || !presets.length) return; // no presets route: the panel stays hidden
    const open = route.query.preset && presets.some((p) => p.id === route.query.preset);
    presetsEl.hidden = false;
    presetsEl.replaceChildren(
      h("details", { class: "card presets-card", open },
        h("summary", {}, h("strong", {}, "The report's figures"), h("span", { class: "muted" }, " — pick a scale, see what it runs, launch it as a sweep, or load it into the form")),
        h("div", { class: "preset-grid" },
          presets.map((preset) => {
            let launcher = null;
            const edit = preset.scales
              ? h("button", { type: "button", class: "small link-button", onclick: () => {
                  const grid = preset.grid || {};
                  const scale = launcher.scale();
                  model = modelFromSpec(preset.scales[scale] || preset.scales.full, grid);
                  if (!model.name[0]) model.name = [`${preset.id} (${scale})`];
                  gridMode = Object.values(grid).some((v) => Array.isArray(v) && v.length > 1);
                  renderForm();
                  form.scrollIntoView({ behavior: "smooth" });
                } }, "Edit in form")
              : null;
            launcher = presetLauncher(preset, { extra: edit ? [edit] : [] });
            return h("div", { class: "preset", dataset: { preset: preset.id }, id: `preset-${preset.id}` },
              h("div", { class: "preset-title" }, h("span", { class: "preset-id" }, preset.id), " ", preset.title),
              preset.description ? h("p", { class: "muted small-text" }, preset.description) : null,
              launcher.el,
            );
          }),
        ),
      ),
    );
    if (open) document.getElementById(`preset-${route.query.preset}`)?.scrollIntoView({ block: "center" });
  }

  // ---- start -----------------------------------------------------------------------------------------------
  renderForm();
  showPresets();
  if (route.query.from) {
    getRun(route.query.from)
      .then((run) => {
        if (destroyed) return;
        model = modelFromSpec(run.spec);
        model.name = [run.name ? `${run.name} copy` : ""];
        gridMode = false;
        renderForm();
        toast(`Form filled from run #${run.id}`);
      })
      .catch((error) => toast(`Could not load run ${route.query.from}: ${errorText(error)}`, "error"));
  }

  return () => {
    destroyed = true;
  };
}
