// The run page's two cards under the charts: the summary (filled in as epochs end) and the config as a tree
// (a built-in run's: only the keys that applied to its architecture; an mlp's spec carries a cnn's norm at its
// default, unused). Configs come from users' scripts: every key and value is set as text, never as markup.

import { h, toast } from "../../dom.js";
import { runConfig, shownConfig } from "../../spec.js";
import { configNodes } from "./config-tree.js";
import { summaryRows } from "./text.js";

export class RunDetails {
  /** run(): the run when "Copy JSON" is clicked. */
  constructor(run) {
    this.summaryBody = h("div", { class: "summary-body", dataset: { testid: "summary" } }, h("p", { class: "muted" }, "Filled in when the run finishes an epoch."));
    this.configBody = h("div", { class: "config-body", dataset: { testid: "config" } });
    const copy = h("button", { type: "button", class: "small", onclick: () => copyConfig(runConfig(run())) }, "Copy JSON");
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

  renderConfig(run) {
    const nodes = configNodes(shownConfig(run));
    this.configBody.replaceChildren(nodes.length ? treeList(nodes) : h("p", { class: "muted" }, "This run has no config."));
  }
}

function treeList(nodes) {
  return h("ul", { class: "config-tree" }, nodes.map(treeItem));
}

function treeItem(node) {
  const key = h("span", { class: "tree-key mono" }, node.key);
  if (!node.children) return h("li", { dataset: { key: node.path } }, key, h("span", { class: "tree-value mono" }, node.text));
  return h(
    "li",
    { dataset: { key: node.path }, class: "tree-branch" },
    h("details", { open: node.open }, h("summary", {}, key, h("span", { class: "tree-size muted" }, node.size)), treeList(node.children)),
  );
}

async function copyConfig(config) {
  try {
    await navigator.clipboard.writeText(JSON.stringify(config, null, 2));
    toast("Config copied as JSON");
  } catch {
    toast("The clipboard is not available here", "error");
  }
}
