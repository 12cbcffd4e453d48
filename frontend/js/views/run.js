// Run view: live curves (SSE), progress with ETA, status, config, summary, filters (fig6), misclassified (fig7).

import { ApiError, artifactJson, artifactSrc, cancelRun, errorText, getMetrics, getRun, listArtifacts } from "../api.js";
import { COLORS, Chart, baseLayout, fitLayout, seriesToCsv, whenPlotly } from "../charts.js";
import { TERMINAL, duration, elapsed, eta, h, localTime, num, pct, progressBar, statusBadge, toast } from "../dom.js";
import { LiveStream, SeriesStore, metricsOf } from "../live.js";
import { selection } from "../selection.js";
import { archLabel, flatten, formatValue } from "../spec.js";

const ACC_MODE_KEY = "trainboard.accMode";
const COMPACT_FACTOR = 4; // a live series longer than 4 × the chart width is read again, downsampled

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
const DOGS_VS_CATS = ["cat", "dog"];

export function mount(root, route) {
  const runId = Number(route.params[0]);
  let destroyed = false;
  let run = null;
  let stream = null;
  let accMode = readPref(ACC_MODE_KEY) === "error" ? "error" : "acc";
  const store = new SeriesStore();
  const pending = new Map(); // chart id -> Map(key -> {step, value}) waiting for the next frame
  let flushScheduled = false;
  const timers = [];

  // ---- chart definitions -------------------------------------------------------------------------------------
  const accValue = (v) => (v === null || v === undefined ? null : accMode === "error" ? 100 * (1 - v) : 100 * v);
  const accToggle = h(
    "div",
    { class: "segmented", role: "group", "aria-label": "accuracy or error" },
    ["acc", "error"].map((mode) =>
      h(
        "button",
        {
          type: "button",
          class: "small",
          "aria-pressed": String(accMode === mode),
          dataset: { mode },
          onclick: () => {
            accMode = mode;
            writePref(ACC_MODE_KEY, mode);
            for (const b of accToggle.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
            renderChart(defs.acc);
          },
        },
        mode === "acc" ? "Accuracy" : "Error",
      ),
    ),
  );
  const defs = {
    acc: {
      id: "acc",
      title: "Accuracy per epoch",
      keys: ["train_acc", "valid_acc", "test_acc"],
      xTitle: "epoch",
      yTitle: () => (accMode === "error" ? "error (%)" : "accuracy (%)"),
      transform: accValue,
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
      transform: (v) => (v === null || v === undefined ? null : 100 * v),
      optional: true,
    },
  };
  for (const def of Object.values(defs)) {
    def.zoom = null; // {range, data} while zoomed in with finer data from the server
    def.traceKeys = [];
    def.lastCompact = 0;
    def.chart = new Chart({
      id: def.id,
      title: def.title,
      subtitle: def.subtitle,
      filename: `run${runId}_${def.id}`,
      tools: def.tools || [],
      csv: async () => seriesToCsv(await getMetrics(runId, { keys: def.keys.join(",") }), def.keys),
      onZoom: def.zoomFetch ? (range) => zoom(def, range) : undefined,
    });
    if (def.optional) def.chart.el.hidden = true;
  }

  // ---- page skeleton -------------------------------------------------------------------------------------------
  const titleEl = h("h1", { class: "run-title" }, `Run #${runId}`);
  const badgeSlot = h("span", { dataset: { testid: "run-status" } });
  const liveEl = h("span", { class: "live-dot", dataset: { state: "connecting" } }, "connecting");
  const cancelButton = h("button", { type: "button", class: "danger", hidden: true, onclick: cancel }, "Cancel run");
  const selectButton = h("button", { type: "button", onclick: () => { selection.toggle(runId); refreshSelect(); } });
  const head = h(
    "div",
    { class: "page-head" },
    h("div", { class: "page-title" }, h("a", { href: "#/runs", class: "back", title: "All runs" }, "←"), titleEl, badgeSlot, liveEl),
    h("div", { class: "actions" }, selectButton, h("a", { class: "button", href: `#/launch?from=${runId}`, title: "Open the launch form with this run's spec" }, "Clone"), cancelButton),
  );
  const subtitle = h("p", { class: "run-subtitle muted" });
  const progressSlot = h("div", { class: "progress-wide" });
  const progressText = h("div", { class: "progress-text", dataset: { testid: "progress-text" } });
  const facts = h("dl", { class: "facts" });
  const detailEl = h("div", { class: "status-detail", hidden: true, dataset: { testid: "status-detail" } });
  // a worker that died mid-run is not a failure: the run went back to the queue and resumes elsewhere
  const interruptBox = h("div", { class: "banner banner-info", hidden: true, role: "status", dataset: { testid: "interrupted" } });
  const interruptions = []; // {worker, attempt, epoch, at, resumedOn, resumedAttempt}
  const errorBox = h("pre", { class: "banner banner-error run-error", hidden: true, dataset: { testid: "run-error" } });
  const warningBox = h("div", { class: "banner banner-warn", hidden: true, role: "status", dataset: { testid: "run-warnings" } });
  const warnings = new Map(); // the latest warning per subject (an artifact's name): one line each
  const summaryCard = h("section", { class: "card" }, h("h3", {}, "Summary"), h("div", { class: "summary-body", dataset: { testid: "summary" } }, h("p", { class: "muted" }, "Filled in when the run finishes an epoch.")));
  const configBody = h("div", { class: "config-body" });
  const configCard = h(
    "section",
    { class: "card" },
    h("header", { class: "card-head" }, h("h3", {}, "Config"), h("div", { class: "tools" }, h("button", { type: "button", class: "small", onclick: copySpec }, "Copy JSON"))),
    configBody,
  );
  const artifactsEl = h("div", { class: "artifacts" });
  const notFound = h("div", { class: "banner banner-error", hidden: true, role: "alert" });

  root.append(
    notFound,
    head,
    subtitle,
    h("section", { class: "card progress-card" }, progressSlot, progressText, detailEl, facts),
    interruptBox,
    warningBox,
    errorBox,
    h("div", { class: "chart-grid" }, Object.values(defs).map((d) => d.chart.el)),
    h("div", { class: "two-col" }, summaryCard, configCard),
    artifactsEl,
  );

  // ---- header, progress, summary ---------------------------------------------------------------------------------
  function refreshSelect() {
    const on = selection.has(runId);
    selectButton.textContent = on ? "✓ Selected for compare" : "Select for compare";
    selectButton.classList.toggle("active", on);
  }

  function renderRun() {
    if (!run) return;
    titleEl.replaceChildren(h("span", { class: "muted" }, `#${run.id} `), run.name);
    badgeSlot.replaceChildren(statusBadge(run.status));
    cancelButton.hidden = TERMINAL.has(run.status);
    document.title = `#${run.id} ${run.name} · ${run.status} · trainboard`;
    const spec = run.spec || {};
    const opt = spec.optimizer || {};
    subtitle.textContent = [
      spec.dataset,
      archLabel(spec),
      `${opt.name || "sgd"} lr ${num(opt.lr)}`,
      opt.weight_decay ? `weight decay ${num(opt.weight_decay)}` : null,
      `batch ${spec.batch_size}`,
      `${spec.epochs} epochs`,
      (spec.tags || []).length ? `tags: ${spec.tags.join(", ")}` : null,
    ]
      .filter(Boolean)
      .join(" · ");
    errorBox.hidden = !run.error;
    errorBox.textContent = run.error || "";
    const detail = statusDetail(run);
    detailEl.hidden = !detail || detail === run.status;
    detailEl.textContent = detail || "";
    detailEl.classList.toggle("early", Boolean(run.stop_requested));
    renderInterruptions();
    renderProgress();
    renderSummary();
  }

  function renderProgress() {
    if (!run) return;
    const epochs = (run.spec && run.spec.epochs) || 0;
    const p = Number(run.progress) || 0;
    progressSlot.replaceChildren(progressBar(p, `${(p * 100).toFixed(p < 0.1 ? 1 : 0)} %`));
    const parts = [`epoch ${run.epoch}/${epochs}`];
    const spent = run.summary && run.summary.duration_s !== undefined && TERMINAL.has(run.status) ? run.summary.duration_s : elapsed(run);
    if (spent !== null) parts.push(`${TERMINAL.has(run.status) ? "took" : "elapsed"} ${duration(spent)}`);
    const left = eta(run);
    if (left !== null) parts.push(`ETA ${duration(left)} (${new Date(Date.now() + left * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })})`);
    else if (run.status === "queued") parts.push("waiting for a worker");
    else if (run.status === "running") parts.push("ETA after the first progress report");
    progressText.textContent = parts.join(" · ");
    facts.replaceChildren(
      ...[
        ["worker", run.worker || "—"],
        ["attempts", String(run.attempts ?? 0)],
        ["queue", run.queue || "—"],
        ["created", localTime(run.created_at)],
        ["started", localTime(run.started_at)],
        ["finished", localTime(run.finished_at)],
        ["sweep", run.sweep_id ? h("a", { href: `#/sweeps/${run.sweep_id}` }, `#${run.sweep_id}`) : "—"],
        ["external", run.external ? "yes" : "no"],
      ].map(([k, v]) => h("div", { class: "fact" }, h("dt", {}, k), h("dd", {}, v))),
    );
  }

  function renderSummary() {
    const summary = run.summary;
    const body = summaryCard.querySelector(".summary-body");
    if (!summary || !Object.keys(summary).length) return;
    const known = [
      ["n_params", "parameters", (v) => num(v)],
      ["best_epoch", "best epoch", (v) => num(v)],
      ["best_valid_acc", "best valid accuracy", (v) => pct(v)],
      ["test_acc_at_best", "test accuracy at best", (v) => pct(v)],
      ["gen_gap", "generalization gap (train − test)", (v) => pct(v)],
      ["duration_s", "duration", (v) => duration(v)],
    ];
    const rows = known.filter(([k]) => summary[k] !== undefined).map(([k, label, f]) => [label, f(summary[k]), k]);
    for (const [k, v] of Object.entries(summary)) {
      if (!known.some(([kk]) => kk === k)) rows.push([k.replace(/_/g, " "), typeof v === "number" ? num(v) : formatValue(v), k]);
    }
    body.replaceChildren(h("table", { class: "kv" }, h("tbody", {}, rows.map(([label, value, key]) => h("tr", { dataset: { key } }, h("th", {}, label), h("td", { class: "mono" }, value))))));
  }

  function renderConfig() {
    const flat = flatten(run.spec || {});
    configBody.replaceChildren(
      h("table", { class: "kv" }, h("tbody", {}, Object.entries(flat).map(([k, v]) => h("tr", {}, h("th", { class: "mono" }, k), h("td", { class: "mono" }, formatValue(v)))))),
    );
  }

  async function copySpec() {
    try {
      await navigator.clipboard.writeText(JSON.stringify(run.spec, null, 2));
      toast("Spec copied as JSON");
    } catch {
      toast("The clipboard is not available here", "error");
    }
  }

  async function cancel() {
    cancelButton.disabled = true;
    try {
      run = { ...run, ...(await cancelRun(runId)) };
      renderRun();
    } catch (error) {
      toast(`Could not cancel: ${errorText(error)}`, "error");
    } finally {
      cancelButton.disabled = false;
    }
  }

  // ---- charts ----------------------------------------------------------------------------------------------------
  function dataFor(def) {
    return def.zoom ? def.zoom.data : Object.fromEntries(def.keys.filter((k) => store.has(k)).map((k) => [k, store.get(k)]));
  }

  function traceFor(def, key, series) {
    const transform = def.transform || ((v) => v);
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

  async function renderChart(def) {
    const data = dataFor(def);
    const keys = def.keys.filter((k) => data[k] && data[k].step.length);
    if (def.optional) {
      if (!keys.length) return;
      def.chart.el.hidden = false;
    }
    def.traceKeys = keys;
    const layout = baseLayout({ xTitle: def.xTitle, yTitle: def.yTitle() });
    if (def.zoom) {
      layout.xaxis.range = def.zoom.range;
      layout.xaxis.autorange = false;
    }
    def.chart.status.textContent = def.zoom ? "zoomed: full detail" : "";
    if (!keys.length && run && TERMINAL.has(run.status)) def.chart.empty.textContent = "No data recorded.";
    const traces = keys.map((k) => traceFor(def, k, data[k]));
    await def.chart.render(traces, fitLayout(layout, traces, { integerX: def.xTitle === "epoch" }));
  }

  function queuePoints(key, accepted) {
    for (const def of Object.values(defs)) {
      if (!def.keys.includes(key)) continue;
      if (!pending.has(def.id)) pending.set(def.id, new Map());
      const byKey = pending.get(def.id);
      const p = byKey.get(key) || { step: [], value: [] };
      p.step.push(...accepted.step);
      p.value.push(...accepted.value);
      byKey.set(key, p);
    }
    if (!flushScheduled) {
      flushScheduled = true;
      // one Plotly update per chart per frame, however many events arrived; a hidden tab catches up on return
      const schedule = document.visibilityState === "visible" ? requestAnimationFrame : (fn) => setTimeout(fn, 250);
      schedule(flush);
    }
  }

  function flush() {
    flushScheduled = false;
    if (destroyed) return;
    for (const [id, byKey] of pending) {
      const def = defs[id];
      const newKey = [...byKey.keys()].some((k) => !def.traceKeys.includes(k));
      if (def.zoom) {
        // zoomed in: keep the finer window, adding only the points that fall inside it
        const [, hi] = def.zoom.range;
        for (const [key, p] of byKey) {
          const target = def.zoom.data[key] || (def.zoom.data[key] = { step: [], value: [] });
          p.step.forEach((s, i) => {
            if (s <= hi && s > (target.step[target.step.length - 1] ?? -Infinity)) {
              target.step.push(s);
              target.value.push(p.value[i]);
            }
          });
        }
        renderChart(def);
      } else if (newKey || !def.chart.ready) {
        renderChart(def);
      } else {
        const transform = def.transform || ((v) => v);
        const updates = [...byKey].map(([key, p]) => ({ index: def.traceKeys.indexOf(key), x: p.step, y: p.value.map(transform) }));
        def.chart.extend(updates);
      }
      maybeCompact(def);
    }
    pending.clear();
  }

  /** Keep live charts light: a series far longer than the chart is wide comes back downsampled (min/max). */
  async function maybeCompact(def) {
    if (!def.zoomFetch || def.zoom) return;
    const width = def.chart.width();
    const long = def.keys.filter((k) => store.has(k) && store.get(k).step.length > COMPACT_FACTOR * width);
    if (!long.length || Date.now() - def.lastCompact < 10000) return;
    def.lastCompact = Date.now();
    try {
      const fresh = await getMetrics(runId, { keys: long.join(","), max_points: width });
      if (destroyed) return;
      for (const [key, series] of Object.entries(fresh)) store.replace(key, series);
      if (!def.zoom) renderChart(def);
    } catch {
      /* try again at the next batch */
    }
  }

  async function zoom(def, range) {
    if (!range) {
      def.zoom = null;
      renderChart(def);
      return;
    }
    const [lo, hi] = range;
    const start = Math.max(0, Math.floor(lo));
    const end = Math.max(start, Math.ceil(hi));
    try {
      const data = await getMetrics(runId, { keys: def.keys.join(","), start, end, max_points: def.chart.width() });
      if (destroyed) return;
      def.zoom = { range: [lo, hi], data };
      renderChart(def);
    } catch (error) {
      toast(`Could not load detail: ${errorText(error)}`, "error");
    }
  }

  // ---- artifacts -------------------------------------------------------------------------------------------------
  let artifactsSignature = "";
  async function loadArtifacts() {
    let list;
    try {
      list = await listArtifacts(runId);
    } catch {
      return;
    }
    if (destroyed) return;
    const signature = JSON.stringify(list.map((a) => [a.name, a.size]));
    if (signature === artifactsSignature) return;
    artifactsSignature = signature;
    const byName = new Map(list.map((a) => [a.name, a]));
    const sections = [];

    const filters = list.filter((a) => a.name.includes("filters") && a.media_type.startsWith("image/"));
    if (filters.length) {
      sections.push(
        h(
          "section",
          { class: "card", dataset: { testid: "filters" } },
          h("h3", {}, "Filters (fig6)"),
          h(
            "div",
            { class: "figure-row" },
            filters.map((a) =>
              h("figure", { class: "filter-figure" }, image(a.url, a.name, "filters-img"), h("figcaption", {}, filterCaption(a.name))),
            ),
          ),
        ),
      );
    }

    const gallery = h("div", { class: "gallery", dataset: { testid: "gallery" } });
    const json = byName.get("misclassified.json");
    const grid = byName.get("misclassified_grid.png");
    if (json || grid) {
      sections.push(
        h(
          "section",
          { class: "card" },
          h("header", { class: "card-head" }, h("h3", {}, "Misclassified test images (fig7)"), grid ? h("div", { class: "tools" }, h("a", { class: "button small", href: grid.url, target: "_blank", rel: "noopener" }, "Grid PNG")) : null),
          gallery,
        ),
      );
      if (json) fillGallery(gallery, json, byName);
      else gallery.append(image(grid.url, "misclassified grid", "grid-img"));
    }

    const downloads = list.filter((a) => !/^misclassified_\d+\.png$/.test(a.name));
    if (list.length) {
      sections.push(
        h(
          "details",
          { class: "card files" },
          h("summary", {}, `All files (${list.length})`),
          h("ul", { class: "file-list" }, downloads.map((a) => h("li", {}, h("a", { href: a.url, download: a.name }, a.name), h("span", { class: "muted" }, ` ${bytes(a.size)} · ${a.media_type}`)))),
        ),
      );
    }
    artifactsEl.replaceChildren(...sections);
  }

  function filterCaption(name) {
    if (name.includes("first_layer")) return "First-layer kernels";
    if (name.includes("activation_max")) return "Deeper filters by activation maximization";
    return name;
  }

  function labelName(value) {
    if (typeof value === "number" && run && run.spec && run.spec.dataset === "dogs-vs-cats") return DOGS_VS_CATS[value] ?? String(value);
    return String(value);
  }

  async function fillGallery(gallery, json, byName) {
    let items;
    try {
      items = await artifactJson(json.url);
    } catch (error) {
      gallery.replaceChildren(h("p", { class: "muted" }, `Could not read misclassified.json: ${errorText(error)}`));
      return;
    }
    if (destroyed) return;
    if (!Array.isArray(items) || !items.length) {
      gallery.replaceChildren(h("p", { class: "muted" }, "No misclassified images."));
      return;
    }
    gallery.replaceChildren(
      ...items.map((item) => {
        const artifact = item.image ? byName.get(item.image) : null;
        const confidence = typeof item.confidence === "number" ? `${(item.confidence * 100).toFixed(1)} %` : "";
        return h(
          "figure",
          { class: "mis-item", dataset: { index: String(item.index ?? "") } },
          artifact ? image(artifact.url, `test image ${item.index}: true ${labelName(item.true)}, predicted ${labelName(item.pred)}`, "mis-img") : h("div", { class: "mis-missing" }, "no image"),
          h(
            "figcaption",
            {},
            h("span", { class: "mis-true" }, `true ${labelName(item.true)}`),
            h("span", { class: "mis-pred" }, `pred ${labelName(item.pred)}`),
            confidence ? h("span", { class: "mis-conf", title: "confidence of the prediction" }, confidence) : null,
          ),
        );
      }),
    );
  }

  function image(url, alt, cls) {
    const img = h("img", { alt, class: cls, loading: "lazy", decoding: "async" });
    artifactSrc(url)
      .then((src) => {
        img.src = src;
      })
      .catch(() => img.replaceWith(h("span", { class: "muted" }, `missing: ${alt}`)));
    return img;
  }

  // ---- interruptions (a worker lost mid-run) -------------------------------------------------------------------------
  function onInterrupted(data) {
    interruptions.push({ worker: data.worker, attempt: data.attempt, epoch: data.epoch, at: data.at, resumedOn: null, resumedAttempt: null });
    renderInterruptions();
  }

  function renderInterruptions() {
    if (!run) return;
    const last = interruptions[interruptions.length - 1];
    // the interrupted event comes before the status event that re-queues the run: resumed means a later attempt
    if (last && !last.resumedOn && run.status === "running" && run.worker && (run.attempts || 0) > (last.attempt || 0)) {
      last.resumedOn = run.worker;
      last.resumedAttempt = run.attempts;
    }
    if (!interruptions.length) {
      // opened after the fact: the stream starts at the run's current event, so only the attempt count tells
      const resumed = (run.attempts || 0) - 1;
      interruptBox.hidden = resumed < 1;
      if (resumed >= 1) {
        interruptBox.replaceChildren(
          h("strong", {}, `Resumed ${resumed === 1 ? "once" : `${resumed} times`}: `),
          `this is attempt ${run.attempts}. A worker stopped responding and the run continued on another worker from its last epoch checkpoint; its curves are complete.`,
        );
      }
      return;
    }
    interruptBox.hidden = false;
    interruptBox.replaceChildren(
      ...interruptions.map((item) => {
        const who = item.worker || "its worker";
        const after = item.epoch ? `after epoch ${item.epoch}` : "before its first epoch";
        let outcome;
        if (item.resumedOn) outcome = `resumed on ${item.resumedOn} (attempt ${item.resumedAttempt ?? "?"}).`;
        else if (run.status === "failed") outcome = "the run was not resumed (see the error below).";
        else if (TERMINAL.has(run.status)) outcome = `the run ended ${run.status}.`;
        else outcome = "re-queued to resume from its last checkpoint; waiting for another worker…";
        return h(
          "div",
          { class: "interruption", dataset: { attempt: String(item.attempt ?? "") } },
          h("strong", {}, "Interrupted: "),
          `worker ${who} stopped responding ${after}; `,
          outcome,
          item.at ? h("span", { class: "muted small-text" }, ` (${localTime(item.at)})`) : null,
        );
      }),
    );
  }

  // ---- warnings (e.g. a checkpoint over the server's size limit, not stored) ---------------------------------------
  function onWarning(data) {
    warnings.set(data.artifact || data.message, data.message);
    warningBox.hidden = false;
    warningBox.replaceChildren(...[...warnings.values()].map((message) => h("div", {}, h("strong", {}, "Warning: "), message)));
  }

  // ---- live stream -----------------------------------------------------------------------------------------------
  function onStatus(data) {
    const before = run ? run.epoch : null;
    const wasTerminal = run && TERMINAL.has(run.status);
    const { seq: _seq, ...fields } = data;
    run = { ...run, ...fields };
    renderRun();
    if (TERMINAL.has(run.status) && !wasTerminal) {
      loadArtifacts();
      timers.push(setTimeout(loadArtifacts, 3000));
      for (const def of Object.values(defs)) if (!def.traceKeys.length) renderChart(def);
    } else if (run.epoch !== before) {
      loadArtifacts();
    }
  }

  function onMetrics(data) {
    for (const [key, series] of Object.entries(metricsOf(data))) {
      const accepted = store.append(key, series.step, series.value);
      if (accepted.step.length) queuePoints(key, accepted);
    }
  }

  function onState(state) {
    liveEl.dataset.state = state;
    liveEl.textContent = { live: "live", reconnecting: "reconnecting…", ended: "finished", closed: "closed", connecting: "connecting", paused: "paused (tab hidden)" }[state] || state;
  }

  // ---- start -----------------------------------------------------------------------------------------------------
  async function start() {
    try {
      run = await (route.prefetched || getRun(runId)); // the router asked for it while this module loaded
    } catch (error) {
      if (destroyed) return;
      notFound.hidden = false;
      notFound.replaceChildren(
        error instanceof ApiError && error.status === 404 ? `Run #${runId} does not exist. ` : `Could not load run #${runId}: ${errorText(error)}. `,
        h("a", { href: "#/runs" }, "Back to the runs"),
      );
      head.hidden = true;
      root.querySelectorAll(".card, .chart-grid, .two-col").forEach((el) => {
        el.hidden = true;
      });
      return;
    }
    if (destroyed) return;
    // the event id the run had before the metrics read: the stream resumes there, and the store drops replays
    const after = Number.isInteger(run.event_seq) ? run.event_seq : 0;
    // the metrics read is the longest wait of the page: ask first, fill in the rest while it runs; as many
    // points as the widest shown chart has pixels (a hidden chart, fig3 until it has data, has no width)
    const shown = Object.values(defs).filter((d) => !d.chart.el.hidden);
    const metrics = getMetrics(runId, { max_points: Math.max(...shown.map((d) => d.chart.width())) });
    metrics.catch(() => {}); // handled below
    whenPlotly().catch(() => {}); // run plotly.js while the server reads (a chart reports a failure)
    renderRun();
    renderConfig();
    refreshSelect();
    loadArtifacts();
    try {
      const initial = await metrics;
      performance.mark("trainboard:run-metrics");
      if (destroyed) return;
      for (const [key, series] of Object.entries(initial)) store.replace(key, series);
    } catch (error) {
      toast(`Could not load the metrics: ${errorText(error)}`, "error");
    }
    await Promise.all(Object.values(defs).map((def) => renderChart(def)));
    performance.mark("trainboard:run-charts");
    if (destroyed) return;
    if (TERMINAL.has(run.status)) {
      onState("ended"); // finished before the metrics were read: they are complete, nothing to stream
      return;
    }
    stream = new LiveStream(runId, { after, onStatus, onMetrics, onInterrupted, onWarning, onState, onEnd: () => loadArtifacts() }).start();
  }

  const onVisibility = () => {
    if (!stream) return;
    if (document.visibilityState === "hidden") stream.suspend();
    else stream.resume();
  };
  document.addEventListener("visibilitychange", onVisibility);
  refreshSelect();
  const ticker = setInterval(() => {
    if (run && run.status === "running") renderProgress();
  }, 1000);
  start();

  return () => {
    destroyed = true;
    clearInterval(ticker);
    document.removeEventListener("visibilitychange", onVisibility);
    timers.forEach(clearTimeout);
    if (stream) stream.close();
    for (const def of Object.values(defs)) def.chart.destroy();
    document.title = "trainboard";
  };
}

/** The status in words, as the API's status_detail (status events do not carry it, so it is derived here). */
export function statusDetail(run) {
  if (run.status === "queued") {
    if (run.queue === "cuda") return "waiting for a GPU (cuda) worker";
    return run.queue && run.queue !== "any" ? `waiting for a ${run.queue} worker` : "waiting for a worker";
  }
  if (run.status === "running" && run.stop_requested) return `finishing early: ${run.stop_requested}`;
  if (run.status === "succeeded" && run.stop_requested) return `stopped early: ${run.stop_requested}`;
  if (run.status === "running") return run.external ? "tracked by your script" : `running on ${run.worker || "a worker"}`;
  return run.status;
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

function bytes(n) {
  if (!Number.isFinite(n)) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
