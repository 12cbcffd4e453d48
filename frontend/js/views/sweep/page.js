// Sweep view (#/sweeps/12), the page shell: the results table, parallel coordinates, a heatmap over two varied keys,
// the best-so-far curve and the runs' curves overlaid — all ranked by the sweep's metric or a summary key ("Rank
// by"), refreshed every 2 s while any run of the sweep is unfinished; "Add runs" grows the sweep.

import { ApiError, deleteSweep, errorText, get, patchSweep, post } from "../../api.js";
import { confirmAction, sweepCancelQuestion } from "../../confirm.js";
import { NotesPanel } from "../../curate/notes.js";
import { h, toast, whileVisible } from "../../dom.js";
import { navigate, replaceQuery } from "../../router.js";
import { VALID_ACC, gridKeys, sweepDone, variedKeys } from "../../sweepdata.js";
import { AddRuns } from "./add-runs.js";
import { BestSoFarChart } from "./best.js";
import { SweepCurves } from "./curves.js";
import { SweepHeader } from "./header.js";
import { mountImportance } from "./importance.js";
import { SweepPlots } from "./plots.js";
import { RankBy } from "./rank.js";
import { rankedRows } from "./ranking.js";
import { ResultsCard } from "./results.js";
import { openRuns } from "./text.js";

const POLL_MS = 2000;

export function mount(root, route) {
  const page = new SweepPage(root, route);
  page.refresh().then(() => page.poll());
  return () => page.destroy();
}

class SweepPage {
  constructor(root, route) {
    this.sweepId = Number(route.params[0]);
    this.destroyed = false;
    this.sweep = null;
    this.stopPolling = null;
    const syncQuery = () => this.#syncQuery();
    this.header = new SweepHeader(this.sweepId, {
      onCancel: () => this.#cancel(),
      onEdit: (fields) => this.#edit(fields),
      onArchive: () => this.#archive(),
      onDelete: () => this.#delete(),
    });
    this.notes = new NotesPanel({ onSave: (notes) => this.#edit({ notes }) });
    this.rank = new RankBy(route.query, () => {
      syncQuery();
      this.#render();
    });
    this.addRuns = new AddRuns(this.sweepId, (sweep) => {
      this.sweep = sweep;
      this.#render();
      this.poll();
    });
    this.best = new BestSoFarChart(this.sweepId);
    this.results = new ResultsCard(this.sweepId, [this.rank.el]);
    this.plots = new SweepPlots(this.sweepId, route.query, { onAxes: syncQuery });
    this.curves = new SweepCurves(this.sweepId, this, route.query.metric, { onMetric: syncQuery });
    this.notFound = h("div", { class: "banner banner-error", hidden: true, role: "alert" });
    const { header, results, plots, curves, best } = this;
    const tools = h("div", { class: "sweep-tools" }, this.addRuns.el);
    root.append(this.notFound, header.head, header.summaryEl, this.notes.el, tools, results.el, plots.note, plots.parcoords.el, h("div", { class: "chart-grid" }, best.el, plots.heatmap.el, curves.chart.el));
    mountImportance(root, this);
  }

  /** Poll every 2 s while the sweep has unfinished runs (again after runs are added). */
  poll() {
    if (!this.destroyed && !this.stopPolling && this.sweep && !sweepDone(this.sweep)) this.stopPolling = whileVisible(() => this.refresh(), POLL_MS);
  }

  /** The heatmap's axes and the curves' metric live in the URL. */
  #syncQuery() {
    const { x, y } = this.plots.selected;
    replaceQuery({ x, y, metric: this.curves.metric === "valid_acc" ? "" : this.curves.metric, ...this.rank.query });
  }

  async refresh() {
    let fresh;
    try {
      fresh = await get(`/sweeps/${this.sweepId}`);
    } catch (error) {
      if (this.destroyed) return;
      if (!this.sweep) this.#showNotFound(error);
      else this.header.setLive("reconnecting", "reconnecting…");
      return;
    }
    if (this.destroyed) return;
    this.sweep = fresh;
    this.#render();
    await this.curves.refresh();
    if (sweepDone(this.sweep) && this.stopPolling) {
      this.stopPolling();
      this.stopPolling = null;
    }
  }

  #render() {
    const sweep = this.sweep;
    const keys = gridKeys(sweep);
    const varied = variedKeys(sweep);
    this.header.render(sweep, varied);
    this.notes.set(sweep.notes);
    this.rank.update(sweep);
    this.addRuns.update(sweep);
    const metric = this.rank.metric;
    const rows = metric === VALID_ACC ? sweep.results || [] : rankedRows(sweep.results || [], metric);
    this.results.render(sweep, keys, rows, metric);
    this.plots.render(sweep, keys, varied, rows, metric);
    this.best.render(rows, metric);
    this.curves.update(sweep, varied);
    const done = sweepDone(sweep);
    this.header.setLive(done ? "ended" : "live", done ? "finished" : "live (every 2 s)");
  }

