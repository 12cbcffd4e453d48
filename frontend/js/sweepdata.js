// A sweep's results seen as data: the varied keys, their axes (categorical ones as indices), the parallel
// coordinates and heatmap traces, the CSV. No DOM here: the sweep view and the report page both use it.

import { TERMINAL, csvCell } from "./dom.js";
import { formatValue, shortKey } from "./spec.js";

const same = (a) => JSON.stringify(a);

/** The sweep's grid keys, in the order of its spec (what the results' `values` hold). */
export function gridKeys(sweep) {
  const grid = (sweep && sweep.spec && sweep.spec.grid) || {};
  return Object.keys(grid);
}

/** Grid keys whose values actually differ between the runs (the ones worth a plot axis). */
export function variedKeys(sweep, rows = (sweep && sweep.results) || []) {
  return gridKeys(sweep).filter((key) => new Set(rows.map((r) => same(r.values ? r.values[key] : undefined))).size > 1);
}

/** True once every run of the sweep has finished (succeeded, failed or cancelled). */
export function sweepDone(sweep) {
  const rows = (sweep && sweep.results) || [];
  if (rows.length) return rows.every((r) => TERMINAL.has(r.status));
  const counts = (sweep && sweep.status_counts) || {};
  return !(counts.queued || counts.running);
}

export function finishedCount(sweep) {
  const counts = (sweep && sweep.status_counts) || {};
  return (counts.succeeded || 0) + (counts.failed || 0) + (counts.cancelled || 0);
}

/**
 * How one key is laid out on an axis: its distinct values in grid order (numbers ascending otherwise),
 * whether it is categorical (anything but plain numbers) and, for a positive numeric key spanning two
 * decades or more, a log10 mapping.
 */
export function axisFor(sweep, key, rows) {
  const grid = (sweep && sweep.spec && sweep.spec.grid && sweep.spec.grid[key]) || null;
  const seen = new Map();
  const add = (v) => {
    if (v !== undefined && !seen.has(same(v))) seen.set(same(v), v);
  };
  if (Array.isArray(grid)) grid.forEach(add);
  rows.forEach((r) => add(r.values ? r.values[key] : undefined));
  let values = [...seen.values()];
  const numeric = values.length > 0 && values.every((v) => typeof v === "number" && Number.isFinite(v));
  if (numeric && !Array.isArray(grid)) values = values.sort((a, b) => a - b);
  const log = numeric && values.every((v) => v > 0) && Math.max(...values) / Math.min(...values) >= 100;
  const index = new Map(values.map((v, i) => [same(v), i]));
  return {
    key,
    label: shortKey(key),
    values,
    categorical: !numeric,
    log,
    labels: values.map(formatValue),
    /** The coordinate of a value on a parcoords axis. */
    coord(v) {
      if (!numeric) return index.has(same(v)) ? index.get(same(v)) : null;
      if (typeof v !== "number") return null;
      return log ? Math.log10(v) : v;
    },
    /** Its position in `values` (a heatmap cell). */
    position(v) {
      return index.has(same(v)) ? index.get(same(v)) : -1;
    },
  };
}

/** A parcoords dimension for an axis: categorical values as indices with their labels as ticks. */
function dimension(axis, rows) {
  const dim = { label: axis.label, values: rows.map((r) => axis.coord(r.values[axis.key])) };
  if (axis.categorical) {
    dim.tickvals = axis.values.map((_, i) => i);
    dim.ticktext = axis.labels;
    dim.range = [-0.25, Math.max(0.25, axis.values.length - 0.75)];
  } else if (axis.log) {
    dim.tickvals = axis.values.map((v) => Math.log10(v));
    dim.ticktext = axis.labels;
  } else if (axis.values.length <= 12) {
    dim.tickvals = axis.values;
    dim.ticktext = axis.labels;
  }
  if (axis.values.length === 1) {
    const c = axis.coord(axis.values[0]);
    dim.range = [c - 1, c + 1];
  }
  return dim;
}

/**
 * What the results plots colour and rank by: by default the best valid accuracy, in %; the sweep page may pick its
 * metric's score or any summary key (views/sweep/ranking.js). goal: which end is best.
 */
export const VALID_ACC = { key: "best_valid_acc", label: "best valid acc (%)", short: "valid %", title: "Best valid accuracy (%)", scale: 100, goal: "maximize", get: (r) => r.best_valid_acc };

/** A row's value of the metric, scaled (a % for accuracies), or null when it has none. */
export function metricValue(row, metric = VALID_ACC) {
  const v = metric.get(row);
  return typeof v === "number" && Number.isFinite(v) ? metric.scale * v : null;
}

/** Rows with a value of the metric (best valid accuracy by default): the ones a results plot can draw. */
export function scoredRows(rows, metric = VALID_ACC) {
  return rows.filter((r) => metricValue(r, metric) !== null);
}

