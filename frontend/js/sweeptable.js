// A sweep's results table: varied values as columns, the best run highlighted, early-stopped runs marked as such
// (not as failures). Rows are updated in place, so a live sweep's table never flickers.

import { duration, h, num, pct, statusBadge, syncRows } from "./dom.js";
import { formatValue, shortKey } from "./spec.js";

const METRIC_COLUMNS = [
  { key: "best_valid_acc", label: "Best valid", title: "best validation accuracy", num: true, cell: (r) => pct(r.best_valid_acc) },
  { key: "best_epoch", label: "Best epoch", title: "the epoch of the best validation accuracy", num: true, cell: (r) => num(r.best_epoch) },
  { key: "test_acc_at_best", label: "Test @ best", title: "test accuracy at the best validation epoch", num: true, cell: (r) => pct(r.test_acc_at_best) },
  { key: "gen_gap", label: "Gap", title: "generalization gap: train − test accuracy at the best epoch", num: true, cell: (r) => pct(r.gen_gap) },
  { key: "n_params", label: "Params", title: "number of parameters", num: true, cell: (r) => num(r.n_params) },
  { key: "duration_s", label: "Duration", num: true, cell: (r) => duration(r.duration_s ?? undefined) },
];

/** "stopped early" / "finishing early" for a run the sweep's early-termination rule stopped. */
export function earlyStopTag(row) {
  if (!row.stop_reason) return null;
  if (row.status === "running") return h("span", { class: "tag tag-early", title: row.stop_reason }, "finishing early");
  if (row.status === "succeeded") return h("span", { class: "tag tag-early", title: row.stop_reason }, "stopped early");
  return null;
}

export class ResultsTable {
  /**
   * @param {object} o
   * @param {string[]} o.keys     the grid keys (columns of varied values)
   * @param {number} [o.epochs]   the base spec's epochs, for "3/25" (unless epochs is itself varied)
   * @param {boolean} [o.compact] the report's version: no duration or stop-reason columns
   * @param {object} [o.rank]      the metric the rows are ranked by (views/sweep/ranking.js), a column of its own
   */
  constructor({ keys, epochs, compact = false, rank = null }) {
    this.keys = keys;
    this.rank = rank;
    this.epochs = epochs;
    this.compact = compact;
    this.sort = null; // {key, dir} or null: the server's order (best first)
    this.rows = [];
    this.trs = new Map();
    this.tbody = h("tbody");
    this.headCells = [];
    const columns = this.columns();
    this.table = h(
      "table",
      { class: "runs-table results-table compact", dataset: { testid: "results-table" } },
      h("thead", {}, h("tr", {}, columns.map((c) => this.headCell(c)))),
      this.tbody,
    );
    this.el = h("div", { class: "table-scroll" }, this.table);
  }

  columns() {
    const cols = [
      { key: "rank", label: "", sortable: false },
      { key: "run_id", label: "Run", num: true },
      { key: "status", label: "Status" },
      { key: "epoch", label: "Epoch", num: true },
      ...this.keys.map((key) => ({ key: `values.${key}`, label: shortKey(key), title: key, hl: true })),
      ...(this.rank ? [{ key: "rank_value", label: this.rank.label, title: `ranked by ${this.rank.label}`, num: true }] : []),
      ...METRIC_COLUMNS.filter((c) => !this.compact || c.key !== "duration_s"),
    ];
    if (!this.compact) cols.push({ key: "stop_reason", label: "Stop reason", title: "why the sweep's early-termination rule stopped the run" });
    return cols;
  }