  /** PATCH the sweep's name or notes; the page shows what the server kept. */
  async #edit(fields) {
    const sweep = await patchSweep(this.sweepId, fields);
    if (!this.destroyed && this.sweep) {
      this.sweep = { ...this.sweep, name: sweep.name, notes: sweep.notes, archived: sweep.archived };
      this.header.render(this.sweep, variedKeys(this.sweep));
    }
    return sweep;
  }

  /** Archive (or restore) the sweep and all its runs; the toast's Undo puts them back. */
  async #archive(archived = !(this.sweep && this.sweep.archived)) {
    try {
      await this.#edit({ archived });
      const undo = { label: "Undo", onClick: () => this.#archive(!archived) };
      toast(archived ? `Archived sweep #${this.sweepId} and its runs` : `Restored sweep #${this.sweepId} and its runs`, "info", 10000, undo);
    } catch (error) {
      toast(`Could not ${archived ? "archive" : "restore"} the sweep: ${errorText(error)}`, "error");
    }
  }

  async #delete() {
    const n = (this.sweep && this.sweep.runs ? this.sweep.runs : []).length;
    const asked = { title: `Delete sweep #${this.sweepId}?`, message: `It and its ${n} ${n === 1 ? "run" : "runs"} (metrics, events, logs, files) are deleted for good; this cannot be undone.`, yes: "Yes, delete", keep: "Keep it" };
    if (!(await confirmAction(asked))) return;
    try {
      await deleteSweep(this.sweepId);
      toast(`Deleted sweep #${this.sweepId}`);
      navigate("/sweeps");
    } catch (error) {
      toast(`Could not delete the sweep: ${errorText(error)}`, "error");
    }
  }

  async #cancel() {
    const button = this.header.cancelButton;
    if (!(await confirmAction(sweepCancelQuestion(this.sweepId, openRuns(this.sweep.status_counts))))) return;
    button.disabled = true;
    try {
      this.sweep = await post(`/sweeps/${this.sweepId}/cancel`);
      toast(`Sweep #${this.sweepId} cancelled`);
      this.#render();
      await this.curves.refresh();
    } catch (error) {
      toast(`Could not cancel the sweep: ${errorText(error)}`, "error");
    } finally {
      button.disabled = false;
    }
  }

  #showNotFound(error) {
    const id = this.sweepId;
    this.notFound.hidden = false;
    this.notFound.replaceChildren(
      error instanceof ApiError && error.status === 404 ? `Sweep #${id} does not exist. ` : `Could not load sweep #${id}: ${errorText(error)}. `,
      h("a", { href: "#/sweeps" }, "All sweeps"),
    );
    this.header.head.hidden = true;
    for (const el of [this.header.summaryEl, this.results.el, this.plots.parcoords.el, this.plots.heatmap.el, this.curves.chart.el, this.best.el, this.addRuns.el]) el.hidden = true;
    if (this.stopPolling) this.stopPolling();
  }

  destroy() {
    this.destroyed = true;
    if (this.stopPolling) this.stopPolling();
    this.plots.destroy();
    this.curves.destroy();
    this.best.destroy();
    document.title = "trainboard";
  }
}
