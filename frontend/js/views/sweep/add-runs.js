// The sweep page's "Add runs": more runs for a random or tpe sweep's budget, or more values of a grid key
// (POST /sweeps/{id}/runs). The new runs start now, up to the sweep's `parallel`.

import { errorText, post } from "../../api.js";
import { h, toast } from "../../dom.js";

/** A value as typed: a number or JSON when it reads as one, else the text. */
export function parseValue(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export class AddRuns {
  /** onAdded(sweep): the sweep as the API returned it after adding. */
  constructor(sweepId, onAdded) {
    this.sweepId = sweepId;
    this.onAdded = onAdded;
    this.sweep = null;
    this.keySelect = h("select", { name: "add-key", "aria-label": "grid key" });
    this.input = h("input", { type: "text", name: "add-runs", "aria-label": "runs to add", dataset: { testid: "add-runs-input" } });
    this.button = h("button", { type: "button", dataset: { testid: "add-runs" }, onclick: () => this.#add() }, "Add runs");
    this.el = h("div", { class: "add-runs", hidden: true }, this.keySelect, this.input, this.button);
  }

  update(sweep) {
    this.sweep = sweep;
    const spec = sweep.spec || {};
    const grid = spec.method === "grid" || !spec.method;
    const listKeys = Object.entries(spec.grid || {}).filter(([, v]) => Array.isArray(v)).map(([k]) => k);
    this.el.hidden = grid && !listKeys.length;
    this.keySelect.hidden = !grid;
    if (grid && this.keySelect.options.length !== listKeys.length) this.keySelect.replaceChildren(...listKeys.map((k) => h("option", { value: k }, k)));
    this.input.placeholder = grid ? "more values, e.g. 0.3, 0.5" : "how many more runs";
    this.button.textContent = grid ? "Add values" : "Add runs";
  }

  #body() {
    const text = this.input.value.trim();
    if (!this.keySelect.hidden) return { grid: { [this.keySelect.value]: text.split(",").map((v) => parseValue(v.trim())).filter((v) => v !== "") } };
    return { n: Number(text) };
  }

  async #add() {
    if (!this.input.value.trim()) {
      this.input.focus();
      return;
    }
    this.button.disabled = true;
    try {
      const sweep = await post(`/sweeps/${this.sweepId}/runs`, this.#body());
      const added = (sweep.runs || []).length - ((this.sweep && this.sweep.runs) || []).length;
      toast(`Sweep #${this.sweepId}: ${added} more ${added === 1 ? "run" : "runs"} started`);
      this.input.value = "";
      this.onAdded(sweep);
    } catch (error) {
      toast(`Could not add runs: ${errorText(error)}`, "error");
    } finally {
      this.button.disabled = false;
    }
  }
}
