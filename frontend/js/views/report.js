// Report view (#/report): the course report's seven figures rebuilt from the newest preset sweep of each,
// beside the report's own statements and numbers, ours, and the difference. "Export HTML" saves it all as one
// self-contained file.

import { errorText } from "../api.js";
import { artifactImage } from "../artifact-image.js";
import { Chart, whenPlotly } from "../charts.js";
import { h, num, pct, toast, whileVisible } from "../dom.js";
import { loadPresets, presetLauncher } from "../presets.js";
import { exportReport } from "../report/export.js";
import { BUILDERS, ReportData } from "../report/figures.js";
import { FIG_IDS, PAPER, REPORT_TITLE } from "../report/paper.js";
import { MARGIN_RULE } from "../report/verdict.js";
import { ResultsTable } from "../sweeptable.js";

const POLL_MS = 4000; // while a figure's sweep is training
const IDLE_MS = 15000; // otherwise: a sweep launched elsewhere still shows up

export function mount(root) {
  let destroyed = false;
  const data = new ReportData();
  const figs = new Map(); // fig id -> {el, charts: Chart[], signature, model}
  const chartSpecs = new Map(); // chart id -> {data, layout}: what the export redraws
  let building = false;
  let stopPolling = null;
  let live = 0;
  let lastBuild = 0;

  const exportButton = h("button", { type: "button", class: "primary", dataset: { testid: "export-html" }, onclick: exportHtml, title: "Download the report as one HTML file that opens offline" }, "Export HTML");
  const stateEl = h("span", { class: "muted", dataset: { testid: "report-state" } }, "loading…");
  const reportEl = h("div", { class: "report", dataset: { testid: "report" } });
  root.append(
    h(
      "div",
      { class: "page-head" },
      h("div", { class: "page-title" }, h("h1", {}, "Report"), stateEl),
      h("div", { class: "actions" }, h("a", { class: "button", href: "#/sweeps" }, "Sweeps"), exportButton),
    ),
    reportEl,
  );
  reportEl.append(
    h(
      "section",
      { class: "card report-intro" },
      h("p", {}, h("strong", {}, REPORT_TITLE), ": every figure rebuilt from the newest sweep launched from its preset (", h("span", { class: "mono" }, "fig1"), " … ", h("span", { class: "mono" }, "fig7"), ")."),
      h(
        "p",
        { class: "muted small-text" },
        "Beside each figure: what the report says, the same number computed from our runs, and the difference (✓ agrees, ✗ differs, ? inconclusive). Runs launched at the quick scale train for fewer epochs on fewer examples, so their numbers are not expected to match the report's.",
      ),
      h("p", { class: "muted small-text", dataset: { testid: "margin-rule" } }, MARGIN_RULE),
    ),
  );
  for (const fig of FIG_IDS) {
    const el = h("section", { class: "card report-fig", id: fig, dataset: { fig } }, h("h2", {}, PAPER[fig].title), h("p", { class: "muted" }, "Loading…"));
    reportEl.append(el);
    figs.set(fig, { el, charts: [], signature: "", model: null });
  }

  // ---- one figure --------------------------------------------------------------------------------------------
  function sourceLine(fig, model) {
    const s = model.source;
    const parts = [
      h("a", { href: `#/sweeps/${s.sweep.id}`, dataset: { testid: "fig-sweep" } }, `sweep #${s.sweep.id} ${s.sweep.name}`),
      model.run ? [" · ", h("a", { href: `#/runs/${model.run}` }, `run #${model.run}`)] : null,
      ` · ${s.finished}/${s.total} finished`,
      s.done ? null : h("span", { class: "badge badge-running" }, "live"),
    ];
    const scale =
      s.scale === "quick"
        ? h("span", { class: "scale-note scale-quick" }, `quick scale: ${num(s.epochs)} epochs${s.limit_train ? `, ${num(s.limit_train)} training examples` : ""} — not the report's settings`)
        : s.scale === "full"
          ? h("span", { class: "scale-note scale-full" }, "full scale: as in the report")
          : null;
    return h("div", { class: "fig-source" }, parts, scale ? [" ", scale] : null, s.note ? h("div", { class: "muted small-text" }, s.note) : null);
  }

  function verdictMark(verdict) {
    if (verdict === true) return h("span", { class: "verdict ok", title: "agrees with the report" }, "✓ ");
    if (verdict === false) return h("span", { class: "verdict bad", title: "differs from the report" }, "✗ ");
    if (verdict === "inconclusive") return h("span", { class: "verdict unsure", title: "inconclusive at this scale" }, "? ");
    return null;
  }

  function claimsTable(claims) {
    return h(
      "table",
      { class: "claims", dataset: { testid: "claims" } },
      h("thead", {}, h("tr", {}, h("th", {}, ""), h("th", {}, "The report"), h("th", {}, "Ours"), h("th", {}, "Difference"))),
      h(
        "tbody",
        {},
        claims.map((c) =>
          h(
            "tr",
            { class: c.verdict === true ? "agree" : c.verdict === false ? "differ" : c.verdict === "inconclusive" ? "inconclusive" : "" },
            h("th", { scope: "row" }, c.label),
            h("td", { class: "report-num" }, c.report),
            h("td", { class: "ours-num" }, c.ours),
            h("td", { class: "diff" }, verdictMark(c.verdict), c.diff, c.note ? h("div", { class: "verdict-note small-text" }, c.note) : null),
          ),
        ),
      ),
    );
  }

  function renderFig(fig, model, presets) {
    const entry = figs.get(fig);
    for (const chart of entry.charts) chart.destroy();
    entry.charts = [];
    const paper = PAPER[fig];
    const side = h(
      "aside",
      { class: "fig-side" },
      h("p", { class: "fig-caption" }, h("strong", {}, `${paper.title.split(".")[0]}. `), paper.caption),
      h("h4", {}, "The report says"),
      h("ul", { class: "statements" }, paper.statements.map((s) => h("li", {}, s))),
    );
    let main;
    const wide = h("div", { class: "fig-wide" }); // full width under the figure: the grid table, the claims
    if (model.error) {
      main = h("div", { class: "banner banner-error" }, `Could not build ${fig}: ${model.error}`);
    } else if (model.missing) {
      const preset = presets.find((p) => p.id === fig);
      main = h(
        "div",
        { class: "fig-missing", dataset: { testid: "fig-missing" } },
        h("p", {}, `No sweep launched from preset ${fig} yet. Launch it to fill this figure:`),
        preset ? presetLauncher(preset).el : h("p", { class: "muted" }, "This server offers no presets (GET /api/presets)."),
      );
      main.classList.add("no-export");
    } else {
      main = h("div", { class: "fig-main" });
      if (model.table) {
        const base = (model.table.sweep.spec && model.table.sweep.spec.base) || {};
        const table = new ResultsTable({ keys: model.table.keys, epochs: base.epochs, compact: true });
        table.update(model.table.sweep.results || []);
        wide.append(h("div", { class: "fig-table" }, h("h4", {}, "Grid results"), table.el));
      }
      const chartBox = h("div", { class: model.charts && model.charts.length > 1 ? "fig-charts two" : "fig-charts" });
      for (const spec of model.charts || []) {
        const chart = new Chart({ id: spec.id, title: spec.title, filename: spec.id });
        chart.el.classList.add("fig-chart");
        entry.charts.push(chart);
        chartBox.append(chart.el);
        chartSpecs.set(spec.id, { data: spec.traces, layout: spec.layout });
        chart.empty.textContent = "Waiting for data…";
        chart.render(spec.traces, spec.layout, spec.traces.length ? {} : { hasData: false });
      }
      if (chartBox.children.length) main.append(chartBox);
      if (model.images) {
        main.append(
          model.images.length
            ? h("div", { class: "figure-row", dataset: { testid: "fig-images" } }, model.images.map((img) => h("figure", { class: "filter-figure" }, artifactImage(img.url, img.caption, "filters-img"), h("figcaption", {}, img.caption))))
            : h("p", { class: "muted" }, "No filter images yet: the run saves them when it finishes."),
        );
      }
      if (model.gallery) {
        wide.append(
          model.gallery.length
            ? h(
                "div",
                { class: "gallery", dataset: { testid: "fig-gallery" } },
                model.gallery.map((g) =>
                  h(
                    "figure",
                    { class: "mis-item" },
                    g.url ? artifactImage(g.url, `test image ${g.index}: true ${g.true}, predicted ${g.pred}`, "mis-img") : h("div", { class: "mis-missing" }, "no image"),
                    h("figcaption", {}, h("span", { class: "mis-true" }, `true ${g.true}`), h("span", { class: "mis-pred" }, `pred ${g.pred}`), typeof g.confidence === "number" ? h("span", { class: "mis-conf" }, pct(g.confidence, 1)) : null),
                  ),
                ),
              )
            : h("p", { class: "muted" }, "No misclassified images yet: the run saves them when it finishes."),
        );
      }
      wide.append(h("div", { class: "fig-claims" }, h("h4", {}, "The report vs our runs"), claimsTable(model.claims || [])));
    }
    const head = h(
      "header",
      { class: "fig-head" },
      h("h2", {}, paper.title),
      model.source ? sourceLine(fig, model) : null,
      model.source ? h("a", { class: "no-export small-text", href: `#/launch?preset=${fig}`, title: "the presets of the launch view" }, `launch ${fig} again…`) : null,
    );
    const body = main.children.length ? h("div", { class: "fig-body" }, main, side) : h("div", { class: "fig-body side-only" }, side);
    entry.el.replaceChildren(...[head, body, wide.children.length ? wide : null].filter(Boolean));
    entry.el.dataset.state = model.missing ? "missing" : model.error ? "error" : model.source && model.source.done ? "done" : "live";
  }

  // ---- all figures ---------------------------------------------------------------------------------------------
  async function build() {
    if (building) return;
    building = true;
    lastBuild = Date.now();
    try {
      await data.refresh();
      const presets = await loadPresets();
      const models = await Promise.all(
        FIG_IDS.map((fig) =>
          BUILDERS[fig](data).catch((error) => {
            console.warn(`report ${fig}`, error);
            return { error: errorText(error) };
          }),
        ),
      );
      if (destroyed) return;
      FIG_IDS.forEach((fig, i) => {
        const entry = figs.get(fig);
        const signature = JSON.stringify(models[i]);
        if (signature === entry.signature) return;
        entry.signature = signature;
        entry.model = models[i];
        renderFig(fig, models[i], presets);
      });
      live = models.filter((m) => m.source && !m.source.done).length;
      const present = models.filter((m) => m.source).length;
      stateEl.textContent = `${present}/7 figures from runs${live ? ` · ${live} still training (refreshing every ${POLL_MS / 1000} s)` : ""}`;
      root.dataset.ready = "true";
    } catch (error) {
      if (!destroyed) stateEl.textContent = `could not load the sweeps: ${errorText(error)}`;
    } finally {
      building = false;
    }
  }

  async function exportHtml() {
    exportButton.disabled = true;
    const label = exportButton.textContent;
    exportButton.textContent = "Exporting…";
    try {
      const { bytes } = await exportReport(reportEl, chartSpecs, { title: "trainboard: the report's figures, reproduced" });
      toast(`Report exported (${(bytes / 1024 / 1024).toFixed(1)} MB, opens offline)`);
    } catch (error) {
      toast(`Export failed: ${errorText(error)}`, "error");
    } finally {
      exportButton.disabled = false;
      exportButton.textContent = label;
    }
  }

  build();
  whenPlotly("cartesian").catch(() => {}); // run plotly.js while the reads are on their way
  stopPolling = whileVisible(() => (live || Date.now() - lastBuild >= IDLE_MS ? build() : undefined), POLL_MS);

  return () => {
    destroyed = true;
    if (stopPolling) stopPolling();
    for (const entry of figs.values()) for (const chart of entry.charts) chart.destroy();
  };
}

