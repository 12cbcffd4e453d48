// Launch view (#/launch), the page shell: a form for any run spec or any command (?mode=command), with a grid
// mode (any field, or a command's config value, takes several values → POST /sweeps); ?from=12 clones a run (a
// command run opens in command mode), ?preset=fig5 opens that figure of the report's presets.

import { ApiError, errorText, getRun, post } from "../../api.js";
import { h, toast } from "../../dom.js";
import { navigate } from "../../router.js";
import { isCommandRun } from "../../command.js";
import { CapacityWarning } from "./capacity.js";
import { commandModelFromRun } from "./command-model.js";
import { modelFromSpec } from "./fields.js";
import { LaunchForm, initialForm } from "./form.js";
import { PresetsPanel } from "./presets-panel.js";

export function mount(root, route) {
  const page = { destroyed: false };
  let busy = false;
  const capacity = new CapacityWarning(); // "no online worker takes cuda runs", next to the Device field
  const form = new LaunchForm(initialForm(route), { onSubmit: launch, onChange: (changed) => capacity.update(changed) });
  const presets = new PresetsPanel(page, {
    onEdit: (model, gridMode) => {
      form.load(model, gridMode);
      form.el.scrollIntoView({ behavior: "smooth" });
    },
  });
  root.append(
    h("div", { class: "page-head" }, h("div", { class: "page-title" }, h("h1", {}, "Launch"), h("span", { class: "muted" }, "a run of the built-in loop or of your own command, or a grid of runs"))),
    presets.el,
    form.el,
  );

  async function launch() {
    if (busy) return;
    form.clearErrors();
    const { kind, body } = form.request();
    busy = true;
    const button = form.launchButton;
    button.disabled = true;
    const label = button.textContent;
    button.textContent = "Launching…";
    try {
      if (kind === "sweep") {
        const sweep = await post("/sweeps", body);
        const planned = Math.max(body.n || 0, sweep.runs.length);
        toast(`Sweep #${sweep.id} launched: ${planned} runs${planned > sweep.runs.length ? `, ${sweep.runs.length} started now` : ""}`);
        navigate("/runs", { sweep_id: sweep.id });
      } else {
        const run = await post("/runs", body);
        toast(`Run #${run.id} launched`);
        navigate(`/runs/${run.id}`);
      }
    } catch (error) {
      if (!page.destroyed) refused(error, kind);
    } finally {
      busy = false;
      button.disabled = false;
      if (button.textContent === "Launching…") button.textContent = label;
    }
  }

  function refused(error, kind) {
    if (error instanceof ApiError && error.status === 404 && kind === "sweep") {
      form.clearErrors();
      form.showBanner("This server has no sweeps API (POST /api/sweeps answered 404). ", "Give every field a single value to launch one run, or update the server.");
    } else if (error instanceof ApiError && (error.status === 422 || error.status === 400)) {
      form.showErrors(Array.isArray(error.detail) ? error.detail : [{ loc: [], msg: errorText(error) }]);
    } else {
      form.showBanner("Launch failed: ", errorText(error));
    }
  }

  form.render();
  capacity.start();
  presets.show(route.query.preset);
  if (route.query.from) {
    getRun(route.query.from)
      .then((run) => {
        if (page.destroyed) return;
        if (isCommandRun(run)) {
          form.loadCommand(commandModelFromRun(run));
        } else {
          const model = modelFromSpec(run.spec);
          model.name = [run.name ? `${run.name} copy` : ""];
          form.load(model, false);
        }
        toast(`Form filled from run #${run.id}`);
      })
      .catch((error) => toast(`Could not load run ${route.query.from}: ${errorText(error)}`, "error"));
  }

  return () => {
    page.destroyed = true;
    capacity.destroy();
  };
}
