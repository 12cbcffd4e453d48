// The runs table: sortable headers, one row per run (rewritten only when it changed), selection checkboxes,
// the empty state and the pager.

import { cancelRun, errorText } from "../../api.js";
import { ago } from "../../clock.js";
import { confirmAction } from "../../confirm.js";
import { TERMINAL, duration, elapsed, h, num, pct, progressBar, statusBadge, syncRows, toast } from "../../dom.js";
import { hrefFor } from "../../router.js";
import { selection } from "../../selection.js";
import { commandLabel, isCommandRun } from "../../command.js";
import { archLabel, specSummary } from "../../spec.js";
import { cellText, columnLabel, columnTitle, numericColumn, runValues } from "./columns.js";
import { COLUMNS, PAGE_SIZES, rangeText, rowSignature, sortBy } from "./query.js";

export class RunsTable {
  /**
   * state: the page's table state (sort and paging are changed here, then `changed(resetOffset)`);
   * reload(): read the page again (after a cancel); onTag(tag): filter by a tag; onClearFilters(): reset them.
   */
  constructor(state, { changed, reload, onTag, onClearFilters }) {
    this.state = state;
    this.actions = { changed, reload, onTag, onClearFilters };
    this.runs = [];
    this.rows = new Map(); // run id -> <tr>
    this.selectAll = h("input", { type: "checkbox", "aria-label": "Select all runs on this page" });
    this.selectAll.addEventListener("change", () => this.#selectPage(this.selectAll.checked));
    this.columns = COLUMNS; // the default ones, and the chosen config and summary keys before "Duration"
    this.columnsSig = "";
    this.headRow = h("tr");
    this.headerCells = [];
    this.tbody = h("tbody");
    const table = h("table", { class: "runs-table cards-on-phone", dataset: { testid: "runs-table" } }, h("thead", {}, this.headRow), this.tbody);
    this.#renderHead(COLUMNS);
    this.emptyRow = h("div", { class: "empty-state", hidden: true });
    this.card = h("div", { class: "card table-card" }, h("div", { class: "table-scroll" }, table), this.emptyRow, this.#pager());
  }

  /** The columns for these rows: a chosen key is right-aligned when its values on this page are numbers. */
  #columnsFor(runs) {
    const chosen = this.state.cols.map((key) => ({ key, label: columnLabel(key), title: columnTitle(key), sort: key, num: numericColumn(runs, key), chosen: true }));
    const at = COLUMNS.findIndex((c) => c.key === "duration_s");
    return [...COLUMNS.slice(0, at), ...chosen, ...COLUMNS.slice(at)];
  }

  #renderHead(columns) {
    this.columns = columns;
    this.headerCells = columns.map((col) => this.#headerCell(col));
    this.headRow.replaceChildren(h("th", { class: "select-col" }, this.selectAll), ...this.headerCells, h("th", { class: "actions-col" }, ""));
  }

  #headerCell(col) {
    const th = h("th", { class: `${col.num ? "num" : ""}${col.chosen ? " chosen-col" : ""}`.trim(), title: col.title, scope: "col", dataset: { col: col.key } });
    if (!col.sort) {
      th.append(col.label);
      return th;
    }
    const sort = () => {
      Object.assign(this.state, sortBy(this.state, col.sort));
      this.actions.changed();
    };
    th.append(h("button", { type: "button", class: "sort", onclick: sort }, col.label, h("span", { class: "sort-arrow", "aria-hidden": "true" })));
    return th;
  }

