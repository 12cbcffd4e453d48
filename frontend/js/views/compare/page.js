// Compare view (#/compare?ids=1,2&metric=test_acc&mode=error): one metric overlaid across runs, or grouped by
// config keys into mean ± std bands; smoothing, log y, any logged key on x; a scatter of config and summary keys;
// the hyperparameters' importance; for two built-in runs, which test examples B fixed and broke. The legend names
// the config keys that differ between the runs (a built-in run's config is its spec; a script's run, whatever it
// sent). Refreshed every 3 s while a run trains.

import { errorText, getKeys, getMetrics, getRun } from "../../api.js";
import { COLORS, Chart, baseLayout, fitLayout, whenPlotly } from "../../charts.js";
import { TERMINAL, csvCell, h, whileVisible } from "../../dom.js";
import { ImportanceCard, importanceProblem } from "../../importance-chart.js";
import { replaceQuery } from "../../router.js";
import { selection } from "../../selection.js";
import { diffLabel, differingKeys, legendNames, runConfig } from "../../spec.js";
import { CompareControls, stateFrom, stateQuery } from "./controls.js";
import { ExamplesCard } from "./examples.js";
import { groupKeys, groupRuns } from "./groups.js";
import { isAcc, stepTitle, yTitle } from "./picker.js";
import { ConfigScatter } from "./scatter.js";
import { xAtSteps } from "./stats.js";
import { runsTable } from "./table.js";
import { groupTraces, runTraces } from "./traces.js";

const POLL_MS = 3000;

function parseIds(text) {
  return [...new Set(String(text || "").split(/[\s,]+/).map(Number).filter((n) => Number.isInteger(n) && n > 0))];
}

export function mount(root, route) {
  const page = new ComparePage(root, route);
  page.load(true);
  if (page.ids.length) whenPlotly().catch(() => {}); // run plotly.js while the reads are on their way
  page.stopPolling = whileVisible(async () => {
    if ([...page.runs.values()].some((r) => !TERMINAL.has(r.status))) await page.load(false);
  }, POLL_MS);
  return () => page.destroy();
}

class ComparePage {
  constructor(root, route) {
    const q = route.query;
    this.root = root;
    this.ids = parseIds(q.ids);
    if (!this.ids.length && selection.ids().length) this.ids = selection.ids();
    this.state = stateFrom(q);
    this.chosen = Boolean(q.metric); // the user's (or the URL's) metric is kept; else one the runs have
    this.runs = new Map(); // id -> run
    this.series = new Map(); // id -> {step, value, x?}
    this.keysOf = new Map(); // id -> the keys it logged
    this.problems = new Map(); // id -> message
    this.loadNo = 0;
    this.destroyed = false;
    this.controls = new CompareControls(this.state, (reload) => this.#changed(reload));
    this.chart = new Chart({ id: "compare", title: "", filename: "compare", csv: () => this.csv() });
    this.scatter = new ConfigScatter({ x: q.sx, y: q.sy }, () => this.#sync());
    this.importance = new ImportanceCard({ id: "compare-importance", metric: q.imp || "", onMetric: () => this.#sync() });
    this.examples = new ExamplesCard();
    this.#build();
    this.#sync();
  }

  #build() {
    this.idsInput = h("input", { type: "text", name: "ids", value: this.ids.join(", "), placeholder: "run ids, e.g. 3, 4", "aria-label": "Run ids", class: "narrow" });
    const onsubmit = (e) => {
      e.preventDefault();
      this.#setIds(parseIds(this.idsInput.value));
    };
    this.controls.el.append(h("label", { class: "inline" }, "Runs ", h("form", { class: "inline", onsubmit }, this.idsInput, h("button", { type: "submit", class: "small" }, "Show"))));
    this.countEl = h("span", { class: "muted", dataset: { testid: "compare-count" } }, "");
    this.problemsEl = h("div", { class: "banner banner-warn", hidden: true });
    this.tableEl = h("div", { class: "table-scroll" });
    this.emptyEl = h(
      "section",
      { class: "card empty-state", hidden: true },
      h("h2", {}, "Nothing to compare yet"),
      h("p", {}, "Tick runs in the ", h("a", { href: "#/runs" }, "runs table"), " and press Compare, or type run ids above."),
    );
    this.extras = h("div", { class: "chart-grid" }, this.scatter.el, this.importance.el);
    this.root.append(
      h("div", { class: "page-head" }, h("div", { class: "page-title" }, h("h1", {}, "Compare"), this.countEl)),
      this.controls.el,
      this.problemsEl,
      this.emptyEl,
      this.chart.el,
      this.extras,
      this.examples.el,
      h("section", { class: "card", dataset: { testid: "compare-table" } }, h("h3", {}, "Runs"), this.tableEl),
    );
  }

  #sync() {
    const { x, y } = this.scatter.axes;
    replaceQuery({ ids: this.ids, ...stateQuery(this.state), sx: x || "", sy: y || "", imp: this.importance.metric || "" });
    this.idsInput.value = this.ids.join(", ");
  }

  #setIds(ids) {
    this.ids = ids;
    this.#sync();
    this.load(true);
  }

  #changed(reload) {
    if (reload) this.chosen = true;
    this.#sync();
    if (reload) this.load(true);
    else this.render();
  }

