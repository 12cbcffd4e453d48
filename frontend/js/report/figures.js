// The seven figures rebuilt from the runs: for each figN, the newest sweep launched from preset figN, its runs'
// metrics and artifacts, turned into a figure model (charts, tables, images, and our numbers beside the report's).
// A model is plain data: the report page draws it, and the HTML export serializes the page it drew.

import { artifactJson, get, getMetrics, listArtifacts } from "../api.js";
import { COLORS, baseLayout, fitLayout } from "../charts.js";
import { num, pct } from "../dom.js";
import { formatValue } from "../spec.js";
import { finishedCount, gridKeys, heatmapData, heatmapTrace, scoredRows, sweepDone } from "../sweepdata.js";
import { BLOCK_FILTERS, PAPER, PARAMS } from "./paper.js";
import { TOLERANCE_PP, margin, meanStd, verdict, verdictNote } from "./verdict.js";

const DOGS_VS_CATS = ["cat", "dog"];
const GALLERY_SIZE = 36;

/** Everything the figures read, cached: finished sweeps and runs are read once, unfinished ones on each refresh. */
export class ReportData {
  constructor() {
    this.list = [];
    this.details = new Map(); // sweep id -> detail
    this.cache = new Map(); // request key -> {stamp, promise}
    this.pass = 0; // one per refresh: an unfinished sweep is read once per pass, however many figures use it
  }

  async refresh() {
    this.list = await get("/sweeps", { preset: "any", limit: 1000 }); // GET /sweeps pages: only preset sweeps
    this.pass += 1;
    const wanted = new Set(this.list.filter((s) => s.preset).map((s) => s.id));
    for (const id of this.details.keys()) if (!wanted.has(id)) this.details.delete(id);
  }

  /** The newest sweep launched from this preset (GET /sweeps is newest first), with its results. */
  async sweep(fig) {
    const entry = this.list.find((s) => s.preset === fig);
    if (!entry) return null;
    const known = this.details.get(entry.id);
    if (known && sweepDone(known) && JSON.stringify(known.status_counts) === JSON.stringify(entry.status_counts)) return known;
    const detail = await this.once(`sweep:${entry.id}`, `${this.pass}`, () => get(`/sweeps/${entry.id}`));
    this.details.set(entry.id, detail);
    return detail;
  }

  once(key, stamp, load) {
    const hit = this.cache.get(key);
    if (hit && hit.stamp === stamp) return hit.promise;
    const promise = load().catch((error) => {
      this.cache.delete(key);
      throw error;
    });
    this.cache.set(key, { stamp, promise });
    return promise;
  }

  /** A run's series ({key: {step, value}}), read again only when its epoch or status moved. */
  metrics(row, keys, maxPoints = 600) {
    if (!row || !(row.epoch > 0 || row.status === "succeeded")) return Promise.resolve({});
    return this.once(`m:${row.run_id}:${keys.join(",")}:${maxPoints}`, `${row.epoch}:${row.status}`, () =>
      getMetrics(row.run_id, { keys: keys.join(","), max_points: maxPoints }).catch(() => ({})),
    );
  }

  artifacts(row) {
    if (!row) return Promise.resolve([]);
    return this.once(`a:${row.run_id}`, `${row.epoch}:${row.status}`, () => listArtifacts(row.run_id).catch(() => []));
  }

  json(url, stamp) {
    return this.once(`j:${url}`, stamp, () => artifactJson(url).catch(() => null));
  }
}

// ---- small helpers ------------------------------------------------------------------------------------------
const series = (data, key) => (data && data[key] && data[key].step.length ? data[key] : null);
const lastOf = (s) => (s && s.value.length ? s.value[s.value.length - 1] : null);
const toPct = (v) => (v === null || v === undefined ? null : 100 * v);
const toErr = (v) => (v === null || v === undefined ? null : 100 * (1 - v));

function minWithStep(s) {
  let best = null;
  if (!s) return null;
  s.value.forEach((v, i) => {
    if (typeof v === "number" && (best === null || v < best.value)) best = { value: v, step: s.step[i] };
  });
  return best;
}

