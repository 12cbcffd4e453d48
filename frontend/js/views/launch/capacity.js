// The launch form's warning next to the Device field: shown as soon as the chosen device (any of them, in grid
// mode) is one no online worker takes, e.g. cuda with only CPU workers, or no worker at all; in command mode, when
// no online worker runs commands (none started with --code) for that device, or none of them has the GPUs the run
// asks for. Launching stays
// possible: the run waits in its queue until such a worker starts. Workers are read again every 5 s.

import { h, whileVisible } from "../../dom.js";
import { capacityWarning, commandCapacityWarning, getWorkers, gpuCapacityWarning } from "../../workers.js";

const POLL_MS = 5000;

export class CapacityWarning {
  constructor() {
    this.el = h("p", { class: "capacity-warning", role: "status", hidden: true, dataset: { testid: "capacity-warning" } });
    this.overview = null; // GET /workers, once read
    this.form = null;
    this.stop = null;
  }

  start() {
    this.#load();
    this.stop = whileVisible(() => this.#load(), POLL_MS);
  }

  /** After each edit of the form (its fields may have been drawn anew). */
  update(form) {
    this.form = form;
    this.#render();
  }

  async #load() {
    try {
      this.overview = await getWorkers();
    } catch {
      this.overview = null; // an API without /workers, or away: no warning rather than a wrong one
    }
    this.#render();
  }

  #render() {
    const field = this.form && this.form.widgets.get("device");
    if (!field) return;
    if (!field.wrap.contains(this.el)) field.wrap.append(this.el);
    const command = this.form.mode === "command";
    const warn = command ? commandCapacityWarning : capacityWarning;
    const text = this.overview ? warn(this.overview, this.form.devices) || (command ? gpuCapacityWarning(this.overview, this.form.gpus) : "") : "";
    this.el.hidden = !text;
    this.el.textContent = text;
  }

  destroy() {
    if (this.stop) this.stop();
  }
}
