// What the sweep page ranks and colours by: the sweep's metric (its score, GET /sweeps/{id}'s `score`) or any
// numeric summary key of its runs (a command run's script sets run.summary["…"]), and the best-so-far curve.
// No DOM, so tests/browser/test_view_helpers.py can call them directly.

import { TERMINAL } from "../../dom.js";
import { VALID_ACC, metricValue } from "../../sweepdata.js";

/** The choices of the "Rank by" select: the sweep's score first, then every summary key its runs report. */
export function rankOptions(sweep) {
  const metric = (sweep && sweep.metric) || "valid_acc";
  const keys = ((sweep && sweep.summary_keys) || []).filter((k) => k !== `best_${metric}` || metric !== "valid_acc");
  return [{ value: "score", label: `${metric} (the sweep's metric)` }, ...keys.map((k) => ({ value: `summary.${k}`, label: `summary.${k}` }))];
}

/**
 * The metric a choice means: its label, scale (accuracies as %), goal and how to read a row. The default sweep
 * (valid_acc) keeps the best valid accuracy every results view has always shown.
 */
export function rankMetric(sweep, choice = "score", goal = null) {
  const metric = (sweep && sweep.metric) || "valid_acc";
  const sweepGoal = (sweep && sweep.goal) || "maximize";
  if (choice === "score" && metric === "valid_acc" && (goal || sweepGoal) === "maximize") return VALID_ACC;
  const key = choice === "score" ? metric : choice.replace(/^summary\./, "");
  const percent = /acc(uracy)?$/.test(key);
  return {
    key: choice,
    label: percent ? `${key} (%)` : key,
    short: percent ? `${key.split("/").pop()} %` : key.split("/").pop(),
    title: percent ? `${key} (%)` : key,
    scale: percent ? 100 : 1,
    goal: goal || sweepGoal,
    get: choice === "score" ? (r) => r.score : (r) => (r.summary || {})[key],
  };
}

/** The rows ranked by the metric (best first, runs without a value last), the best one marked, each with rank_value. */
export function rankedRows(rows, metric) {
  const sign = metric.goal === "minimize" ? 1 : -1;
  const ranked = rows.map((r) => ({ ...r, rank_value: metricValue(r, metric), best: false }));
  ranked.sort((a, b) => {
    if (a.rank_value === null || b.rank_value === null) return (a.rank_value === null) - (b.rank_value === null) || a.run_id - b.run_id;
    return sign * (a.rank_value - b.rank_value) || a.run_id - b.run_id;
  });
  if (ranked.length && ranked[0].rank_value !== null) ranked[0].best = true;
  return ranked;
}

/**
 * The best-so-far curve: the finished runs with a value, in the order they finished (trial 1, 2, …), each run's
 * value and the best of the first n. {trial, value, best, runIds}.
 */
export function bestSoFar(rows, metric) {
  const done = rows
    .filter((r) => TERMINAL.has(r.status) && metricValue(r, metric) !== null)
    .sort((a, b) => String(a.finished_at || "").localeCompare(String(b.finished_at || "")) || a.run_id - b.run_id);
  const better = metric.goal === "minimize" ? Math.min : Math.max;
  const out = { trial: [], value: [], best: [], runIds: [] };
  for (const row of done) {
    const v = metricValue(row, metric);
    out.trial.push(out.trial.length + 1);
    out.value.push(v);
    out.best.push(out.best.length ? better(out.best[out.best.length - 1], v) : v);
    out.runIds.push(row.run_id);
  }
  return out;
}