  shown() {
    return this.ids.filter((id) => this.runs.has(id));
  }

  /** Read the runs (finished ones once, running ones on every refresh), their series and keys. */
  async load(full = false) {
    const mine = ++this.loadNo;
    if (full) {
      this.runs = new Map();
      this.series = new Map();
      this.problems.clear();
    }
    for (const el of [this.chart.el, this.extras]) el.hidden = !this.ids.length;
    if (!this.ids.length) this.examples.update([]);
    this.emptyEl.hidden = this.ids.length > 0;
    if (!this.ids.length) {
      this.tableEl.replaceChildren();
      this.countEl.textContent = "";
      return;
    }
    const todo = this.ids.filter((id) => full || !this.runs.has(id) || !TERMINAL.has(this.runs.get(id).status));
    await Promise.all(todo.map((id) => this.#loadRun(id, mine)));
    if (this.destroyed || mine !== this.loadNo) return;
    if (this.#renderPicker()) return; // it chose another metric, and loads it
    await this.render();
  }

  async #loadRun(id, mine) {
    const { metric, x } = this.state;
    const keys = x === "step" ? metric : `${metric},${x}`;
    try {
      const [run, data, logged] = await Promise.all([getRun(id), getMetrics(id, { keys, max_points: this.chart.width() }), getKeys(id)]);
      if (mine !== this.loadNo) return;
      this.runs.set(id, run);
      this.keysOf.set(id, logged.map((k) => k.key));
      const s = data[metric] || { step: [], value: [] };
      this.series.set(id, x === "step" ? s : { ...s, x: xAtSteps(s.step, data[x]) });
      this.problems.delete(id);
    } catch (error) {
      if (mine === this.loadNo) this.problems.set(id, `run #${id}: ${errorText(error)}`);
    }
  }

  /** The union of the shown runs' keys in the pickers; without a metric in the URL, one the runs have. True when
   * it switched to another metric (and is loading it). */
  #renderPicker() {
    const union = [...new Set(this.shown().flatMap((id) => this.keysOf.get(id) || []))].sort();
    if (!this.chosen && union.length && !union.includes(this.state.metric)) {
      this.state.metric = union[0];
      this.chosen = true;
      this.controls.sync();
      this.#sync();
      this.load(true);
      return true;
    }
    this.controls.setKeys(union);
    return false;
  }

  #transform() {
    const { metric, mode } = this.state;
    if (!isAcc(metric)) return (v) => v;
    return (v) => (v === null || v === undefined ? null : mode === "error" ? 100 * (1 - v) : 100 * v);
  }

  /** The chart's traces and each run's colour: per run, or per group when grouping. */
  #traces(visible, configs, names) {
    const keys = groupKeys(this.state.group, configs);
    const opts = { smoothing: this.state.smoothing, transform: this.#transform() };
    const onlyX = (s) => (s.x ? keep(s, s.x.map((x) => x !== null)) : s);
    if (!keys.length) {
      const items = visible.map((id) => ({ id, label: names.get(id), series: onlyX(this.series.get(id) || { step: [], value: [] }) }));
      return { traces: runTraces(items, opts), colors: new Map(visible.map((id, i) => [id, COLORS[i % COLORS.length]])), groups: 0 };
    }
    const groups = groupRuns(visible.map((id, i) => ({ id, config: configs[i] })), keys);
    const colors = new Map(groups.flatMap((g, i) => g.ids.map((id) => [id, COLORS[i % COLORS.length]])));
    const withMembers = groups.map((g) => ({ label: g.label, members: g.ids.map((id) => this.series.get(id) || { step: [], value: [] }) }));
    return { traces: groupTraces(withMembers, opts), colors, groups: groups.length };
  }

