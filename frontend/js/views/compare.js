// Compare view: one metric overlaid across runs (fig1 / fig4 style); the legend names the config keys that differ
// between them (a built-in run's config is its spec; a script's run, whatever it sent). The metric picker offers
// every key any of the runs logged (GET /runs/{id}/keys), grouped like the run page's.

import { errorText, getKeys, getMetrics, getRun } from "../api.js";
import { COLORS, Chart, baseLayout, fitLayout, whenPlotly } from "../charts.js";
import { TERMINAL, csvCell, h, pct, statusBadge, whileVisible } from "../dom.js";
import { hrefFor, replaceQuery } from "../router.js";
import { selection } from "../selection.js";
import { diffLabel, differingKeys, flatten, formatValue, legendNames, runConfig } from "../spec.js";
import { compareSections, sectionOf } from "./run/series.js";

const METRICS = [
  ["Per epoch", ["valid_acc", "test_acc", "train_acc", "valid_loss", "test_loss", "train_loss"]],
  ["Per iteration", ["loss", "param_norm"]],
  ["Dropout at inference (fig3), per N", ["dropout_scale_acc", "dropout_presoftmax_acc", "dropout_postsoftmax_acc"]],
];
const ALL_METRICS = METRICS.flatMap(([, keys]) => keys);
const isAcc = (key) => key.endsWith("_acc");
const xTitleFor = (key) => (["loss", "param_norm"].includes(key) ? "iteration" : key.startsWith("dropout_") ? "N (masks)" : ALL_METRICS.includes(key) ? "epoch" : "step");
const POLL_MS = 3000;

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

function parseIds(text) {
  return [...new Set(String(text || "").split(/[\s,]+/).map(Number).filter((n) => Number.isInteger(n) && n > 0))];
}