function pp(d) {
  if (typeof d !== "number" || !Number.isFinite(d)) return "—";
  return `${d > 0 ? "+" : d < 0 ? "−" : "±"}${Math.abs(d).toFixed(2)} pp`;
}

/** +3 / −14 with a unit, the minus a real minus sign like pp(). */
function signed(d, unit = "") {
  if (typeof d !== "number" || !Number.isFinite(d)) return "—";
  return `${d > 0 ? "+" : d < 0 ? "−" : "±"}${num(Math.abs(d))}${unit}`;
}

function errText(v) {
  return typeof v === "number" ? `${v.toFixed(2)} %` : "—";
}

/** Which scale a preset sweep was launched at, and how far that is from the report's settings. */
function scaleOf(sweep) {
  const base = (sweep && sweep.spec && sweep.spec.base) || {};
  const tags = base.tags || [];
  const scale = tags.includes("quick") ? "quick" : tags.includes("full") ? "full" : null;
  return { scale, epochs: base.epochs, limit_train: base.limit_train ?? null, dataset: base.dataset };
}

function source(sweep, fig, note) {
  return { sweep: { id: sweep.id, name: sweep.name, preset: sweep.preset }, fig, note, done: sweepDone(sweep), finished: finishedCount(sweep), total: (sweep.runs || []).length, ...scaleOf(sweep) };
}

function lineTrace(name, s, transform, color, extra = {}) {
  return {
    type: "scatter",
    mode: s.step.length <= 60 ? "lines+markers" : "lines",
    name,
    x: [...s.step],
    y: s.value.map(transform),
    line: { color, width: 2 },
    marker: { size: 5 },
    ...extra,
  };
}

function chartLayout(traces, { xTitle, yTitle, integerX = true } = {}) {
  const layout = baseLayout({ xTitle, yTitle });
  layout.hovermode = "x unified";
  return fitLayout(layout, traces, { integerX });
}

/** A claims row: the report's number, ours, the difference and whether they agree (true/false/"inconclusive"/null). */
const claim = (label, report, ours, diff = "—", agrees = null) => ({ label, report, ours, diff, verdict: agrees });

/**
 * A claims row that compares groups of our runs (one per setting, several seeds each where the sweep has them):
 * `support` is how far they back the claim, in accuracy points; within the margin it is "inconclusive".
 */
function judged(label, report, ours, diff, support, groups) {
  const m = margin(groups);
  const result = verdict(support, m.pp);
  return { ...claim(label, report, ours, diff, result), note: verdictNote(result, m) };
}

/** The runs of a sweep grouped by one setting (the seeds of each setting together), each summarized by `stat`. */
function bySetting(stats, settingOf) {
  const groups = new Map();
  for (const s of stats) {
    const key = settingOf(s);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(s);
  }
  return groups;
}

/** A row whose verdict used the stated tolerance (no groups of seeds to measure a spread from). */
const withNote = (row) => ({ ...row, note: row.verdict === "inconclusive" ? verdictNote(row.verdict, margin([])) : "" });

const seedsText = (n) => (n > 1 ? ` (mean of ${n} seeds)` : "");

const wdLabel = (wd) => (wd ? `weight decay ${formatValue(wd)}` : "no weight decay");

// ---- the figures ----------------------------------------------------------------------------------------------

