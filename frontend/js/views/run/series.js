// The run page's series arithmetic: traces from stored series, live points merged per chart, the zoom window's
// updates, which series to compact. No DOM, so tests/browser/test_view_helpers.py calls them directly.

import { COLORS } from "../../charts.js";

export const COMPACT_FACTOR = 4; // a live series longer than 4 × the chart width is read again, downsampled

const NAMES = {
  train_acc: "train",
  valid_acc: "valid",
  test_acc: "test",
  train_loss: "train",
  valid_loss: "valid",
  test_loss: "test",
  loss: "minibatch loss",
  param_norm: "‖θ‖₂",
  dropout_scale_acc: "(i) no masks, weights × (1−p)",
  dropout_presoftmax_acc: "(ii) N masks, mean pre-softmax",
  dropout_postsoftmax_acc: "(iii) N masks, mean softmax",
};
const KEY_COLORS = {
  train_acc: COLORS[0],
  train_loss: COLORS[0],
  valid_acc: COLORS[3],
  valid_loss: COLORS[3],
  test_acc: COLORS[1],
  test_loss: COLORS[1],
  loss: COLORS[0],
  param_norm: COLORS[4],
  dropout_scale_acc: COLORS[2],
  dropout_presoftmax_acc: COLORS[0],
  dropout_postsoftmax_acc: COLORS[1],
};

const identity = (v) => v;

/** A fraction as a percentage; accuracy or its error, as the page's toggle says. Missing values stay missing. */
export function percent(value, mode = "acc") {
  if (value === null || value === undefined) return null;
  return mode === "error" ? 100 * (1 - value) : 100 * value;
}

/** The Plotly trace of one key: markers while the series is short, the key's own colour and name. */
export function traceFor(key, series, transform = identity) {
  const few = series.step.length <= 150;
  return {
    type: "scatter",
    mode: few ? "lines+markers" : "lines",
    name: NAMES[key] || key,
    x: [...series.step],
    y: series.value.map(transform),
    line: { color: KEY_COLORS[key], width: 2 },
    marker: { size: 5 },
    connectgaps: false,
    meta: key,
  };
}

/** Adds accepted live points of `key` to `pending` (chart id → key → {step, value}) for each chart showing it. */
export function queueFor(pending, charts, key, accepted) {
  for (const { id, keys } of charts) {
    if (!keys.includes(key)) continue;
    if (!pending.has(id)) pending.set(id, new Map());
    const byKey = pending.get(id);
    const p = byKey.get(key) || { step: [], value: [] };
    p.step.push(...accepted.step);
    p.value.push(...accepted.value);
    byKey.set(key, p);
  }
}

/** Zoomed in: keeps the finer window's data, adding only the new points up to its right edge `hi`. */
export function extendWindow(data, byKey, hi) {
  for (const [key, p] of byKey) {
    const target = data[key] || (data[key] = { step: [], value: [] });
    p.step.forEach((s, i) => {
      if (s <= hi && s > (target.step[target.step.length - 1] ?? -Infinity)) {
        target.step.push(s);
        target.value.push(p.value[i]);
      }
    });
  }
}

/** The keys whose series (`lengths`: key → points held) outgrew the chart: longer than COMPACT_FACTOR × width. */
export function keysToCompact(lengths, width) {
  return Object.entries(lengths)
    .filter(([, n]) => n > COMPACT_FACTOR * width)
    .map(([key]) => key);
}

/** The integer step range a zoom of x from `lo` to `hi` asks the server for. */
export function zoomSteps([lo, hi]) {
  const start = Math.max(0, Math.floor(lo));
  return { start, end: Math.max(start, Math.ceil(hi)) };
}

/** The section of a logged key on the run page: the part before its first "/", or "metrics" when it has none. */
export function sectionOf(key) {
  const slash = key.indexOf("/");
  return slash > 0 ? key.slice(0, slash) : "metrics";
}

/** Sections in page order: named prefixes alphabetically, then "metrics" (keys without "/"), "system" last. */
export function compareSections(a, b) {
  const rank = (s) => (s === "system" ? 2 : s === "metrics" ? 1 : 0);
  return rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * A series drawn against another logged key (`xSeries`, e.g. epoch) instead of the step: each point's x is that
 * key's value at the same step. Both series may come back downsampled (each keeps its own min/max steps), so a
 * step between two of the x key's points takes the value interpolated between them; points before the x key's
 * first step, after its last, or next to a missing (null) x value are dropped. Returns {step: x values, value}.
 */
export function onXKey(series, xSeries) {
  const out = { step: [], value: [] };
  const xs = xSeries ? xSeries.step : [];
  if (!xs.length) return out;
  let j = 0; // series and xSeries are both in step order: one pass
  series.step.forEach((s, i) => {
    while (j < xs.length && xs[j] < s) j++;
    if (j === xs.length) return;
    let x;
    if (xs[j] === s) x = xSeries.value[j];
    else if (j === 0) return;
    else {
      const [x0, x1] = [xSeries.value[j - 1], xSeries.value[j]];
      if (x0 === null || x1 === null) return;
      x = x0 + ((x1 - x0) * (s - xs[j - 1])) / (xs[j] - xs[j - 1]);
    }
    if (x === null || x === undefined) return;
    out.step.push(x);
    out.value.push(series.value[i]);
  });
  return out;
}
