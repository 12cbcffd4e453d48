// The sweep page's results card: the table (one row per run, the best highlighted) and its CSV.

import { downloadText, h } from "../../dom.js";
import { resultsCsv, scoredRows } from "../../sweepdata.js";
import { ResultsTable } from "../../sweeptable.js";

export class ResultsCard {
  constructor(sweepId) {
    this.sweepId = sweepId;
    this.sweep = null;
    this.keys = [];
    this.table = null;
    this.slot = h("div", {});
    this.note = h("p", { class: "muted small-text" });
    const csv = h("button", { type: "button", class: "small", onclick: () => this.#downloadCsv() }, "CSV");
    this.el = h("section", { class: "card" }, h("header", { class: "card-head" }, h("div", {}, h("h3", {}, "Results"), this.note), h("div", { class: "tools" }, csv)), this.slot);
  }

  /** keys: the grid keys, one column each (the table is built once, with the first keys it is given). */
  render(sweep, keys) {
    this.sweep = sweep;
    this.keys = keys;
    const rows = sweep.results || [];
    if (!this.table) {
      const base = (sweep.spec && sweep.spec.base) || {};
      this.table = new ResultsTable({ keys, epochs: base.epochs });
      this.slot.replaceChildren(this.table.el);
    }
    this.table.update(rows);
    const scored = scoredRows(rows).length;
    this.note.textContent = `${rows.length} runs · ${scored} with a result · sorted by best valid accuracy (click a column to sort)`;
  }

  #downloadCsv() {
    if (this.sweep) downloadText(`sweep${this.sweepId}_results.csv`, resultsCsv(this.sweep.results || [], this.keys));
  }
}