async function fig1(ctx) {
  const sweep = await ctx.sweep("fig1");
  if (!sweep) return { missing: true };
  const rows = [...sweep.results].sort((a, b) => (a.values["optimizer.weight_decay"] || 0) - (b.values["optimizer.weight_decay"] || 0));
  const data = await Promise.all(rows.map((r) => ctx.metrics(r, ["test_acc"])));
  const traces = [];
  const stats = rows.map((row, i) => {
    const s = series(data[i], "test_acc");
    const wd = row.values["optimizer.weight_decay"] || 0;
    if (s) traces.push(lineTrace(`${wdLabel(wd)} (#${row.run_id})`, s, toErr, wd ? COLORS[1] : COLORS[0], { meta: row.run_id }));
    const best = s ? minWithStep({ step: s.step, value: s.value.map(toErr) }) : null;
    return { wd, best, final: s ? toErr(lastOf(s)) : null, epochs: s ? s.step.length : 0 };
  });
  const groups = bySetting(stats.filter((s) => s.best), (s) => s.wd);
  const summary = (runs) => runs && { runs, best: meanStd(runs.map((r) => r.best.value)), step: runs[0].best.step, final: meanStd(runs.map((r) => r.final)).mean };
  const none = summary(groups.get(0));
  const decay = summary([...groups].find(([wd]) => wd)?.[1]);
  const claims = [];
  if (none && decay) {
    const epochOf = (g) => (g.runs.length > 1 ? "" : ` (epoch ${g.step})`);
    claims.push(
      judged(
        "Without weight decay performs better (lowest test error)",
        "no weight decay better",
        `without ${errText(none.best.mean)}${epochOf(none)}${seedsText(none.runs.length)} · with ${errText(decay.best.mean)}${epochOf(decay)}${seedsText(decay.runs.length)}`,
        `${pp(decay.best.mean - none.best.mean)} error with weight decay`,
        decay.best.mean - none.best.mean,
        [none.runs.map((r) => r.best.value), decay.runs.map((r) => r.best.value)],
      ),
      claim("Test error after the last epoch", "—", `without ${errText(none.final)} · with ${errText(decay.final)}`, pp(decay.final - none.final)),
    );
  } else {
    claims.push(claim("Without weight decay performs better", "no weight decay better", "waiting for test_acc of both runs"));
  }
  const sc = scaleOf(sweep);
  const sameEpochs = sc.epochs === PAPER.fig1.settings.epochs;
  claims.push(claim("Epochs", String(PAPER.fig1.settings.epochs), num(sc.epochs), sameEpochs ? "same" : `${signed(sc.epochs - PAPER.fig1.settings.epochs)}${sc.scale === "quick" ? " (quick scale)" : ""}`, sameEpochs));
  return {
    source: source(sweep, "fig1"),
    charts: [{ id: "fig1-test-error", title: "Test error per epoch", traces, layout: chartLayout(traces, { xTitle: "epoch", yTitle: "test error (%)" }) }],
    claims,
  };
}

async function fig2(ctx) {
  let sweep = await ctx.sweep("fig2");
  let note = null;
  if (!sweep) {
    sweep = await ctx.sweep("fig1");
    if (sweep) note = "no fig2 sweep: these are the runs of Figure 1's sweep";
  }
  if (!sweep) return { missing: true };
  const rows = [...sweep.results].sort((a, b) => (a.values["optimizer.weight_decay"] || 0) - (b.values["optimizer.weight_decay"] || 0));
  const data = await Promise.all(rows.map((r) => ctx.metrics(r, ["param_norm"], 800)));
  const traces = [];
  const stats = rows.map((row, i) => {
    const s = series(data[i], "param_norm");
    const wd = row.values["optimizer.weight_decay"] || 0;
    if (s) traces.push(lineTrace(`${wdLabel(wd)} (#${row.run_id})`, s, (v) => v, wd ? COLORS[1] : COLORS[0], { mode: "lines", meta: row.run_id }));
    const values = s ? s.value.filter((v) => typeof v === "number") : [];
    return { wd, first: values[0] ?? null, peak: values.length ? Math.max(...values) : null, last: values.length ? values[values.length - 1] : null };
  });
  const none = stats.find((s) => !s.wd);
  const decay = stats.find((s) => s.wd);
  const claims = [];
  if (none && decay && none.last !== null && decay.last !== null) {
    claims.push(
      claim(
        "Weight decay pushes the weights toward 0",
        "‖θ‖ smaller with weight decay",
        `final ‖θ‖₂: with ${num(decay.last)} · without ${num(none.last)}`,
        `${signed(Number((((decay.last - none.last) / none.last) * 100).toFixed(1)), " %")} with weight decay`,
        decay.last < none.last,
      ),
      claim("With weight decay the norm shrinks over training", "norm → 0 as epochs → ∞", `with weight decay: start ${num(decay.first)}, peak ${num(decay.peak)}, end ${num(decay.last)}`, decay.peak ? `${signed(Number((((decay.last - decay.peak) / decay.peak) * 100).toFixed(1)), " %")} from its peak` : "—", decay.last < decay.peak),
    );
  } else {
    claims.push(claim("Weight decay pushes the weights toward 0", "‖θ‖ smaller with weight decay", "waiting for param_norm of both runs"));
  }
  return {
    source: source(sweep, "fig2", note),
    charts: [{ id: "fig2-param-norm", title: "L2 norm of all parameters per iteration", traces, layout: chartLayout(traces, { xTitle: "iteration", yTitle: "‖θ‖₂", integerX: false }) }],
    claims,
  };
}

