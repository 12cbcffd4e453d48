// The sweep page's words and choices, from the sweep alone: its grid, method and rule in words, the heatmap's
// axes and CSV, the curves to read again. No DOM, so tests/browser/test_view_helpers.py calls them directly.

import { csvCell, num } from "../../dom.js";
import { formatValue } from "../../spec.js";

export const CURVE_METRICS = { valid_acc: "valid accuracy", test_acc: "test accuracy", train_acc: "train accuracy", valid_loss: "valid loss" };

/** Runs still queued or running. */
export function openRuns(counts = {}) {
  return (counts.queued || 0) + (counts.running || 0);
}

/** "optimizer.lr ∈ {0.1, 0.01} × seed ~ log-uniform[1, 10]" */
export function gridText(grid = {}) {
  return Object.entries(grid)
    .map(([k, v]) => (Array.isArray(v) ? `${k} ∈ {${v.map(formatValue).join(", ")}}` : `${k} ~ ${v.log ? "log-" : ""}uniform${v.integer ? " integers" : ""}[${num(v.min)}, ${num(v.max)}]`))
    .join(" × ");
}

export function methodText(spec = {}) {
  const at = spec.parallel ? `, ${spec.parallel} at a time` : "";
  if (spec.method === "tpe") return `tpe (Optuna), n = ${spec.n}, ${spec.goal || "maximize"} ${spec.metric || "valid_acc"}, seed ${spec.seed}${at}`;
  return spec.method === "random" ? `random, n = ${spec.n}, seed ${spec.seed}${at}` : `grid (every combination)${at}`;
}

export function ruleText(rule) {
  if (!rule) return "none";
  const how =
    rule.method === "asha"
      ? `successive halving, factor ${rule.reduction_factor}`
      : rule.method === "optuna-median"
        ? `Optuna's median pruner, ≥ ${rule.min_peers} finished runs`
        : `median rule, ≥ ${rule.min_peers} peers`;
  return `${how}, from epoch ${rule.min_epochs}`;
}

/** The base spec in a few words: dataset, architecture, epochs, limit_train. */
export function baseText(base = {}) {
  return [base.dataset, base.model && base.model.arch, base.epochs ? `${base.epochs} epochs` : null, base.limit_train ? `limit_train ${num(base.limit_train)}` : null].filter(Boolean).join(" · ") || "—";
}

/** The heatmap's first axes: the URL's when it names varied keys, else x the last varied key, y the first. */
export function heatmapAxes(varied, query = {}) {
  const x = query.x && varied.includes(query.x) ? query.x : varied[varied.length - 1];
  const y = query.y !== undefined && (varied.includes(query.y) || query.y === "") ? query.y : varied.length > 1 ? varied[0] : "";
  return { x, y: y === x ? "" : y };
}

/** The heatmap as CSV: a header of x labels, one line per y label ("all" without a y key). */
export function heatmapCsv(data, yKey) {
  const lines = [[yKey || "", ...data.xAxis.labels].map(csvCell).join(",")];
  data.z.forEach((row, i) => lines.push([csvCell(yKey ? data.yAxis.labels[i] : "all"), ...row.map((v) => (v === null ? "" : v.toFixed(4)))].join(",")));
  return `${lines.join("\n")}\n`;
}

/** The rows whose curve must be read (again): it has an epoch, and its epoch or status moved since the last read. */
export function staleCurves(rows, curves) {
  return rows.filter((r) => {
    const cached = curves.get(r.run_id);
    return r.epoch > 0 && (!cached || cached.epoch !== r.epoch || cached.status !== r.status);
  });
}
