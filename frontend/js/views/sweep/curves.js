// The sweep page's curves: every run's chosen metric per epoch overlaid, the best run thick. A run's curve is
// read again only when its epoch or status moved.

import { getMetrics } from "../../api.js";
import { COLORS, Chart, baseLayout, fitLayout } from "../../charts.js";
import { h } from "../../dom.js";
import { pool, rowLabel } from "../../sweepdata.js";
import { CURVE_METRICS, staleCurves } from "./text.js";

const PARALLEL_READS = 6;

export class SweepCurves {
  /** page: {destroyed}; metric: the URL's; onMetric(): the metric select changed. */
  constructor(sweepId, page, metric, { onMetric }) {
    this.page = page;
    this.metric = CURVE_METRICS[metric] ? metric : "valid_acc";
    this.sweep = null;
    this.varied = [];
    this.curves = new Map(); // run id -> {epoch, status, series}
    const select = h(
      "select",
      { name: "curve-metric", "aria-label": "curve metric" },
      Object.entries(CURVE_METRICS).map(([k, label]) => h("option", { value: k, selected: k === this.metric }, label)),
    );
    select.addEventListener("change", () => {
      this.metric = select.value;
      onMetric();
      this.curves.clear();
      this.refresh();
    });
    this.chart = new Chart({ id: "curves", title: "Curves of the runs", subtitle: "per epoch · the best run drawn thick", filename: `sweep${sweepId}_curves`, tools: [select] });
  }

  /** The sweep as last read; varied: the keys that label each run. */
  update(sweep, varied) {
    this.sweep = sweep;
    this.varied = varied;
  }

  async refresh() {
    const rows = this.sweep ? this.sweep.results || [] : [];
    const width = this.chart.width();
    const wanted = this.metric;
    await pool(staleCurves(rows, this.curves), PARALLEL_READS, async (row) => {
      try {
        const data = await getMetrics(row.run_id, { keys: wanted, max_points: width });
        if (wanted !== this.metric) return;
        this.curves.set(row.run_id, { epoch: row.epoch, status: row.status, series: data[wanted] || { step: [], value: [] } });
      } catch {
        /* the next refresh tries again */
      }
    });
    if (this.page.destroyed || wanted !== this.metric) return;
    this.#render();
  }

  async #render() {
    const rows = [...(this.sweep.results || [])].sort((a, b) => a.run_id - b.run_id);
    const isAcc = this.metric.endsWith("_acc");
    const many = rows.length > 10;
    const traces = [];
    rows.forEach((row, i) => {
      const entry = this.curves.get(row.run_id);
      if (!entry || !entry.series.step.length) return;
      traces.push({
        type: "scatter",
        mode: entry.series.step.length <= 60 ? "lines+markers" : "lines",
        name: rowLabel(row, this.varied),
        x: [...entry.series.step],
        y: entry.series.value.map((v) => (v === null ? null : isAcc ? 100 * v : v)),
        line: { color: COLORS[i % COLORS.length], width: row.best ? 3.5 : 1.6 },
        marker: { size: row.best ? 6 : 4 },
        opacity: row.best || !many ? 1 : 0.55,
        meta: row.run_id,
      });
    });
    const label = CURVE_METRICS[this.metric];
    const layout = baseLayout({ xTitle: "epoch", yTitle: isAcc ? `${label} (%)` : label });
    layout.hovermode = "closest";
    layout.legend = { orientation: "v", x: 1.02, y: 1, xanchor: "left", bgcolor: "rgba(0,0,0,0)", font: { size: 11 } };
    layout.showlegend = traces.length <= 20;
    this.chart.empty.textContent = rows.some((r) => r.epoch > 0) ? "Loading curves…" : "Waiting for the first epoch…";
    await this.chart.render(traces, fitLayout(layout, traces, { integerX: true }));
  }

  destroy() {
    this.chart.destroy();
  }
}
