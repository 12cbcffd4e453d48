// Any config or summary key against another, one point per run (hover: the run's name).

import { Chart, baseLayout } from "../../charts.js";
import { h } from "../../dom.js";
import { flatten, runConfig } from "../../spec.js";

/** A run's scatterable values: "config.<dotted key>" and "summary.<key>" → value (numbers and short texts). */
export function scatterValues(run) {
  const out = {};
  for (const [key, value] of Object.entries(flatten(runConfig(run)))) out[`config.${key}`] = value;
  for (const [key, value] of Object.entries(run.summary || {})) out[`summary.${key}`] = value;
  for (const [key, value] of Object.entries(out)) if (!["number", "string", "boolean"].includes(typeof value)) delete out[key];
  return out;
}

export class ConfigScatter {
  /** axes: {x, y} from the URL (sx, sy); onAxes() when the user picks another. */
  constructor(axes, onAxes) {
    this.axes = { ...axes };
    this.onAxes = onAxes;
    const select = (name, label) => h("select", { name, "aria-label": label, onchange: () => this.#pick() });
    this.xSelect = select("scatter-x", "Scatter x");
    this.ySelect = select("scatter-y", "Scatter y");
    this.chart = new Chart({ id: "compare-scatter", title: "Config and summary, one point per run", filename: "compare-scatter", tools: [h("label", { class: "inline" }, "x ", this.xSelect), h("label", { class: "inline" }, "y ", this.ySelect)] });
    this.el = this.chart.el;
    this.rows = [];
    this.offered = "";
  }

  #pick() {
    this.axes = { x: this.xSelect.value, y: this.ySelect.value };
    this.onAxes(this.axes);
    this.draw();
  }

  /** rows: [{id, name, run}]; preferX: a config key that differs (the default x). */
  update(rows, preferX) {
    this.rows = rows.map((row) => ({ ...row, values: scatterValues(row.run) }));
    const keys = [...new Set(this.rows.flatMap((r) => Object.keys(r.values)))].sort((a, b) => (a.startsWith("summary.") - b.startsWith("summary.")) || a.localeCompare(b));
    if (!keys.includes(this.axes.x)) this.axes.x = preferX && keys.includes(`config.${preferX}`) ? `config.${preferX}` : keys[0] || "";
    if (!keys.includes(this.axes.y)) this.axes.y = keys.find((k) => k === "summary.best_valid_acc") || keys.find((k) => k.startsWith("summary.")) || keys[1] || keys[0] || "";
    const signature = JSON.stringify([keys, this.axes]);
    if (signature !== this.offered) {
      this.offered = signature;
      for (const [sel, value] of [[this.xSelect, this.axes.x], [this.ySelect, this.axes.y]]) {
        sel.replaceChildren(...keys.map((k) => h("option", { value: k, selected: k === value }, k)));
        sel.value = value;
      }
    }
    return this.draw();
  }

  draw() {
    const { x, y } = this.axes;
    const points = this.rows.filter((r) => r.values[x] !== undefined && r.values[y] !== undefined);
    const trace = {
      type: "scatter",
      mode: "markers",
      name: `${y} vs ${x}`,
      x: points.map((r) => r.values[x]),
      y: points.map((r) => r.values[y]),
      text: points.map((r) => `#${r.id} ${r.name}`),
      customdata: points.map((r) => r.id),
      hovertemplate: "%{text}<br>x: %{x}<br>y: %{y}<extra></extra>",
      marker: { size: 10, color: "#2563eb", opacity: 0.8 },
    };
    const layout = baseLayout({ xTitle: x, yTitle: y, xType: "-", yType: "-" }); // Plotly tells numbers from categories
    layout.hovermode = "closest";
    layout.showlegend = false;
    this.chart.empty.textContent = x && y ? `No run has both ${x} and ${y}.` : "No config or summary keys yet.";
    return this.chart.render([trace], layout);
  }

  destroy() {
    this.chart.destroy();
  }
}
