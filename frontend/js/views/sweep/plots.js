// The sweep page's plots over the varied keys: parallel coordinates and a heatmap over two chosen keys of the
// ranked metric (the best valid accuracy unless "Rank by" says otherwise). Both are redrawn only when a result changed; a sweep that varies nothing shows a note instead.

import { Chart, baseLayout } from "../../charts.js";
import { h } from "../../dom.js";
import { shortKey } from "../../spec.js";
import { VALID_ACC, heatmapData, heatmapTrace, parcoordsTrace, resultsCsv, scoredRows } from "../../sweepdata.js";
import { heatmapAxes, heatmapCsv } from "./text.js";

/** The axes of a chart with nothing to draw yet: none, its "Waiting for the first results…" alone. */
const hiddenAxes = () => ({ xaxis: { visible: false }, yaxis: { visible: false } });

export class SweepPlots {
  /** query: the URL's (x, y: the heatmap's first axes); onAxes(): the heatmap's axes changed. */
  constructor(sweepId, query, { onAxes }) {
    this.query = query;
    this.sweep = null;
    this.keys = []; // grid keys (the parcoords CSV's columns)
    this.varied = []; // keys that differ between runs (plot axes)
    this.signature = "";
    this.parcoords = new Chart({
      id: "parcoords",
      title: "Parallel coordinates",
      subtitle: "one line per run with a result, coloured by best valid accuracy · drag along an axis to filter",
      filename: `sweep${sweepId}_parcoords`,
      csv: async () => resultsCsv(this.rows, this.keys),
    });
    this.parcoords.el.classList.add("wide-chart");
    this.xSelect = h("select", { name: "heat-x", "aria-label": "heatmap x axis" });
    this.ySelect = h("select", { name: "heat-y", "aria-label": "heatmap y axis" });
    for (const select of [this.xSelect, this.ySelect]) {
      select.addEventListener("change", () => {
        onAxes();
        this.renderHeatmap();
      });
    }
    this.heatmap = new Chart({
      id: "heatmap",
      title: "Best valid accuracy (%)",
      filename: `sweep${sweepId}_heatmap`,
      tools: [h("label", { class: "inline small-text" }, "x ", this.xSelect), h("label", { class: "inline small-text" }, "y ", this.ySelect)],
      csv: async () => this.#heatmapCsv(),
    });
    this.note = h("p", { class: "banner banner-warn", hidden: true });
  }

  /** The heatmap's keys as chosen: x (first varied key when none), y ("" for none, never the same as x). */
  get axes() {
    const x = this.xSelect.value || this.varied[0];
    return { x, y: this.ySelect.value && this.ySelect.value !== x ? this.ySelect.value : "" };
  }

  /** For the URL: the selects as they are. */
  get selected() {
    return { x: this.xSelect.value, y: this.ySelect.value };
  }

  /** rows: the results ranked by ``metric`` (what the plots colour by). */
  render(sweep, keys, varied, rows = sweep.results || [], metric = VALID_ACC) {
    this.sweep = sweep;
    this.keys = keys;
    this.varied = varied;
    this.rows = rows;
    this.metric = metric;
    const signature = JSON.stringify([rows.map((r) => [r.run_id, metric.get(r), r.values]), metric.key, metric.goal]);
    if (signature === this.signature) return;
    this.signature = signature;
    this.heatmap.el.querySelector("h3").textContent = metric.title;
    this.parcoords.el.querySelector("header p").textContent = `one line per run with a result, coloured by ${metric.label} · drag along an axis to filter`;
    const noAxes = varied.length === 0;
    this.parcoords.el.hidden = noAxes;
    this.heatmap.el.hidden = noAxes;
    this.note.hidden = !noAxes;
    this.note.textContent = noAxes ? `This sweep varies nothing (${rows.length} ${rows.length === 1 ? "run" : "runs"} of one configuration): no parallel coordinates or heatmap, only the curves.` : "";
    if (noAxes) return;
    this.#fillSelects();
    this.#renderParcoords();
    this.renderHeatmap();
  }

  #fillSelects() {
    if (this.xSelect.options.length) return;
    this.ySelect.append(h("option", { value: "" }, "(none)"));
    for (const select of [this.xSelect, this.ySelect]) {
      for (const key of this.varied) select.append(h("option", { value: key }, shortKey(key)));
    }
    const { x, y } = heatmapAxes(this.varied, this.query);
    this.xSelect.value = x;
    this.ySelect.value = y;
  }

  async #renderParcoords() {
    const rows = this.rows;
    const scored = scoredRows(rows, this.metric);
    this.parcoords.empty.textContent = "Waiting for the first results…";
    this.parcoords.status.textContent = scored.length < rows.length ? `${scored.length}/${rows.length} runs with a result` : "";
    const layout = { font: baseLayout().font, margin: { l: 70, r: 40, t: 56, b: 24 }, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "#ffffff" };
    if (!scored.length) Object.assign(layout, hiddenAxes()); // Plotly's empty cartesian axes would say nothing
    await this.parcoords.render(scored.length ? [parcoordsTrace(this.sweep, rows, this.varied, this.metric)] : [], layout, { hasData: scored.length > 0 });
  }

  async renderHeatmap() {
    if (!this.sweep || !this.varied.length) return;
    const { x, y } = this.axes;
    const data = heatmapData(this.sweep, this.rows, x, y, this.metric);
    this.heatmap.status.textContent = data.multiple ? "best over the other keys" : "";
    const layout = baseLayout({ xTitle: x, yTitle: y || "" });
    layout.hovermode = "closest";
    layout.xaxis.type = "category";
    layout.yaxis.type = "category";
    layout.xaxis.gridcolor = "rgba(0,0,0,0)";
    layout.yaxis.gridcolor = "rgba(0,0,0,0)";
    layout.yaxis.autorange = "reversed"; // first grid value on top, like the table
    this.heatmap.empty.textContent = "Waiting for the first results…";
    const any = data.z.some((r) => r.some((v) => v !== null));
    if (!any) Object.assign(layout, hiddenAxes());
    await this.heatmap.render(any ? [heatmapTrace(data, this.metric)] : [], layout, { hasData: any });
  }

  #heatmapCsv() {
    const { x, y } = this.axes;
    return heatmapCsv(heatmapData(this.sweep, this.rows, x, y, this.metric), y);
  }

  destroy() {
    this.parcoords.destroy();
    this.heatmap.destroy();
  }
}
