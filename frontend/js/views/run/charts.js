// The run page's charts: what each one plots, live points drawn once per frame, long live series read again
// downsampled (compaction), and zooming in for full detail. The report's charts are built here; every other
// logged key gets its chart from key-charts.js through add(), on the same machinery.

import { errorText, getMetrics } from "../../api.js";
import { Chart, baseLayout, fitLayout, seriesToCsv } from "../../charts.js";
import { TERMINAL, h, toast } from "../../dom.js";
import { SeriesStore } from "../../live.js";
import { extendWindow, keysToCompact, onXKey, percent, queueFor, traceFor, zoomSteps } from "./series.js";

const ACC_MODE_KEY = "trainboard.accMode";
const COMPACT_EVERY_MS = 10000; // at most one compaction read per chart in this time

/** What each chart plots, in page order. The accuracy chart's values and title follow the acc/error toggle. */
const DEFAULT_POINTS = 1000; // points per key in the first read when no report chart is on the page to measure

function chartDefs(mode, accToggle) {
  return {
    acc: {
      id: "acc",
      title: "Accuracy per epoch",
      keys: ["train_acc", "valid_acc", "test_acc"],
      xTitle: "epoch",
      yTitle: () => (mode() === "error" ? "error (%)" : "accuracy (%)"),
      transform: (v) => percent(v, mode()),
      tools: [accToggle],
    },
    loss: { id: "loss", title: "Loss per epoch", keys: ["train_loss", "valid_loss", "test_loss"], xTitle: "epoch", yTitle: () => "cross-entropy" },
    iter_loss: { id: "iter_loss", title: "Training loss per iteration", keys: ["loss"], xTitle: "iteration", yTitle: () => "loss", zoomFetch: true, subtitle: "min/max per pixel: spikes stay visible · zoom in for detail" },
    param_norm: { id: "param_norm", title: "Parameter norm per iteration (fig2)", keys: ["param_norm"], xTitle: "iteration", yTitle: () => "L2 norm of all parameters", zoomFetch: true, subtitle: "zoom in for detail" },
    dropout: {
      id: "dropout",
      title: "Dropout at inference (fig3)",
      keys: ["dropout_scale_acc", "dropout_presoftmax_acc", "dropout_postsoftmax_acc"],
      xTitle: "N (masks)",
      yTitle: () => "test accuracy (%)",
      transform: (v) => percent(v),
      optional: true,
    },
  };
}

