// "Cancel selected" in the runs page's head: asks first, naming how many unfinished runs it stops, then cancels
// each. The selection spans pages, so the runs not on this page are read when the button is clicked.

import { cancelRun, errorText } from "../../api.js";
import { confirmAction, runsNoun } from "../../confirm.js";
import { TERMINAL, h, toast } from "../../dom.js";
import { selectedByState } from "./selected-status.js";

export class BulkCancel {
  /** reload(): read the table again once the runs are cancelled. */
  constructor({ reload }) {
    this.reload = reload;
    this.ids = [];
    this.runs = [];
    this.button = h("button", { type: "button", class: "danger", hidden: true, dataset: { action: "cancel-selected" }, onclick: () => this.#cancel() }, "Cancel selected");
  }

  /** ids: the selection; runs: this page's rows. Shown while a selected run may be unfinished. */
  refresh(ids, runs) {
    this.ids = ids;
    this.runs = runs;
    const byId = new Map(runs.map((run) => [run.id, run]));
    const open = ids.filter((id) => byId.has(id) && !TERMINAL.has(byId.get(id).status));
    const elsewhere = ids.filter((id) => !byId.has(id));
    this.button.hidden = open.length + elsewhere.length === 0;
    this.button.textContent = elsewhere.length ? "Cancel selected…" : `Cancel ${open.length} selected…`;
  }

  async #cancel() {
    const button = this.button;
    button.disabled = true;
    try {
      const open = (await selectedByState(this.ids, this.runs)).open;
      if (!open.length) {
        toast("Every selected run has finished already: nothing to cancel");
        return;
      }
      const skipped = this.ids.length - open.length;
      const left = skipped ? ` ${skipped} selected ${skipped === 1 ? "run has" : "runs have"} finished and ${skipped === 1 ? "is" : "are"} left alone.` : "";
      const what = open.length === 1 ? "A running run stops within seconds and keeps its metrics; a queued one never starts." : "Running runs stop within seconds and keep their metrics; queued ones never start.";
      const asked = { title: `Cancel ${runsNoun(open)}?`, message: `${what}${left}` };
      if (!(await confirmAction(asked))) return;
      const results = await Promise.allSettled(open.map((id) => cancelRun(id)));
      const cancelled = open.filter((_, i) => results[i].status === "fulfilled");
      const failed = open.filter((_, i) => results[i].status === "rejected");
      if (cancelled.length) toast(`Cancelled ${runsNoun(cancelled)}`);
      if (failed.length) toast(`Could not cancel ${failed.map((id) => `#${id}`).join(", ")}: ${errorText(results[open.indexOf(failed[0])].reason)}`, "error");
      this.reload();
    } finally {
      button.disabled = false;
    }
  }
}
