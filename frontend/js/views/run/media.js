// The run page's media panel: the images a script logged with run.log_image, read from the run's `media.json`
// artifact ({"<key>": [{"step": 12, "file": "media-<key>-000000012.png", "caption": "..."}, ...]}, re-uploaded
// whole by the client after each image): per key a card with a slider over the steps that have an image, the
// image and its caption.

import { artifactJson, errorText } from "../../api.js";
import { artifactImage } from "../../artifact-image.js";
import { h } from "../../dom.js";

export const MEDIA_INDEX = "media.json";
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/; // the artifacts API's names

/** The entries of one key of media.json that can be shown, in step order (one per step: the last listed wins). */
export function mediaEntries(list) {
  if (!Array.isArray(list)) return [];
  const byStep = new Map();
  for (const e of list) {
    if (e && Number.isInteger(e.step) && typeof e.file === "string" && FILE_NAME.test(e.file) && !e.file.includes("..")) {
      byStep.set(e.step, { step: e.step, file: e.file, caption: typeof e.caption === "string" ? e.caption : "" });
    }
  }
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

export class RunMedia {
  /** page: {runId, destroyed}, kept current by the page shell. */
  constructor(page) {
    this.page = page;
    this.el = h("div", { class: "media", dataset: { testid: "media" } });
    this.size = null; // media.json's size when last read: a new image makes it longer
    this.panels = new Map(); // key -> MediaPanel
  }

  /** The run's artifacts as just listed (name -> artifact): reads media.json again when it changed. */
  async update(byName) {
    const index = byName.get(MEDIA_INDEX);
    if (!index || index.size === this.size) return;
    let media;
    try {
      media = await artifactJson(index.url);
    } catch (error) {
      this.el.replaceChildren(h("p", { class: "muted" }, `Could not read ${MEDIA_INDEX}: ${errorText(error)}`));
      return;
    }
    if (this.page.destroyed || !media || typeof media !== "object") return;
    this.size = index.size;
    if (!this.panels.size) this.el.replaceChildren(); // an earlier error message goes
    for (const key of Object.keys(media).sort()) {
      const entries = mediaEntries(media[key]);
      if (!entries.length) continue;
      if (!this.panels.has(key)) {
        this.panels.set(key, new MediaPanel(this.page.runId, key));
        this.el.replaceChildren(...[...this.panels.keys()].sort().map((k) => this.panels.get(k).el));
      }
      this.panels.get(key).update(entries);
    }
  }
}

class MediaPanel {
  constructor(runId, key) {
    this.runId = runId;
    this.key = key;
    this.entries = [];
    this.images = new Map(); // file -> its <img>, fetched once
    this.slider = h("input", { type: "range", min: "0", max: "0", step: "1", value: "0", "aria-label": `step of ${key}`, oninput: () => this.show(Number(this.slider.value)) });
    this.stepLabel = h("span", { class: "mono", dataset: { testid: "media-step" } });
    this.figure = h("figure");
    this.el = h(
      "section",
      { class: "card media-card", dataset: { mediaKey: key } },
      h("header", { class: "card-head" }, h("h3", {}, key), h("span", { class: "muted small-text" }, "images logged with log_image")),
      h("div", { class: "media-controls" }, this.slider, this.stepLabel),
      this.figure,
    );
  }

  /** New entries: a slider at the newest image follows the newest; one moved back stays at its step. */
  update(entries) {
    const at = Number(this.slider.value);
    const following = !this.entries.length || at === this.entries.length - 1;
    const current = this.entries[at];
    this.entries = entries;
    const kept = current ? entries.findIndex((e) => e.step === current.step) : -1;
    const index = following || kept < 0 ? entries.length - 1 : kept;
    this.slider.max = String(entries.length - 1);
    this.slider.disabled = entries.length < 2;
    this.slider.value = String(index);
    this.show(index);
  }

  show(index) {
    const entry = this.entries[index];
    if (!entry) return;
    this.stepLabel.textContent = `step ${entry.step} · ${index + 1} of ${this.entries.length}`;
    if (!this.images.has(entry.file)) {
      const url = `/api/runs/${this.runId}/artifacts/${encodeURIComponent(entry.file)}`;
      this.images.set(entry.file, artifactImage(url, `${this.key} at step ${entry.step}`, "media-img"));
    }
    this.figure.replaceChildren(this.images.get(entry.file), h("figcaption", { dataset: { testid: "media-caption" } }, entry.caption));
  }
}