const SCHEMES = [
  ["dropout_scale_acc", "(i) no masks, weights × 0.5", COLORS[2]],
  ["dropout_presoftmax_acc", "(ii) N masks, mean pre-softmax", COLORS[0]],
  ["dropout_postsoftmax_acc", "(iii) N masks, mean softmax", COLORS[1]],
];

/** The schemes converge when their spread ends within the tolerance, or shrank by more than it; grew: ✗. */
function converged(firstSpread, lastSpread) {
  return lastSpread <= TOLERANCE_PP ? true : verdict(firstSpread - lastSpread, TOLERANCE_PP);
}

async function fig3(ctx) {
  const sweep = await ctx.sweep("fig3");
  if (!sweep) return { missing: true };
  const row = sweep.results.find((r) => r.best) || sweep.results[0];
  const data = await ctx.metrics(row, SCHEMES.map(([k]) => k));
  const traces = SCHEMES.filter(([k]) => series(data, k)).map(([k, name, color]) => lineTrace(name, series(data, k), toPct, color, { meta: k }));
  const spreadAt = (which) => {
    const values = SCHEMES.map(([k]) => series(data, k)).filter(Boolean).map((s) => ({ step: which === "first" ? s.step[0] : s.step[s.step.length - 1], v: which === "first" ? s.value[0] : lastOf(s) }));
    if (values.length < 3 || values.some((x) => typeof x.v !== "number")) return null;
    const vs = values.map((x) => 100 * x.v);
    return { n: Math.max(...values.map((x) => x.step)), spread: Math.max(...vs) - Math.min(...vs) };
  };
  const first = spreadAt("first");
  const last = spreadAt("last");
  const claims = [];
  if (first && last) {
    claims.push(
      withNote(claim(
        "The three schemes converge to the same value as N increases",
        "they converge",
        `spread between schemes: ${first.spread.toFixed(2)} pp at N = ${first.n}, ${last.spread.toFixed(2)} pp at N = ${last.n}`,
        pp(last.spread - first.spread),
        converged(first.spread, last.spread),
      )),
    );
    for (const [k, name] of SCHEMES) claims.push(claim(`${name} at N = ${last.n}`, "—", pct(lastOf(series(data, k)))));
  } else {
    claims.push(claim("The three schemes converge as N increases", "they converge", "waiting for the dropout_* metrics (computed when the run finishes)"));
  }
  return {
    source: source(sweep, "fig3"),
    run: row ? row.run_id : null,
    charts: [{ id: "fig3-dropout", title: "Test accuracy vs N (number of masks)", traces, layout: chartLayout(traces, { xTitle: "N (masks)", yTitle: "test accuracy (%)", integerX: false }) }],
    claims,
  };
}

