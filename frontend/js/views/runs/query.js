// The runs table's state as data: its columns, the URL ↔ state mapping (filters, the query, sort, columns, the
// selection), the API query, sorting and the paging words. No DOM, so tests/browser/test_view_helpers.py calls them.

import { STATUSES, TERMINAL } from "../../dom.js";
import { initialColumns, isColumnKey } from "./columns.js";

export const PAGE_SIZES = [25, 50, 100, 200];
const DEFAULT_LIMIT = 50;
const ASCENDING_FIRST = ["name", "dataset", "arch", "status"]; // text columns sort A→Z first, numbers high→low

// key: column id; sort: the API's sort key (none = not sortable server-side); num: right-aligned
export const COLUMNS = [
  { key: "id", label: "ID", sort: "id", num: true },
  { key: "name", label: "Name", sort: "name" },
  { key: "status", label: "Status", sort: "status" },
  { key: "dataset", label: "Dataset", sort: "dataset" },
  { key: "arch", label: "Architecture", sort: "arch" },
  { key: "optimizer", label: "Optimizer" },
  { key: "lr", label: "LR", sort: "lr", num: true },
  { key: "batch_size", label: "Batch", sort: "batch_size", num: true },
  { key: "weight_decay", label: "WD", num: true, title: "weight decay (L2)" },
  { key: "epoch", label: "Epoch", sort: "epoch" },
  { key: "best_valid_acc", label: "Best valid", sort: "best_valid_acc", num: true, title: "best validation accuracy" },
  { key: "test_acc_at_best", label: "Test @ best", sort: "test_acc_at_best", num: true, title: "test accuracy at the best validation epoch" },
  { key: "duration_s", label: "Duration", sort: "duration_s", num: true },
  { key: "created_at", label: "Created", sort: "created_at" },
];

const SERVER_SORTS = new Set(COLUMNS.map((c) => c.sort).filter(Boolean));

/**
 * The table's state from the URL's query; anything unknown falls back to its default. `cols`: the chosen config
 * and summary columns (the URL's, else `storedCols`, the last choice); `sort` may name any config or summary key
 * (the API sorts by it); `sel`: the ids of the selected runs.
 */
export function readState(query, storedCols = "") {
  const limit = Number(query.limit);
  const cols = initialColumns(query, storedCols);
  return {
    status: (query.status || "").split(",").filter((s) => STATUSES.includes(s)),
    tag: query.tag || "",
    sweep_id: query.sweep_id || "",
    q: query.q || "",
    archived: query.archived === "true", // the archived runs instead of the others
    sort: SERVER_SORTS.has(query.sort) || isColumnKey(query.sort) ? query.sort : "id",
    order: query.order === "asc" ? "asc" : "desc",
    limit: PAGE_SIZES.includes(limit) ? limit : DEFAULT_LIMIT,
    offset: Math.max(0, Number(query.offset) || 0),
    cols,
    sel: parseIds(query.sel),
  };
}

/** "3,1,x,3" → [1, 3]: run ids, each once, in order. */
export function parseIds(text) {
  const ids = String(text || "").split(",").map(Number).filter((id) => Number.isInteger(id) && id > 0);
  return [...new Set(ids)].sort((a, b) => a - b);
}

/** The URL's query for a state: defaults left out, so a plain #/runs stays plain. */
export function urlQuery(state) {
  return {
    status: state.status.join(","),
    tag: state.tag,
    sweep_id: state.sweep_id,
    q: state.q,
    archived: state.archived ? "true" : "",
    sort: state.sort === "id" ? "" : state.sort,
    order: state.order === "desc" ? "" : state.order,
    limit: state.limit === DEFAULT_LIMIT ? "" : state.limit,
    offset: state.offset || "",
    cols: state.cols.join(","),
    sel: state.sel.join(","),
  };
}

/** The query of GET /api/runs for a state: the API filters, sorts (by any config or summary key too) and pages. */
export function apiQuery(state) {
  const { status, tag, sweep_id, q, sort, order, limit, offset } = state;
  return { status: status.join(","), tag, sweep_id, q, sort, order, limit, offset, ...(state.archived ? { archived: "true" } : {}) };
}

/** A 422 about `q` (`{loc: ["query", "q"], msg, ctx: {position}}`) → {message, position}; null for any other error. */
export function queryProblem(detail) {
  const problem = Array.isArray(detail) ? detail.find((d) => d && Array.isArray(d.loc) && d.loc[0] === "query" && d.loc[1] === "q") : null;
  if (!problem) return null;
  const position = problem.ctx && Number.isInteger(problem.ctx.position) ? problem.ctx.position : null;
  return { message: String(problem.msg || ""), position };
}

/** The query cut around `position` for showing where it went wrong: [before, at (one character or ""), after]. */
export function markAt(q, position) {
  if (position === null || position === undefined || position < 0) return [q, "", ""];
  return [q.slice(0, position), q.slice(position, position + 1), q.slice(position + 1)];
}

export function isFiltered(state) {
  return Boolean(state.status.length || state.tag || state.sweep_id || state.q || state.archived);
}

/** A click on a sortable header: the same column flips its order, another starts in its natural order. */
export function sortBy(state, sort) {
  if (state.sort === sort) return { sort, order: state.order === "asc" ? "desc" : "asc" };
  return { sort, order: ASCENDING_FIRST.includes(sort) ? "asc" : "desc" };
}

/** The offset of the last page that has rows (a page emptied by deleted runs or new filters goes there). */
export function lastPageOffset(total, limit) {
  return Math.max(0, Math.floor((total - 1) / limit) * limit);
}

/** "1,234 runs", "1 run match", "3 archived runs" */
export function countText(total, filtered, archived = false) {
  return `${total.toLocaleString("en-US")} ${archived ? "archived " : ""}${total === 1 ? "run" : "runs"}${filtered ? " match" : ""}`;
}

/** The pager's "51–100 of 1,234". */
export function rangeText(offset, shown, total) {
  const first = total ? offset + 1 : 0;
  return `${first.toLocaleString("en-US")}–${(offset + shown).toLocaleString("en-US")} of ${total.toLocaleString("en-US")}`;
}

/** What a row shows; an unfinished run's also changes every second, as its duration does. */
export function rowSignature(run, now = Date.now()) {
  const shown = JSON.stringify([run.status, run.epoch, run.progress, run.summary, run.config, run.name, run.tags, run.archived, run.started_at, run.finished_at, run.stop_requested]);
  return shown + (TERMINAL.has(run.status) ? "" : Math.floor(now / 1000));
}

/** A sweep's grid in one line: "optimizer.lr ∈ {0.1, 0.01} × batch_size ∈ {32, 64}". */
export function gridText(grid) {
  return Object.entries(grid)
    .map(([k, v]) => `${k} ∈ {${Array.isArray(v) ? v.join(", ") : "range"}}`)
    .join(" × ");
}
