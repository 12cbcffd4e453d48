// The launch view's panel of the report's figures (GET /api/presets): each with its scale switch, what it will
// launch, a Launch button, and "Edit in form", which loads the chosen scale into the form.

import { h } from "../../dom.js";
import { loadPresets, presetLauncher } from "../../presets.js";
import { modelFromSpec } from "./fields.js";

export class PresetsPanel {
  /** page: {destroyed}; onEdit(model, gridMode): load a preset's chosen scale into the form. */
  constructor(page, { onEdit }) {
    this.page = page;
    this.onEdit = onEdit;
    this.el = h("section", { class: "presets", hidden: true });
  }

  /** `wanted` (the URL's ?preset=) opens the panel scrolled to that figure. */
  async show(wanted) {
    const presets = await loadPresets();
    if (this.page.destroyed || !Array.isArray(presets) || !presets.length) return; // no presets route: the panel stays hidden
    const open = wanted && presets.some((p) => p.id === wanted);
    this.el.hidden = false;
    this.el.replaceChildren(
      h(
        "details",
        { class: "card presets-card", open },
        h("summary", {}, h("strong", {}, "The report's figures"), h("span", { class: "muted" }, " — pick a scale, see what it runs, launch it as a sweep, or load it into the form")),
        h("div", { class: "preset-grid" }, presets.map((preset) => this.#preset(preset))),
      ),
    );
    if (open) document.getElementById(`preset-${wanted}`)?.scrollIntoView({ block: "center" });
  }

  #preset(preset) {
    let launcher = null;
    const edit = () => {
      const grid = preset.grid || {};
      const scale = launcher.scale();
      const model = modelFromSpec(preset.scales[scale] || preset.scales.full, grid);
      if (!model.name[0]) model.name = [`${preset.id} (${scale})`];
      this.onEdit(
        model,
        Object.values(grid).some((v) => Array.isArray(v) && v.length > 1),
      );
    };
    const extra = preset.scales ? [h("button", { type: "button", class: "small link-button", onclick: edit }, "Edit in form")] : [];
    launcher = presetLauncher(preset, { extra });
    return h(
      "div",
      { class: "preset", dataset: { preset: preset.id }, id: `preset-${preset.id}` },
      h("div", { class: "preset-title" }, h("span", { class: "preset-id" }, preset.id), " ", preset.title),
      preset.description ? h("p", { class: "muted small-text" }, preset.description) : null,
      launcher.el,
    );
  }
}
