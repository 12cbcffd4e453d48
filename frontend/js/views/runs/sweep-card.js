// With a sweep filter, the card above the runs table: the sweep's progress, its best run, and buttons to open
// it, compare all its runs or cancel the unfinished ones.

import { errorText, get, post } from "../../api.js";
import { confirmAction, sweepCancelQuestion } from "../../confirm.js";
import { STATUSES, TERMINAL, h, pct, progressBar, statusBadge, toast } from "../../dom.js";
import { hrefFor } from "../../router.js";
import { gridText } from "./query.js";

export class SweepCard {
  /** state: the page's table state (its sweep_id); page: {destroyed}; reload(): read the table again. */
  constructor(state, page, { reload }) {
    this.state = state;
    this.page = page;
    this.reload = reload;
    this.el = h("section", { class: "card sweep-card", hidden: true, dataset: { testid: "sweep-card" } });
  }

  async load() {
    const id = this.state.sweep_id;
    if (!id) {
      this.el.hidden = true;
      return;
    }
    let sweep;
    try {
      sweep = await get(`/sweeps/${encodeURIComponent(id)}`);
    } catch {
      this.el.hidden = true; // no sweeps API here: the table filter alone still works
      return;
    }
    if (this.page.destroyed || id !== this.state.sweep_id) return;
    this.el.hidden = false;
    this.el.replaceChildren(this.#head(sweep), progress(sweep));
  }

  #head(sweep) {
    const runIds = sweep.runs || [];
    const counts = sweep.status_counts || {};
    const open = (counts.queued || 0) + (counts.running || 0);
    const grid = (sweep.spec && sweep.spec.grid) || {};
    return h(
      "div",
      { class: "sweep-head" },
      h(
        "div",
        {},
        h("h3", {}, h("a", { href: `#/sweeps/${sweep.id}`, class: "sweep-link" }, `Sweep #${sweep.id} ${sweep.name}`), sweep.preset ? h("span", { class: "preset-id" }, sweep.preset) : null),
        h("p", { class: "muted small-text" }, `${runIds.length} runs · ${gridText(grid) || "no grid"}`),
      ),
      h(
        "div",
        { class: "actions" },
        h("a", { class: "button primary", href: `#/sweeps/${sweep.id}`, dataset: { testid: "open-sweep" } }, "Open sweep view"),
        h("a", { class: "button", href: hrefFor("/compare", { ids: runIds }) }, "Compare all runs"),
        open ? h("button", { type: "button", class: "danger", onclick: (e) => this.#cancel(e, sweep, open) }, "Cancel sweep") : null,
      ),
    );
  }

  async #cancel(e, sweep, open) {
    const button = e.currentTarget;
    if (!(await confirmAction(sweepCancelQuestion(sweep.id, open)))) return;
    button.disabled = true;
    try {
      await post(`/sweeps/${sweep.id}/cancel`);
      toast(`Sweep #${sweep.id} cancelled`);
    } catch (error) {
      toast(`Could not cancel the sweep: ${errorText(error)}`, "error");
    }
    this.reload();
    this.load();
  }
}

function progress(sweep) {
  const counts = sweep.status_counts || {};
  const runIds = sweep.runs || [];
  const done = STATUSES.filter((s) => TERMINAL.has(s)).reduce((n, s) => n + (counts[s] || 0), 0);
  const best = (sweep.results || []).find((r) => r.best);
  return h(
    "div",
    { class: "sweep-progress" },
    progressBar(runIds.length ? done / runIds.length : 0, `${done}/${runIds.length} finished`),
    h("span", { class: "sweep-counts" }, STATUSES.filter((s) => counts[s]).map((s) => h("span", {}, statusBadge(s), ` ${counts[s]}`))),
    best
      ? h("span", { class: "sweep-best" }, "best: ", h("a", { href: `#/runs/${best.run_id}` }, `#${best.run_id}`), ` valid ${pct(best.best_valid_acc)} · test ${pct(best.test_acc_at_best)}`)
      : null,
  );
}
