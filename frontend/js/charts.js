// Plotly charts in cards: a title, extra controls, a CSV button, and Plotly's own PNG button in the mode bar.

import { csvCell, downloadText, h, toast } from "./dom.js";

export const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563", "#65a30d", "#9333ea"];

/**
 * The plotly.js bundles the API serves itself (never a CDN), smallest first; each draws every trace type of the
 * ones before it. A view loads the smallest that draws its traces: the run and compare pages only need
 * scatter (basic: evaluated in about a fifth of the full bundle's time, docs/BENCHMARKS.md), the report adds
 * heatmaps (cartesian), only the sweep view needs parcoords (full). Versions: frontend/vendor/README.md.
 */
export const PLOTLY_BUNDLES = {
  basic: { url: "/vendor/plotly-basic-4.1.1.min.js", traces: ["scatter", "bar", "pie"] },
  cartesian: {
    url: "/vendor/plotly-cartesian-4.1.1.min.js",
    traces: ["scatter", "bar", "pie", "box", "contour", "heatmap", "histogram", "histogram2d", "histogram2dcontour", "image", "scatterternary", "violin"],
  },
  // every trace type (parcoords, 3-D, maps…); the "strict" build draws WebGL without eval, which our CSP forbids
  full: { url: "/vendor/plotly-strict-4.1.1.min.js", traces: null },
};
const BUNDLE_ORDER = ["basic", "cartesian", "full"];
const loading = new Map(); // bundle name -> Promise<Plotly>
const loaded = new Map(); // bundle name -> Plotly
const preloaded = new Set(); // bundle names
let expected = null; // the bundle of the view on screen

/** The smallest bundle that draws all these traces (a trace without a type is a scatter). */
export function bundleFor(traces) {
  const types = new Set(traces.map((t) => t.type || "scatter"));
  return BUNDLE_ORDER.find((name) => {
    const known = PLOTLY_BUNDLES[name].traces;
    return !known || [...types].every((type) => known.includes(type));
  });
}

function rank(name) {
  return BUNDLE_ORDER.indexOf(name);
}

/**
 * The bundle the view being opened draws with (null: none): the router says so before the view's module
 * loads, and its bytes are downloaded then (<link rel=preload>), without running them. The view runs it
 * (whenPlotly) when it suits it: the run page once its metrics read is on its way, since evaluating plotly.js
 * holds the main thread for a few hundred ms. Until the next navigation, a chart of that view that needs
 * less (the report's scatter charts beside its heatmap) waits for this bundle rather than loading a second one.
 */
export function expectPlotly(name) {
  expected = name;
  if (!name || preloaded.has(name) || BUNDLE_ORDER.slice(rank(name)).some((n) => loaded.has(n) || loading.has(n))) return;
  preloaded.add(name);
  document.head.append(Object.assign(document.createElement("link"), { rel: "preload", as: "script", href: PLOTLY_BUNDLES[name].url }));
}

/**
 * plotly.js, loaded the first time a view asks for it (the runs table and the launch form never wait for it):
 * resolves with {name, Plotly} of the given bundle, or of a bigger one that is already loaded or on its way.
 * Each bundle defines window.Plotly when it runs; every chart keeps the one it was drawn with.
 */
export function whenPlotly(name = "basic") {
  const enough = BUNDLE_ORDER.slice(rank(name));
  const ready = enough.find((n) => loaded.has(n));
  if (ready) return Promise.resolve({ name: ready, Plotly: loaded.get(ready) });
  const coming = enough.find((n) => loading.has(n)); // e.g. the sweep view's scatter chart waits for the full one
  if (coming) return loading.get(coming);
  if (expected && rank(expected) > rank(name)) return whenPlotly(expected);
  const { url } = PLOTLY_BUNDLES[name];
  const promise = new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = url;
    script.async = true;
    // the load event fires right after this script ran, before any other: window.Plotly is this bundle's
    script.onload = () => {
      if (!window.Plotly) return reject(new Error(`${url} loaded without defining Plotly`));
      loaded.set(name, window.Plotly);
      performance.mark(`trainboard:plotly-${name}`); // when it had run (bench/bench_dashboard.py reads it)
      resolve({ name, Plotly: window.Plotly });
    };
    script.onerror = () => {
      loading.delete(name);
      script.remove();
      reject(new Error(`could not load ${url}`));
    };
    document.head.append(script);
  });
  loading.set(name, promise);
  return promise;
}

const FONT = { family: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size: 12, color: "#1f2937" };

