// Runs view (#/runs), the page shell: every run in a server-sorted, server-paged table that refreshes itself
// every 2 s; the state (filters, the query, sort, page, the chosen config and summary columns, the selection)
// lives in the URL, so a copied URL opens the same view in a fresh tab.

import { ApiError, errorText, listRuns } from "../../api.js";
import { h, whileVisible } from "../../dom.js";
import { navigate, replaceQuery } from "../../router.js";
import { selection } from "../../selection.js";
import { BulkCancel } from "./bulk-cancel.js";
import { BulkCurate } from "./bulk-curate.js";
import { columnStore } from "./columns.js";
import { ColumnsMenu } from "./columns-menu.js";
import { RunsFilters } from "./filters.js";
import { RowCursor } from "./keys.js";
import { apiQuery, countText, isFiltered, lastPageOffset, queryProblem, readState, urlQuery } from "./query.js";
import { SweepCard } from "./sweep-card.js";
import { RunsTable } from "./table.js";

const POLL_MS = 2000;
const SWEEPS_POLL_MS = 15000;

export function mount(root, route) {
  const state = readState(route.query, columnStore.read());
  // A tab with no selection yet (a shared URL opened) takes the URL's; otherwise the tab's own selection wins (it
  // may have changed on another page since this URL was written: a run page's "Select for compare", Back).
  if (state.sel.length && !selection.ids().length) selection.set(state.sel);
  const urlSel = state.sel.join(",");
  state.sel = selection.ids();
  if ((state.cols.length && !("cols" in route.query)) || state.sel.join(",") !== urlSel) {
    replaceQuery(urlQuery(state)); // the last choice of columns and the selection, made shareable
  }
  const page = { destroyed: false };
  let requestNo = 0; // only the newest read may draw: filters change faster than the server answers
  let prefetched = route.prefetched; // this URL's runs, read by the router while this module loaded

  const countLabel = h("span", { class: "muted", dataset: { testid: "runs-total" } }, "");
  const compareButton = h("button", { type: "button", class: "primary", onclick: () => navigate("/compare", { ids: selection.ids() }) }, "Compare");
  const clearButton = h("button", { type: "button", onclick: () => selection.clear() }, "Clear selection");
  const bulkCancel = new BulkCancel({ reload: load });
  const bulkCurate = new BulkCurate(state, { reload: load });
  const head = pageHead(countLabel, [clearButton, bulkCancel.button, ...bulkCurate.buttons, compareButton]);
  const filters = new RunsFilters(state, page, { changed });
  const columnsMenu = new ColumnsMenu(state, { changed: columnsChanged });
  filters.el.append(columnsMenu.el);
  const table = new RunsTable(state, { changed, reload: load, onTag: (tag) => filters.setTag(tag), onClearFilters: () => filters.reset() });
  const sweepCard = new SweepCard(state, page, { reload: load });
  const cursor = new RowCursor(table, filters.search);
  const errorBanner = h("div", { class: "banner banner-error", hidden: true, role: "alert" });
  root.append(head, filters.el, errorBanner, sweepCard.el, table.card);

  /** The state changed: into the URL, then read again (back to the first page unless paging). */
  function changed(resetOffset = true) {
    if (page.destroyed) return; // the search box's late write (its debounce) after a run was opened
    if (resetOffset) state.offset = 0;
    replaceQuery(urlQuery(state));
    load();
    sweepCard.load();
  }

  /** Columns added or removed: into the URL and kept for the next visit, then the rows drawn with them. */
  function columnsChanged() {
    columnStore.write(state.cols);
    replaceQuery(urlQuery(state));
    load();
  }

  async function load() {
    const mine = ++requestNo;
    try {
      const read = prefetched || listRuns(apiQuery(state));
      prefetched = null;
      const result = await read;
      if (page.destroyed || mine !== requestNo) return;
      if (!result.runs.length && state.offset > 0 && result.total > 0) {
        // the page emptied (runs deleted or filters changed): go to the last page that has rows
        state.offset = lastPageOffset(result.total, state.limit);
        changed(false);
        return;
      }
      errorBanner.hidden = true;
      filters.showQueryProblem(null);
      const filtered = isFiltered(state);
      countLabel.textContent = countText(result.total, filtered, state.archived);
      columnsMenu.update(result.runs);
      table.render(result.runs, result.total, filtered);
      cursor.paint();
      refreshSelection();
    } catch (error) {
      if (page.destroyed || mine !== requestNo) return;
      const problem = error instanceof ApiError && error.status === 422 ? queryProblem(error.detail) : null;
      filters.showQueryProblem(problem); // a query that means nothing is told next to the box, the rows stay
      errorBanner.hidden = Boolean(problem);
      errorBanner.textContent = `Could not load the runs: ${errorText(error)}`;
    }
  }

  function refreshSelection() {
    const ids = selection.ids();
    if (ids.join(",") !== state.sel.join(",")) {
      state.sel = ids;
      replaceQuery(urlQuery(state));
    }
    compareButton.textContent = ids.length ? `Compare ${ids.length} selected` : "Compare";
    compareButton.disabled = ids.length < 1;
    clearButton.hidden = ids.length === 0;
    table.refreshSelection(ids);
    bulkCancel.refresh(ids, table.runs);
    bulkCurate.refresh(ids, table.runs);
  }

  document.addEventListener("trainboard:selection", refreshSelection);
  load();
  filters.loadSweeps();
  sweepCard.load();
  const stopPolling = whileVisible(() => Promise.all([load(), sweepCard.load()]), POLL_MS);
  const stopSweepPolling = whileVisible(() => filters.loadSweeps(), SWEEPS_POLL_MS);

  return () => {
    page.destroyed = true;
    columnsMenu.destroy();
    cursor.destroy();
    stopPolling();
    stopSweepPolling();
    document.removeEventListener("trainboard:selection", refreshSelection);
  };
}

function pageHead(countLabel, buttons) {
  const title = h("div", { class: "page-title" }, h("h1", {}, "Runs"), countLabel);
  return h("div", { class: "page-head" }, title, h("div", { class: "actions" }, buttons, h("a", { class: "button", href: "#/launch" }, "+ New run")));
}
