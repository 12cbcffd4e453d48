// The launch form: the mode switch (the built-in loop's spec, or the user's own command with its config), the
// mode's sections of fields, the grid switch, the run count and request preview beside it, each field's problems
// shown under it as the user types (validate.js, command-model.js) and the API's errors on the fields they name.
// The built-in model lives here, holding only valid values; the command model in CommandFields.

import { h } from "../../dom.js";
import { CommandFields } from "./command-fields.js";
import { commandFieldFor, commandRequest, defaultCommandModel, restoredCommandModel } from "./command-model.js";
import { FIELDS, FIELD_KEYS, SECTIONS, defaultModel, restoredModel, visible } from "./fields.js";
import { MAX_SWEEP_RUNS, buildRequest, errorMessage, fieldFor, runCount } from "./request.js";
import { SearchPanel } from "./search-panel.js";
import { defaultSearch, restoredSearch, searchCount, searchProblems, withSearch } from "./search.js";
import { widget } from "./widgets.js";

const STORE_KEY = "trainboard.launch";

export class LaunchForm {
  /** mode: "builtin" | "command"; onSubmit(): the Launch button (or Enter); onChange(form): after each edit and each redraw. */
  constructor({ model, gridMode, mode = "builtin", commandModel = defaultCommandModel(), search = defaultSearch() }, { onSubmit, onChange = null }) {
    this.onChange = onChange;
    this.model = model;
    this.gridMode = gridMode;
    this.mode = mode;
    this.command = new CommandFields(commandModel);
    this.widgets = new Map(); // key -> {wrap, error, field}
    this.problems = new Map(); // key -> the form's own findings on the field's text, kept while it is wrong
    this.serverErrors = new Map(); // key -> the API's messages for the field, until it is edited
    this.gridToggle = h("input", { type: "checkbox", checked: gridMode, name: "grid-mode", "aria-label": "Grid search" });
    this.gridToggle.addEventListener("change", () => {
      this.gridMode = this.gridToggle.checked;
      if (!this.gridMode) for (const key of FIELD_KEYS) this.model[key] = this.model[key].slice(0, 1);
      if (!this.gridMode) this.command.singleValues();
      this.render();
    });
    this.modeSwitch = modeSwitch((mode) => {
      this.mode = mode;
      this.render();
    });
    this.gridHint = h("small", { class: "muted" });
    this.search = new SearchPanel(() => this.#updateDerived(), search);
    this.banner = h("div", { class: "banner banner-error", hidden: true, role: "alert", dataset: { testid: "form-error" } });
    this.sectionsEl = h("div", { class: "form-sections" });
    this.countEl = h("div", { class: "run-count", dataset: { testid: "run-count" } });
    this.preview = h("pre", { class: "spec-preview", dataset: { testid: "spec-preview" } });
    this.launchButton = h("button", { type: "submit", class: "primary big", dataset: { testid: "launch" } }, "Launch");
    const resetButton = h("button", { type: "button", onclick: () => this.#reset() }, "Reset to defaults");
    this.el = h(
      "form",
      { class: "launch-form", novalidate: true, autocomplete: "off" },
      h("div", { class: "launch-main" }, this.modeSwitch.el, this.banner, this.sectionsEl),
      h(
        "aside",
        { class: "launch-side card" },
        h("label", { class: "switch" }, this.gridToggle, h("span", {}, "Grid search"), this.gridHint),
        this.search.el,
        this.countEl,
        h("div", { class: "actions" }, this.launchButton, resetButton),
        h("details", { class: "preview" }, h("summary", {}, "Request body"), this.preview),
      ),
    );
    this.el.addEventListener("submit", (e) => {
      e.preventDefault();
      if (this.problemCount()) this.#revealFirst();
      else onSubmit();
    });
  }

  /** A new model (defaults, a cloned run, a preset) and grid mode, drawn from scratch in the built-in mode. */
  load(model, gridMode) {
    this.model = model;
    this.gridMode = gridMode;
    this.mode = "builtin";
    this.render();
  }

  /** A command run's model (Clone), drawn from scratch in the command mode. */
  loadCommand(commandModel, gridMode = false) {
    this.command = new CommandFields(commandModel);
    this.gridMode = gridMode;
    this.mode = "command";
    this.render();
  }

  #reset() {
    if (this.mode === "command") this.loadCommand(defaultCommandModel(), this.gridMode);
    else this.load(defaultModel(), this.gridMode);
  }

  render() {
    this.widgets.clear();
    this.problems.clear();
    this.serverErrors.clear();
    this.sectionsEl.replaceChildren(...(this.mode === "command" ? this.#commandSections() : this.#builtinSections()));
    this.gridToggle.checked = this.gridMode;
    this.search.el.hidden = !this.gridMode;
    this.modeSwitch.set(this.mode);
    this.gridHint.textContent =
      this.mode === "command" ? "a config value takes several values (comma-separated); one run per combination" : "every field takes several values; one run per combination";
    this.#updateDerived();
  }

  #builtinSections() {
    return SECTIONS.map(([id, title]) =>
      h("fieldset", { class: "card form-section", dataset: { section: id } }, h("legend", {}, title), h("div", { class: "field-grid" }, FIELDS.filter((f) => f.section === id).map((f) => this.#widget(f)))),
    );
  }

  #commandSections() {
    const hooks = {
      register: (key, { wrap, error, field }, problems) => {
        this.widgets.set(key, { wrap, error, field });
        this.problems.set(key, problems);
      },
      set: (key, problems = null) => {
        if (problems) this.problems.set(key, problems);
        this.serverErrors.delete(key);
        this.#paint(key);
        this.#updateDerived();
      },
    };
    return this.command.sections(this.gridMode, hooks);
  }

  /** The devices the form would queue runs for (the capacity warning reads them). */
  get devices() {
    return (this.mode === "command" ? this.command.model.device : this.model.device) || ["auto"];
  }

  /** The GPUs a command run asks for (0 for a built-in run: it holds one on CUDA, which any GPU worker has). */
  get gpus() {
    return this.mode === "command" ? Number(this.command.model.gpus?.[0]) || 0 : 0;
  }

  #widget(field) {
    const multi = this.gridMode && field.grid;
    const { wrap, error, problems } = widget(field, this.model[field.key], multi, (key, values, found) => this.#set(key, values, found));
    this.widgets.set(field.key, { wrap, error, field });
    this.problems.set(field.key, problems);
    this.#paint(field.key);
    return wrap;
  }

  #set(key, values, problems = []) {
    this.model[key] = values;
    this.problems.set(key, problems);
    this.serverErrors.delete(key);
    this.#paint(key);
    this.#updateDerived();
  }

  /** How many problems the fields that apply have: while any, the form does not launch. */
  problemCount() {
    let n = 0;
    for (const [key, { wrap }] of this.widgets) if (!wrap.hidden) n += (this.problems.get(key) || []).length;
    return n + this.#searchProblems().length;
  }

  /** The search panel's problems (grid mode only: it is hidden otherwise). */
  #searchProblems() {
    return this.gridMode ? searchProblems(this.search.state, { hasGrid: this.#plainRequest().kind === "sweep" }) : [];
  }

  #plainRequest() {
    return this.mode === "command" ? commandRequest(this.command.model, this.gridMode) : buildRequest(this.model, this.gridMode);
  }

  request() {
    return this.gridMode ? withSearch(this.#plainRequest(), this.search.state) : this.#plainRequest();
  }

  /** After each edit: which fields apply, the run count, the button's words, the preview; kept for the session. */
  #updateDerived() {
    for (const { wrap, field } of this.widgets.values()) wrap.hidden = !visible(field, this.model);
    if (this.mode === "command") this.#commandProblems();
    const request = this.request();
    const { kind, body } = request;
    const { n, factors } = (this.gridMode && searchCount(this.search.state)) || runCount(request);
    const problems = this.problemCount();
    this.search.showProblems(this.#searchProblems());
    this.countEl.replaceChildren(
      ...[
        h("strong", { dataset: { testid: "n-runs" } }, `${n} ${n === 1 ? "run" : "runs"}`),
        factors.length ? h("span", { class: "muted" }, ` = ${factors.join(" × ")}`) : null,
        kind === "sweep" ? h("div", { class: "muted small-text" }, "launched as one sweep (POST /api/sweeps)") : null,
        kind === "sweep" && body.parallel ? h("div", { class: "muted small-text" }, `at most ${body.parallel} at once; the next start as runs end`) : null,
        n > MAX_SWEEP_RUNS ? h("div", { class: "small-text" }, `a sweep may have at most ${MAX_SWEEP_RUNS} runs`) : null,
        problems ? h("div", { class: "form-problems", dataset: { testid: "form-problems" } }, `The form has ${problems === 1 ? "1 problem" : `${problems} problems`} (under the fields): the count is of the valid values only.`) : null,
      ].filter(Boolean),
    );
    this.countEl.classList.toggle("too-many", n > MAX_SWEEP_RUNS);
    this.launchButton.disabled = problems > 0;
    this.launchButton.textContent = problems ? `Fix ${problems === 1 ? "1 problem" : `${problems} problems`} to launch` : n === 1 ? "Launch run" : `Launch ${n} runs`;
    this.preview.textContent = `POST /api/${kind === "sweep" ? "sweeps" : "runs"}\n${JSON.stringify(body, null, 2)}`;
    try {
      sessionStorage.setItem(STORE_KEY, JSON.stringify({ model: this.model, grid: this.gridMode, mode: this.mode, command: this.command.model, search: this.search.state }));
    } catch {
      /* storage disabled */
    }
    if (this.onChange) this.onChange(this);
  }

  /** The command and the config: their problems depend on each other ({lr} with no lr in the config). */
  #commandProblems() {
    for (const [key, problems] of Object.entries(this.command.state().problems)) {
      this.problems.set(key, problems);
      this.#paint(key);
    }
  }

  // ---- errors ------------------------------------------------------------------------------------------------
  /** A field's error lines: the form's own findings, then the API's. */
  #paint(key) {
    const w = this.widgets.get(key);
    if (!w) return;
    const messages = [...(this.problems.get(key) || []), ...(this.serverErrors.get(key) || [])];
    w.error.hidden = !messages.length;
    w.error.replaceChildren(...messages.map((m) => h("span", {}, m)));
    w.wrap.classList.toggle("invalid", messages.length > 0);
  }

  #revealFirst() {
    const first = [...this.widgets.values()].find(({ wrap }) => !wrap.hidden && wrap.classList.contains("invalid"));
    if (!first) return;
    first.wrap.scrollIntoView({ block: "center", behavior: "smooth" });
    const input = first.wrap.querySelector("input, select, textarea");
    if (input) input.focus({ preventScroll: true });
  }

  /** The API's messages and the banner go; the form's own findings stay (they go when the text is fixed). */
  clearErrors() {
    this.serverErrors.clear();
    for (const key of this.widgets.keys()) this.#paint(key);
    this.banner.hidden = true;
    this.banner.replaceChildren();
  }

  /** The banner above the fields: a bold lead and the rest. */
  showBanner(lead, text = "") {
    this.banner.hidden = false;
    this.banner.replaceChildren(h("strong", {}, lead), ...(text ? [text] : []));
  }

  /** A 422/400: each message under the field it names; the rest (or a hidden field's) in the banner. */
  showErrors(details) {
    this.clearErrors();
    const general = [];
    for (const detail of details) {
      const msg = errorMessage(detail);
      const key = this.mode === "command" ? commandFieldFor(detail) : fieldFor(detail);
      const w = key && this.widgets.get(key);
      if (w && !w.wrap.hidden) this.serverErrors.set(key, [...(this.serverErrors.get(key) || []), msg]);
      else general.push(key ? `${key}: ${msg}` : msg);
    }
    for (const key of this.serverErrors.keys()) this.#paint(key);
    const shown = this.serverErrors.size > 0;
    if (general.length || !shown) this.showBanner("The server refused this launch: ", general.length ? general.join("; ") : "see the highlighted fields");
    else this.showBanner("Check the highlighted fields.");
    if (shown) this.#revealFirst();
    else this.banner.scrollIntoView({ block: "center", behavior: "smooth" });
  }
}

/** The form's state: as this session left it (unless the page clones a run, `from`), else the defaults. */
export function initialForm(route) {
  const state = { model: defaultModel(), gridMode: route.query.grid === "1", mode: route.query.mode === "command" ? "command" : "builtin", commandModel: defaultCommandModel() };
  if (route.query.from) return state;
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORE_KEY) || "null");
    if (saved && saved.model) {
      return {
        model: restoredModel(saved.model),
        gridMode: state.gridMode || Boolean(saved.grid),
        mode: route.query.mode ? state.mode : saved.mode === "command" ? "command" : "builtin",
        commandModel: restoredCommandModel(saved.command),
        search: restoredSearch(saved.search),
      };
    }
  } catch {
    /* ignore a broken saved form */
  }
  return state;
}

/** "Built-in loop | Command": two radio buttons; set(mode) shows the form's mode, onPick(mode) follows a click. */
function modeSwitch(onPick) {
  const option = (mode, label, title) => {
    const radio = h("input", { type: "radio", name: "launch-mode", value: mode });
    radio.addEventListener("change", () => radio.checked && onPick(mode));
    return h("label", { class: "mode-option", title }, radio, h("span", {}, label));
  };
  const el = h(
    "div",
    { class: "mode-switch", role: "radiogroup", "aria-label": "What to run", dataset: { testid: "launch-mode" } },
    option("builtin", "Built-in loop", "the built-in training loop: a dataset, a model, an optimizer"),
    option("command", "Command", "your own training command, run by a worker started with --code DIR"),
  );
  const set = (mode) => {
    for (const radio of el.querySelectorAll("input")) radio.checked = radio.value === mode;
  };
  return { el, set };
}
