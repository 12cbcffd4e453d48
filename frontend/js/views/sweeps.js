// Sweeps view (#/sweeps): the newest sweeps (a hundred, more on request) with their progress and best run,
// refreshed every 3 s while visible; the "Archived" toggle shows the archived ones instead.

import { errorText, request } from "../api.js";
import { ago } from "../clock.js";
import { STATUSES, h, progressBar, statusBadge, syncRows, whileVisible } from "../dom.js";
import { formatValue } from "../spec.js";
import { finishedCount } from "../sweepdata.js";

const POLL_MS = 3000;
const PAGE = 100; // GET /sweeps pages; "Show more" asks for the next hundred (the API serves up to 1,000 at once)
const MAX_LIMIT = 1000;
const COLUMNS = [
  ["id", "ID"],
  ["name", "Name"],
  ["grid", "Grid"],
  ["runs", "Runs"],
  ["progress", "Progress"],
  ["counts", "Status"],
  ["best", "Best run"],
  ["created_at", "Created"],
];

export function mount(root) {
  let destroyed = false;
  let limit = PAGE;
  let archived = false;
  const archivedToggle = h("button", { type: "button", class: "chip chip-archived", "aria-pressed": "false", dataset: { testid: "archived-sweeps" }, title: "Show the archived sweeps instead of the others" }, "Archived");
  archivedToggle.addEventListener("click", () => {
    archived = !archived;
    archivedToggle.setAttribute("aria-pressed", String(archived));
    load();
  });
  const rows = new Map(); // sweep id -> <tr>
  const countEl = h("span", { class: "muted", dataset: { testid: "sweeps-total" } });
  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "runs-table cards-on-phone", dataset: { testid: "sweeps-table" } },
    h("thead", {}, h("tr", {}, COLUMNS.map(([col, label]) => h("th", { scope: "col", class: ["id", "runs"].includes(col) ? "num" : "", dataset: { col } }, label)))),
    tbody,
  );
  const empty = h(
    "div",
    { class: "empty-state", hidden: true },
    h("p", {}, "No sweeps yet. Build a grid in the "),
    h("a", { href: "#/launch?grid=1" }, "launch form"),
    h("p", {}, ", or launch one of the report's figures from the "),
    h("a", { href: "#/report" }, "report page"),
    h("p", {}, "."),
  );
  const errorBanner = h("div", { class: "banner banner-error", hidden: true, role: "alert" });
  const more = h("button", { class: "button", type: "button", hidden: true, dataset: { testid: "sweeps-more" } }, "Show more");
  more.addEventListener("click", () => {
    limit = Math.min(MAX_LIMIT, limit + PAGE);
    load();
  });
  root.append(
    h(
      "div",
      { class: "page-head" },
      h("div", { class: "page-title" }, h("h1", {}, "Sweeps"), countEl),
      h("div", { class: "actions" }, archivedToggle, h("a", { class: "button", href: "#/report" }, "Report"), h("a", { class: "button", href: "#/launch?grid=1" }, "+ New sweep")),
    ),
    errorBanner,
    h("div", { class: "card table-card" }, h("div", { class: "table-scroll" }, table), empty),
    more,
  );

  function fill(tr, sweep) {
    const runs = sweep.runs || [];
    const counts = sweep.status_counts || {};
    const done = finishedCount(sweep);
    const grid = (sweep.spec && sweep.spec.grid) || {};
    const gridText = Object.entries(grid)
      .map(([k, v]) => `${k.split(".").pop()} ∈ {${Array.isArray(v) ? v.map(formatValue).join(", ") : "range"}}`)
      .join(" × ");
    const cells = [
      h("td", { class: "num mono" }, h("a", { href: `#/sweeps/${sweep.id}` }, `#${sweep.id}`)),
      h("td", { class: "name-cell" }, h("a", { href: `#/sweeps/${sweep.id}`, class: "run-name" }, sweep.name), sweep.preset ? h("div", { class: "tags" }, h("span", { class: "preset-id" }, sweep.preset)) : null),
      h("td", { class: "mono small-text" }, gridText || "—"),
      h("td", { class: "num mono" }, String(runs.length)),
      h("td", { class: "epoch-cell" }, progressBar(runs.length ? done / runs.length : 0, `${done}/${runs.length}`)),
      h("td", {}, h("span", { class: "sweep-counts" }, STATUSES.filter((s) => counts[s]).map((s) => h("span", {}, statusBadge(s), ` ${counts[s]}`)))),
      h("td", { class: "mono" }, sweep.best_run_id ? h("a", { href: `#/runs/${sweep.best_run_id}` }, `#${sweep.best_run_id}`) : "—"),
      h("td", { class: "nowrap muted" }, ago(sweep.created_at)),
    ];
    // on a phone each row is a card, each cell a labelled value (css/app.css, "phone")
    cells.forEach((td, i) => Object.assign(td.dataset, { col: COLUMNS[i][0], label: COLUMNS[i][1] }));
    tr.replaceChildren(...cells);
  }

  async function load() {
    let sweeps;
    let total;
    try {
      const reply = await request("/sweeps", { query: { limit, archived: archived ? "true" : undefined } });
      sweeps = reply.data;
      total = Number(reply.headers.get("X-Total-Count"));
      if (!Number.isFinite(total)) total = sweeps.length;
    } catch (error) {
      if (destroyed) return;
      errorBanner.hidden = false;
      errorBanner.textContent = `Could not load the sweeps: ${errorText(error)}`;
      return;
    }
    if (destroyed) return;
    errorBanner.hidden = true;
    const noun = `${archived ? "archived " : ""}${total === 1 ? "sweep" : "sweeps"}`;
    countEl.textContent = total > sweeps.length ? `newest ${sweeps.length} of ${total} ${noun}` : `${total} ${noun}`;
    more.hidden = total <= sweeps.length || limit >= MAX_LIMIT;
    empty.hidden = total > 0 || archived;
    syncRows(tbody, rows, sweeps, {
      id: (sweep) => sweep.id,
      dataset: (sweep) => ({ sweepId: String(sweep.id) }),
      signature: (sweep) => JSON.stringify([sweep.status_counts, sweep.best_run_id, sweep.name]),
      fill,
    });
  }

  load();
  const stop = whileVisible(load, POLL_MS);
  return () => {
    destroyed = true;
    stop();
  };
}
