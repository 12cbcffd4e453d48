// The launch form's "Search" panel, shown in grid mode: grid, random or TPE; the budget of runs and how many at
// once; the metric and goal TPE optimises; range rows (low, high, log scale, integers) for random and TPE.
// The settings and their problems are search.js's; this draws them and reports each edit through onChange().

import { h } from "../../dom.js";
import { METHODS, defaultSearch, newRange } from "./search.js";

export class SearchPanel {
  constructor(onChange, state = defaultSearch()) {
    this.state = state;
    this.onChange = onChange;
    this.el = h("fieldset", { class: "search-panel", dataset: { testid: "search-panel" } });
    this.problemsEl = h("div", { class: "field-error", role: "alert", hidden: true, dataset: { testid: "search-problems" } });
    this.render();
  }

  render() {
    const s = this.state;
    const learning = s.method !== "grid";
    const method = select("search-method", "Search", METHODS, s.method, (v) => {
      s.method = v;
      this.render();
      this.onChange();
    });
    const parts = [h("legend", {}, "Search"), method];
    if (learning) parts.push(input("search-n", "Runs (budget)", s.n, (v) => this.#set("n", v)));
    parts.push(input("search-parallel", "At most at once", s.parallel, (v) => this.#set("parallel", v), "blank: all at once"));
    if (learning) {
      parts.push(
        input("search-metric", "Metric", s.metric, (v) => this.#set("metric", v), "the key the runs report (summary or curve)"),
        select("search-goal", "Goal", { maximize: "maximize", minimize: "minimize" }, s.goal, (v) => this.#set("goal", v)),
        h("div", { class: "ranges", dataset: { testid: "ranges" } }, s.ranges.map((range, i) => this.#rangeRow(range, i))),
        h("button", { type: "button", class: "small", dataset: { testid: "add-range" }, onclick: () => this.#addRange() }, "+ Range"),
      );
    }
    parts.push(this.problemsEl);
    this.el.replaceChildren(...parts);
  }

  /** The form's problems with the search, under the panel. */
  showProblems(problems) {
    this.problemsEl.hidden = !problems.length;
    this.problemsEl.replaceChildren(...problems.map((p) => h("span", {}, p)));
  }

  #set(key, value) {
    this.state[key] = value;
    this.onChange();
  }

  #addRange() {
    this.state.ranges.push(newRange());
    this.render();
    this.onChange();
    const keys = this.el.querySelectorAll("input[name=range-key]");
    if (keys.length) keys[keys.length - 1].focus();
  }

  #rangeRow(range, i) {
    const edit = (key, value) => {
      range[key] = value;
      this.onChange();
    };
    const text = (name, key, placeholder, label) => {
      const el = h("input", { type: "text", name, value: range[key], placeholder, "aria-label": label });
      el.addEventListener("input", () => edit(key, el.value));
      return el;
    };
    const check = (name, key, label) => {
      const el = h("input", { type: "checkbox", name, checked: range[key] });
      el.addEventListener("change", () => edit(key, el.checked));
      return h("label", { class: "check small-text" }, el, label);
    };
    const remove = () => {
      this.state.ranges.splice(i, 1);
      this.render();
      this.onChange();
    };
    return h(
      "div",
      { class: "range-row", dataset: { testid: "range-row" } },
      text("range-key", "key", "optimizer.lr", "range key"),
      text("range-min", "min", "low", "range low"),
      text("range-max", "max", "high", "range high"),
      check("range-log", "log", "log"),
      check("range-integer", "integer", "integer"),
      h("button", { type: "button", class: "small", title: "remove this range", onclick: remove }, "×"),
    );
  }
}

function select(name, label, options, value, onPick) {
  const el = h("select", { name, "aria-label": label }, Object.entries(options).map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
  el.addEventListener("change", () => onPick(el.value));
  return h("label", { class: "search-field" }, h("span", { class: "label" }, label), el);
}

function input(name, label, value, onInput, hint = "") {
  const el = h("input", { type: "text", name, value, "aria-label": label, inputmode: "numeric" });
  el.addEventListener("input", () => onInput(el.value));
  return h("label", { class: "search-field" }, h("span", { class: "label" }, label), el, hint ? h("small", { class: "hint" }, hint) : null);
}