async function fig4(ctx) {
  const sweep = await ctx.sweep("fig4");
  if (!sweep) return { missing: true };
  const rows = [...sweep.results].sort((a, b) => String(a.values["model.norm"]).localeCompare(String(b.values["model.norm"])));
  const data = await Promise.all(rows.map((r) => ctx.metrics(r, ["test_acc"])));
  const traces = [];
  const perRun = [];
  rows.forEach((row, i) => {
    const s = series(data[i], "test_acc");
    const norm = row.values["model.norm"];
    if (!s) return;
    traces.push(lineTrace(`${norm === "batchnorm" ? "batch norm" : norm} (#${row.run_id})`, s, toErr, norm === "batchnorm" ? COLORS[3] : COLORS[0], { meta: row.run_id }));
    perRun.push({ norm, first: toErr(s.value[0]), firstEpoch: s.step[0], final: toErr(lastOf(s)), mean: s.value.reduce((a, v) => a + toErr(v), 0) / s.value.length });
  });
  const groups = bySetting(perRun, (r) => r.norm);
  const summary = (runs) =>
    runs && { runs, firstEpoch: runs[0].firstEpoch, first: meanStd(runs.map((r) => r.first)).mean, final: meanStd(runs.map((r) => r.final)).mean, mean: meanStd(runs.map((r) => r.mean)).mean };
  const bn = summary(groups.get("batchnorm"));
  const dr = summary(groups.get("dropout"));
  const claims = [];
  if (bn && dr) {
    claims.push(
      judged(
        "Batch normalization learns faster",
        "batch norm faster",
        `test error after epoch ${bn.firstEpoch}: batch norm ${errText(bn.first)}${seedsText(bn.runs.length)} · dropout ${errText(dr.first)}${seedsText(dr.runs.length)}`,
        `${pp(bn.first - dr.first)} error with batch norm`,
        dr.first - bn.first,
        [bn.runs.map((r) => r.first), dr.runs.map((r) => r.first)],
      ),
      claim("Mean test error over the epochs", "—", `batch norm ${errText(bn.mean)} · dropout ${errText(dr.mean)}`, pp(bn.mean - dr.mean)),
      claim("Test error after the last epoch", "—", `batch norm ${errText(bn.final)} · dropout ${errText(dr.final)}`, pp(bn.final - dr.final)),
    );
  } else {
    claims.push(claim("Batch normalization learns faster", "batch norm faster", "waiting for test_acc of both runs"));
  }
  return {
    source: source(sweep, "fig4"),
    charts: [{ id: "fig4-test-error", title: "CNN test error per epoch", traces, layout: chartLayout(traces, { xTitle: "epoch", yTitle: "test error (%)" }) }],
    claims,
  };
}