/** The parallel-coordinates trace: one axis per varied key, the last one the metric, lines coloured by it. */
export function parcoordsTrace(sweep, rows, keys, metric = VALID_ACC) {
  const scored = scoredRows(rows, metric);
  const axes = keys.map((key) => axisFor(sweep, key, rows));
  const acc = scored.map((r) => metricValue(r, metric));
  const lo = acc.length ? Math.min(...acc) : 0;
  const hi = acc.length ? Math.max(...acc) : 100;
  return {
    type: "parcoords",
    line: {
      color: acc,
      colorscale: "Viridis",
      reversescale: metric.goal === "minimize", // the best is bright either way
      cmin: lo,
      cmax: hi === lo ? lo + 1 : hi,
      showscale: true,
      // xpad: clear of the last axis's label ("best valid acc (%)"), centred on the plot's right edge
      colorbar: { title: { text: metric.short, side: "right" }, thickness: 12, xpad: 64 },
    },
    dimensions: [
      ...axes.map((axis) => dimension(axis, scored)),
      { label: metric.label, values: acc, range: metric.scale === 100 ? [Math.floor(lo - 0.5), Math.ceil(hi + 0.5)] : [lo, hi === lo ? lo + 1 : hi] },
    ],
    labelangle: 0,
    labelside: "top",
    meta: scored.map((r) => r.run_id),
  };
}

/**
 * Best valid accuracy (%) over two keys: z[y][x]. A cell several runs fall in (a third key varies) shows
 * their best; `count` tells how many runs each cell holds.
 */
export function heatmapData(sweep, rows, xKey, yKey, metric = VALID_ACC) {
  const xAxis = axisFor(sweep, xKey, rows);
  const yAxis = yKey ? axisFor(sweep, yKey, rows) : null;
  const ny = yAxis ? yAxis.values.length : 1;
  const z = Array.from({ length: ny }, () => new Array(xAxis.values.length).fill(null));
  const runIds = Array.from({ length: ny }, () => new Array(xAxis.values.length).fill(null));
  const count = Array.from({ length: ny }, () => new Array(xAxis.values.length).fill(0));
  const better = metric.goal === "minimize" ? (a, b) => a < b : (a, b) => a > b;
  for (const row of scoredRows(rows, metric)) {
    const x = xAxis.position(row.values[xKey]);
    const y = yAxis ? yAxis.position(row.values[yKey]) : 0;
    if (x < 0 || y < 0) continue;
    const value = metricValue(row, metric);
    count[y][x] += 1;
    if (z[y][x] === null || better(value, z[y][x])) {
      z[y][x] = value;
      runIds[y][x] = row.run_id;
    }
  }
  return { xAxis, yAxis, z, runIds, count, multiple: count.flat().some((n) => n > 1) };
}

export function heatmapTrace(data, metric = VALID_ACC) {
  const { xAxis, yAxis, z, runIds } = data;
  return {
    type: "heatmap",
    x: xAxis.labels,
    y: yAxis ? yAxis.labels : ["all"],
    z,
    customdata: runIds,
    colorscale: "Viridis",
    reversescale: metric.goal === "minimize",
    colorbar: { title: { text: metric.short, side: "right" }, thickness: 12 },
    xgap: 2,
    ygap: 2,
    texttemplate: metric.scale === 100 ? "%{z:.1f}" : "%{z:.3g}",
    hovertemplate: `${xAxis.label}=%{x}<br>${yAxis ? `${yAxis.label}=%{y}<br>` : ""}${metric.label} %{z:.4g}<br>run #%{customdata}<extra></extra>`,
    hoverongaps: false,
  };
}

/** "blocks=deep, batch_size=16" for a results row. */
export function rowLabel(row, keys) {
  if (!keys.length) return `#${row.run_id} ${row.name}`;
  return `#${row.run_id} ${keys.map((k) => `${shortKey(k)}=${formatValue(row.values[k])}`).join(", ")}`;
}

/** The results table as CSV. */
export function resultsCsv(rows, keys) {
  const columns = ["run_id", "name", "status", ...keys, "best_valid_acc", "best_epoch", "test_acc_at_best", "gen_gap", "n_params", "duration_s", "stop_reason", "best"];
  const lines = [columns.map(csvCell).join(",")];
  for (const row of rows) {
    // A swept number stays a number (csvCell quotes text that starts with "-", never a number).
    const cells = columns.map((c) => (keys.includes(c) ? csvValue(row.values[c]) : row[c]));
    lines.push(cells.map(csvCell).join(","));
  }
  return `${lines.join("\n")}\n`;
}

function csvValue(value) {
  return typeof value === "number" ? value : formatValue(value);
}

/** Run `fn` over `items` with at most `n` in flight; resolves to the results in order. */
export async function pool(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}
