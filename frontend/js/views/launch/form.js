// The launch form: its sections of fields, the grid switch, the run count and request preview beside it, each
// field's problems shown under it as the user types (validate.js) and the API's errors on the fields they name.
// The model lives here, holding only valid values; the page decides what to launch.

import { h } from "../../dom.js";
import { FIELDS, FIELD_KEYS, SECTIONS, defaultModel, visible } from "./fields.js";
import { MAX_SWEEP_RUNS, buildRequest, errorMessage, fieldFor, runCount } from "./request.js";
import { widget } from "./widgets.js";

const STORE_KEY = "trainboard.launch";

export class LaunchForm {
  /** onSubmit(): the Launch button (or Enter); onChange(form): after each edit and each redraw. */
  constructor({ model, gridMode }, { onSubmit, onChange = null }) {
    this.onChange = onChange;
    this.model = model;
    this.gridMode = gridMode;
    this.widgets = new Map(); // key -> {wrap, error, field}
    this.problems = new Map(); // key -> the form's own findings on the field's text, kept while it is wrong
    this.serverErrors = new Map(); // key -> the API's messages for the field, until it is edited
    this.gridToggle = h("input", { type: "checkbox", checked: gridMode, name: "grid-mode", "aria-label": "Grid search" });
    this.gridToggle.addEventListener("change", () => {
      this.gridMode = this.gridToggle.checked;
      if (!this.gridMode) for (const key of FIELD_KEYS) this.model[key] = this.model[key].slice(0, 1);
      this.render();
    });
    this.banner = h("div", { class: "banner banner-error", hidden: true, role: "alert", dataset: { testid: "form-error" } });
    this.sectionsEl = h("div", { class: "form-sections" });
    this.countEl = h("div", { class: "run-count", dataset: { testid: "run-count" } });
    this.preview = h("pre", { class: "spec-preview", dataset: { testid: "spec-preview" } });
    this.launchButton = h("button", { type: "submit", class: "primary big", dataset: { testid: "launch" } }, "Launch");
    const resetButton = h("button", { type: "button", onclick: () => this.load(defaultModel(), this.gridMode) }, "Reset to defaults");
    this.el = h(
      "form",
      { class: "launch-form", novalidate: true, autocomplete: "off" },
      h("div", { class: "launch-main" }, this.banner, this.sectionsEl),
      h(
        "aside",
        { class: "launch-side card" },
        h("label", { class: "switch" }, this.gridToggle, h("span", {}, "Grid search"), h("small", { class: "muted" }, "every field takes several values; one run per combination")),
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

  /** A new model (defaults, a cloned run, a preset) and mode, drawn from scratch. */
  load(model, gridMode) {
    this.model = model;
    this.gridMode = gridMode;
    this.render();
  }

  render() {
    this.widgets.clear();
    this.problems.clear();
    this.serverErrors.clear();
    this.sectionsEl.replaceChildren(
      ...SECTIONS.map(([id, title]) =>
        h("fieldset", { class: "card form-section", dataset: { section: id } }, h("legend", {}, title), h("div", { class: "field-grid" }, FIELDS.filter((f) => f.section === id).map((f) => this.#widget(f)))),
      ),
    );
    this.gridToggle.checked = this.gridMode;
    this.#updateDerived();
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
    return n;
  }

  request() {
    return buildRequest(this.model, this.gridMode);
  }

  /** After each edit: which fields apply, the run count, the button's words, the preview; kept for the session. */
  #updateDerived() {
    for (const { wrap, field } of this.widgets.values()) wrap.hidden = !visible(field, this.model);
    const request = this.request();
    const { kind, body } = request;
    const { n, factors } = runCount(request);
    const problems = this.problemCount();
    this.countEl.replaceChildren(
      ...[
        h("strong", { dataset: { testid: "n-runs" } }, `${n} ${n === 1 ? "run" : "runs"}`),
        factors.length ? h("span", { class: "muted" }, ` = ${factors.join(" × ")}`) : null,
        kind === "sweep" ? h("div", { class: "muted small-text" }, "launched as one sweep (POST /api/sweeps)") : null,
        n > MAX_SWEEP_RUNS ? h("div", { class: "small-text" }, `a sweep may have at most ${MAX_SWEEP_RUNS} runs`) : null,
        problems ? h("div", { class: "form-problems", dataset: { testid: "form-problems" } }, `The form has ${problems === 1 ? "1 problem" : `${problems} problems`} (under the fields): the count is of the valid values only.`) : null,
      ].filter(Boolean),
    );
    this.countEl.classList.toggle("too-many", n > MAX_SWEEP_RUNS);
    this.launchButton.disabled = problems > 0;
    this.launchButton.textContent = problems ? `Fix ${problems === 1 ? "1 problem" : `${problems} problems`} to launch` : n === 1 ? "Launch run" : `Launch ${n} runs`;
    this.preview.textContent = `POST /api/${kind === "sweep" ? "sweeps" : "runs"}\n${JSON.stringify(body, null, 2)}`;
    try {
      sessionStorage.setItem(STORE_KEY, JSON.stringify({ model: this.model, grid: this.gridMode }));
    } catch {
      /* storage disabled */
    }
    if (this.onChange) this.onChange(this);
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
    const input = first.wrap.querySelector("input, select");
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
      const key = fieldFor(detail);
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

/** The form as this session left it, unless the page clones a run (`from`). */
export function savedForm(route) {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORE_KEY) || "null");
    if (saved && saved.model && !route.query.from) return { model: saved.model, grid: Boolean(saved.grid) };
  } catch {
    /* ignore a broken saved form */
  }
  return null;
}
