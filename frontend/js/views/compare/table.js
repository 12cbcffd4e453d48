// The compare page's runs table: the keys that differ, best valid and test @ best, and a way to drop a run.

import { COLORS } from "../../charts.js";
import { h, pct, statusBadge } from "../../dom.js";
import { flatten, formatValue, legendNames, runConfig } from "../../spec.js";
import { hrefFor } from "../../router.js";

/** rows: [{id, run, label, color?}]; keys: the differing config keys; onRemove(id). */
export function runsTable(rows, keys, onRemove) {
  const names = legendNames(keys);
  const head = h("tr", {}, h("th", {}, ""), h("th", {}, "Run"), h("th", {}, "Status"), keys.map((k) => h("th", { class: "hl", title: k }, names.get(k))), h("th", { class: "num" }, "Best valid"), h("th", { class: "num" }, "Test @ best"), h("th", {}, ""));
  const body = rows.map(({ id, run, label, color }, i) => {
    const summary = run.summary || {};
    const config = flatten(runConfig(run));
    const remove = h("button", { type: "button", class: "small link-button", title: "Remove from the comparison", onclick: () => onRemove(id) }, "remove");
    return h(
      "tr",
      { dataset: { runId: String(id) } },
      h("td", {}, h("span", { class: "swatch", style: { background: color || COLORS[i % COLORS.length] }, title: label })),
      h("td", {}, h("a", { href: `#/runs/${id}` }, `#${id} ${run.name}`)),
      h("td", {}, statusBadge(run.status)),
      keys.map((k) => h("td", { class: "mono hl", dataset: { key: k } }, formatValue(config[k]))),
      h("td", { class: "num mono" }, pct(summary.best_valid_acc)),
      h("td", { class: "num mono" }, pct(summary.test_acc_at_best)),
      h("td", {}, remove),
    );
  });
  return [
    h("table", { class: "runs-table compact" }, h("thead", {}, head), h("tbody", {}, body)),
    h("p", { class: "muted small-text" }, h("a", { href: hrefFor("/runs") }, "Pick other runs"), " in the runs table."),
  ];
}
