// The compare page's controls: metric, accuracy or error, the x axis, grouping, smoothing and a log y axis. They
// hold the view's state (from and for the URL) and call back with what changed: a new metric or x key must be read.

import { h } from "../../dom.js";
import { legendNames } from "../../spec.js";
import { ALL_BUT_SEED } from "./groups.js";
import { isAcc, pickerGroups } from "./picker.js";

const STEP = "step";

/** The view's state from the URL: ?metric=&mode=error&x=epoch&group=optimizer.lr,~seed&smooth=0.6&logy=1 */
export function stateFrom(query) {
  const smoothing = Math.min(Math.max(Number(query.smooth) || 0, 0), 0.99);
  const group = String(query.group || "").split(",").filter(Boolean);
  return { metric: query.metric || "valid_acc", mode: query.mode === "error" ? "error" : "acc", x: query.x || STEP, group, smoothing, logY: query.logy === "1" };
}

/** The state as URL parameters, defaults left out. */
export function stateQuery(state) {
  return {
    metric: state.metric === "valid_acc" ? "" : state.metric,
    mode: state.mode === "acc" ? "" : state.mode,
    x: state.x === STEP ? "" : state.x,
    group: state.group.join(","),
    smooth: state.smoothing ? String(state.smoothing) : "",
    logy: state.logY ? "1" : "",
  };
}

export class CompareControls {
  /** onChange(reload): reload is true when the series to read changed (metric, x key). */
  constructor(state, onChange) {
    this.state = state;
    this.onChange = onChange;
    this.metricSelect = h("select", { name: "metric", "aria-label": "Metric", onchange: () => this.#set({ metric: this.metricSelect.value }, true) }, h("option", { value: state.metric }, state.metric));
    this.xSelect = h("select", { name: "x", "aria-label": "x axis", onchange: () => this.#set({ x: this.xSelect.value }, true) }, h("option", { value: state.x }, state.x));
    this.modeToggle = this.#modeToggle();
    this.smoothOut = h("output", { class: "mono" }, state.smoothing.toFixed(2));
    this.smoothInput = h("input", { type: "range", name: "smoothing", min: "0", max: "0.99", step: "0.01", value: String(state.smoothing), "aria-label": "Smoothing (EMA)" });
    this.smoothInput.addEventListener("input", () => {
      this.smoothOut.textContent = Number(this.smoothInput.value).toFixed(2);
      this.#set({ smoothing: Number(this.smoothInput.value) }, false);
    });
    this.logInput = h("input", { type: "checkbox", name: "logy", checked: state.logY, onchange: () => this.#set({ logY: this.logInput.checked }, false) });
    this.groupBox = h("span", { class: "group-by", dataset: { testid: "group-by" } });
    this.offered = "";
    this.el = h(
      "div",
      { class: "card filters" },
      h("label", { class: "inline" }, "Metric ", this.metricSelect),
      this.modeToggle,
      h("label", { class: "inline" }, "x ", this.xSelect),
      h("label", { class: "inline" }, "Smoothing ", this.smoothInput, this.smoothOut),
      h("label", { class: "inline" }, this.logInput, " log y"),
      this.groupBox,
    );
    this.sync();
  }

  #set(change, reload) {
    Object.assign(this.state, change);
    this.sync();
    this.onChange(reload);
  }

  #modeToggle() {
    const buttons = ["acc", "error"].map((m) =>
      h("button", { type: "button", class: "small", dataset: { mode: m }, "aria-pressed": String(this.state.mode === m), onclick: () => this.#set({ mode: m }, false) }, m === "acc" ? "Accuracy" : "Error"),
    );
    return h("div", { class: "segmented", role: "group", "aria-label": "accuracy or error" }, buttons);
  }

  /** Reflect the state: the pressed mode, the toggle shown only for an accuracy. */
  sync() {
    for (const b of this.modeToggle.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.mode === this.state.mode));
    this.modeToggle.hidden = !isAcc(this.state.metric);
  }

  /** The metric and x pickers over the union of the runs' keys (redrawn only when it changed). */
  setKeys(union) {
    const { metric, x } = this.state;
    const signature = JSON.stringify([union, metric, x]);
    if (signature === this.offered) return;
    this.offered = signature;
    const groups = pickerGroups(union);
    this.metricSelect.replaceChildren(...groups.map(([group, keys]) => h("optgroup", { label: group }, keys.map((k) => h("option", { value: k, selected: k === metric }, k)))));
    if (!union.includes(metric)) this.metricSelect.prepend(h("option", { value: metric, selected: true }, metric));
    this.metricSelect.value = metric;
    const xs = [STEP, ...union.filter((k) => k !== metric)];
    if (!xs.includes(x)) xs.push(x);
    this.xSelect.replaceChildren(...xs.map((k) => h("option", { value: k, selected: k === x }, k)));
    this.xSelect.value = x;
  }

  /** One checkbox per config key that varies, and "everything but the seed" first. */
  setGroupKeys(varied) {
    const names = legendNames(varied);
    const chosen = new Set(this.state.group);
    const box = (value, text) => {
      const input = h("input", { type: "checkbox", name: "group", value, checked: chosen.has(value) });
      input.addEventListener("change", () => this.#toggleGroup(value, input.checked));
      return h("label", { class: "inline" }, input, text);
    };
    const boxes = varied.length > 1 || chosen.size ? [box(ALL_BUT_SEED, "everything but the seed"), ...varied.map((k) => box(k, names.get(k)))] : [];
    this.groupBox.replaceChildren(...(boxes.length ? [h("span", { class: "muted" }, "Group by "), ...boxes] : []));
  }

  #toggleGroup(value, on) {
    let group = this.state.group.filter((k) => k !== value);
    if (on) group = value === ALL_BUT_SEED ? [ALL_BUT_SEED] : [...group.filter((k) => k !== ALL_BUT_SEED), value];
    for (const input of this.groupBox.querySelectorAll("input")) input.checked = group.includes(input.value);
    this.#set({ group }, false);
  }
}
