// Sweep view (#/sweeps/12): the results table, parallel coordinates, a heatmap over two varied keys and the
// runs' curves overlaid — all refreshed every 2 s while any run of the sweep is unfinished.

import { ApiError, errorText, get, getMetrics, post } from "../api.js";
import { COLORS, Chart, baseLayout, fitLayout } from "../charts.js";
import { STATUSES, csvCell, downloadText, h, localTime, num, pct, progressBar, statusBadge, toast, whileVisible } from "../dom.js";
import { hrefFor, replaceQuery } from "../router.js";
import { formatValue, shortKey } from "../spec.js";
import {
  finishedCount,
  gridKeys,
  heatmapData,
  heatmapTrace,
  parcoordsTrace,
  pool,
  resultsCsv,
  rowLabel,
  scoredRows,
  sweepDone,
  variedKeys,
} from "../sweepdata.js";
import { ResultsTable } from "../sweeptable.js";

const POLL_MS = 2000;
const CURVE_METRICS = { valid_acc: "valid accuracy", test_acc: "test accuracy", train_acc: "train accuracy", valid_loss: "valid loss" };

export function mount(root, route) {
  const sweepId = Number(route.params[0]);
  let destroyed = false;
  let sweep = null;
  let table = null;
  let keys = []; // grid keys (table columns)
  let varied = []; // keys that differ between runs (plot axes)
  let plotSignature = "";
  let metric = CURVE_METRICS[route.query.metric] ? route.query.metric : "valid_acc";
  const curves = new Map(); // run id -> {epoch, status, series}
  let stopPolling = null;

  // ---- skeleton ----------------------------------------------------------------------------------------------
  const titleEl = h("h1", {}, `Sweep #${sweepId}`);
  const liveEl = h("span", { class: "live-dot", dataset: { state: "connecting" } }, "loading");
  const cancelButton = h("button", { type: "button", class: "danger", hidden: true, dataset: { testid: "cancel-sweep" }, onclick: cancelSweep }, "Cancel sweep");
  const compareLink = h("a", { class: "button" }, "Compare all runs");
  const head = h(
    "div",
    { class: "page-head" },
    h("div", { class: "page-title" }, h("a", { href: "#/sweeps", class: "back", title: "All sweeps" }, "←"), titleEl, liveEl),
    h("div", { class: "actions" }, h("a", { class: "button", href: hrefFor("/runs", { sweep_id: sweepId }) }, "In the runs table"), compareLink, cancelButton),
  );
  const summaryEl = h("section", { class: "card sweep-card", dataset: { testid: "sweep-summary" } }, h("p", { class: "muted" }, "Loading…"));
  const tableSlot = h("div", {});
  const tableNote = h("p", { class: "muted small-text" });
  const resultsCard = h(
    "section",
    { class: "card" },
    h("header", { class: "card-head" }, h("div", {}, h("h3", {}, "Results"), tableNote), h("div", { class: "tools" }, h("button", { type: "button", class: "small", onclick: () => downloadCsv() }, "CSV"))),
    tableSlot,
  );
  const notFound = h("div", { class: "banner banner-error", hidden: true, role: "alert" });

  const parcoords = new Chart({ id: "parcoords", title: "Parallel coordinates", subtitle: "one line per run with a result, coloured by best valid accuracy · drag along an axis to filter", filename: `sweep${sweepId}_parcoords`, csv: async () => resultsCsv(sweep.results, keys) });
  const xSelect = h("select", { name: "heat-x", "aria-label": "heatmap x axis" });
  const ySelect = h("select", { name: "heat-y", "aria-label": "heatmap y axis" });
  const syncQuery = () => replaceQuery({ x: xSelect.value, y: ySelect.value, metric: metric === "valid_acc" ? "" : metric });
  xSelect.addEventListener("change", () => {
    syncQuery();
    renderHeatmap();
  });
  ySelect.addEventListener("change", () => {
    syncQuery();
    renderHeatmap();
  });
  const heatmap = new Chart({
    id: "heatmap",
    title: "Best valid accuracy (%)",
    filename: `sweep${sweepId}_heatmap`,
    tools: [h("label", { class: "inline small-text" }, "x ", xSelect), h("label", { class: "inline small-text" }, "y ", ySelect)],
    csv: async () => heatmapCsv(),
  });
  const metricSelect = h(
    "select",
    { name: "curve-metric", "aria-label": "curve metric" },
    Object.entries(CURVE_METRICS).map(([k, label]) => h("option", { value: k, selected: k === metric }, label)),
  );
  metricSelect.addEventListener("change", () => {
    metric = metricSelect.value;
    syncQuery();
    curves.clear();
    refreshCurves();
  });
  const curvesChart = new Chart({ id: "curves", title: "Curves of the runs", subtitle: "per epoch · the best run drawn thick", filename: `sweep${sweepId}_curves`, tools: [metricSelect] });
  const plotsNote = h("p", { class: "banner banner-warn", hidden: true });
  parcoords.el.classList.add("wide-chart");

  root.append(
    notFound,
    head,
    summaryEl,
    resultsCard,
    plotsNote,
    parcoords.el,
    h("div", { class: "chart-grid" }, heatmap.el, curvesChart.el),
  );

  // ---- rendering ---------------------------------------------------------------------------------------------
  function renderSummary() {
    const counts = sweep.status_counts || {};
    const runIds = sweep.runs || [];
    const done = finishedCount(sweep);
    const best = (sweep.results || []).find((r) => r.best);
    const spec = sweep.spec || {};
    const base = spec.base || {};
    const grid = spec.grid || {};
    const rule = spec.early_termination;
    const stopped = (sweep.results || []).filter((r) => r.stop_reason).length;
    const open = (counts.queued || 0) + (counts.running || 0);
    titleEl.replaceChildren(h("span", { class: "muted" }, `#${sweep.id} `), sweep.name);
    if (sweep.preset) titleEl.append(" ", h("span", { class: "preset-id" }, sweep.preset));
    document.title = `sweep #${sweep.id} ${sweep.name} · trainboard`;
    cancelButton.hidden = open === 0;
    compareLink.href = hrefFor("/compare", { ids: runIds });
    const gridText = Object.entries(grid)
      .map(([k, v]) => (Array.isArray(v) ? `${k} ∈ {${v.map(formatValue).join(", ")}}` : `${k} ~ ${v.log ? "log-" : ""}uniform[${num(v.min)}, ${num(v.max)}]`))
      .join(" × ");
    summaryEl.replaceChildren(
      h(
        "div",
        { class: "sweep-progress" },
        progressBar(runIds.length ? done / runIds.length : 0, `${done}/${runIds.length} finished`),
        h("span", { class: "sweep-counts", dataset: { testid: "status-counts" } }, STATUSES.filter((s) => counts[s]).map((s) => h("span", { dataset: { status: s } }, statusBadge(s), ` ${counts[s]}`))),
        stopped ? h("span", { class: "tag tag-early", title: "stopped by the sweep's early-termination rule: not failures" }, `${stopped} stopped early`) : null,
        best
          ? h("span", { class: "sweep-best", dataset: { testid: "sweep-best" } }, "best: ", h("a", { href: `#/runs/${best.run_id}` }, `#${best.run_id}`), ` ${rowLabel(best, varied).replace(/^#\d+ /, "")} · valid ${pct(best.best_valid_acc)} · test ${pct(best.test_acc_at_best)}`)
          : null,
      ),
      h(
        "dl",
        { class: "facts" },
        [
          ["grid", gridText || "no grid: one run"],
          ["method", spec.method === "random" ? `random, n = ${spec.n}, seed ${spec.seed}` : "grid (every combination)"],
          ["early termination", rule ? `${rule.method === "asha" ? `successive halving, factor ${rule.reduction_factor}` : `median rule, ≥ ${rule.min_peers} peers`}, from epoch ${rule.min_epochs}` : "none"],
          ["base", [base.dataset, base.model && base.model.arch, base.epochs ? `${base.epochs} epochs` : null, base.limit_train ? `limit_train ${num(base.limit_train)}` : null].filter(Boolean).join(" · ") || "—"],
          ["created", localTime(sweep.created_at)],
        ].map(([k, v]) => h("div", { class: "fact" }, h("dt", {}, k), h("dd", {}, v))),
      ),
    );
  }

  function renderTable() {
    const rows = sweep.results || [];
    if (!table) {
      const base = (sweep.spec && sweep.spec.base) || {};
      table = new ResultsTable({ keys, epochs: base.epochs });
      tableSlot.replaceChildren(table.el);
    }
    table.update(rows);
    const scored = scoredRows(rows).length;
    tableNote.textContent = `${rows.length} runs · ${scored} with a result · sorted by best valid accuracy (click a column to sort)`;
  }

  function fillSelects() {
    if (xSelect.options.length) return;
    const options = (select, withNone) => {
      if (withNone) select.append(h("option", { value: "" }, "(none)"));
      for (const key of varied) select.append(h("option", { value: key }, shortKey(key)));
    };
    options(xSelect, false);
    options(ySelect, true);
    const wantX = route.query.x && varied.includes(route.query.x) ? route.query.x : varied[varied.length - 1];
    const wantY = route.query.y !== undefined && (varied.includes(route.query.y) || route.query.y === "") ? route.query.y : varied.length > 1 ? varied[0] : "";
    xSelect.value = wantX;
    ySelect.value = wantY === wantX ? "" : wantY;
  }

  function renderPlots() {
    const rows = sweep.results || [];
    const signature = JSON.stringify(rows.map((r) => [r.run_id, r.best_valid_acc, r.values]));
    if (signature === plotSignature) return;
    plotSignature = signature;
    const noAxes = varied.length === 0;
    parcoords.el.hidden = noAxes;
    heatmap.el.hidden = noAxes;
    plotsNote.hidden = !noAxes;
    plotsNote.textContent = noAxes ? `This sweep varies nothing (${rows.length} ${rows.length === 1 ? "run" : "runs"} of one configuration): no parallel coordinates or heatmap, only the curves.` : "";
    if (noAxes) return;
    fillSelects();
    renderParcoords();
    renderHeatmap();
  }

  async function renderParcoords() {
    const rows = sweep.results || [];
    const scored = scoredRows(rows);
    parcoords.empty.textContent = "Waiting for the first results…";
    parcoords.status.textContent = scored.length < rows.length ? `${scored.length}/${rows.length} runs with a result` : "";
    const layout = { font: baseLayout().font, margin: { l: 70, r: 40, t: 56, b: 24 }, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "#ffffff" };
    await parcoords.render(scored.length ? [parcoordsTrace(sweep, rows, varied)] : [], layout, { hasData: scored.length > 0 });
  }

  async function renderHeatmap() {
    if (!sweep || !varied.length) return;
    const rows = sweep.results || [];
    const xKey = xSelect.value || varied[0];
    const yKey = ySelect.value && ySelect.value !== xKey ? ySelect.value : "";
    const data = heatmapData(sweep, rows, xKey, yKey);
    heatmap.status.textContent = data.multiple ? "best over the other keys" : "";
    const layout = baseLayout({ xTitle: xKey, yTitle: yKey || "" });
    layout.hovermode = "closest";
    layout.xaxis.type = "category";
    layout.yaxis.type = "category";
    layout.xaxis.gridcolor = "rgba(0,0,0,0)";
    layout.yaxis.gridcolor = "rgba(0,0,0,0)";
    layout.yaxis.autorange = "reversed"; // first grid value on top, like the table
    heatmap.empty.textContent = "Waiting for the first results…";
    const any = data.z.some((r) => r.some((v) => v !== null));
    await heatmap.render(any ? [heatmapTrace(data)] : [], layout, { hasData: any });
  }

  function heatmapCsv() {
    const xKey = xSelect.value || varied[0];
    const yKey = ySelect.value && ySelect.value !== xKey ? ySelect.value : "";
    const data = heatmapData(sweep, sweep.results || [], xKey, yKey);
    const lines = [[yKey || "", ...data.xAxis.labels].map(csvCell).join(",")];
    data.z.forEach((row, i) => lines.push([csvCell(yKey ? data.yAxis.labels[i] : "all"), ...row.map((v) => (v === null ? "" : v.toFixed(4)))].join(",")));
    return `${lines.join("\n")}\n`;
  }

  async function refreshCurves() {
    const rows = sweep ? sweep.results || [] : [];
    const width = curvesChart.width();
    const stale = rows.filter((r) => {
      const cached = curves.get(r.run_id);
      return r.epoch > 0 && (!cached || cached.epoch !== r.epoch || cached.status !== r.status);
    });
    const wanted = metric;
    await pool(stale, 6, async (row) => {
      try {
        const data = await getMetrics(row.run_id, { keys: wanted, max_points: width });
        if (wanted !== metric) return;
        curves.set(row.run_id, { epoch: row.epoch, status: row.status, series: data[wanted] || { step: [], value: [] } });
      } catch {
        /* the next refresh tries again */
      }
    });
    if (destroyed || wanted !== metric) return;
    renderCurves();
  }

  async function renderCurves() {
    const rows = [...(sweep.results || [])].sort((a, b) => a.run_id - b.run_id);
    const isAcc = metric.endsWith("_acc");
    const many = rows.length > 10;
    const traces = [];
    rows.forEach((row, i) => {
      const entry = curves.get(row.run_id);
      if (!entry || !entry.series.step.length) return;
      const color = COLORS[i % COLORS.length];
      traces.push({
        type: "scatter",
        mode: entry.series.step.length <= 60 ? "lines+markers" : "lines",
        name: rowLabel(row, varied),
        x: [...entry.series.step],
        y: entry.series.value.map((v) => (v === null ? null : isAcc ? 100 * v : v)),
        line: { color, width: row.best ? 3.5 : 1.6 },
        marker: { size: row.best ? 6 : 4 },
        opacity: row.best || !many ? 1 : 0.55,
        meta: row.run_id,
      });
    });
    const layout = baseLayout({ xTitle: "epoch", yTitle: isAcc ? `${CURVE_METRICS[metric]} (%)` : CURVE_METRICS[metric] });
    layout.hovermode = "closest";
    layout.legend = { orientation: "v", x: 1.02, y: 1, xanchor: "left", bgcolor: "rgba(0,0,0,0)", font: { size: 11 } };
    layout.showlegend = traces.length <= 20;
    curvesChart.empty.textContent = rows.some((r) => r.epoch > 0) ? "Loading curves…" : "Waiting for the first epoch…";
    await curvesChart.render(traces, fitLayout(layout, traces, { integerX: true }));
  }

  function render() {
    keys = gridKeys(sweep);
    varied = variedKeys(sweep);
    renderSummary();
    renderTable();
    renderPlots();
    const done = sweepDone(sweep);
    liveEl.dataset.state = done ? "ended" : "live";
    liveEl.textContent = done ? "finished" : "live (every 2 s)";
  }

  async function refresh() {
    let fresh;
    try {
      fresh = await get(`/sweeps/${sweepId}`);
    } catch (error) {
      if (destroyed) return;
      if (!sweep) {
        notFound.hidden = false;
        notFound.replaceChildren(
          error instanceof ApiError && error.status === 404 ? `Sweep #${sweepId} does not exist. ` : `Could not load sweep #${sweepId}: ${errorText(error)}. `,
          h("a", { href: "#/sweeps" }, "All sweeps"),
        );
        head.hidden = true;
        for (const el of [summaryEl, resultsCard, parcoords.el, heatmap.el, curvesChart.el]) el.hidden = true;
        if (stopPolling) stopPolling();
      } else {
        liveEl.dataset.state = "reconnecting";
        liveEl.textContent = "reconnecting…";
      }
      return;
    }
    if (destroyed) return;
    sweep = fresh;
    render();
    await refreshCurves();
    if (sweepDone(sweep) && stopPolling) {
      stopPolling();
      stopPolling = null;
    }
  }

  async function cancelSweep() {
    const open = (sweep.status_counts.queued || 0) + (sweep.status_counts.running || 0);
    if (!confirm(`Cancel the ${open} unfinished runs of sweep #${sweepId}?`)) return;
    cancelButton.disabled = true;
    try {
      sweep = await post(`/sweeps/${sweepId}/cancel`);
      toast(`Sweep #${sweepId} cancelled`);
      render();
      await refreshCurves();
    } catch (error) {
      toast(`Could not cancel the sweep: ${errorText(error)}`, "error");
    } finally {
      cancelButton.disabled = false;
    }
  }

  function downloadCsv() {
    if (sweep) downloadText(`sweep${sweepId}_results.csv`, resultsCsv(sweep.results || [], keys));
  }

  refresh().then(() => {
    if (!destroyed && sweep && !sweepDone(sweep)) stopPolling = whileVisible(refresh, POLL_MS);
  });

  return () => {
    destroyed = true;
    if (stopPolling) stopPolling();
    parcoords.destroy();
    heatmap.destroy();
    curvesChart.destroy();
    document.title = "trainboard";
  };
}
