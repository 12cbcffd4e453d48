// The runs page's "Columns" control: a drop-down listing every config and summary key of the runs on screen, a
// checkbox each; ticking one adds its column to the table (state.cols), unticking removes it.

import { h } from "../../dom.js";
import { columnLabel, discoverKeys } from "./columns.js";

const FILTER_FROM = 8; // with more keys than this, a box to find one by name

export class ColumnsMenu {
  /** state: the page's table state (state.cols is changed here, then `changed()`). */
  constructor(state, { changed }) {
    this.state = state;
    this.changed = changed;
    this.keys = [];
    this.listSig = "";
    this.count = h("span", { class: "columns-count" });
    this.find = h("input", { type: "search", placeholder: "Find a key", "aria-label": "Find a column key", class: "columns-find", hidden: true });
    this.find.addEventListener("input", () => this.#applyFind());
    this.list = h("div", { class: "columns-list" });
    this.el = h(
      "details",
      { class: "columns-menu", dataset: { testid: "columns" } },
      h("summary", { class: "button", title: "Show any config or summary key as a column" }, "Columns", this.count),
      h("div", { class: "columns-panel" }, this.find, this.list),
    );
    this.onDocClick = (e) => {
      if (this.el.open && !this.el.contains(e.target)) this.el.open = false;
    };
    this.onKey = (e) => {
      if (e.key === "Escape" && this.el.open) this.el.open = false;
    };
    document.addEventListener("click", this.onDocClick);
    document.addEventListener("keydown", this.onKey);
    this.update([]);
  }

  /** The keys of these runs and the chosen ones (even when no run on screen has them); redrawn only when changed. */
  update(runs) {
    const keys = [...new Set([...discoverKeys(runs), ...this.state.cols])];
    this.count.textContent = this.state.cols.length ? ` (${this.state.cols.length})` : "";
    const sig = JSON.stringify([keys, this.state.cols]);
    if (sig === this.listSig) return;
    this.listSig = sig;
    this.keys = keys;
    this.find.hidden = keys.length <= FILTER_FROM;
    const groups = ["config", "summary"].map((section) => this.#group(section, keys.filter((k) => k.startsWith(`${section}.`))));
    this.list.replaceChildren(...(keys.length ? groups : [h("p", { class: "muted" }, "The runs on screen have no config or summary keys yet.")]));
    this.#applyFind();
  }

  #group(section, keys) {
    if (!keys.length) return null;
    return h(
      "fieldset",
      { class: "columns-group" },
      h("legend", {}, section === "config" ? "Config" : "Summary"),
      keys.map((key) => {
        const box = h("input", { type: "checkbox", name: "col", value: key, checked: this.state.cols.includes(key) });
        box.addEventListener("change", () => this.#toggle(key, box.checked));
        return h("label", { class: "columns-item", title: key, dataset: { key } }, box, h("span", { class: "mono" }, columnLabel(key)));
      }),
    );
  }

  #toggle(key, on) {
    const cols = this.state.cols.filter((k) => k !== key);
    this.state.cols = on ? [...cols, key] : cols;
    if (!on && this.state.sort === key) Object.assign(this.state, { sort: "id", order: "desc" });
    this.changed();
  }

  #applyFind() {
    const text = this.find.value.trim().toLowerCase();
    for (const item of this.list.querySelectorAll(".columns-item")) item.hidden = Boolean(text) && !item.dataset.key.toLowerCase().includes(text);
  }

  destroy() {
    document.removeEventListener("click", this.onDocClick);
    document.removeEventListener("keydown", this.onKey);
  }
}
