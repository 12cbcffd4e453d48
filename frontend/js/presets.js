// The report's figures as presets: pick a scale (full: as in the report; quick: fewer epochs and examples),
// see what it will launch, then launch it as a sweep and land on the sweep view.

import { errorText, get, post } from "./api.js";
import { h, num, toast } from "./dom.js";
import { navigate } from "./router.js";
import { archLabel, formatValue } from "./spec.js";

export const SCALES = {
  quick: "Quick: fewer epochs and training examples",
  full: "Full: as in the report",
};

let presetsPromise = null;

/** GET /presets, once per page load (they are fixed by the server). Resolves to [] when the route is missing. */
export function loadPresets() {
  if (!presetsPromise) {
    presetsPromise = get("/presets").catch(() => {
      presetsPromise = null;
      return [];
    });
  }
  return presetsPromise;
}

/** What a preset launches at a scale: {n, epochs, limit_train, text}. */
export function presetPlan(preset, scale) {
  const base = (preset.scales && preset.scales[scale]) || {};
  const grid = preset.grid || {};
  const n = preset.n_runs || Object.values(grid).reduce((p, v) => p * (Array.isArray(v) ? v.length : 1), 1);
  const epochs = Array.isArray(grid.epochs) ? grid.epochs.join("/") : base.epochs;
  const limit = base.limit_train;
  const parts = [
    `${n} ${n === 1 ? "run" : "runs"}`,
    `${epochs ?? "?"} epochs`,
    limit ? `limit_train ${num(limit)} examples` : "all training examples",
    [base.dataset, archLabel(base)].filter(Boolean).join(" "),
  ];
  const varied = Object.entries(grid)
    .filter(([, v]) => Array.isArray(v) && v.length > 1)
    .map(([k, v]) => `${k} ∈ {${v.map(formatValue).join(", ")}}`);
  return { n, epochs, limit_train: limit ?? null, text: parts.join(" · "), grid: varied.join(" × ") };
}

/** POST /presets/{id}?scale=…, then the sweep view. */
export async function launchPreset(preset, scale) {
  const sweep = await post(`/presets/${encodeURIComponent(preset.id)}?scale=${encodeURIComponent(scale)}`);
  toast(`${preset.id} (${scale}): ${sweep.runs.length} ${sweep.runs.length === 1 ? "run" : "runs"} launched`);
  navigate(`/sweeps/${sweep.id}`);
  return sweep;
}

/**
 * A scale switch, the plan of what will run, and a Launch button.
 * @param {object} preset   an entry of GET /presets
 * @param {object} [o]
 * @param {string} [o.scale]        the initial scale (quick)
 * @param {Function} [o.onScale]    (scale) => void, when the user switches
 * @param {Node[]} [o.extra]        more buttons beside Launch
 */
export function presetLauncher(preset, { scale = "quick", onScale, extra = [] } = {}) {
  let current = scale in SCALES ? scale : "quick";
  const plan = h("div", { class: "preset-plan", dataset: { testid: "preset-plan" } });
  const launchButton = h("button", { type: "button", class: "small primary", dataset: { testid: "preset-launch" } });
  const switcher = h(
    "div",
    { class: "segmented", role: "group", "aria-label": "scale" },
    Object.entries(SCALES).map(([value, title]) =>
      h(
        "button",
        {
          type: "button",
          class: "small",
          title,
          dataset: { scale: value },
          "aria-pressed": String(value === current),
          onclick: () => {
            current = value;
            refresh();
            if (onScale) onScale(value);
          },
        },
        value === "full" ? "Full (report)" : "Quick",
      ),
    ),
  );
  function refresh() {
    for (const b of switcher.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.scale === current));
    const p = presetPlan(preset, current);
    plan.replaceChildren(
      ...[h("span", { class: "plan-label" }, "will launch: "), h("strong", {}, p.text), p.grid ? h("div", { class: "muted small-text mono" }, p.grid) : null].filter(Boolean),
    );
    launchButton.textContent = `Launch ${p.n} ${p.n === 1 ? "run" : "runs"} (${current})`;
  }
  launchButton.addEventListener("click", async () => {
    launchButton.disabled = true;
    try {
      await launchPreset(preset, current);
    } catch (error) {
      toast(`Could not launch ${preset.id}: ${errorText(error)}`, "error");
      launchButton.disabled = false;
    }
  });
  refresh();
  const el = h("div", { class: "preset-launcher", dataset: { launcher: preset.id } }, h("div", { class: "actions" }, switcher, launchButton, ...extra), plan);
  return { el, scale: () => current };
}