  #pager() {
    const pageSize = h(
      "select",
      { "aria-label": "Runs per page" },
      PAGE_SIZES.map((n) => h("option", { value: String(n), selected: n === this.state.limit }, String(n))),
    );
    pageSize.addEventListener("change", () => {
      this.state.limit = Number(pageSize.value);
      this.actions.changed();
    });
    this.range = h("span", { class: "muted" });
    this.prev = h("button", { type: "button", onclick: () => this.#page(-1) }, "‹ Prev");
    this.next = h("button", { type: "button", onclick: () => this.#page(1) }, "Next ›");
    return h("footer", { class: "pager" }, h("label", { class: "inline" }, "Rows per page ", pageSize), this.range, this.prev, this.next);
  }

  #page(direction) {
    this.state.offset = Math.max(0, this.state.offset + direction * this.state.limit);
    this.actions.changed(false);
  }

  #selectPage(on) {
    const ids = new Set(selection.ids());
    for (const run of this.runs) {
      if (on) ids.add(run.id);
      else ids.delete(run.id);
    }
    selection.set([...ids]);
  }

  /** Shows one page of runs (`total`: of every page; `filtered`: the empty state offers to clear the filters). */
  render(runs, total, filtered) {
    this.runs = runs;
    const columns = this.#columnsFor(runs);
    const columnsSig = JSON.stringify(columns.map((c) => [c.key, c.num]));
    const force = columnsSig !== this.columnsSig; // a column came or went: every row is filled again
    if (force) this.#renderHead(columns);
    this.columnsSig = columnsSig;
    this.#renderSortMarks();
    syncRows(this.tbody, this.rows, runs, {
      force,
      id: (run) => run.id,
      dataset: (run) => ({ runId: String(run.id) }),
      signature: (run) => rowSignature(run),
      fill: (tr, run) => this.#fillRow(tr, run),
      each: (tr, run) => {
        const box = tr.querySelector("input[type=checkbox]");
        box.checked = selection.has(run.id);
        tr.classList.toggle("selected", box.checked);
      },
    });
    this.emptyRow.hidden = runs.length > 0;
    this.emptyRow.replaceChildren(
      ...(filtered
        ? [h("p", {}, "No runs match these filters. "), h("button", { type: "button", class: "link-button", onclick: () => this.actions.onClearFilters() }, "Clear the filters")]
        : [h("p", {}, "No runs yet. "), h("a", { href: "#/launch" }, "Launch the first one"), "."]),
    );
    this.range.textContent = rangeText(this.state.offset, runs.length, total);
    this.prev.disabled = this.state.offset === 0;
    this.next.disabled = this.state.offset + runs.length >= total;
  }

  #renderSortMarks() {
    for (const th of this.headerCells) {
      const col = this.columns.find((c) => c.key === th.dataset.col);
      const active = col.sort && col.sort === this.state.sort;
      th.classList.toggle("sorted", Boolean(active));
      th.setAttribute("aria-sort", active ? (this.state.order === "asc" ? "ascending" : "descending") : "none");
      const arrow = th.querySelector(".sort-arrow");
      if (arrow) arrow.textContent = active ? (this.state.order === "asc" ? " ▲" : " ▼") : "";
    }
  }

  /** The checkboxes as the selection says (it changes in other tabs and views too). */
  refreshSelection(ids) {
    const onPage = this.runs.filter((r) => ids.includes(r.id)).length;
    this.selectAll.checked = this.runs.length > 0 && onPage === this.runs.length;
    this.selectAll.indeterminate = onPage > 0 && onPage < this.runs.length;
    for (const [id, tr] of this.rows) {
      const box = tr.querySelector("input[type=checkbox]");
      if (box) box.checked = ids.includes(id);
      tr.classList.toggle("selected", ids.includes(id));
    }
  }