export function mount(root, route) {
  let ids = parseIds(route.query.ids);
  if (!ids.length && selection.ids().length) {
    ids = selection.ids();
  }
  let metric = ALL_METRICS.includes(route.query.metric) ? route.query.metric : route.query.metric || "valid_acc";
  let mode = route.query.mode === "error" ? "error" : "acc";
  let destroyed = false;
  let runs = new Map(); // id -> run
  let series = new Map(); // id -> {step, value}
  const keysOf = new Map(); // id -> the keys it logged
  let offered = ""; // the picker's keys, as last drawn
  const problems = new Map(); // id -> message
  let loadNo = 0;

  let chosen = Boolean(route.query.metric); // the user's (or the URL's) metric is kept; else one the runs have
  const metricSelect = h("select", { name: "metric", "aria-label": "Metric" }, h("option", { value: metric }, metric));
  metricSelect.addEventListener("change", () => {
    metric = metricSelect.value;
    chosen = true;
    sync();
    load(true);
  });
  const modeToggle = h(
    "div",
    { class: "segmented", role: "group", "aria-label": "accuracy or error" },
    ["acc", "error"].map((m) =>
      h(
        "button",
        {
          type: "button",
          class: "small",
          dataset: { mode: m },
          "aria-pressed": String(mode === m),
          onclick: () => {
            mode = m;
            for (const b of modeToggle.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.mode === m));
            sync();
            render();
          },
        },
        m === "acc" ? "Accuracy" : "Error",
      ),
    ),
  );
  const idsInput = h("input", { type: "text", name: "ids", value: ids.join(", "), placeholder: "run ids, e.g. 3, 4", "aria-label": "Run ids", class: "narrow" });
  const idsForm = h(
    "form",
    {
      class: "inline",
      onsubmit: (e) => {
        e.preventDefault();
        ids = parseIds(idsInput.value);
        sync();
        load(true);
      },
    },
    idsInput,
    h("button", { type: "submit", class: "small" }, "Show"),
  );
  const chart = new Chart({
    id: "compare",
    title: "",
    filename: "compare",
    csv: csv,
  });
  const chartTitle = chart.el.querySelector("h3");
  const problemsEl = h("div", { class: "banner banner-warn", hidden: true });
  const tableEl = h("div", { class: "table-scroll" });
  const emptyEl = h(
    "section",
    { class: "card empty-state", hidden: true },
    h("h2", {}, "Nothing to compare yet"),
    h("p", {}, "Tick runs in the ", h("a", { href: "#/runs" }, "runs table"), " and press Compare, or type run ids above."),
  );

  root.append(
    h("div", { class: "page-head" }, h("div", { class: "page-title" }, h("h1", {}, "Compare"), h("span", { class: "muted", dataset: { testid: "compare-count" } }, ""))),
    h("div", { class: "card filters" }, h("label", { class: "inline" }, "Metric ", metricSelect), modeToggle, h("label", { class: "inline" }, "Runs ", idsForm)),
    problemsEl,
    emptyEl,
    chart.el,
    h("section", { class: "card", dataset: { testid: "compare-table" } }, h("h3", {}, "Runs"), tableEl),
  );

  function sync() {
    replaceQuery({ ids, metric: metric === "valid_acc" ? "" : metric, mode: mode === "acc" ? "" : mode });
    idsInput.value = ids.join(", ");
    modeToggle.hidden = !isAcc(metric);
  }

  async function load(full = false) {
    const mine = ++loadNo;
    if (full) {
      runs = new Map();
      series = new Map();
      problems.clear();
    }
    emptyEl.hidden = ids.length > 0;
    chart.el.hidden = ids.length === 0;
    if (!ids.length) {
      tableEl.replaceChildren();
      root.querySelector("[data-testid=compare-count]").textContent = "";
      return;
    }
    // finished runs are read once; running ones on every refresh
    const todo = ids.filter((id) => full || !runs.has(id) || !TERMINAL.has(runs.get(id).status));
    const width = chart.width();
    await Promise.all(
      todo.map(async (id) => {
        try {
          const [run, data, keys] = await Promise.all([getRun(id), getMetrics(id, { keys: metric, max_points: width }), getKeys(id)]);
          if (mine !== loadNo) return;
          runs.set(id, run);
          keysOf.set(id, keys.map((k) => k.key));
          series.set(id, data[metric] || { step: [], value: [] });
          problems.delete(id);
        } catch (error) {
          if (mine !== loadNo) return;
          problems.set(id, `run #${id}: ${errorText(error)}`);
        }
      }),
    );
    if (destroyed || mine !== loadNo) return;
    if (renderPicker()) return; // it chose another metric, and loads it
    render();
  }

  /** The union of the shown runs' keys in the picker; without a metric in the URL, one the runs have. True when
   * it switched to another metric (and is loading it). */
  function renderPicker() {
    const union = [...new Set(shown().flatMap((id) => keysOf.get(id) || []))];
    if (!chosen && union.length && !union.includes(metric)) {
      metric = union.sort()[0];
      chosen = true;
      sync();
      load(true);
      return true;
    }
    const signature = JSON.stringify([union.sort(), metric]);
    if (signature === offered) return false;
    offered = signature;
    const groups = pickerGroups(union);
    metricSelect.replaceChildren(...groups.map(([group, keys]) => h("optgroup", { label: group }, keys.map((k) => h("option", { value: k, selected: k === metric }, k)))));
    if (!union.includes(metric)) metricSelect.prepend(h("option", { value: metric, selected: true }, metric));
    metricSelect.value = metric;
    return false;
  }

  function shown() {
    return ids.filter((id) => runs.has(id));
  }

  function labels() {
    const visible = shown();
    const keys = differingKeys(visible.map((id) => runConfig(runs.get(id))));
    const out = new Map();
    for (const id of visible) {
      const diff = diffLabel(runConfig(runs.get(id)), keys);
      out.set(id, diff ? `#${id} ${diff}` : `#${id} ${runs.get(id).name}`);
    }
    return { keys, labels: out };
  }

  function transform(v) {
    if (v === null || v === undefined) return null;
    if (!isAcc(metric)) return v;
    return mode === "error" ? 100 * (1 - v) : 100 * v;
  }

  function yTitle() {
    if (!isAcc(metric)) return metric;
    return `${metric.replace(/_acc$/, "")} ${mode === "error" ? "error" : "accuracy"} (%)`;
  }

  async function render() {
    const visible = shown();
    const { keys, labels: names } = labels();
    const keyNames = legendNames(keys);
    root.querySelector("[data-testid=compare-count]").textContent = `${visible.length} ${visible.length === 1 ? "run" : "runs"}${keys.length ? ` · differ in ${keys.map((k) => keyNames.get(k)).join(", ")}` : ""}`;
    problemsEl.hidden = problems.size === 0;
    problemsEl.textContent = [...problems.values()].join(" · ");
    const title = `${yTitle()} per ${xTitleFor(metric)}`;
    chartTitle.textContent = title.charAt(0).toUpperCase() + title.slice(1);
    const traces = visible.map((id, i) => {
      const s = series.get(id) || { step: [], value: [] };
      return {
        type: "scatter",
        mode: s.step.length <= 150 ? "lines+markers" : "lines",
        name: names.get(id),
        x: s.step,
        y: s.value.map(transform),
        line: { color: COLORS[i % COLORS.length], width: 2 },
        marker: { size: 5 },
        meta: id,
      };
    });
    const layout = baseLayout({ xTitle: xTitleFor(metric), yTitle: yTitle() });
    layout.hovermode = "closest";
    layout.legend = { orientation: "v", x: 1.02, y: 1, xanchor: "left", bgcolor: "rgba(0,0,0,0)" };
    layout.margin.r = 8;
    const noData = traces.every((t) => !t.x.length);
    chart.empty.textContent = noData && visible.length ? `No ${metric} points in these runs yet.` : "Waiting for data…";
    renderTable(visible, keys, names);
    await chart.render(traces, fitLayout(layout, traces, { integerX: xTitleFor(metric) === "epoch" }));
  }

  function renderTable(visible, keys, names) {
    tableEl.replaceChildren(
      h(
        "table",
        { class: "runs-table compact" },
        h(
          "thead",
          {},
          h("tr", {}, h("th", {}, ""), h("th", {}, "Run"), h("th", {}, "Status"), keys.map((k) => h("th", { class: "hl", title: k }, legendNames(keys).get(k))), h("th", { class: "num" }, "Best valid"), h("th", { class: "num" }, "Test @ best"), h("th", {}, "")),
        ),
        h(
          "tbody",
          {},
          visible.map((id, i) => {
            const run = runs.get(id);
            const summary = run.summary || {};
            const config = flatten(runConfig(run));
            return h(
              "tr",
              { dataset: { runId: String(id) } },
              h("td", {}, h("span", { class: "swatch", style: { background: COLORS[i % COLORS.length] }, title: names.get(id) })),
              h("td", {}, h("a", { href: `#/runs/${id}` }, `#${id} ${run.name}`)),
              h("td", {}, statusBadge(run.status)),
              keys.map((k) => h("td", { class: "mono hl", dataset: { key: k } }, formatValue(config[k]))),
              h("td", { class: "num mono" }, pct(summary.best_valid_acc)),
              h("td", { class: "num mono" }, pct(summary.test_acc_at_best)),
              h(
                "td",
                {},
                h(
                  "button",
                  {
                    type: "button",
                    class: "small link-button",
                    title: "Remove from the comparison",
                    onclick: () => {
                      ids = ids.filter((x) => x !== id);
                      sync();
                      load(true);
                    },
                  },
                  "remove",
                ),
              ),
            );
          }),
        ),
      ),
      h("p", { class: "muted small-text" }, h("a", { href: hrefFor("/runs") }, "Pick other runs"), " in the runs table."),
    );
  }

  async function csv() {
    const { labels: names } = labels();
    const rows = ["run_id,label,step,value"];
    for (const id of shown()) {
      const data = await getMetrics(id, { keys: metric });
      const s = data[metric] || { step: [], value: [] };
      for (let i = 0; i < s.step.length; i++) rows.push([id, names.get(id), s.step[i], s.value[i]].map(csvCell).join(","));
    }
    return `${rows.join("\n")}\n`;
  }

  sync();
  load(true);
  if (ids.length) whenPlotly().catch(() => {}); // run plotly.js while the reads are on their way
  const stop = whileVisible(async () => {
    if ([...runs.values()].some((r) => !TERMINAL.has(r.status))) await load(false);
  }, POLL_MS);

  return () => {
    destroyed = true;
    stop();
    chart.destroy();
  };
}