  headCell(col) {
    const th = h("th", { class: [col.num ? "num" : "", col.hl ? "hl" : ""].join(" ").trim(), title: col.title, scope: "col", dataset: { col: col.key } });
    if (col.sortable === false) return th;
    th.append(
      h(
        "button",
        {
          type: "button",
          class: "sort",
          onclick: () => {
            // first click: the natural order (numbers high to low), second: reversed, third: the API's order again
            const first = col.num ? "desc" : "asc";
            if (!this.sort || this.sort.key !== col.key) this.sort = { key: col.key, dir: first };
            else if (this.sort.dir === first) this.sort = { key: col.key, dir: first === "asc" ? "desc" : "asc" };
            else this.sort = null;
            this.update(this.rows, true);
          },
        },
        col.label,
        h("span", { class: "sort-arrow", "aria-hidden": "true" }),
      ),
    );
    this.headCells.push({ th, col });
    return th;
  }

  sorted(rows) {
    if (!this.sort) return rows;
    const { key, dir } = this.sort;
    const get = (r) => (key.startsWith("values.") ? r.values[key.slice(7)] : r[key]);
    const sign = dir === "asc" ? 1 : -1;
    return [...rows].sort((a, b) => {
      const x = get(a);
      const y = get(b);
      if (x === null || x === undefined) return y === null || y === undefined ? a.run_id - b.run_id : 1;
      if (y === null || y === undefined) return -1;
      if (typeof x === "number" && typeof y === "number") return sign * (x - y) || a.run_id - b.run_id;
      return sign * formatValue(x).localeCompare(formatValue(y), undefined, { numeric: true }) || a.run_id - b.run_id;
    });
  }

  /** Show these rows (the API's order: best first). Only rows whose data changed are rewritten. */
  update(rows, force = false) {
    this.rows = rows;
    for (const { th, col } of this.headCells) {
      const active = this.sort && this.sort.key === col.key;
      th.classList.toggle("sorted", Boolean(active));
      th.querySelector(".sort-arrow").textContent = active ? (this.sort.dir === "asc" ? " ▲" : " ▼") : "";
    }
    syncRows(this.tbody, this.trs, this.sorted(rows), {
      id: (row) => row.run_id,
      dataset: (row) => ({ runId: String(row.run_id) }),
      signature: (row, i) => JSON.stringify([row, i, this.sort]),
      fill: (tr, row, i) => this.fill(tr, row, i),
      force,
    });
  }

  fill(tr, row, i) {
    tr.classList.toggle("best", Boolean(row.best));
    tr.classList.toggle("early", Boolean(row.stop_reason));
    tr.dataset.best = row.best ? "true" : "false";
    tr.dataset.status = row.status;
    const epochs = this.keys.includes("epochs") ? row.values.epochs : this.epochs;
    const cells = [
      h("td", { class: "rank" }, row.best ? h("span", { class: "best-mark", title: this.rank ? `best ${this.rank.label} of the sweep` : "best validation accuracy of the sweep" }, "★ best") : this.sort ? "" : String(i + 1)),
      h("td", { class: "num mono nowrap" }, h("a", { href: `#/runs/${row.run_id}`, title: row.name }, `#${row.run_id}`)),
      h("td", { class: "nowrap" }, statusBadge(row.status), " ", earlyStopTag(row)),
      h("td", { class: "num mono nowrap" }, epochs ? `${row.epoch}/${epochs}` : String(row.epoch ?? "—")),
      ...this.keys.map((key) => h("td", { class: "mono hl", dataset: { key } }, formatValue(row.values[key]))),
      ...(this.rank ? [h("td", { class: "num mono nowrap", dataset: { col: "rank_value" } }, row.rank_value === null ? "—" : formatValue(Number(row.rank_value.toPrecision(4))))] : []),
      ...METRIC_COLUMNS.filter((c) => !this.compact || c.key !== "duration_s").map((c) => h("td", { class: "num mono nowrap", dataset: { col: c.key } }, c.cell(row))),
    ];
    if (!this.compact) {
      cells.push(
        h(
          "td",
          { class: "stop-reason small-text", dataset: { col: "stop_reason" } },
          row.stop_reason || (row.status === "failed" ? h("a", { class: "fail-text", href: `#/runs/${row.run_id}` }, "failed: see the run") : ""),
        ),
      );
    }
    tr.replaceChildren(...cells);
  }
}