async function fig5(ctx) {
  const sweep = await ctx.sweep("fig5");
  if (!sweep) return { missing: true };
  const rows = sweep.results;
  const best = rows.find((r) => r.best) || null;
  const data = await ctx.metrics(best, ["train_acc", "valid_acc", "test_acc"]);
  const traces = [];
  if (series(data, "train_acc")) traces.push(lineTrace("train", series(data, "train_acc"), toPct, COLORS[0]));
  if (series(data, "valid_acc")) traces.push(lineTrace("valid", series(data, "valid_acc"), toPct, COLORS[3]));
  const layout = chartLayout(traces, { xTitle: "epoch", yTitle: "accuracy (%)" });
  if (best && best.best_epoch) {
    layout.shapes = [{ type: "line", x0: best.best_epoch, x1: best.best_epoch, yref: "paper", y0: 0, y1: 1, line: { color: "#9ca3af", dash: "dot", width: 1.5 } }];
    layout.annotations = [{ x: best.best_epoch, yref: "paper", y: 1, text: `best valid: epoch ${best.best_epoch}`, showarrow: false, yanchor: "bottom", font: { size: 11, color: "#6b7280" } }];
  }
  const charts = [{ id: "fig5-best-curves", title: best ? `Train and valid accuracy of the best run (#${best.run_id})` : "Train and valid accuracy of the best run", traces, layout }];
  const keys = gridKeys(sweep);
  if (keys.includes("model.blocks") && keys.includes("batch_size") && scoredRows(rows).length) {
    const heat = heatmapData(sweep, rows, "batch_size", "model.blocks");
    const hl = baseLayout({ xTitle: "batch size", yTitle: "architecture" });
    hl.hovermode = "closest";
    hl.xaxis.type = "category";
    hl.yaxis.type = "category";
    hl.yaxis.autorange = "reversed";
    hl.xaxis.gridcolor = "rgba(0,0,0,0)";
    hl.yaxis.gridcolor = "rgba(0,0,0,0)";
    charts.unshift({ id: "fig5-heatmap", title: "Best valid accuracy (%): architecture × batch size", traces: [heatmapTrace(heat)], layout: hl });
  }

  const claims = [];
  for (const [blocks, expected] of Object.entries(PARAMS)) {
    const row = rows.find((r) => r.values["model.blocks"] === blocks && typeof r.n_params === "number");
    const ours = row ? row.n_params : null;
    claims.push(
      claim(`Parameters, ${blocks} (${BLOCK_FILTERS[blocks]})`, num(expected), ours === null ? "—" : num(ours), ours === null ? "—" : ours === expected ? "exact" : signed(ours - expected), ours === null ? null : ours === expected),
    );
  }
  const ref = PAPER.fig5.best;
  if (best) {
    const sameConfig = best.values.batch_size === ref.batch_size && best.values["model.blocks"] === ref.blocks;
    // another best configuration decides nothing when the report's own is within the tolerance of it
    const refRow = rows.find((r) => r.values.batch_size === ref.batch_size && r.values["model.blocks"] === ref.blocks && typeof r.best_valid_acc === "number");
    const behind = refRow && typeof best.best_valid_acc === "number" ? 100 * (best.best_valid_acc - refRow.best_valid_acc) : null;
    const configVerdict = sameConfig ? true : behind !== null && behind <= TOLERANCE_PP ? "inconclusive" : false;
    claims.push(
      withNote(claim("Best configuration", `batch ${ref.batch_size}, ${ref.blocks}`, `batch ${formatValue(best.values.batch_size)}, ${formatValue(best.values["model.blocks"])}`, sameConfig ? "same" : behind !== null ? `different; the report's is ${pp(-behind)} valid accuracy` : "different", configVerdict)),
      claim("Best validation accuracy", pct(ref.valid, 1), pct(best.best_valid_acc), pp(100 * (best.best_valid_acc - ref.valid))),
      claim("Epoch of the best validation accuracy", String(ref.epoch), num(best.best_epoch), typeof best.best_epoch === "number" ? signed(best.best_epoch - ref.epoch, " epochs") : "—"),
      claim("Test accuracy at that epoch", pct(ref.test, 1), pct(best.test_acc_at_best), typeof best.test_acc_at_best === "number" ? pp(100 * (best.test_acc_at_best - ref.test)) : "—"),
      claim("Generalization gap (train − test)", pct(ref.gap), pct(best.gen_gap), typeof best.gen_gap === "number" ? pp(100 * (best.gen_gap - ref.gap)) : "—"),
    );
    const train = series(data, "train_acc");
    const valid = series(data, "valid_acc");
    if (train && valid) {
      const gapEnd = 100 * (lastOf(train) - lastOf(valid));
      claims.push(claim("Overfitting starts around", `epoch ${ref.overfit_epoch}`, `valid peaks at epoch ${num(best.best_epoch)}; train − valid after the last epoch ${gapEnd.toFixed(2)} pp`));
    }
  } else {
    claims.push(claim("Best validation accuracy", pct(ref.valid, 1), "waiting for the first finished run"));
  }
  return { source: source(sweep, "fig5"), charts, table: { sweep, keys }, claims };
}