/** The theme's chart colours, read from the stylesheet's variables (css/app.css: light, or the dark theme's). */
export function chartColors() {
  const css = getComputedStyle(document.documentElement);
  const read = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  return { paper: read("--card", "#ffffff"), plot: read("--plot-bg", "#ffffff"), text: read("--text", "#1f2937"), grid: read("--plot-grid", "#eef0f3") };
}

/** A layout's colours as the current theme draws them, as Plotly.relayout's flat attribute names. */
export function themeUpdate(colors = chartColors()) {
  return {
    paper_bgcolor: colors.paper,
    plot_bgcolor: colors.plot,
    "font.color": colors.text,
    "xaxis.gridcolor": colors.grid,
    "yaxis.gridcolor": colors.grid,
  };
}

/** Paint a layout in the current theme's colours (every chart draws through here). */
function themed(layout) {
  const colors = chartColors();
  const out = { ...layout, paper_bgcolor: colors.paper, plot_bgcolor: colors.plot, font: { ...FONT, ...layout.font, color: colors.text } };
  for (const axis of ["xaxis", "yaxis"]) if (layout[axis]) out[axis] = { ...layout[axis], gridcolor: colors.grid };
  return out;
}

const liveCharts = new Set(); // drawn and not destroyed: re-themed when the theme changes
document.addEventListener("trainboard:theme", () => {
  const update = themeUpdate();
  for (const chart of liveCharts) chart.bundle.Plotly.relayout(chart.plot, update);
});

export function baseLayout({ xTitle, yTitle, yRange, xType, yType } = {}) {
  return {
    font: FONT,
    margin: { l: 56, r: 16, t: 8, b: 44 },
    // the light theme's colours, as the HTML export draws them; on screen, themed() paints the current theme's
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "#ffffff",
    hovermode: "x unified",
    uirevision: "keep", // keep the user's zoom across react() calls
    legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom", bgcolor: "rgba(0,0,0,0)" },
    xaxis: {
      title: { text: xTitle || "" },
      gridcolor: "#eef0f3",
      zeroline: false,
      type: xType || "linear",
      automargin: true,
      visible: true,
    },
    yaxis: {
      title: { text: yTitle || "" },
      gridcolor: "#eef0f3",
      zeroline: false,
      range: yRange,
      autorange: yRange ? false : true,
      type: yType || "linear",
      automargin: true,
      visible: true,
    },
  };
}

/** Finish a layout for these traces: no axes on an empty chart, whole-number ticks for a few epochs. */
export function fitLayout(layout, traces, { integerX = false } = {}) {
  const xs = traces.flatMap((t) => (t.x && t.x.length ? [t.x[0], t.x[t.x.length - 1]] : []));
  if (!xs.length) {
    layout.xaxis.visible = false;
    layout.yaxis.visible = false;
    layout.showlegend = false;
  } else if (integerX && Math.max(...xs) - Math.min(...xs) <= 15) {
    layout.xaxis.dtick = 1;
  }
  return layout;
}

export class Chart {
  /**
   * @param {object} o
   * @param {string} o.id          stable id: the plot div gets data-chart=<id>
   * @param {string} o.title
   * @param {string} o.filename    for the PNG and CSV downloads
   * @param {Function} [o.csv]     async () => csv text; default: the traces on screen
   * @param {Function} [o.onZoom]  (range [x0, x1] | null) => void, from plotly_relayout
   * @param {Node[]} [o.tools]     extra controls in the card header
   */
  constructor({ id, title, filename, csv, onZoom, tools = [], subtitle }) {
    this.id = id;
    this.filename = filename || id;
    this.csvProvider = csv;
    this.onZoom = onZoom;
    this.plot = h("div", { class: "plot", dataset: { chart: id } });
    this.empty = h("div", { class: "plot-empty" }, "Waiting for data…");
    this.status = h("span", { class: "chart-note" });
    this.csvButton = h("button", { type: "button", class: "small", title: "Download this chart's data as CSV", dataset: { csv: id }, onclick: () => this.downloadCsv() }, "CSV");
    this.el = h(
      "section",
      { class: "card chart-card", dataset: { chartCard: id } },
      h("header", { class: "card-head" }, h("div", {}, h("h3", {}, title), subtitle ? h("p", { class: "muted small-text" }, subtitle) : null), h("div", { class: "tools" }, this.status, ...tools, this.csvButton)),
      h("div", { class: "plot-wrap" }, this.plot, this.empty),
    );
    this.ready = false;
    this.destroyed = false;
    this.bundle = null; // {name, Plotly}: the plotly.js bundle this chart is drawn with
  }

