// The compare page's metric picker: the report's keys in their groups, every other key by its prefix, as on the run
// page; and the words for the axes. No DOM: tests/browser/test_view_helpers.py calls pickerGroups in Chromium.

import { compareSections, sectionOf } from "../run/series.js";

const METRICS = [
  ["Per epoch", ["valid_acc", "test_acc", "train_acc", "valid_loss", "test_loss", "train_loss"]],
  ["Per iteration", ["loss", "param_norm"]],
  ["Dropout at inference (fig3), per N", ["dropout_scale_acc", "dropout_presoftmax_acc", "dropout_postsoftmax_acc"]],
];
const ALL_METRICS = METRICS.flatMap(([, keys]) => keys);

export const isAcc = (key) => key.endsWith("_acc");

/** The x axis's title when x is the step: what the step counts for this metric. */
export function stepTitle(key) {
  if (["loss", "param_norm"].includes(key)) return "iteration";
  if (key.startsWith("dropout_")) return "N (masks)";
  return ALL_METRICS.includes(key) ? "epoch" : "step";
}

/** The picker's option groups for the union of the runs' keys: the report's groups, then one per key prefix. */
export function pickerGroups(keys) {
  const union = new Set(keys);
  const groups = METRICS.map(([label, group]) => [label, group.filter((k) => union.has(k))]);
  const bySection = new Map();
  for (const key of [...union].filter((k) => !ALL_METRICS.includes(k)).sort()) {
    const section = sectionOf(key);
    if (!bySection.has(section)) bySection.set(section, []);
    bySection.get(section).push(key);
  }
  for (const section of [...bySection.keys()].sort(compareSections)) groups.push([section, bySection.get(section)]);
  return groups.filter(([, group]) => group.length);
}

/** The y axis's title: an accuracy shown as accuracy or error in %, any other key as itself. */
export function yTitle(metric, mode) {
  if (!isAcc(metric)) return metric;
  return `${metric.replace(/_acc$/, "")} ${mode === "error" ? "error" : "accuracy"} (%)`;
}
