// Runs view: every run in a server-sorted, server-paged table that refreshes itself every 2 s.

import { cancelRun, errorText, get, listRuns, post } from "../api.js";
import {
  STATUSES,
  TERMINAL,
  debounce,
  duration,
  elapsed,
  h,
  localTime,
  num,
  pct,
  progressBar,
  statusBadge,
  syncRows,
  timeAgo,
  toast,
  whileVisible,
} from "../dom.js";
import { hrefFor, navigate, replaceQuery } from "../router.js";
import { selection } from "../selection.js";
import { archLabel, specSummary } from "../spec.js";

const PAGE_SIZES = [25, 50, 100, 200];
const POLL_MS = 2000;

// key: column id; sort: the API's sort key (none = not sortable server-side); num: right-aligned
const COLUMNS = [
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

function readState(query) {
  const limit = Number(query.limit);
  return {
    status: (query.status || "").split(",").filter((s) => STATUSES.includes(s)),
    tag: query.tag || "",
    sweep_id: query.sweep_id || "",
    q: query.q || "",
    sort: COLUMNS.some((c) => c.sort === query.sort) ? query.sort : "id",
    order: query.order === "asc" ? "asc" : "desc",
    limit: PAGE_SIZES.includes(limit) ? limit : 50,
    offset: Math.max(0, Number(query.offset) || 0),
  };
}

export function mount(root, route) {
  const state = readState(route.query);
  let destroyed = false;
  let requestNo = 0;
  let lastRuns = [];
  let total = 0;
  const rows = new Map(); // run id -> <tr>

  // ---- header and filters -----------------------------------------------------------------------------------
  const countLabel = h("span", { class: "muted", dataset: { testid: "runs-total" } }, "");
  const compareButton = h("button", { type: "button", class: "primary", onclick: () => navigate("/compare", { ids: selection.ids() }) }, "Compare");
  const clearButton = h("button", { type: "button", onclick: () => selection.clear() }, "Clear selection");
  const head = h(
    "div",
    { class: "page-head" },
    h("div", { class: "page-title" }, h("h1", {}, "Runs"), countLabel),
    h("div", { class: "actions" }, clearButton, compareButton, h("a", { class: "button", href: "#/launch" }, "+ New run")),
  );

  const statusChips = STATUSES.map((status) =>
    h(
      "button",
      {
        type: "button",
        class: `chip chip-${status}`,
        "aria-pressed": String(state.status.includes(status)),
        dataset: { status },
        onclick: (e) => {
          const on = e.currentTarget.getAttribute("aria-pressed") !== "true";
          e.currentTarget.setAttribute("aria-pressed", String(on));
          state.status = STATUSES.filter((s) => (s === status ? on : state.status.includes(s)));
          changed();
        },
      },
      status,
    ),
  );
  const search = h("input", { type: "search", placeholder: "Search name, tag, architecture, id…", value: state.q, "aria-label": "Search runs", name: "q" });
  const tagInput = h("input", { type: "text", placeholder: "tag", value: state.tag, "aria-label": "Filter by tag", name: "tag", class: "narrow" });
  const sweepSelect = h("select", { "aria-label": "Filter by sweep", name: "sweep_id" }, h("option", { value: "" }, "All sweeps"));
  if (state.sweep_id) sweepSelect.append(h("option", { value: state.sweep_id, selected: true }, `Sweep #${state.sweep_id}`));
  const debounced = debounce(() => changed(), 300);
  search.addEventListener("input", () => {
    state.q = search.value.trim();
    debounced();
  });
  tagInput.addEventListener("input", () => {
    state.tag = tagInput.value.trim();
    debounced();
  });
  sweepSelect.addEventListener("change", () => {
    state.sweep_id = sweepSelect.value;
    changed();
  });
  const resetFilters = h(
    "button",
    {
      type: "button",
      class: "link-button",
      onclick: () => {
        Object.assign(state, { status: [], tag: "", sweep_id: "", q: "", offset: 0 });
        search.value = "";
        tagInput.value = "";
        sweepSelect.value = "";
        statusChips.forEach((chip) => chip.setAttribute("aria-pressed", "false"));
        changed();
      },
    },
    "Reset",
  );
  const filters = h(
    "div",
    { class: "card filters" },
    h("div", { class: "chips", role: "group", "aria-label": "Filter by status" }, statusChips),
    search,
    tagInput,
    sweepSelect,
    resetFilters,
  );

  // ---- table -----------------------------------------------------------------------------------------------
  const selectAll = h("input", { type: "checkbox", "aria-label": "Select all runs on this page" });
  selectAll.addEventListener("change", () => {
    const ids = new Set(selection.ids());
    for (const run of lastRuns) {
      if (selectAll.checked) ids.add(run.id);
      else ids.delete(run.id);
    }
    selection.set([...ids]);
  });
  const headerCells = COLUMNS.map((col) => {
    const th = h("th", { class: col.num ? "num" : "", title: col.title, scope: "col", dataset: { col: col.key } });
    if (col.sort) {
      th.append(
        h(
          "button",
          {
            type: "button",
            class: "sort",
            onclick: () => {
              if (state.sort === col.sort) state.order = state.order === "asc" ? "desc" : "asc";
              else {
                state.sort = col.sort;
                state.order = ["name", "dataset", "arch", "status"].includes(col.sort) ? "asc" : "desc";
              }
              changed();
            },
          },
          col.label,
          h("span", { class: "sort-arrow", "aria-hidden": "true" }),
        ),
      );
    } else th.append(col.label);
    return th;
  });
  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "runs-table", dataset: { testid: "runs-table" } },
    h("thead", {}, h("tr", {}, h("th", { class: "select-col" }, selectAll), headerCells, h("th", { class: "actions-col" }, ""))),
    tbody,
  );
  const emptyRow = h("div", { class: "empty-state", hidden: true });
  const errorBanner = h("div", { class: "banner banner-error", hidden: true, role: "alert" });

  // ---- pager -----------------------------------------------------------------------------------------------
  const pageSize = h(
    "select",
    { "aria-label": "Runs per page" },
    PAGE_SIZES.map((n) => h("option", { value: String(n), selected: n === state.limit }, String(n))),
  );
  pageSize.addEventListener("change", () => {
    state.limit = Number(pageSize.value);
    changed();
  });
  const range = h("span", { class: "muted" });
  const prev = h("button", { type: "button", onclick: () => page(-1) }, "‹ Prev");
  const next = h("button", { type: "button", onclick: () => page(1) }, "Next ›");
  const pager = h("footer", { class: "pager" }, h("label", { class: "inline" }, "Rows per page ", pageSize), range, prev, next);

  const sweepCard = h("section", { class: "card sweep-card", hidden: true, dataset: { testid: "sweep-card" } });
  root.append(head, filters, errorBanner, sweepCard, h("div", { class: "card table-card" }, h("div", { class: "table-scroll" }, table), emptyRow, pager));

  function page(direction) {
    state.offset = Math.max(0, state.offset + direction * state.limit);
    changed(false);
  }

  function changed(resetOffset = true) {
    if (resetOffset) state.offset = 0;
    replaceQuery({
      status: state.status.join(","),
      tag: state.tag,
      sweep_id: state.sweep_id,
      q: state.q,
      sort: state.sort === "id" ? "" : state.sort,
      order: state.order === "desc" ? "" : state.order,
      limit: state.limit === 50 ? "" : state.limit,
      offset: state.offset || "",
    });
    load();
    loadSweep();
  }

  async function load() {
    const mine = ++requestNo;
    try {
      const result = await listRuns({
        status: state.status.join(","),
        tag: state.tag,
        sweep_id: state.sweep_id,
        q: state.q,
        sort: state.sort,
        order: state.order,
        limit: state.limit,
        offset: state.offset,
      });
      if (destroyed || mine !== requestNo) return;
      if (!result.runs.length && state.offset > 0 && result.total > 0) {
        // the page emptied (runs deleted or filters changed): go to the last page that has rows
        state.offset = Math.max(0, Math.floor((result.total - 1) / state.limit) * state.limit);
        changed(false);
        return;
      }
      errorBanner.hidden = true;
      lastRuns = result.runs;
      total = result.total;
      render();
    } catch (error) {
      if (destroyed || mine !== requestNo) return;
      errorBanner.hidden = false;
      errorBanner.textContent = `Could not load the runs: ${errorText(error)}`;
    }
  }

  function render() {
    const filtered = state.status.length || state.tag || state.sweep_id || state.q;
    countLabel.textContent = `${total.toLocaleString("en-US")} ${total === 1 ? "run" : "runs"}${filtered ? " match" : ""}`;
    for (const th of headerCells) {
      const col = COLUMNS.find((c) => c.key === th.dataset.col);
      const active = col.sort && col.sort === state.sort;
      th.classList.toggle("sorted", Boolean(active));
      th.setAttribute("aria-sort", active ? (state.order === "asc" ? "ascending" : "descending") : "none");
      const arrow = th.querySelector(".sort-arrow");
      if (arrow) arrow.textContent = active ? (state.order === "asc" ? " ▲" : " ▼") : "";
    }
    syncRows(tbody, rows, lastRuns, {
      id: (run) => run.id,
      dataset: (run) => ({ runId: String(run.id) }),
      signature: (run) => JSON.stringify([run.status, run.epoch, run.progress, run.summary, run.name, run.started_at, run.finished_at, run.stop_requested]) + (TERMINAL.has(run.status) ? "" : Math.floor(Date.now() / 1000)),
      fill: fillRow,
      each: (tr, run) => {
        const box = tr.querySelector("input[type=checkbox]");
        box.checked = selection.has(run.id);
        tr.classList.toggle("selected", box.checked);
      },
    });
    emptyRow.hidden = lastRuns.length > 0;
    emptyRow.replaceChildren(
      ...(filtered
        ? [h("p", {}, "No runs match these filters. "), h("button", { type: "button", class: "link-button", onclick: () => resetFilters.click() }, "Clear the filters")]
        : [h("p", {}, "No runs yet. "), h("a", { href: "#/launch" }, "Launch the first one"), "."]),
    );
    const first = total ? state.offset + 1 : 0;
    const last = state.offset + lastRuns.length;
    range.textContent = `${first.toLocaleString("en-US")}–${last.toLocaleString("en-US")} of ${total.toLocaleString("en-US")}`;
    prev.disabled = state.offset === 0;
    next.disabled = last >= total;
    refreshSelection();
  }

  function fillRow(tr, run) {
    const s = specSummary(run.spec);
    const summary = run.summary || {};
    const epochs = s.epochs || 0;
    const seconds = summary.duration_s ?? elapsed(run);
    const tags = (run.spec && run.spec.tags) || [];
    const box = h("input", { type: "checkbox", "aria-label": `Select run ${run.id}` });
    box.addEventListener("change", () => selection.toggle(run.id, box.checked));
    const cancel = TERMINAL.has(run.status)
      ? null
      : h(
          "button",
          {
            type: "button",
            class: "small danger",
            title: "Cancel this run",
            dataset: { action: "cancel" },
            onclick: async (e) => {
              e.currentTarget.disabled = true;
              try {
                await cancelRun(run.id);
                toast(`Run #${run.id} cancelled`);
              } catch (error) {
                toast(`Could not cancel run #${run.id}: ${errorText(error)}`, "error");
              }
              load();
            },
          },
          "Cancel",
        );
    const cells = {
      id: h("td", { class: "num mono" }, h("a", { href: `#/runs/${run.id}` }, `#${run.id}`)),
      name: h(
        "td",
        { class: "name-cell" },
        h("a", { href: `#/runs/${run.id}`, class: "run-name" }, run.name),
        tags.length || run.sweep_id || run.external || run.stop_requested
          ? h(
              "div",
              { class: "tags" },
              tags.map((tag) => h("button", { type: "button", class: "tag", title: `Show runs tagged ${tag}`, onclick: () => setTag(tag) }, tag)),
              run.sweep_id ? h("a", { class: "tag tag-sweep", href: hrefFor("/runs", { sweep_id: run.sweep_id }) }, `sweep #${run.sweep_id}`) : null,
              run.external ? h("span", { class: "tag tag-external", title: "tracked by your own script" }, "external") : null,
              // stopped by the sweep's early-termination rule: a finished run, not a failure
              run.stop_requested && run.status !== "cancelled"
                ? h("span", { class: "tag tag-early", title: run.stop_requested }, run.status === "running" ? "finishing early" : "stopped early")
                : null,
            )
          : null,
      ),
      status: h("td", {}, statusBadge(run.status)),
      dataset: h("td", {}, s.dataset || "—"),
      arch: h("td", { class: "nowrap" }, archLabel(run.spec)),
      optimizer: h("td", {}, s.optimizer || "—"),
      lr: h("td", { class: "num mono" }, num(s.lr)),
      batch_size: h("td", { class: "num mono" }, num(s.batch_size)),
      weight_decay: h("td", { class: "num mono" }, num(s.weight_decay)),
      epoch: h(
        "td",
        { class: "epoch-cell" },
        progressBar(run.progress, `${run.epoch}/${epochs}`),
      ),
      best_valid_acc: h("td", { class: "num mono" }, pct(summary.best_valid_acc)),
      test_acc_at_best: h("td", { class: "num mono" }, pct(summary.test_acc_at_best)),
      duration_s: h("td", { class: "num mono nowrap" }, duration(seconds ?? undefined)),
      created_at: h("td", { class: "nowrap muted", title: localTime(run.created_at) }, timeAgo(run.created_at)),
    };
    tr.replaceChildren(h("td", { class: "select-col" }, box), ...COLUMNS.map((c) => cells[c.key]), h("td", { class: "actions-col" }, cancel));
  }

  function setTag(tag) {
    state.tag = tag;
    tagInput.value = tag;
    changed();
  }

  function refreshSelection() {
    const ids = selection.ids();
    compareButton.textContent = ids.length ? `Compare ${ids.length} selected` : "Compare";
    compareButton.disabled = ids.length < 1;
    clearButton.hidden = ids.length === 0;
    const onPage = lastRuns.filter((r) => ids.includes(r.id)).length;
    selectAll.checked = lastRuns.length > 0 && onPage === lastRuns.length;
    selectAll.indeterminate = onPage > 0 && onPage < lastRuns.length;
    for (const [id, tr] of rows) {
      const box = tr.querySelector("input[type=checkbox]");
      if (box) box.checked = ids.includes(id);
      tr.classList.toggle("selected", ids.includes(id));
    }
  }

  /** With a sweep filter: the sweep's progress, its best run, and buttons to compare or cancel all its runs. */
  async function loadSweep() {
    const id = state.sweep_id;
    if (!id) {
      sweepCard.hidden = true;
      return;
    }
    let sweep;
    try {
      sweep = await get(`/sweeps/${encodeURIComponent(id)}`);
    } catch {
      sweepCard.hidden = true; // no sweeps API here: the table filter alone still works
      return;
    }
    if (destroyed || id !== state.sweep_id) return;
    const counts = sweep.status_counts || {};
    const runIds = sweep.runs || [];
    const done = STATUSES.filter((s) => TERMINAL.has(s)).reduce((n, s) => n + (counts[s] || 0), 0);
    const best = (sweep.results || []).find((r) => r.best);
    const open = (counts.queued || 0) + (counts.running || 0);
    const grid = (sweep.spec && sweep.spec.grid) || {};
    sweepCard.hidden = false;
    sweepCard.replaceChildren(
      h(
        "div",
        { class: "sweep-head" },
        h(
          "div",
          {},
          h("h3", {}, h("a", { href: `#/sweeps/${sweep.id}`, class: "sweep-link" }, `Sweep #${sweep.id} ${sweep.name}`), sweep.preset ? h("span", { class: "preset-id" }, sweep.preset) : null),
          h(
            "p",
            { class: "muted small-text" },
            `${runIds.length} runs · ${Object.entries(grid).map(([k, v]) => `${k} ∈ {${Array.isArray(v) ? v.join(", ") : "range"}}`).join(" × ") || "no grid"}`,
          ),
        ),
        h(
          "div",
          { class: "actions" },
          h("a", { class: "button primary", href: `#/sweeps/${sweep.id}`, dataset: { testid: "open-sweep" } }, "Open sweep view"),
          h("a", { class: "button", href: hrefFor("/compare", { ids: runIds }) }, "Compare all runs"),
          open
            ? h(
                "button",
                {
                  type: "button",
                  class: "danger",
                  onclick: async (e) => {
                    if (!confirm(`Cancel the ${open} unfinished runs of sweep #${sweep.id}?`)) return;
                    e.currentTarget.disabled = true;
                    try {
                      await post(`/sweeps/${sweep.id}/cancel`);
                      toast(`Sweep #${sweep.id} cancelled`);
                    } catch (error) {
                      toast(`Could not cancel the sweep: ${errorText(error)}`, "error");
                    }
                    load();
                    loadSweep();
                  },
                },
                "Cancel sweep",
              )
            : null,
        ),
      ),
      h(
        "div",
        { class: "sweep-progress" },
        progressBar(runIds.length ? done / runIds.length : 0, `${done}/${runIds.length} finished`),
        h("span", { class: "sweep-counts" }, STATUSES.filter((s) => counts[s]).map((s) => h("span", {}, statusBadge(s), ` ${counts[s]}`))),
        best
          ? h("span", { class: "sweep-best" }, "best: ", h("a", { href: `#/runs/${best.run_id}` }, `#${best.run_id}`), ` valid ${pct(best.best_valid_acc)} · test ${pct(best.test_acc_at_best)}`)
          : null,
      ),
    );
  }

  async function loadSweeps() {
    try {
      const sweeps = await get("/sweeps");
      if (destroyed || !Array.isArray(sweeps)) return;
      const current = sweepSelect.value;
      sweepSelect.replaceChildren(
        h("option", { value: "" }, "All sweeps"),
        ...sweeps.map((s) => h("option", { value: String(s.id) }, `#${s.id} ${s.name}${s.runs ? ` (${s.runs.length})` : ""}`)),
      );
      if (current && !sweeps.some((s) => String(s.id) === current)) sweepSelect.append(h("option", { value: current }, `Sweep #${current}`));
      sweepSelect.value = current;
    } catch {
      // no sweeps route on this server: the filter keeps working for a sweep id given in the URL
      sweepSelect.hidden = !state.sweep_id;
    }
  }

  const onSelection = () => refreshSelection();
  document.addEventListener("trainboard:selection", onSelection);
  load();
  loadSweeps();
  loadSweep();
  const stopPolling = whileVisible(() => Promise.all([load(), loadSweep()]), POLL_MS);
  const stopSweepPolling = whileVisible(loadSweeps, 15000);

  return () => {
    destroyed = true;
    stopPolling();
    stopSweepPolling();
    document.removeEventListener("trainboard:selection", onSelection);
  };
}
