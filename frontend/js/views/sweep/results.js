// The sweep page's results card: the table (one row per run, ranked by the chosen metric, the best highlighted)
// and its CSV.

import { downloadText, h } from "../../dom.js";
import { VALID_ACC, resultsCsv, scoredRows } from "../../sweepdata.js";
import { ResultsTable } from "../../sweeptable.js";

export class ResultsCard {
  /** tools: more controls in the card's header (the "Rank by" select). */
  constructor(sweepId, tools = []) {
    this.sweepId = sweepId;
    this.sweep = null;
    this.keys = [];
    this.table = null;
    this.slot = h("div", {});
    this.note = h("p", { class: "muted small-text" });
    const csv = h("button", { type: "button", class: "small", onclick: () => this.#downloadCsv() }, "CSV");
    this.el = h("section", { class: "card" }, h("header", { class: "card-head" }, h("div", {}, h("h3", {}, "Results"), this.note), h("div", { class: "tools" }, ...tools, csv)), this.slot);
  }

  /**
   * keys: the grid keys, one column each (the table is built once with the first keys it is given, and again when
   * the metric changes); rows: ranked by ``metric``, which has its own column unless it is the best valid accuracy.
   */
  render(sweep, keys, rows = sweep.results || [], metric = VALID_ACC) {
    this.sweep = sweep;
    this.keys = keys;
    this.rows = rows;
    if (!this.table || this.metricKey !== `${metric.key}:${metric.goal}`) {
      const base = (sweep.spec && sweep.spec.base) || {};
      this.metricKey = `${metric.key}:${metric.goal}`;
      this.table = new ResultsTable({ keys, epochs: base.epochs, rank: metric === VALID_ACC ? null : metric });
      this.slot.replaceChildren(this.table.el);
    }
    this.table.update(rows);
    const scored = scoredRows(rows, metric).length;
    const by = metric === VALID_ACC ? "best valid accuracy" : `${metric.label}, ${metric.goal === "minimize" ? "lowest" : "highest"} first`;
    this.note.textContent = `${rows.length} runs · ${scored} with a result · sorted by ${by} (click a column to sort)`;
  }

  #downloadCsv() {
    if (this.sweep) downloadText(`sweep${this.sweepId}_results.csv`, resultsCsv(this.rows || this.sweep.results || [], this.keys));
  }
}
