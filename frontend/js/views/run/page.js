// Run view (#/runs/12), the page shell: reads the run and its metrics, then follows the live stream (SSE) and
// hands each event to its piece: header (progress, ETA, status), notices, charts, summary and config, artifacts.

import { ApiError, cancelRun, deleteRun, errorText, getMetrics, getRun, patchRun } from "../../api.js";
import { confirmAction } from "../../confirm.js";
import { whenPlotly } from "../../charts.js";
import { NotesPanel } from "../../curate/notes.js";
import { TERMINAL, h, toast } from "../../dom.js";
import { LiveStream, metricsOf } from "../../live.js";
import { navigate } from "../../router.js";
import { RunArtifacts } from "./artifacts.js";
import { RunCharts } from "./charts.js";
import { RunDetails } from "./details.js";
import { RunHeader } from "./header.js";
import { KeyCharts } from "./key-charts.js";
import { RunLog } from "./log.js";
import { RunNotices } from "./notices.js";

const QUEUED_POLL_MS = 3000;

export function mount(root, route) {
  const page = new RunPage(root, route);
  page.start();
  return () => page.destroy();
}

class RunPage {
  constructor(root, route) {
    this.root = root;
    this.route = route;
    // what the pieces share: the run as last heard of, and whether the page is gone (late replies are dropped)
    this.runId = Number(route.params[0]);
    this.run = null;
    this.destroyed = false;
    this.stream = null;
    this.timers = [];
    this.header = new RunHeader(this.runId, {
      onCancel: () => this.#cancel(),
      onEdit: (fields) => this.#edit(fields),
      onArchive: () => this.#archive(),
      onDelete: () => this.#delete(),
    });
    this.notes = new NotesPanel({ onSave: (notes) => this.#edit({ notes }) });
    this.notices = new RunNotices();
    this.charts = new RunCharts(this);
    this.keyCharts = new KeyCharts(this.charts); // every other logged key, by section
    this.details = new RunDetails(() => this.run);
    this.artifacts = new RunArtifacts(this);
    this.log = new RunLog(this);
    this.notFound = h("div", { class: "banner banner-error", hidden: true, role: "alert" });
    root.append(this.notFound, ...this.header.elements, ...this.notices.elements, h("div", { class: "chart-grid" }, this.charts.elements), this.keyCharts.el, this.notes.el, this.details.el, this.log.el, this.artifacts.el);
    this.onVisibility = () => {
      if (!this.stream) return;
      if (document.visibilityState === "hidden") this.stream.suspend();
      else this.stream.resume();
    };
    document.addEventListener("visibilitychange", this.onVisibility);
    this.header.refreshSelect();
    this.ticker = setInterval(() => {
      if (this.run && this.run.status === "running") this.header.renderProgress(this.run);
    }, 1000);
    // a queued run's place in its queue changes with no event of its own: read the run again every few seconds
    this.queuedPoll = setInterval(() => this.#refreshQueued(), QUEUED_POLL_MS);
  }

  async start() {
    try {
      this.run = await (this.route.prefetched || getRun(this.runId)); // the router asked for it while this module loaded
    } catch (error) {
      if (!this.destroyed) this.#showNotFound(error);
      return;
    }
    if (this.destroyed) return;
    if (!(this.run.spec && this.run.spec.dataset)) this.charts.reportChartsOnlyWithData();
    // the event id the run had before the metrics read: the stream resumes there, and the store drops replays
    const after = Number.isInteger(this.run.event_seq) ? this.run.event_seq : 0;
    // the metrics read is the longest wait of the page: ask first, fill in the rest while it runs; as many
    // points as the widest shown chart has pixels
    const metrics = getMetrics(this.runId, { max_points: this.charts.widestShown() });
    metrics.catch(() => {}); // handled below
    whenPlotly().catch(() => {}); // run plotly.js while the server reads (a chart reports a failure)
    this.#renderRun();
    this.details.renderConfig(this.run);
    this.header.refreshSelect();
    this.artifacts.load();
    this.log.load();
    try {
      const initial = await metrics;
      performance.mark("trainboard:run-metrics");
      if (this.destroyed) return;
      this.charts.load(initial);
    } catch (error) {
      toast(`Could not load the metrics: ${errorText(error)}`, "error");
    }
    await this.charts.renderAll();
    performance.mark("trainboard:run-charts");
    if (this.destroyed) return;
    if (TERMINAL.has(this.run.status)) {
      this.header.setLiveState("ended"); // finished before the metrics were read: they are complete, nothing to stream
      return;
    }
    this.#follow(after);
  }

  /** The live stream from event `after` on; each event to its piece. */
  #follow(after) {
    this.stream = new LiveStream(this.runId, {
      after,
      onStatus: (data) => this.#onStatus(data),
      onMetrics: (data) => {
        for (const [key, series] of Object.entries(metricsOf(data))) this.charts.append(key, series);
      },
      onInterrupted: (data) => this.notices.interrupted(data, this.run),
      onWarning: (data) => this.notices.warning(data),
      onLog: (data) => this.log.append(data),
      onEdited: (data) => this.#onEdited(data),
      onState: (state) => this.header.setLiveState(state),
      onEnd: () => {
        this.artifacts.load();
        this.log.catchUp(); // a run's last lines may come after its final status
      },
    }).start();
  }

  async #refreshQueued() {
    if (!this.run || this.run.status !== "queued" || document.visibilityState !== "visible") return;
    try {
      const run = await getRun(this.runId);
      if (this.destroyed || !this.run || this.run.status !== "queued" || run.status !== "queued") return; // the stream tells the rest
      this.run = { ...this.run, status_detail: run.status_detail, runs_ahead: run.runs_ahead, queue_workers: run.queue_workers };
      this.#renderRun();
    } catch {
      /* the next poll, or the stream, brings it */
    }
  }

  #renderRun() {
    if (!this.run) return;
    this.header.render(this.run);
    this.notes.set(this.run.notes);
    this.notices.render(this.run);
    this.details.renderSummary(this.run.summary);
  }