  /** Width in px the plot will have: what GET metrics?max_points should ask for. */
  width() {
    return Math.max(200, Math.round(this.plot.clientWidth || this.el.clientWidth || 800));
  }

  /** Draw (or redraw) the chart; ``hasData`` overrides the "any trace has x values" test (parcoords, tables). */
  async render(traces, layout, { hasData } = {}) {
    const need = bundleFor(traces);
    let bundle = this.bundle;
    if (!bundle || rank(bundle.name) < rank(need)) {
      try {
        bundle = await whenPlotly(need);
      } catch (error) {
        this.empty.hidden = false;
        this.empty.textContent = `Charts unavailable: ${error.message}`;
        return;
      }
      if (this.destroyed) return;
      if (this.bundle && this.bundle !== bundle) {
        // drawn by a smaller bundle that cannot draw these traces: start over with the bigger one
        this.bundle.Plotly.purge(this.plot);
        this.ready = false;
      }
      this.bundle = bundle;
    }
    const any = hasData ?? traces.some((t) => t.x && t.x.length);
    this.empty.hidden = any;
    await bundle.Plotly.react(this.plot, traces, themed(layout), plotConfig(this.filename));
    if (!this.ready) {
      this.ready = true;
      if (!this.destroyed) liveCharts.add(this);
      this.plot.on("plotly_relayout", (event) => this.relayout(event));
    }
  }

  /** Append points to existing traces: updates = [{index, x: [...], y: [...]}]. */
  async extend(updates) {
    if (!updates.length || this.destroyed || !this.ready) return;
    this.empty.hidden = true;
    await this.bundle.Plotly.extendTraces(
      this.plot,
      { x: updates.map((u) => u.x), y: updates.map((u) => u.y) },
      updates.map((u) => u.index),
    );
  }

  relayout(event) {
    if (!this.onZoom || !event) return;
    if (event["xaxis.autorange"] || event.autosize) {
      if (event["xaxis.autorange"]) this.onZoom(null);
      return;
    }
    let range = null;
    if (Array.isArray(event["xaxis.range"])) range = event["xaxis.range"];
    else if (event["xaxis.range[0]"] !== undefined && event["xaxis.range[1]"] !== undefined) {
      range = [event["xaxis.range[0]"], event["xaxis.range[1]"]];
    }
    if (range) this.onZoom(range.map(Number));
  }

  async downloadCsv() {
    try {
      const text = this.csvProvider ? await this.csvProvider() : tracesToCsv(this.plot.data || []);
      downloadText(`${this.filename}.csv`, text);
    } catch (error) {
      toast(`CSV download failed: ${error.message || error}`, "error");
    }
  }

  destroy() {
    this.destroyed = true;
    liveCharts.delete(this);
    if (this.bundle) this.bundle.Plotly.purge(this.plot);
  }
}

/** Plotly's config for every chart of the dashboard (and of the exported report). */
export function plotConfig(filename) {
  return {
    responsive: true,
    displaylogo: false,
    showSendToCloud: false, // no uploads to another site: the machines are offline and the data is private
    showEditInChartStudio: false,
    showLink: false,
    modeBarButtonsToRemove: ["lasso2d", "select2d", "toggleSpikelines", "sendChartToCloud"],
    toImageButtonOptions: { format: "png", filename, scale: 2 },
  };
}

/** Long format: series,x,y — one row per point of every trace. */
export function tracesToCsv(traces) {
  const rows = ["series,x,y"];
  for (const trace of traces) {
    const xs = trace.x || [];
    const ys = trace.y || [];
    for (let i = 0; i < xs.length; i++) rows.push([trace.name, xs[i], ys[i]].map(csvCell).join(","));
  }
  return `${rows.join("\n")}\n`;
}

/** Wide format on the union of steps: step,<key1>,<key2>,... from {key: {step, value}}. */
export function seriesToCsv(series, keys) {
  const byStep = new Map();
  keys.forEach((key, column) => {
    const s = series[key];
    if (!s) return;
    for (let i = 0; i < s.step.length; i++) {
      if (!byStep.has(s.step[i])) byStep.set(s.step[i], new Array(keys.length).fill(""));
      byStep.get(s.step[i])[column] = s.value[i];
    }
  });
  const steps = [...byStep.keys()].sort((a, b) => a - b);
  const rows = [["step", ...keys].map(csvCell).join(",")];
  for (const step of steps) rows.push([step, ...byStep.get(step)].map(csvCell).join(","));
  return `${rows.join("\n")}\n`;
}