/** The run whose pictures a figure shows: its own sweep's run, else the best run of fig5's grid. */
async function pictureRun(ctx, fig, wants) {
  const own = await ctx.sweep(fig);
  if (own) {
    const row = own.results.find((r) => r.best) || own.results[0];
    if (row) return { sweep: own, row, note: null };
  }
  const grid = await ctx.sweep("fig5");
  const best = grid && grid.results.find((r) => r.best);
  if (best) {
    const list = await ctx.artifacts(best);
    if (list.some(wants)) return { sweep: grid, row: best, note: `no ${fig} sweep: pictures of the best run of Figure 5's grid` };
  }
  return own ? { sweep: own, row: null, note: null } : null;
}

const isFilter = (a) => a.name.includes("filters") && (a.media_type || "").startsWith("image/");

async function fig6(ctx) {
  const picked = await pictureRun(ctx, "fig6", isFilter);
  if (!picked) return { missing: true };
  const list = await ctx.artifacts(picked.row);
  const rank = (a) => (a.name.includes("first_layer") ? 0 : a.name.includes("activation_max") ? 1 : 2);
  const images = list.filter(isFilter).sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name)).map((a) => ({
    url: a.url,
    name: a.name,
    caption: a.name.includes("first_layer") ? "First-layer kernels (RGB tiles)" : a.name.includes("activation_max") ? "Deeper filters by activation maximization" : a.name,
  }));
  return {
    source: source(picked.sweep, "fig6", picked.note),
    run: picked.row ? picked.row.run_id : null,
    images,
    claims: [
      claim("Filters of the best model", "one deep-layer filter", images.length ? `${images.length} ${images.length === 1 ? "image" : "images"} from run #${picked.row.run_id}` : "waiting for the filter images (saved when the run finishes)", "—"),
      claim("Parameters of that model", "—", picked.row && typeof picked.row.n_params === "number" ? num(picked.row.n_params) : "—"),
    ],
  };
}

async function fig7(ctx) {
  const picked = await pictureRun(ctx, "fig7", (a) => a.name === "misclassified.json");
  if (!picked) return { missing: true };
  const list = await ctx.artifacts(picked.row);
  const byName = new Map(list.map((a) => [a.name, a]));
  const json = byName.get("misclassified.json");
  const items = json ? (await ctx.json(json.url, `${picked.row.epoch}:${picked.row.status}:${json.size}`)) || [] : [];
  const dataset = scaleOf(picked.sweep).dataset;
  const label = (v) => (typeof v === "number" && dataset === "dogs-vs-cats" ? DOGS_VS_CATS[v] ?? String(v) : String(v));
  const gallery = (Array.isArray(items) ? items : []).slice(0, GALLERY_SIZE).map((item) => ({
    url: item.image && byName.get(item.image) ? byName.get(item.image).url : null,
    index: item.index,
    true: label(item.true),
    pred: label(item.pred),
    confidence: item.confidence,
  }));
  const n = Array.isArray(items) ? items.length : 0;
  const confidences = gallery.map((g) => g.confidence).filter((c) => typeof c === "number");
  const byTrue = {};
  for (const g of gallery) byTrue[g.true] = (byTrue[g.true] || 0) + 1;
  const claims = [
    claim("Misclassified test images shown", String(PAPER.fig7.shown), json ? `${gallery.length}${n > gallery.length ? ` (of ${n} kept)` : ""}` : "waiting for misclassified.json", json ? (gallery.length === PAPER.fig7.shown ? "same" : signed(gallery.length - PAPER.fig7.shown)) : "—", json ? gallery.length === PAPER.fig7.shown : null),
  ];
  if (gallery.length) {
    claims.push(
      claim("Mean confidence of the wrong predictions", "—", confidences.length ? pct(confidences.reduce((a, c) => a + c, 0) / confidences.length, 1) : "—"),
      claim("Errors by true class", "—", Object.entries(byTrue).map(([k, v]) => `${k}: ${v}`).join(", ")),
      claim("A person / a cropped animal / unclear", "2 / 10 / 2 of 36", "judge by eye in the gallery"),
    );
  }
  return { source: source(picked.sweep, "fig7", picked.note), run: picked.row ? picked.row.run_id : null, gallery, claims };
}

export const BUILDERS = { fig1, fig2, fig3, fig4, fig5, fig6, fig7 };