  #fillRow(tr, run) {
    const s = specSummary(run.spec);
    const summary = run.summary || {};
    const box = h("input", { type: "checkbox", "aria-label": `Select run ${run.id}` });
    box.addEventListener("change", () => selection.toggle(run.id, box.checked));
    const cells = {
      id: h("td", { class: "num mono" }, h("a", { href: `#/runs/${run.id}` }, `#${run.id}`)),
      name: h("td", { class: "name-cell" }, h("a", { href: `#/runs/${run.id}`, class: "run-name" }, run.name), this.#tags(run)),
      // a queued run: how many runs are ahead, or that no online worker takes it (the API's words)
      status: h("td", {}, statusBadge(run.status), run.status === "queued" && run.status_detail ? h("span", { class: "status-note", dataset: { testid: "status-note" } }, run.status_detail) : null),
      dataset: h("td", {}, s.dataset || "—"),
      // a command run: the script or program it runs, where a built-in run names its architecture
      arch: isCommandRun(run) ? h("td", { class: "nowrap mono", title: run.command.join(" ") }, commandLabel(run.command)) : h("td", { class: "nowrap" }, archLabel(run.spec)),
      optimizer: h("td", {}, s.optimizer || "—"),
      lr: h("td", { class: "num mono" }, num(s.lr)),
      batch_size: h("td", { class: "num mono" }, num(s.batch_size)),
      weight_decay: h("td", { class: "num mono" }, num(s.weight_decay)),
      epoch: h("td", { class: "epoch-cell" }, progressBar(run.progress, `${run.epoch}/${s.epochs || 0}`)),
      best_valid_acc: h("td", { class: "num mono" }, pct(summary.best_valid_acc)),
      test_acc_at_best: h("td", { class: "num mono" }, pct(summary.test_acc_at_best)),
      duration_s: h("td", { class: "num mono nowrap" }, duration((summary.duration_s ?? elapsed(run)) ?? undefined)),
      created_at: h("td", { class: "nowrap muted" }, ago(run.created_at)),
    };
    const values = runValues(run);
    for (const c of this.columns) if (c.chosen) cells[c.key] = h("td", { class: c.num ? "num mono" : "mono chosen-cell" }, cellText(values[c.key]));
    // data-col and data-label: on a phone each row is a card, each cell a labelled value (css/app.css, "phone")
    for (const c of this.columns) Object.assign(cells[c.key].dataset, { col: c.key, label: c.label });
    tr.replaceChildren(h("td", { class: "select-col" }, box), ...this.columns.map((c) => cells[c.key]), h("td", { class: "actions-col" }, this.#cancelButton(run)));
  }

  /** Under the name: tags (a click filters by one), the sweep, external, early stop, archived. */
  #tags(run) {
    const tags = run.tags ?? ((run.spec && run.spec.tags) || []); // as they are now (PATCH), not as launched
    if (!(tags.length || run.sweep_id || run.external || run.stop_requested || run.archived)) return null;
    return h(
      "div",
      { class: "tags" },
      tags.map((tag) => h("button", { type: "button", class: "tag", title: `Show runs tagged ${tag}`, onclick: () => this.actions.onTag(tag) }, tag)),
      run.sweep_id ? h("a", { class: "tag tag-sweep", href: hrefFor("/runs", { sweep_id: run.sweep_id }) }, `sweep #${run.sweep_id}`) : null,
      run.external ? h("span", { class: "tag tag-external", title: "tracked by your own script" }, "external") : null,
      run.archived ? h("span", { class: "tag tag-archived", title: "hidden from the runs table unless Archived is on" }, "archived") : null,
      // stopped by the sweep's early-termination rule: a finished run, not a failure
      run.stop_requested && run.status !== "cancelled"
        ? h("span", { class: "tag tag-early", title: run.stop_requested }, run.status === "running" ? "finishing early" : "stopped early")
        : null,
    );
  }

  #cancelButton(run) {
    if (TERMINAL.has(run.status)) return null;
    const cancel = async (e) => {
      const button = e.currentTarget;
      const asked = { title: `Cancel run #${run.id}?`, message: `"${run.name}" is ${run.status}: a running run stops within seconds and keeps its metrics, a queued one never starts.` };
      if (!(await confirmAction(asked))) return;
      button.disabled = true;
      try {
        await cancelRun(run.id);
        toast(`Run #${run.id} cancelled`);
      } catch (error) {
        toast(`Could not cancel run #${run.id}: ${errorText(error)}`, "error");
      }
      this.actions.reload();
    };
    return h("button", { type: "button", class: "small danger", title: "Cancel this run", dataset: { action: "cancel" }, onclick: cancel }, "Cancel");
  }
}
