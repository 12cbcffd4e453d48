// "Archive N selected" (or "Restore N selected" while the table shows the archived runs), with an Undo in the toast,
// and "Delete N selected…", which asks first and deletes only the finished runs (a queued or running one must be
// cancelled first: the API answers 409). Beside "Cancel selected" in the runs page's head.

import { deleteRun, errorText, patchRun } from "../../api.js";
import { confirmAction, runsNoun } from "../../confirm.js";
import { h, toast } from "../../dom.js";
import { selection } from "../../selection.js";
import { selectedByState } from "./selected-status.js";

const UNDO_MS = 10000;

export class BulkCurate {
  /** state: the table's state (state.archived: the archived runs are shown); reload(): read the table again. */
  constructor(state, { reload }) {
    this.state = state;
    this.reload = reload;
    this.ids = [];
    this.runs = [];
    this.archiveButton = h("button", { type: "button", hidden: true, dataset: { action: "archive-selected" }, onclick: () => this.#archive() }, "Archive");
    this.deleteButton = h("button", { type: "button", class: "danger", hidden: true, dataset: { action: "delete-selected" }, onclick: () => this.#delete() }, "Delete");
    this.buttons = [this.archiveButton, this.deleteButton];
  }

  /** ids: the selection; runs: this page's rows. */
  refresh(ids, runs) {
    this.ids = ids;
    this.runs = runs;
    const n = ids.length;
    this.archiveButton.hidden = this.deleteButton.hidden = n === 0;
    this.archiveButton.textContent = `${this.state.archived ? "Restore" : "Archive"} ${n} selected`;
    this.deleteButton.textContent = `Delete ${n} selected…`;
  }

  async #archive() {
    const archived = !this.state.archived;
    const ids = [...this.ids];
    const done = await this.#each(ids, (id) => patchRun(id, { archived }), archived ? "archive" : "restore");
    if (done.length) {
      toast(`${archived ? "Archived" : "Restored"} ${runsNoun(done)}`, "info", UNDO_MS, { label: "Undo", onClick: () => this.#undo(done, !archived) });
      selection.set(this.ids.filter((id) => !done.includes(id))); // they left this view
    }
    this.reload();
  }

  async #undo(ids, archived) {
    const done = await this.#each(ids, (id) => patchRun(id, { archived }), "undo for");
    if (done.length) toast(`${archived ? "Archived" : "Restored"} ${runsNoun(done)} again`);
    this.reload();
  }

  async #delete() {
    const { finished, open } = await selectedByState(this.ids, this.runs);
    if (!finished.length) {
      toast("No selected run has finished: cancel a run before deleting it", "error");
      return;
    }
    const left = open.length ? ` ${runsNoun(open)} still queued or running ${open.length === 1 ? "is" : "are"} left alone: cancel ${open.length === 1 ? "it" : "them"} first.` : "";
    const asked = {
      title: `Delete ${runsNoun(finished)}?`,
      message: `Their metrics, events, logs and files are deleted for good; this cannot be undone.${left}`,
      yes: "Yes, delete",
      keep: "Keep them",
    };
    if (!(await confirmAction(asked))) return;
    const done = await this.#each(finished, (id) => deleteRun(id), "delete");
    if (done.length) toast(`Deleted ${runsNoun(done)}`);
    selection.set(this.ids.filter((id) => !done.includes(id)));
    this.reload();
  }

  /** Call `act` on every id at once; a toast names the ones that failed and why. Returns the ids that worked. */
  async #each(ids, act, verb) {
    const results = await Promise.allSettled(ids.map(act));
    const failed = ids.filter((_, i) => results[i].status === "rejected");
    if (failed.length) toast(`Could not ${verb} ${failed.map((id) => `#${id}`).join(", ")}: ${errorText(results[ids.indexOf(failed[0])].reason)}`, "error");
    return ids.filter((_, i) => results[i].status === "fulfilled");
  }
}
