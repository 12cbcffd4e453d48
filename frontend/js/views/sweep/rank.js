// The sweep page's "Rank by" control: the sweep's metric or any numeric summary key of its runs, and which end is
// best. The results table, the parallel coordinates, the heatmap and the best-so-far curve follow it.

import { h } from "../../dom.js";
import { rankMetric, rankOptions } from "./ranking.js";

export class RankBy {
  /** query: the URL's (rank, goal); onChange(): the choice changed. */
  constructor(query, onChange) {
    this.wanted = query.rank || "score";
    this.wantedGoal = query.goal === "minimize" || query.goal === "maximize" ? query.goal : "";
    this.sweep = null;
    this.select = h("select", { name: "rank-by", "aria-label": "rank by", dataset: { testid: "rank-by" } });
    this.goalSelect = h(
      "select",
      { name: "rank-goal", "aria-label": "best is", dataset: { testid: "rank-goal" } },
      h("option", { value: "maximize" }, "highest best"),
      h("option", { value: "minimize" }, "lowest best"),
    );
    this.select.addEventListener("change", () => {
      this.wanted = this.select.value;
      this.wantedGoal = "";
      this.#syncGoal();
      onChange();
    });
    this.goalSelect.addEventListener("change", () => {
      this.wantedGoal = this.goalSelect.value;
      onChange();
    });
    this.el = h("div", { class: "rank-by" }, h("label", { class: "inline small-text" }, "Rank by ", this.select), this.goalSelect);
  }

  /** The options of this sweep (its runs may report new summary keys as they finish). */
  update(sweep) {
    this.sweep = sweep;
    const options = rankOptions(sweep);
    const signature = JSON.stringify(options);
    if (signature !== this.select.dataset.options) {
      this.select.dataset.options = signature;
      this.select.replaceChildren(...options.map((o) => h("option", { value: o.value }, o.label)));
    }
    this.select.value = options.some((o) => o.value === this.wanted) ? this.wanted : "score";
    this.#syncGoal();
  }

  #syncGoal() {
    this.goalSelect.value = this.wantedGoal || (this.select.value === "score" && this.sweep && this.sweep.goal) || "maximize";
  }

  /** The metric chosen (see ranking.js). */
  get metric() {
    return rankMetric(this.sweep, this.select.value || "score", this.goalSelect.value);
  }

  /** For the URL: the choice when it is not the default. */
  get query() {
    const rank = this.select.value && this.select.value !== "score" ? this.select.value : "";
    return { rank, goal: this.wantedGoal };
  }
}
