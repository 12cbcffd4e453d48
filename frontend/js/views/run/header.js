// The top of the run page: title (its name edits in place), status, live dot and actions; the tags editor; the
// subtitle (a command run's: the arguments it runs, filled from its config); progress, status in words, facts.

import { when } from "../../clock.js";
import { confirmAction } from "../../confirm.js";
import { EditableName } from "../../curate/name.js";
import { TagsEditor } from "../../curate/tags.js";
import { TERMINAL, h, progressBar, statusBadge } from "../../dom.js";
import { selection } from "../../selection.js";
import { commandArgs, liveStateLabel, progressLabel, progressText, runSubtitle } from "./text.js";

export class RunHeader {
  /**
   * onCancel: async, asks the API to cancel the run (once the user confirmed); the button stays disabled while it runs.
   * onEdit(fields): async, PATCHes the run (name or tags) and returns it as the server has it now.
   * onArchive(): archive or restore the run; onDelete(): ask, then delete the run (shown once it finished).
   */
  constructor(runId, { onCancel, onEdit, onArchive, onDelete }) {
    this.runId = runId;
    this.titleEl = h("h1", { class: "run-title" }, `Run #${runId}`);
    this.nameEdit = new EditableName({ what: "run", onSave: (name) => onEdit({ name }) });
    this.tagsEdit = new TagsEditor({ onSave: async (tags) => (await onEdit({ tags })).tags });
    this.badgeSlot = h("span", { dataset: { testid: "run-status" } });
    this.liveEl = h("span", { class: "live-dot", dataset: { state: "connecting" } }, "connecting");
    this.cancelButton = h("button", { type: "button", class: "danger", hidden: true, onclick: () => this.#cancel(onCancel) }, "Cancel run");
    this.archiveButton = h("button", { type: "button", dataset: { action: "archive-run" }, onclick: () => onArchive() }, "Archive");
    this.deleteButton = h("button", { type: "button", class: "danger", hidden: true, dataset: { action: "delete-run" }, onclick: () => onDelete() }, "Delete…");
    this.archivedEl = h("span", { class: "tag tag-archived", hidden: true, title: "hidden from the runs table unless Archived is on" }, "archived");
    this.selectButton = h("button", {
      type: "button",
      onclick: () => {
        selection.toggle(runId);
        this.refreshSelect();
      },
    });
    this.head = h(
      "div",
      { class: "page-head" },
      h("div", { class: "page-title" }, h("a", { href: "#/runs", class: "back", title: "All runs" }, "←"), this.titleEl, this.badgeSlot, this.archivedEl, this.liveEl),
      h("div", { class: "actions" }, this.selectButton, h("a", { class: "button", href: `#/launch?from=${runId}`, title: "Open the launch form with this run's spec" }, "Clone"), this.archiveButton, this.cancelButton, this.deleteButton),
    );
    this.tagsRow = h("div", { class: "run-tags", hidden: true }, this.tagsEdit.el);
    this.subtitle = h("p", { class: "run-subtitle muted" });
    this.progressSlot = h("div", { class: "progress-wide" });
    this.progressText = h("div", { class: "progress-text", dataset: { testid: "progress-text" } });
    this.facts = h("dl", { class: "facts" });
    this.detailEl = h("div", { class: "status-detail", hidden: true, dataset: { testid: "status-detail" } });
    this.progressCard = h("section", { class: "card progress-card" }, this.progressSlot, this.progressText, this.detailEl, this.facts);
  }

  get elements() {
    return [this.head, this.tagsRow, this.subtitle, this.progressCard];
  }

  async #cancel(onCancel) {
    const asked = { title: `Cancel run #${this.runId}?`, message: "A running run stops within seconds and keeps its metrics; a queued one never starts." };
    if (!(await confirmAction(asked))) return;
    this.cancelButton.disabled = true;
    try {
      await onCancel();
    } finally {
      this.cancelButton.disabled = false;
    }
  }

  refreshSelect() {
    const on = selection.has(this.runId);
    this.selectButton.textContent = on ? "✓ Selected for compare" : "Select for compare";
    this.selectButton.classList.toggle("active", on);
  }

  render(run) {
    if (!this.titleEl.contains(this.nameEdit.el) && !this.nameEdit.editing) this.titleEl.replaceChildren(h("span", { class: "muted" }, `#${run.id} `), this.nameEdit.el);
    this.nameEdit.set(run.name);
    this.tagsEdit.set(run.tags ?? (run.spec && run.spec.tags) ?? []);
    this.tagsRow.hidden = false;
    this.badgeSlot.replaceChildren(statusBadge(run.status));
    this.cancelButton.hidden = TERMINAL.has(run.status);
    this.deleteButton.hidden = !TERMINAL.has(run.status); // a queued or running run is cancelled first
    this.archiveButton.textContent = run.archived ? "Restore" : "Archive";
    this.archivedEl.hidden = !run.archived;
    document.title = `#${run.id} ${run.name} · ${run.status} · trainboard`;
    this.#renderSubtitle(run);
    const detail = run.status_detail; // the API's words: in the run itself, and in each status event since
    this.detailEl.hidden = !detail || detail === run.status;
    this.detailEl.textContent = detail || "";
    this.detailEl.classList.toggle("early", Boolean(run.stop_requested));
    this.renderProgress(run);
  }

  /** The built-in spec in words, or a command run's arguments as chips (text only: they come from the user). */
  #renderSubtitle(run) {
    const args = commandArgs(run);
    const tags = run.tags ?? (run.spec && run.spec.tags) ?? []; // as they are now, not as launched
    if (!args) {
      this.subtitle.textContent = runSubtitle({ ...(run.spec || {}), tags });
      return;
    }
    const chips = h("ol", { class: "argv", dataset: { testid: "run-command" }, "aria-label": "The command it runs" }, args.map((arg) => h("li", { class: "chip mono" }, arg === "" ? "''" : arg)));
    this.subtitle.replaceChildren(chips, ...(tags.length ? [h("span", {}, `tags: ${tags.join(", ")}`)] : []));
  }

  /** Progress, time and ETA, and the worker facts; every second while the run trains. */
  renderProgress(run) {
    this.progressSlot.replaceChildren(progressBar(Number(run.progress) || 0, progressLabel(run.progress)));
    this.progressText.textContent = progressText(run);
    this.facts.replaceChildren(
      ...[
        ["worker", run.worker || "—"],
        ["attempts", String(run.attempts ?? 0)],
        ["queue", run.queue || "—"],
        ...(commandArgs(run) || run.gpus ? [["gpus", String(run.gpus ?? 0)]] : []),
        ...(run.held_gpus?.length ? [["held", h("span", { dataset: { testid: "held-gpus" } }, `GPU${run.held_gpus.length > 1 ? "s" : ""} ${run.held_gpus.join(", ")}`)]] : []),
        ["created", when(run.created_at)],
        ["started", when(run.started_at)],
        ["finished", when(run.finished_at)],
        ["sweep", run.sweep_id ? h("a", { href: `#/sweeps/${run.sweep_id}` }, `#${run.sweep_id}`) : "—"],
        ["external", run.external ? "yes" : "no"],
      ].map(([k, v]) => h("div", { class: "fact" }, h("dt", {}, k), h("dd", {}, v))),
    );
  }

  setLiveState(state) {
    this.liveEl.dataset.state = state;
    this.liveEl.textContent = liveStateLabel(state);
  }
}
