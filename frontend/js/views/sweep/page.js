// Sweep view (#/sweeps/12), the page shell: the results table, parallel coordinates, a heatmap over two varied keys
// and the runs' curves overlaid — all refreshed every 2 s while any run of the sweep is unfinished.

import { ApiError, errorText, get, post } from "../../api.js";
import { h, toast, whileVisible } from "../../dom.js";
import { replaceQuery } from "../../router.js";
import { gridKeys, sweepDone, variedKeys } from "../../sweepdata.js";
import { SweepCurves } from "./curves.js";
import { SweepHeader } from "./header.js";
import { SweepPlots } from "./plots.js";
import { ResultsCard } from "./results.js";
import { openRuns } from "./text.js";

const POLL_MS = 2000;

export function mount(root, route) {
  const sweepId = Number(route.params[0]);
  const page = { destroyed: false };
  let sweep = null;
  let stopPolling = null;

  const header = new SweepHeader(sweepId, { onCancel: cancelSweep });
  const results = new ResultsCard(sweepId);
  const plots = new SweepPlots(sweepId, route.query, { onAxes: syncQuery });
  const curves = new SweepCurves(sweepId, page, route.query.metric, { onMetric: syncQuery });
  const notFound = h("div", { class: "banner banner-error", hidden: true, role: "alert" });
  root.append(notFound, header.head, header.summaryEl, results.el, plots.note, plots.parcoords.el, h("div", { class: "chart-grid" }, plots.heatmap.el, curves.chart.el));

  /** The heatmap's axes and the curves' metric live in the URL. */
  function syncQuery() {
    const { x, y } = plots.selected;
    replaceQuery({ x, y, metric: curves.metric === "valid_acc" ? "" : curves.metric });
  }

  function render() {
    const keys = gridKeys(sweep);
    const varied = variedKeys(sweep);
    header.render(sweep, varied);
    results.render(sweep, keys);
    plots.render(sweep, keys, varied);
    curves.update(sweep, varied);
    const done = sweepDone(sweep);
    header.setLive(done ? "ended" : "live", done ? "finished" : "live (every 2 s)");
  }

  function showNotFound(error) {
    notFound.hidden = false;
    notFound.replaceChildren(
      error instanceof ApiError && error.status === 404 ? `Sweep #${sweepId} does not exist. ` : `Could not load sweep #${sweepId}: ${errorText(error)}. `,
      h("a", { href: "#/sweeps" }, "All sweeps"),
    );
    header.head.hidden = true;
    for (const el of [header.summaryEl, results.el, plots.parcoords.el, plots.heatmap.el, curves.chart.el]) el.hidden = true;
    if (stopPolling) stopPolling();
  }

  async function refresh() {
    let fresh;
    try {
      fresh = await get(`/sweeps/${sweepId}`);
    } catch (error) {
      if (page.destroyed) return;
      if (!sweep) showNotFound(error);
      else header.setLive("reconnecting", "reconnecting…");
      return;
    }
    if (page.destroyed) return;
    sweep = fresh;
    render();
    await curves.refresh();
    if (sweepDone(sweep) && stopPolling) {
      stopPolling();
      stopPolling = null;
    }
  }

  async function cancelSweep() {
    if (!confirm(`Cancel the ${openRuns(sweep.status_counts)} unfinished runs of sweep #${sweepId}?`)) return;
    header.cancelButton.disabled = true;
    try {
      sweep = await post(`/sweeps/${sweepId}/cancel`);
      toast(`Sweep #${sweepId} cancelled`);
      render();
      await curves.refresh();
    } catch (error) {
      toast(`Could not cancel the sweep: ${errorText(error)}`, "error");
    } finally {
      header.cancelButton.disabled = false;
    }
  }

  refresh().then(() => {
    if (!page.destroyed && sweep && !sweepDone(sweep)) stopPolling = whileVisible(refresh, POLL_MS);
  });

  return () => {
    page.destroyed = true;
    if (stopPolling) stopPolling();
    plots.destroy();
    curves.destroy();
    document.title = "trainboard";
  };
}