  #onStatus(data) {
    const before = this.run ? this.run.epoch : null;
    const wasTerminal = this.run && TERMINAL.has(this.run.status);
    const { seq: _seq, ...fields } = data;
    this.run = { ...this.run, ...fields };
    this.#renderRun();
    if (TERMINAL.has(this.run.status) && !wasTerminal) {
      this.artifacts.load();
      this.timers.push(setTimeout(() => this.artifacts.load(), 3000));
      this.timers.push(setTimeout(() => this.log.catchUp(), 3000));
      this.charts.renderEmpty();
    } else if (this.run.epoch !== before) {
      this.artifacts.load();
    }
  }

  /** Renamed, retagged, annotated or archived (here, or elsewhere: the stream's `edited` event). */
  #onEdited(data) {
    const { seq: _seq, ...fields } = data;
    this.run = { ...this.run, ...fields };
    this.#renderRun();
  }

  /** PATCH the run; returns it as the server has it now (a failure throws to the piece that asked). */
  async #edit(fields) {
    const run = await patchRun(this.runId, fields);
    if (!this.destroyed) {
      this.run = { ...this.run, name: run.name, tags: run.tags, notes: run.notes, archived: run.archived };
      this.#renderRun();
    }
    return run;
  }

  /** Archive (or restore) the run; the toast's Undo puts it back. */
  async #archive(archived = !(this.run && this.run.archived)) {
    try {
      await this.#edit({ archived });
      const undo = { label: "Undo", onClick: () => this.#archive(!archived) };
      toast(archived ? `Archived run #${this.runId}: the runs table hides it` : `Restored run #${this.runId}`, "info", 10000, undo);
    } catch (error) {
      toast(`Could not ${archived ? "archive" : "restore"}: ${errorText(error)}`, "error");
    }
  }

  async #delete() {
    const asked = { title: `Delete run #${this.runId}?`, message: "Its metrics, events, log and files are deleted for good; this cannot be undone.", yes: "Yes, delete", keep: "Keep it" };
    if (!(await confirmAction(asked))) return;
    try {
      await deleteRun(this.runId);
      toast(`Deleted run #${this.runId}`);
      navigate("/runs");
    } catch (error) {
      toast(`Could not delete: ${errorText(error)}`, "error");
    }
  }

  async #cancel() {
    try {
      this.run = { ...this.run, ...(await cancelRun(this.runId)) };
      this.#renderRun();
    } catch (error) {
      toast(`Could not cancel: ${errorText(error)}`, "error");
    }
  }

  #showNotFound(error) {
    const runId = this.runId;
    this.notFound.hidden = false;
    this.notFound.replaceChildren(
      error instanceof ApiError && error.status === 404 ? `Run #${runId} does not exist. ` : `Could not load run #${runId}: ${errorText(error)}. `,
      h("a", { href: "#/runs" }, "Back to the runs"),
    );
    this.header.head.hidden = true;
    this.root.querySelectorAll(".card, .chart-grid, .two-col").forEach((el) => {
      el.hidden = true;
    });
  }

  destroy() {
    this.destroyed = true;
    clearInterval(this.ticker);
    clearInterval(this.queuedPoll);
    document.removeEventListener("visibilitychange", this.onVisibility);
    this.timers.forEach(clearTimeout);
    if (this.stream) this.stream.close();
    this.charts.destroy();
    this.keyCharts.destroy();
    document.title = "trainboard";
  }
}
