// The run page's charts of every logged key the report's charts do not show: one chart per key, in collapsible
// sections by the key's prefix (train/…, valid/…; keys without "/" under "metrics"; system/… last, collapsed).
// A chart is drawn only once its card scrolls into view in an open section, so a run of hundreds of keys costs
// a few Plotly charts. Live points, compaction and zoom are RunCharts' (charts.js); this module places charts.

import { h } from "../../dom.js";
import { compareSections, sectionOf } from "./series.js";

const STEP = ""; // the x-axis select's value for "the step"

export class KeyCharts {
  /** charts: the page's RunCharts, which tells this module each key the first time it holds points of it. */
  constructor(charts) {
    this.charts = charts;
    this.builtInKeys = new Set(charts.builtIn.flatMap((d) => d.keys));
    this.sections = new Map(); // section name -> {el, grid, count}
    this.defs = new Map(); // chart card -> its chart definition
    this.xKey = STEP;
    this.xSelect = h("select", { name: "x-axis", "aria-label": "x axis", onchange: () => this.#setX(this.xSelect.value) }, h("option", { value: STEP }, "step"));
    this.list = h("div", { class: "key-sections" });
    this.el = h(
      "section",
      { class: "key-charts", hidden: true, dataset: { testid: "key-charts" } },
      h("div", { class: "key-charts-head" }, h("h2", {}, "Logged keys"), h("label", { class: "inline", title: "what the x axis of these charts shows: the step, or another logged key's value at that step" }, "x axis ", this.xSelect)),
      this.list,
    );
    this.observer = new IntersectionObserver((entries) => this.#onVisible(entries), { rootMargin: "200px 0px" });
    charts.onNewKeys = (keys) => this.add(keys);
  }

  /** Keys the page just heard of: each is offered as an x axis, and gets a chart unless a report chart shows it. */
  add(keys) {
    for (const key of [...keys].sort()) {
      insertSorted(this.xSelect, h("option", { value: key }, key), key, 1);
      if (!this.builtInKeys.has(key)) this.#addChart(key);
    }
    this.el.hidden = this.sections.size === 0;
  }

  #addChart(key) {
    const name = sectionOf(key);
    const section = this.sections.get(name) || this.#addSection(name);
    const def = this.charts.add({
      id: `key:${key}`,
      title: key,
      keys: [key],
      xTitle: () => this.xKey || "step",
      yTitle: () => key,
      xKey: () => this.xKey || null,
      zoomFetch: true,
      lazy: true,
      shown: false,
    });
    def.chart.el.dataset.key = key;
    insertSorted(section.grid, def.chart.el, key);
    section.count.textContent = ` ${section.grid.children.length} ${section.grid.children.length === 1 ? "key" : "keys"}`;
    this.defs.set(def.chart.el, def);
    this.observer.observe(def.chart.el);
  }

  #addSection(name) {
    const grid = h("div", { class: "chart-grid" });
    const count = h("span", { class: "muted small-text" });
    const el = h("details", { class: "key-section", open: name !== "system", dataset: { section: name } }, h("summary", {}, h("span", { class: "key-section-name" }, name), count), grid);
    const section = { el, grid, count };
    this.sections.set(name, section);
    const next = [...this.list.children].find((other) => compareSections(name, other.dataset.section) < 0);
    this.list.insertBefore(el, next || null);
    return section;
  }

  #onVisible(entries) {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      this.observer.unobserve(entry.target);
      this.charts.reveal(this.defs.get(entry.target));
    }
  }

  /** Another x axis: every drawn chart again, zoomed out (a zoom's step range means nothing on another key). */
  #setX(key) {
    this.xKey = key;
    for (const def of this.defs.values()) {
      def.zoom = null;
      this.charts.render(def);
    }
  }

  destroy() {
    this.observer.disconnect();
  }
}

/** Puts `node` among `parent`'s children in order of their data-key (or value), after the first `skip` ones. */
function insertSorted(parent, node, key, skip = 0) {
  const children = [...parent.children].slice(skip);
  if (children.some((c) => (c.dataset.key ?? c.value) === key)) return;
  const next = children.find((c) => (c.dataset.key ?? c.value) > key);
  parent.insertBefore(node, next || null);
}
