// "Export HTML": the report page as ONE self-contained file that opens offline — the stylesheet and plotly.js
// (the smallest bundle that draws the figures' traces) inlined, every figure's data as JSON redrawn by
// Plotly.newPlot, every image as a data: URL.

import { getToken } from "../api.js";
import { downloadText } from "../dom.js";
import { PLOTLY_BUNDLES, bundleFor, plotConfig } from "../charts.js";

async function fetchOk(url) {
  const token = getToken();
  const response = await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response;
}

function dataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

/** JSON that is safe inside <script>: no "</script>" and no HTML comment openers can appear in it. */
export function scriptJson(value) {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

const EXPORT_CSS = `
body { background: #fff; }
.report-export { max-width: 1280px; }
.report-export .export-head { border-bottom: 1px solid var(--line); margin-bottom: 16px; padding-bottom: 10px; }
.report-export .card { box-shadow: none; break-inside: avoid; }
@media print { .report-export .card { page-break-inside: avoid; } }
`;

/**
 * Build the file from the report element as drawn and download it.
 * @param {HTMLElement} reportEl   the report's content (figures with [data-chart] plot divs and <img data-src>)
 * @param {Map<string, {data, layout}>} charts   each chart's traces and layout, by chart id
 * @param {object} meta            {title, server}
 * @returns {Promise<{filename: string, bytes: number}>}
 */
export async function exportReport(reportEl, charts, { title = "trainboard report", server = location.origin } = {}) {
  const clone = reportEl.cloneNode(true);
  for (const sort of clone.querySelectorAll("th button.sort")) sort.replaceWith(sort.textContent.replace(/[▲▼]/g, "").trim());
  for (const el of clone.querySelectorAll(".no-export, .plot-empty, .modebar-container, button")) el.remove();

  // charts: an empty div per chart, redrawn from its data when the file opens
  const figures = [];
  for (const div of clone.querySelectorAll("[data-chart]")) {
    const id = div.dataset.chart;
    const spec = charts.get(id);
    const fresh = document.createElement("div");
    fresh.className = "plot";
    fresh.dataset.chart = id;
    div.replaceWith(fresh);
    if (spec) {
      const layout = { ...JSON.parse(JSON.stringify(spec.layout)), uirevision: undefined };
      figures.push({ id, data: spec.data, layout, config: { ...plotConfig(id), responsive: true } });
    }
  }

  // plotly.js: the bundle that draws every trace type the figures have (scatter and heatmap: the cartesian one)
  const bundle = PLOTLY_BUNDLES[bundleFor(figures.flatMap((f) => f.data))];
  const [plotlyJs, css] = await Promise.all([fetchOk(bundle.url).then((r) => r.text()), fetchOk("/static/css/app.css").then((r) => r.text())]);

  // images: inlined as data: URLs (the artifact URLs need the server, and maybe a token)
  const images = [...clone.querySelectorAll("img")];
  await Promise.all(
    images.map(async (img) => {
      const url = img.dataset.src || img.getAttribute("src");
      img.removeAttribute("loading");
      if (!url || url.startsWith("data:")) return;
      try {
        img.src = await dataUrl(await (await fetchOk(url)).blob());
      } catch {
        img.replaceWith(Object.assign(document.createElement("span"), { className: "muted", textContent: `(image unavailable: ${img.alt})` }));
      }
      img.removeAttribute("data-src");
    }),
  );

  // links into the dashboard point at the server that made the file
  for (const a of clone.querySelectorAll("a[href^='#/']")) a.href = `${server}/${a.getAttribute("href")}`;

  const when = new Date();
  const html = `<!doctype html>
<html lang="en" data-theme="light">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="trainboard">
<title>${escapeHtml(title)}</title>
<style>
${css}
${EXPORT_CSS}
</style>
</head>
<body>
<main class="view report-export">
<header class="export-head"><h1>${escapeHtml(title)}</h1><p class="muted">Exported from ${escapeHtml(server)} on ${escapeHtml(when.toLocaleString())}. Self-contained: opens without a network.</p></header>
${clone.innerHTML}
</main>
<script>${plotlyJs.replace(/<\/script/gi, "<\\/script")}</script>
<script>
(function () {
  var figures = ${scriptJson(figures)};
  figures.forEach(function (f) {
    var el = document.querySelector('[data-chart="' + f.id + '"]');
    if (el) Plotly.newPlot(el, f.data, f.layout, f.config);
  });
  window.TRAINBOARD_FIGURES = figures.length;
})();
</script>
</body>
</html>
`;
  const stamp = when.toISOString().slice(0, 16).replace(/[-:T]/g, "");
  const filename = `trainboard-report-${stamp}.html`;
  downloadText(filename, html, "text/html");
  return { filename, bytes: html.length };
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
