// Run view (#/runs/12), the page shell: reads the run and its metrics, then follows the live stream (SSE) and
// hands each event to its piece: header (progress, ETA, status), notices, charts, summary and config, artifacts.

import { ApiError, cancelRun, errorText, getMetrics, getRun } from "../../api.js";
import { whenPlotly } from "../../charts.js";
import { TERMINAL, h, toast } from "../../dom.js";
import { LiveStream, metricsOf } from "../../live.js";
import { RunArtifacts } from "./artifacts.js";
import { RunCharts } from "./charts.js";
import { RunDetails } from "./details.js";
import { RunHeader } from "./header.js";
import { RunNotices } from "./notices.js";

export function mount(root, route) {
  // what the pieces share: the run as last heard of, and whether the page is gone (late replies are dropped)
  const page = { runId: Number(route.params[0]), run: null, destroyed: false };
  const runId = page.runId;
  let stream = null;
  const timers = [];

  const header = new RunHeader(runId, { onCancel: cancel });
  const notices = new RunNotices();
  const charts = new RunCharts(page);
  const details = new RunDetails(() => page.run.spec);
  const artifacts = new RunArtifacts(page);
  const notFound = h("div", { class: "banner banner-error", hidden: true, role: "alert" });
  root.append(notFound, ...header.elements, ...notices.elements, h("div", { class: "chart-grid" }, charts.elements), details.el, artifacts.el);

  function renderRun() {
    const run = page.run;
    if (!run) return;
    header.render(run);
    notices.render(run);
    details.renderSummary(run.summary);
  }

  async function cancel() {
    try {
      page.run = { ...page.run, ...(await cancelRun(runId)) };
      renderRun();
    } catch (error) {
      toast(`Could not cancel: ${errorText(error)}`, "error");
    }
  }

  function onStatus(data) {
    const before = page.run ? page.run.epoch : null;
    const wasTerminal = page.run && TERMINAL.has(page.run.status);
    const { seq: _seq, ...fields } = data;
    page.run = { ...page.run, ...fields };
    renderRun();
    if (TERMINAL.has(page.run.status) && !wasTerminal) {
      artifacts.load();
      timers.push(setTimeout(() => artifacts.load(), 3000));
      charts.renderEmpty();
    } else if (page.run.epoch !== before) {
      artifacts.load();
    }
  }

  function onMetrics(data) {
    for (const [key, series] of Object.entries(metricsOf(data))) charts.append(key, series);
  }

  function showNotFound(error) {
    notFound.hidden = false;
    notFound.replaceChildren(
      error instanceof ApiError && error.status === 404 ? `Run #${runId} does not exist. ` : `Could not load run #${runId}: ${errorText(error)}. `,
      h("a", { href: "#/runs" }, "Back to the runs"),
    );
    header.head.hidden = true;
    root.querySelectorAll(".card, .chart-grid, .two-col").forEach((el) => {
      el.hidden = true;
    });
  }

  async function start() {
    try {
      page.run = await (route.prefetched || getRun(runId)); // the router asked for it while this module loaded
    } catch (error) {
      if (!page.destroyed) showNotFound(error);
      return;
    }
    if (page.destroyed) return;
    // the event id the run had before the metrics read: the stream resumes there, and the store drops replays
    const after = Number.isInteger(page.run.event_seq) ? page.run.event_seq : 0;
    // the metrics read is the longest wait of the page: ask first, fill in the rest while it runs; as many
    // points as the widest shown chart has pixels
    const metrics = getMetrics(runId, { max_points: charts.widestShown() });
    metrics.catch(() => {}); // handled below
    whenPlotly().catch(() => {}); // run plotly.js while the server reads (a chart reports a failure)
    renderRun();
    details.renderConfig(page.run.spec);
    header.refreshSelect();
    artifacts.load();
    try {
      const initial = await metrics;
      performance.mark("trainboard:run-metrics");
      if (page.destroyed) return;
      charts.load(initial);
    } catch (error) {
      toast(`Could not load the metrics: ${errorText(error)}`, "error");
    }
    await charts.renderAll();
    performance.mark("trainboard:run-charts");
    if (page.destroyed) return;
    if (TERMINAL.has(page.run.status)) {
      header.setLiveState("ended"); // finished before the metrics were read: they are complete, nothing to stream
      return;
    }
    stream = new LiveStream(runId, {
      after,
      onStatus,
      onMetrics,
      onInterrupted: (data) => notices.interrupted(data, page.run),
      onWarning: (data) => notices.warning(data),
      onState: (state) => header.setLiveState(state),
      onEnd: () => artifacts.load(),
    }).start();
  }

  const onVisibility = () => {
    if (!stream) return;
    if (document.visibilityState === "hidden") stream.suspend();
    else stream.resume();
  };
  document.addEventListener("visibilitychange", onVisibility);
  header.refreshSelect();
  const ticker = setInterval(() => {
    if (page.run && page.run.status === "running") header.renderProgress(page.run);
  }, 1000);
  start();

  return () => {
    page.destroyed = true;
    clearInterval(ticker);
    document.removeEventListener("visibilitychange", onVisibility);
    timers.forEach(clearTimeout);
    if (stream) stream.close();
    charts.destroy();
    document.title = "trainboard";
  };
}
