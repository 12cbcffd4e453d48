// The runs page's keyboard: `/` to the search box, j/k move a highlighted row, Enter opens it, x ticks it for
// comparison, c compares the ticked runs (js/shortcuts.js dispatches the keys and lists them on `?`).

import { navigate } from "../../router.js";
import { selection } from "../../selection.js";
import { useShortcuts } from "../../shortcuts.js";

/** The index a move of ``delta`` rows lands on among ``count`` rows, from ``index`` (-1: none highlighted yet). */
export function stepIndex(index, delta, count) {
  if (count === 0) return -1;
  if (index < 0) return delta > 0 ? 0 : count - 1;
  return Math.min(count - 1, Math.max(0, index + delta));
}

export class RowCursor {
  /** table: the RunsTable (its rows by run id, in page order); search: the query box. */
  constructor(table, search) {
    this.table = table;
    this.id = null; // the highlighted run
    this.release = useShortcuts([
      { key: "/", label: "Search the runs", run: () => search.focus() },
      { key: "j", label: "Highlight the next run", run: () => this.move(1) },
      { key: "k", label: "Highlight the previous run", run: () => this.move(-1) },
      { key: "Enter", label: "Open the highlighted run", run: () => this.id !== null && navigate(`/runs/${this.id}`) },
      { key: "x", label: "Select the highlighted run for comparison", run: () => this.id !== null && selection.toggle(this.id) },
      { key: "c", label: "Compare the selected runs", run: () => selection.ids().length && navigate("/compare", { ids: selection.ids() }) },
    ]);
  }

  move(delta) {
    const ids = this.table.runs.map((run) => run.id).filter((id) => this.table.rows.has(id));
    this.id = ids[stepIndex(ids.indexOf(this.id), delta, ids.length)] ?? null;
    this.paint();
    if (this.id !== null) this.table.rows.get(this.id).scrollIntoView({ block: "nearest" });
  }

  /** Mark the highlighted row again (after the table redrew its rows); a run that left the page loses it. */
  paint() {
    if (!this.table.rows.has(this.id)) this.id = null;
    for (const [id, tr] of this.table.rows) {
      tr.classList.toggle("cursor", id === this.id);
      if (id === this.id) tr.setAttribute("aria-current", "true");
      else tr.removeAttribute("aria-current");
    }
  }

  destroy() {
    this.release();
  }
}
