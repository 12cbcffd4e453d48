// The run page's banners: interruptions (a worker lost mid-run), warnings, and the run's error.

import { h, localTime } from "../../dom.js";
import { interruptionText, markResumed, timesResumed } from "./text.js";

export class RunNotices {
  constructor() {
    // a worker that died mid-run is not a failure: the run went back to the queue and resumes elsewhere
    this.interruptBox = h("div", { class: "banner banner-info", hidden: true, role: "status", dataset: { testid: "interrupted" } });
    this.interruptions = []; // {worker, attempt, epoch, at, resumedOn, resumedAttempt}
    this.warningBox = h("div", { class: "banner banner-warn", hidden: true, role: "status", dataset: { testid: "run-warnings" } });
    this.warnings = new Map(); // the latest warning per subject (an artifact's name): one line each
    this.errorBox = h("pre", { class: "banner banner-error run-error", hidden: true, dataset: { testid: "run-error" } });
  }

  get elements() {
    return [this.interruptBox, this.warningBox, this.errorBox];
  }

  render(run) {
    this.errorBox.hidden = !run.error;
    this.errorBox.textContent = run.error || "";
    this.#renderInterruptions(run);
  }

  /** An `interrupted` event: the run's worker stopped responding and the run went back to the queue. */
  interrupted(data, run) {
    this.interruptions.push({ worker: data.worker, attempt: data.attempt, epoch: data.epoch, at: data.at, resumedOn: null, resumedAttempt: null });
    if (run) this.#renderInterruptions(run);
  }

  /** A `warning` event (e.g. a checkpoint over the server's size limit, not stored). */
  warning(data) {
    this.warnings.set(data.artifact || data.message, data.message);
    this.warningBox.hidden = false;
    this.warningBox.replaceChildren(...[...this.warnings.values()].map((message) => h("div", {}, h("strong", {}, "Warning: "), message)));
  }

  #renderInterruptions(run) {
    markResumed(this.interruptions, run);
    if (!this.interruptions.length) {
      // opened after the fact: the stream starts at the run's current event, so only the attempt count tells
      const resumed = timesResumed(run);
      this.interruptBox.hidden = resumed < 1;
      if (resumed >= 1) {
        this.interruptBox.replaceChildren(
          h("strong", {}, `Resumed ${resumed === 1 ? "once" : `${resumed} times`}: `),
          `this is attempt ${run.attempts}. A worker stopped responding and the run continued on another worker from its last epoch checkpoint; its curves are complete.`,
        );
      }
      return;
    }
    this.interruptBox.hidden = false;
    this.interruptBox.replaceChildren(
      ...this.interruptions.map((item) =>
        h(
          "div",
          { class: "interruption", dataset: { attempt: String(item.attempt ?? "") } },
          h("strong", {}, "Interrupted: "),
          interruptionText(item, run),
          item.at ? h("span", { class: "muted small-text" }, ` (${localTime(item.at)})`) : null,
        ),
      ),
    );
  }
}
