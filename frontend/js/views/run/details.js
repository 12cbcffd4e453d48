// The run page's two cards under the charts: the summary (filled in as epochs end) and the config (the keys that
// applied to the run's architecture: an mlp's spec carries a cnn's norm at its default, unused).

import { h, toast } from "../../dom.js";
import { formatValue, usedConfig } from "../../spec.js";
import { summaryRows } from "./text.js";

export class RunDetails {
  /** spec(): the run's spec when "Copy JSON" is clicked. */
  constructor(spec) {
    this.summaryBody = h("div", { class: "summary-body", dataset: { testid: "summary" } }, h("p", { class: "muted" }, "Filled in when the run finishes an epoch."));
    this.configBody = h("div", { class: "config-body" });
    const copy = h("button", { type: "button", class: "small", onclick: () => copySpec(spec()) }, "Copy JSON");
    this.el = h(
      "div",
      { class: "two-col" },
      h("section", { class: "card" }, h("h3", {}, "Summary"), this.summaryBody),
      h("section", { class: "card" }, h("header", { class: "card-head" }, h("h3", {}, "Config"), h("div", { class: "tools" }, copy)), this.configBody),
    );
  }

  renderSummary(summary) {
    if (!summary || !Object.keys(summary).length) return;
    const rows = summaryRows(summary).map(([label, value, key]) => h("tr", { dataset: { key } }, h("th", {}, label), h("td", { class: "mono" }, value)));
    this.summaryBody.replaceChildren(h("table", { class: "kv" }, h("tbody", {}, rows)));
  }

  renderConfig(spec) {
    const rows = Object.entries(usedConfig(spec)).map(([k, v]) => h("tr", { dataset: { key: k } }, h("th", { class: "mono" }, k), h("td", { class: "mono" }, formatValue(v))));
    this.configBody.replaceChildren(h("table", { class: "kv" }, h("tbody", {}, rows)));
  }
}

async function copySpec(spec) {
  try {
    await navigator.clipboard.writeText(JSON.stringify(spec, null, 2));
    toast("Spec copied as JSON");
  } catch {
    toast("The clipboard is not available here", "error");
  }
}
