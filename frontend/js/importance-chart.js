// Hyperparameter importance as bars (GET /api/importance: Optuna's PED-ANOVA over the runs' varied config keys),
// shared by the compare and sweep pages. A metric picker; a 422 (too few runs with the metric, nothing varied)
// shows its reason in place of the bars.

import { errorText, get } from "./api.js";
import { Chart, baseLayout } from "./charts.js";
import { h } from "./dom.js";

/** What the API needs (backend/services/importance.py): at least this many runs with a value of the metric. */
export const MIN_RUNS = 3;

/** The precheck's words for `n` runs with the metric and the keys that vary among them. */
export function importanceProblem(metric, n, varied) {
  if (n < MIN_RUNS) return `Importance needs at least ${MIN_RUNS} runs with a value of ${metric} (${n} so far).`;
  return varied ? "" : `No config key varies among the runs with ${metric}.`;
}

export class ImportanceCard {
  /** id: the chart's data-chart; onMetric(metric) when the user picks another (for the URL). */
  constructor({ id, metric = "", onMetric = () => {} }) {
    this.metric = metric;
    this.onMetric = onMetric;
    this.select = h("select", { name: "importance-metric", "aria-label": "Importance for", onchange: () => this.#pick() });
    this.chart = new Chart({
      id,
      title: "Hyperparameter importance",
      subtitle: "How much each varied config key decides reaching the best values of the metric (Optuna's PED-ANOVA)",
      filename: id,
      tools: [h("label", { class: "inline" }, "for ", this.select)],
    });
    this.el = this.chart.el;
    this.runIds = [];
    this.asked = "";
    this.offered = "";
    this.loadNo = 0;
  }

  #pick() {
    this.metric = this.select.value;
    this.onMetric(this.metric);
    this.update(this.runIds, this.options, this.freshness, this.precheck);
  }

  /**
   * ids: the runs; options: the metrics to offer (e.g. summary.best_valid_acc, valid_acc); freshness: anything
   * that changes when the runs' results may have (asked again only then); precheck(metric): why the API would
   * refuse (too few runs with the metric, nothing varied), said here instead of a 422 in the console, or "".
   */
  async update(ids, options, freshness = "", precheck = () => "") {
    this.runIds = ids;
    this.options = options;
    this.freshness = freshness;
    this.precheck = precheck;
    if (!options.includes(this.metric)) this.metric = options[0] || this.metric;
    const offered = JSON.stringify([options, this.metric]);
    if (offered !== this.offered) {
      this.offered = offered;
      this.select.replaceChildren(...options.map((k) => h("option", { value: k, selected: k === this.metric }, k)));
      this.select.value = this.metric;
    }
    const asked = JSON.stringify([ids, this.metric, freshness]);
    if (asked === this.asked || !ids.length || !this.metric) return;
    this.asked = asked;
    const mine = ++this.loadNo;
    const refused = precheck(this.metric);
    if (refused) return this.#draw(null, refused);
    let found = null;
    let problem = "";
    try {
      found = await get("/importance", { runs: ids.join(","), metric: this.metric });
    } catch (error) {
      problem = errorText(error);
    }
    if (mine !== this.loadNo || this.chart.destroyed) return;
    await this.#draw(found, problem);
  }

  #draw(found, problem) {
    const entries = found ? Object.entries(found.importance).reverse() : []; // largest at the top
    const trace = {
      type: "bar",
      orientation: "h",
      name: found ? `importance for ${found.metric}` : "importance",
      x: entries.map(([, v]) => v),
      y: entries.map(([k]) => k),
      text: entries.map(([, v]) => `${(100 * v).toFixed(0)} %`),
      textposition: "auto",
      marker: { color: "#2563eb" },
      hovertemplate: "%{y}: %{x:.3f}<extra></extra>",
    };
    const layout = baseLayout({ xTitle: found ? `importance (${found.goal} ${found.metric}, ${found.runs.length} runs)` : "" });
    layout.hovermode = "closest";
    layout.showlegend = false;
    layout.yaxis.type = "category"; // the keys
    layout.xaxis.range = [0, 1];
    layout.xaxis.autorange = false;
    this.chart.empty.textContent = problem || "No importance yet.";
    this.chart.el.dataset.problem = problem;
    return this.chart.render(entries.length ? [trace] : [], layout);
  }

  destroy() {
    this.chart.destroy();
  }
}