  async render() {
    const visible = this.shown();
    const configs = visible.map((id) => runConfig(this.runs.get(id)));
    const keys = differingKeys(configs);
    const keyNames = legendNames(keys);
    const names = new Map(visible.map((id, i) => [id, `#${id} ${diffLabel(configs[i], keys) || this.runs.get(id).name}`]));
    const { traces, colors, groups } = this.#traces(visible, configs, names);
    const differ = keys.length ? ` · differ in ${keys.map((k) => keyNames.get(k)).join(", ")}` : "";
    this.countEl.textContent = `${visible.length} ${visible.length === 1 ? "run" : "runs"}${differ}${groups ? ` · ${groups} groups` : ""}`;
    this.problemsEl.hidden = this.problems.size === 0;
    this.problemsEl.textContent = [...this.problems.values()].join(" · ");
    this.controls.setGroupKeys(keys);
    this.tableEl.replaceChildren(...runsTable(visible.map((id) => ({ id, run: this.runs.get(id), label: names.get(id), color: colors.get(id) })), keys, (id) => this.#setIds(this.ids.filter((x) => x !== id))));
    const pair = visible.map((id) => ({ id, run: this.runs.get(id) }));
    await Promise.all([this.#drawChart(traces, visible), this.#drawExtras(visible, keys), this.examples.update(pair)]);
  }

  #drawChart(traces, visible) {
    const { metric, mode, x, logY } = this.state;
    const xTitle = x === "step" ? stepTitle(metric) : x;
    const title = `${yTitle(metric, mode)} per ${xTitle}`;
    this.chart.el.querySelector("h3").textContent = title.charAt(0).toUpperCase() + title.slice(1);
    const layout = baseLayout({ xTitle, yTitle: yTitle(metric, mode), yType: logY ? "log" : "linear" });
    layout.hovermode = "closest";
    layout.legend = { orientation: "v", x: 1.02, y: 1, xanchor: "left", bgcolor: "rgba(0,0,0,0)" };
    layout.margin.r = 8;
    const noData = traces.every((t) => !t.x.length);
    this.chart.empty.textContent = noData && visible.length ? `No ${metric} points in these runs yet.` : "Waiting for data…";
    return this.chart.render(traces, fitLayout(layout, traces, { integerX: xTitle === "epoch" }));
  }

  #drawExtras(visible, keys) {
    const rows = visible.map((id) => ({ id, name: this.runs.get(id).name, run: this.runs.get(id) }));
    const summaryKeys = [...new Set(rows.flatMap((r) => Object.keys(r.run.summary || {}).filter((k) => typeof r.run.summary[k] === "number")))];
    summaryKeys.sort((a, b) => (b === "best_valid_acc") - (a === "best_valid_acc") || a.localeCompare(b));
    const logged = [...new Set(visible.flatMap((id) => this.keysOf.get(id) || []))].sort();
    const freshness = visible.map((id) => `${this.runs.get(id).status}:${this.runs.get(id).epoch}`).join();
    const options = [...summaryKeys.map((k) => `summary.${k}`), ...logged];
    return Promise.all([this.scatter.update(rows, keys[0]), this.importance.update(visible, options, freshness, (metric) => this.#importanceProblem(visible, metric))]);
  }

  /** Why GET /importance would refuse these runs for `metric` (a 422), or "". */
  #importanceProblem(visible, metric) {
    const summaryKey = metric.startsWith("summary.") ? metric.slice("summary.".length) : null;
    const has = (id) => (summaryKey ? Number.isFinite((this.runs.get(id).summary || {})[summaryKey]) : (this.keysOf.get(id) || []).includes(metric));
    const withMetric = visible.filter(has);
    return importanceProblem(metric, withMetric.length, differingKeys(withMetric.map((id) => runConfig(this.runs.get(id)))).length > 0);
  }

  async csv() {
    const names = new Map(this.shown().map((id) => [id, this.runs.get(id).name]));
    const rows = ["run_id,label,step,value"];
    for (const id of this.shown()) {
      const data = await getMetrics(id, { keys: this.state.metric });
      const s = data[this.state.metric] || { step: [], value: [] };
      for (let i = 0; i < s.step.length; i++) rows.push([id, names.get(id), s.step[i], s.value[i]].map(csvCell).join(","));
    }
    return `${rows.join("\n")}\n`;
  }

  destroy() {
    this.destroyed = true;
    if (this.stopPolling) this.stopPolling();
    this.chart.destroy();
    this.scatter.destroy();
    this.importance.destroy();
  }
}

/** The points of a series where `mask` holds, its x kept alongside. */
function keep(series, mask) {
  const pick = (list) => list.filter((_, i) => mask[i]);
  return { step: pick(series.step), value: pick(series.value), x: pick(series.x) };
}
