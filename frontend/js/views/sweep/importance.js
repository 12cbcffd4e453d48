// The sweep view's hyperparameter importance (GET /api/importance over the sweep's runs), drawn under its plots.
// It reads the sweep the page already polls (page.sweep), so it adds no polling of its own, and asks the API again
// only when a run's status or epoch moved; it ends with the page.

import { TERMINAL, whileVisible } from "../../dom.js";
import { ImportanceCard } from "../../importance-chart.js";

const METRICS = ["summary.best_valid_acc", "summary.test_acc_at_best", "valid_acc", "test_acc", "valid_loss"];
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
    const goal = sweep.spec && sweep.spec.metric;
    const options = goal && !METRICS.includes(goal) ? [...METRICS, goal] : METRICS;
    card.el.hidden = rows.length < 3;
    if (!card.el.hidden) card.update(rows.map((r) => r.run_id).sort((a, b) => a - b), options, rows.map((r) => `${r.status}:${r.epoch}`).join());
    if (rows.length && rows.every((r) => TERMINAL.has(r.status)) && card.asked) stop();
  };
  const stop = whileVisible(tick, TICK_MS);
  return card;
}
