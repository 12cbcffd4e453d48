// The compare chart's Plotly traces: one line per run, or per group a mean line over a ±std band with its count;
// with smoothing, the raw line stays faint behind the smoothed one.

import { COLORS } from "../../charts.js";
import { ema } from "./ema.js";
import { alignedMeanStd } from "./stats.js";

const FAINT = 0.25;

/** A colour as rgba() with this alpha: the band's fill. */
function withAlpha(hex, alpha) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}

function line({ name, x, y, color, width = 2, faint = false, extra = {} }) {
  return {
    type: "scatter",
    mode: !faint && x.length <= 150 ? "lines+markers" : "lines",
    name,
    x,
    y,
    line: { color, width: faint ? 1 : width },
    marker: { size: 5 },
    opacity: faint ? FAINT : 1,
    showlegend: !faint,
    hoverinfo: faint ? "skip" : undefined,
    ...extra,
  };
}

/** items: [{id, label, series: {step, value, x?}}] → one line each (and its faint raw line when smoothing). */
export function runTraces(items, { smoothing = 0, transform = (v) => v } = {}) {
  return items.flatMap((item, i) => {
    const color = COLORS[i % COLORS.length];
    const x = item.series.x || item.series.step;
    const raw = item.series.value.map(transform);
    const main = line({ name: item.label, x, y: ema(raw, smoothing), color, extra: { meta: item.id } });
    if (!smoothing) return [main];
    return [line({ name: `${item.label} (raw)`, x, y: raw, color, faint: true, extra: { meta: item.id } }), main];
  });
}

/**
 * groups: [{label, members: [{step, value, x?}]}] → per group a band (lower edge, then the upper one filled down
 * to it), a faint raw mean when smoothing, and the mean line named "label (n=N)"; its hover says how many runs
 * have a point at that step. Members are smoothed before they are averaged.
 */
export function groupTraces(groups, { smoothing = 0, transform = (v) => v } = {}) {
  return groups.flatMap((group, i) => {
    const color = COLORS[i % COLORS.length];
    const prepared = group.members.map((m) => ({ ...m, value: m.value.map(transform) }));
    const smoothed = alignedMeanStd(prepared.map((m) => ({ ...m, value: ema(m.value, smoothing) })));
    const name = `${group.label} (n=${group.members.length})`;
    const edge = (sign) => smoothed.mean.map((m, j) => m + sign * smoothed.std[j]);
    const band = { legendgroup: name, hoverinfo: "skip", meta: { group: group.label } };
    const traces = [
      line({ name: `${name} −std`, x: smoothed.x, y: edge(-1), color, faint: true, extra: { ...band, opacity: 1, line: { width: 0, color } } }),
      line({
        name: `${name} +std`,
        x: smoothed.x,
        y: edge(1),
        color,
        faint: true,
        extra: { ...band, opacity: 1, line: { width: 0, color }, fill: "tonexty", fillcolor: withAlpha(color, 0.18) },
      }),
    ];
    if (smoothing) {
      const raw = alignedMeanStd(prepared);
      traces.push(line({ name: `${name} (raw)`, x: raw.x, y: raw.mean, color, faint: true, extra: { legendgroup: name } }));
    }
    const hovertemplate = `%{y:.4g} (n=%{customdata})<extra>${group.label}</extra>`;
    traces.push(line({ name, x: smoothed.x, y: smoothed.mean, color, width: 3, extra: { legendgroup: name, customdata: smoothed.count, hovertemplate, meta: { group: group.label, n: group.members.length } } }));
    return traces;
  });
}
