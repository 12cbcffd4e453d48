// The top of the sweep page: title (its name edits in place), live dot and actions; the summary card (progress, status counts, the best run,
// grid, method, early-termination rule, base spec).

import { when } from "../../clock.js";
import { EditableName } from "../../curate/name.js";
import { STATUSES, h, pct, progressBar, statusBadge } from "../../dom.js";
import { hrefFor } from "../../router.js";
import { finishedCount, rowLabel } from "../../sweepdata.js";
import { baseText, gridText, methodText, openRuns, ruleText } from "./text.js";

export class SweepHeader {
  /**
   * onCancel(): "Cancel sweep" (shown while runs are open); onEdit(fields): async, PATCHes the sweep's name;
   * onArchive(): archive or restore the sweep and its runs; onDelete(): ask, then delete it (once every run finished).
   */
  constructor(sweepId, { onCancel, onEdit, onArchive, onDelete }) {
    this.nameEdit = new EditableName({ what: "sweep", onSave: (name) => onEdit({ name }) });
    this.idEl = h("span", { class: "muted" }, `#${sweepId} `);
    this.presetEl = h("span", {});
    this.titleEl = h("h1", {}, this.idEl, this.nameEdit.el, this.presetEl);
    this.liveEl = h("span", { class: "live-dot", dataset: { state: "connecting" } }, "loading");
    this.cancelButton = h("button", { type: "button", class: "danger", hidden: true, dataset: { testid: "cancel-sweep" }, onclick: onCancel }, "Cancel sweep");
    this.compareLink = h("a", { class: "button" }, "Compare all runs");
    this.archiveButton = h("button", { type: "button", dataset: { action: "archive-sweep" }, onclick: () => onArchive() }, "Archive");
    this.deleteButton = h("button", { type: "button", class: "danger", hidden: true, dataset: { action: "delete-sweep" }, onclick: () => onDelete() }, "Delete…");
    this.archivedEl = h("span", { class: "tag tag-archived", hidden: true }, "archived");
    this.head = h(
      "div",
      { class: "page-head" },
      h("div", { class: "page-title" }, h("a", { href: "#/sweeps", class: "back", title: "All sweeps" }, "←"), this.titleEl, this.archivedEl, this.liveEl),
      h("div", { class: "actions" }, h("a", { class: "button", href: hrefFor("/runs", { sweep_id: sweepId }) }, "In the runs table"), this.compareLink, this.archiveButton, this.cancelButton, this.deleteButton),
    );
    this.summaryEl = h("section", { class: "card sweep-card", dataset: { testid: "sweep-summary" } }, h("p", { class: "muted" }, "Loading…"));
  }

  setLive(state, text) {
    this.liveEl.dataset.state = state;
    this.liveEl.textContent = text;
  }

  /** varied: the keys that differ between runs (the best run is labelled by them). */
  render(sweep, varied) {
    const runIds = sweep.runs || [];
    this.nameEdit.set(sweep.name);
    this.presetEl.replaceChildren(...(sweep.preset ? [" ", h("span", { class: "preset-id" }, sweep.preset)] : []));
    document.title = `sweep #${sweep.id} ${sweep.name} · trainboard`;
    this.cancelButton.hidden = openRuns(sweep.status_counts) === 0;
    this.deleteButton.hidden = !this.cancelButton.hidden; // a sweep with open runs is cancelled first
    this.archiveButton.textContent = sweep.archived ? "Restore" : "Archive";
    this.archivedEl.hidden = !sweep.archived;
    this.compareLink.href = hrefFor("/compare", { ids: runIds });
    const spec = sweep.spec || {};
    this.summaryEl.replaceChildren(
      progress(sweep, varied),
      h(
        "dl",
        { class: "facts" },
        [
          ["grid", gridText(spec.grid || {}) || "no grid: one run"],
          ["method", methodText(spec)],
          ["early termination", ruleText(spec.early_termination)],
          ["base", baseText(spec.base || {})],
          ["created", when(sweep.created_at)],
        ].map(([k, v]) => h("div", { class: "fact" }, h("dt", {}, k), h("dd", {}, v))),
      ),
    );
  }
}

function progress(sweep, varied) {
  const counts = sweep.status_counts || {};
  const runIds = sweep.runs || [];
  const done = finishedCount(sweep);
  const best = (sweep.results || []).find((r) => r.best);
  const stopped = (sweep.results || []).filter((r) => r.stop_reason).length;
  return h(
    "div",
    { class: "sweep-progress" },
    progressBar(runIds.length ? done / runIds.length : 0, `${done}/${runIds.length} finished`),
    h("span", { class: "sweep-counts", dataset: { testid: "status-counts" } }, STATUSES.filter((s) => counts[s]).map((s) => h("span", { dataset: { status: s } }, statusBadge(s), ` ${counts[s]}`))),
    stopped ? h("span", { class: "tag tag-early", title: "stopped by the sweep's early-termination rule: not failures" }, `${stopped} stopped early`) : null,
    best
      ? h("span", { class: "sweep-best", dataset: { testid: "sweep-best" } }, "best: ", h("a", { href: `#/runs/${best.run_id}` }, `#${best.run_id}`), ` ${rowLabel(best, varied).replace(/^#\d+ /, "")} · valid ${pct(best.best_valid_acc)} · test ${pct(best.test_acc_at_best)}`)
      : null,
  );
}
