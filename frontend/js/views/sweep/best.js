// The sweep page's best-so-far chart: x the trial number (runs in the order they finished), y the best value of
// the ranked metric so far, each run's own value as a dot. Redrawn only when a finished run's value changed.

import { Chart, baseLayout } from "../../charts.js";
import { bestSoFar } from "./ranking.js";

export class BestSoFarChart {
  constructor(sweepId) {
    this.signature = "";
    this.data = null;
    this.chart = new Chart({
      id: "best-so-far",
      title: "Best so far",
      subtitle: "runs in the order they finished · the line: the best value up to each",
      filename: `sweep${sweepId}_best_so_far`,
      csv: async () => this.#csv(),
    });
  }

  get el() {
    return this.chart.el;
  }

  async render(rows, metric) {
    const data = bestSoFar(rows, metric);
    const signature = JSON.stringify([data, metric.key, metric.goal]);
    if (signature === this.signature) return;
    this.signature = signature;
    this.data = data;
    const traces = data.trial.length
      ? [
          { type: "scatter", mode: "markers", name: "run", x: data.trial, y: data.value, customdata: data.runIds, marker: { size: 7, color: "#9aa5b1" }, hovertemplate: "trial %{x}: run #%{customdata}<br>%{y:.4g}<extra></extra>" },
          { type: "scatter", mode: "lines+markers", name: "best so far", x: data.trial, y: data.best, line: { shape: "hv", width: 2.5 }, marker: { size: 4 } },
        ]
      : [];
    const layout = baseLayout({ xTitle: "trial (order of finishing)", yTitle: `${metric.label} · ${metric.goal === "minimize" ? "lower" : "higher"} is better` });
    layout.hovermode = "closest";
    layout.xaxis.dtick = data.trial.length <= 20 ? 1 : undefined;
    this.chart.empty.textContent = "Waiting for the first finished run…";
    await this.chart.render(traces, layout);
  }

  #csv() {
    const d = this.data || { trial: [], value: [], best: [], runIds: [] };
    return `trial,run_id,value,best_so_far\n${d.trial.map((t, i) => `${t},${d.runIds[i]},${d.value[i]},${d.best[i]}`).join("\n")}\n`;
  }

  destroy() {
    this.chart.destroy();
  }
}
