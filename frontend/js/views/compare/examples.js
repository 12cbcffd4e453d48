// "Which examples changed" (compare page, exactly two built-in runs): the test images run A gets wrong and run B
// right ("fixed by B") and the reverse ("broken by B"), as thumbnails with both predictions and confidences, from
// GET /runs/{a}/diff/{b}.

import { artifactSrc, errorText, get } from "../../api.js";
import { TERMINAL, h } from "../../dom.js";
import { changeCaption, changeSummary, isBuiltIn } from "./changed.js";

const LIMIT = 60;
const TABS = [
  ["fixed", "Fixed by B"],
  ["broken", "Broken by B"],
];

export class ExamplesCard {
  constructor() {
    this.tab = "fixed";
    this.key = "";
    this.diff = null;
    this.summaryEl = h("p", { class: "muted", dataset: { testid: "examples-summary" } });
    this.tabsEl = h("div", { class: "segmented", role: "group", "aria-label": "Which examples" });
    this.gridEl = h("div", { class: "gallery", dataset: { testid: "examples-grid" } });
    this.el = h(
      "section",
      { class: "card", hidden: true, dataset: { testid: "examples-changed" } },
      h("h3", {}, "Which examples changed"),
      this.summaryEl,
      this.tabsEl,
      this.gridEl,
    );
  }

  /** Show the card for two built-in runs (`[{id, run}]`, A first); hide it otherwise. Reads again when a status changes. */
  async update(pair) {
    const applies = pair.length === 2 && pair.every((p) => isBuiltIn(p.run));
    this.el.hidden = !applies;
    if (!applies) {
      this.key = "";
      return;
    }
    const key = pair.map((p) => `${p.id}:${p.run.status}`).join(",");
    if (key === this.key) return;
    this.key = key;
    const [a, b] = pair;
    if (!pair.every((p) => TERMINAL.has(p.run.status))) {
      this.#message(`Which test examples changed shows once both runs have finished (#${a.id} is ${a.run.status}, #${b.id} ${b.run.status}).`);
      return;
    }
    try {
      const diff = await get(`/runs/${a.id}/diff/${b.id}`, { limit: LIMIT });
      if (key !== this.key) return;
      this.diff = diff;
      this.summaryEl.textContent = changeSummary(diff);
      this.#render();
    } catch (error) {
      if (key === this.key) this.#message(errorText(error));
    }
  }

  #message(text) {
    this.diff = null;
    this.summaryEl.textContent = text;
    this.tabsEl.replaceChildren();
    this.gridEl.replaceChildren();
  }

  #render() {
    const diff = this.diff;
    this.tabsEl.replaceChildren(
      ...TABS.map(([tab, label]) =>
        h("button", { type: "button", class: "small", dataset: { tab }, "aria-pressed": String(this.tab === tab), onclick: () => this.#show(tab) }, `${label} (${diff[tab].count})`),
      ),
    );
    const set = diff[this.tab];
    const items = set.examples.map((e) => this.#item(e));
    const more = set.count > set.examples.length ? [h("p", { class: "muted" }, `The ${set.examples.length} most confidently wrong of ${set.count}.`)] : [];
    const none = set.count ? [] : [h("p", { class: "muted" }, this.tab === "fixed" ? "B fixes none of the examples A gets wrong." : "B breaks none of the examples A gets right.")];
    this.gridEl.replaceChildren(...none, ...items, ...more);
  }

  #show(tab) {
    this.tab = tab;
    if (this.diff) this.#render();
  }

  #item(example) {
    const caption = changeCaption(example);
    const picture = example.image ? h("img", { class: "mis-img", alt: `test example ${example.index}` }) : h("div", { class: "mis-missing" }, "no thumbnail");
    if (example.image) {
      artifactSrc(example.image)
        .then((src) => (picture.src = src))
        .catch(() => picture.replaceWith(h("div", { class: "mis-missing" }, "not loaded")));
    }
    return h(
      "figure",
      { class: "mis-item", dataset: { testid: "changed-example", index: String(example.index) }, title: `test example ${example.index}` },
      picture,
      h("figcaption", {}, h("span", {}, caption)),
    );
  }
}
