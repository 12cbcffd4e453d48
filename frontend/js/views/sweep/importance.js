// The sweep view's hyperparameter importance (GET /api/importance over the sweep's runs), drawn under its plots.
// It reads the sweep the page already polls (page.sweep), so it adds no polling of its own, and asks the API again
// only when a run's status or epoch moved; it ends with the page. It offers the summary values the results carry
// (best valid accuracy, and the test accuracy at that epoch).

import { TERMINAL, whileVisible } from "../../dom.js";
import { ImportanceCard, importanceProblem } from "../../importance-chart.js";
import { variedKeys } from "../../sweepdata.js";

// The results rows carry these summary values, so the card knows before asking whether enough runs have one.
const METRICS = { "summary.best_valid_acc": "best_valid_acc", "summary.test_acc_at_best": "test_acc_at_best" };
const TICK_MS = 2000;

/** Mount the card at the end of `root`; `page` is the SweepPage (its `sweep` and `destroyed`). */
export function mountImportance(root, page) {
  const card = new ImportanceCard({ id: "sweep-importance" });
  card.el.hidden = true;
  root.append(card.el);
  const tick = () => {
    if (page.destroyed || !card.el.isConnected) {
      stop();
      card.destroy();
      return;
    }
    const sweep = page.sweep;
    if (!sweep) return;
    const rows = sweep.results || [];
    const problem = (metric) => {
      const withMetric = rows.filter((r) => Number.isFinite(r[METRICS[metric]]));
      return importanceProblem(metric, withMetric.length, variedKeys(sweep, withMetric).length > 0);
    };
    card.el.hidden = rows.length < 3;
    const ids = rows.map((r) => r.run_id).sort((a, b) => a - b);
    if (!card.el.hidden) card.update(ids, Object.keys(METRICS), rows.map((r) => `${r.status}:${r.epoch}`).join(), problem);
    if (rows.length && rows.every((r) => TERMINAL.has(r.status)) && card.asked) stop();
  };
  const stop = whileVisible(tick, TICK_MS);
  return card;
}