/** The "Accuracy | Error" switch; `onChange(mode)` after the buttons show the new choice. */
function accuracyToggle(current, onChange) {
  const toggle = h(
    "div",
    { class: "segmented", role: "group", "aria-label": "accuracy or error" },
    ["acc", "error"].map((mode) =>
      h(
        "button",
        {
          type: "button",
          class: "small",
          "aria-pressed": String(current === mode),
          dataset: { mode },
          onclick: () => {
            for (const b of toggle.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
            onChange(mode);
          },
        },
        mode === "acc" ? "Accuracy" : "Error",
      ),
    ),
  );
  return toggle;
}

export class RunCharts {
  /** page: {runId, run, destroyed}, shared with the page shell, which keeps `run` and `destroyed` current. */
  constructor(page) {
    this.page = page;
    this.store = new SeriesStore();
    this.pending = new Map(); // chart id -> Map(key -> {step, value}) waiting for the next frame
    this.flushScheduled = false;
    this.accMode = readPref(ACC_MODE_KEY) === "error" ? "error" : "acc";
    const toggle = accuracyToggle(this.accMode, (mode) => {
      this.accMode = mode;
      writePref(ACC_MODE_KEY, mode);
      this.render(this.defs.acc);
    });
    this.defs = chartDefs(() => this.accMode, toggle);
    this.builtIn = Object.values(this.defs);
    for (const def of this.builtIn) this.#createChart(def);
    this.seenKeys = new Set();
    this.onNewKeys = null; // (keys) => void: each key the first time the store holds it (key-charts.js listens)
  }

  /** Another chart on the same machinery (live points, compaction, zoom): `def` as in chartDefs, plus
   * `lazy` (not drawn until `reveal`) and `xKey()` (null: x is the step; else the key x is read from). */
  add(def) {
    this.defs[def.id] = def;
    this.#createChart(def);
    return def;
  }

  /** A lazy chart came into view: draw it from what the store holds, then keep it live. */
  reveal(def) {
    if (def.shown) return;
    def.shown = true;
    this.render(def);
    this.#maybeCompact(def);
  }

  #noteKeys(keys) {
    const fresh = keys.filter((k) => !this.seenKeys.has(k));
    fresh.forEach((k) => this.seenKeys.add(k));
    if (fresh.length && this.onNewKeys) this.onNewKeys(fresh);
  }

  #createChart(def) {
    const runId = this.page.runId;
    def.zoom = null; // {range, data} while zoomed in with finer data from the server
    def.traceKeys = [];
    def.lastCompact = 0;
    def.chart = new Chart({
      id: def.id,
      title: def.title,
      subtitle: def.subtitle,
      filename: `run${runId}_${def.id.replace(/[^A-Za-z0-9._-]/g, "_")}`,
      tools: def.tools || [],
      csv: async () => seriesToCsv(await getMetrics(runId, { keys: def.keys.join(",") }), def.keys),
      onZoom: def.zoomFetch ? (range) => this.zoom(def, range) : undefined,
    });
    if (def.optional) def.chart.el.hidden = true;
  }

  /** A run without the built-in loop's spec (a script's): its report charts show only once their keys arrive,
   * rather than waiting for data the script may never log; its own keys have their charts (key-charts.js). */
  reportChartsOnlyWithData() {
    for (const def of this.builtIn) {
      def.optional = true;
      if (!def.traceKeys || !def.traceKeys.length) def.chart.el.hidden = true;
    }
  }

  /** The report's charts, in page order. */
  get elements() {
    return this.builtIn.map((d) => d.chart.el);
  }

  /** Pixels of the widest shown chart: as many points as the first metrics read asks for (fig3 hides until it has data). */
  widestShown() {
    const shown = this.builtIn.filter((d) => !d.chart.el.hidden);
    return shown.length ? Math.max(...shown.map((d) => d.chart.width())) : DEFAULT_POINTS; // a script's run: none yet
  }

  /** The first read: each key's series as the server downsampled it. */
  load(initial) {
    for (const [key, series] of Object.entries(initial)) this.store.replace(key, series);
    this.#noteKeys(Object.keys(initial));
  }

  renderAll() {
    return Promise.all(Object.values(this.defs).map((def) => this.render(def)));
  }

  /** Once the run has ended: a chart still without traces says so. */
  renderEmpty() {
    for (const def of Object.values(this.defs)) if (!def.traceKeys.length) this.render(def);
  }

  #dataFor(def) {
    const data = def.zoom ? def.zoom.data : Object.fromEntries(def.keys.filter((k) => this.store.has(k)).map((k) => [k, this.store.get(k)]));
    const xKey = def.xKey && def.xKey();
    if (!xKey) return data;
    const xSeries = this.store.get(xKey);
    return Object.fromEntries(Object.entries(data).map(([k, s]) => [k, onXKey(s, xSeries)]));
  }

  #xTitle(def) {
    return typeof def.xTitle === "function" ? def.xTitle() : def.xTitle;
  }

  async render(def) {
    if (def.lazy && !def.shown) return; // drawn once its card comes into view (reveal)
    const data = this.#dataFor(def);
    const keys = def.keys.filter((k) => data[k] && data[k].step.length);
    if (def.optional) {
      if (!keys.length) return;
      def.chart.el.hidden = false;
    }
    def.traceKeys = keys;
    const xTitle = this.#xTitle(def);
    const layout = baseLayout({ xTitle, yTitle: def.yTitle() });
    if (def.zoom) {
      layout.xaxis.range = def.zoom.range;
      layout.xaxis.autorange = false;
    }
    def.chart.status.textContent = def.zoom ? "zoomed: full detail" : "";
    const run = this.page.run;
    if (!keys.length && run && TERMINAL.has(run.status)) def.chart.empty.textContent = "No data recorded.";
    const traces = keys.map((k) => traceFor(k, data[k], def.transform));
    await def.chart.render(traces, fitLayout(layout, traces, { integerX: xTitle === "epoch" }));
  }

  /** A `metrics` event: the points past what the store holds are drawn at the next frame. */
  append(key, series) {
    const accepted = this.store.append(key, series.step, series.value);
    this.#noteKeys([key]);
    if (!accepted.step.length) return;
    queueFor(this.pending, Object.values(this.defs), key, accepted);
    // charts drawn against this key (x axis) are drawn again with its new points
    for (const def of Object.values(this.defs)) {
      if (def.xKey && def.xKey() === key && !this.pending.has(def.id)) this.pending.set(def.id, new Map());
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // one Plotly update per chart per frame, however many events arrived; a hidden tab catches up on return
      const schedule = document.visibilityState === "visible" ? requestAnimationFrame : (fn) => setTimeout(fn, 250);
      schedule(() => this.#flush());
    }
  }

  #flush() {
    this.flushScheduled = false;
    if (this.page.destroyed) return;
    for (const [id, byKey] of this.pending) {
      const def = this.defs[id];
      if (def.lazy && !def.shown) continue; // the store has the points; reveal() draws them
      const newKey = [...byKey.keys()].some((k) => !def.traceKeys.includes(k));
      if (def.zoom) {
        extendWindow(def.zoom.data, byKey, def.zoom.range[1]);
        this.render(def);
      } else if (newKey || !def.chart.ready || (def.xKey && def.xKey())) {
        this.render(def);
      } else {
        const transform = def.transform || ((v) => v);
        const updates = [...byKey].map(([key, p]) => ({ index: def.traceKeys.indexOf(key), x: p.step, y: p.value.map(transform) }));
        def.chart.extend(updates);
      }
      this.#maybeCompact(def);
    }
    this.pending.clear();
  }

  /** Keep live charts light: a series far longer than the chart is wide comes back downsampled (min/max). */
  async #maybeCompact(def) {
    if (!def.zoomFetch || def.zoom) return;
    const width = def.chart.width();
    const lengths = Object.fromEntries(def.keys.filter((k) => this.store.has(k)).map((k) => [k, this.store.get(k).step.length]));
    const long = keysToCompact(lengths, width);
    if (!long.length || Date.now() - def.lastCompact < COMPACT_EVERY_MS) return;
    def.lastCompact = Date.now();
    try {
      const fresh = await getMetrics(this.page.runId, { keys: long.join(","), max_points: width });
      if (this.page.destroyed) return;
      for (const [key, series] of Object.entries(fresh)) this.store.replace(key, series);
      if (!def.zoom) this.render(def);
    } catch {
      /* try again at the next batch */
    }
  }

  /** Zoomed in (`range` [lo, hi]): that window at full detail; zoomed out (null): back to the overview. */
  async zoom(def, range) {
    if (def.xKey && def.xKey()) return; // x is another key's value, not a step range: Plotly's own zoom only
    if (!range) {
      def.zoom = null;
      this.render(def);
      return;
    }
    const { start, end } = zoomSteps(range);
    try {
      const data = await getMetrics(this.page.runId, { keys: def.keys.join(","), start, end, max_points: def.chart.width() });
      if (this.page.destroyed) return;
      def.zoom = { range: [range[0], range[1]], data };
      this.render(def);
    } catch (error) {
      toast(`Could not load detail: ${errorText(error)}`, "error");
    }
  }

  destroy() {
    for (const def of Object.values(this.defs)) def.chart.destroy();
  }
}

function readPref(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function writePref(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    /* storage disabled: the choice lasts for this page */
  }
}
