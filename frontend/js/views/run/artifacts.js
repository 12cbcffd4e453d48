// The run page's files: a script's logged images (media.js), filters (fig6), the misclassified gallery (fig7) and
// every file for download.

import { artifactBlob, artifactJson, errorText, getToken, listArtifacts } from "../../api.js";
import { artifactImage } from "../../artifact-image.js";
import { TERMINAL, downloadBlob, h, toast } from "../../dom.js";
import { RunMedia } from "./media.js";
import { bytes, confidenceText, fileGroups, filterCaption, labelName } from "./text.js";

const LIVE_POLL_MS = 4000; // a live run's files (a script's images and saved files) have no event of their own

export class RunArtifacts {
  /** page: {runId, run, destroyed}, kept current by the page shell. */
  constructor(page) {
    this.page = page;
    this.media = new RunMedia(page);
    this.cards = h("div");
    this.el = h("div", { class: "artifacts" }, this.media.el, this.cards);
    this.signature = "";
    this.poll = setInterval(() => {
      if (this.page.destroyed) clearInterval(this.poll);
      else if (this.page.run && !TERMINAL.has(this.page.run.status) && document.visibilityState === "visible") this.load();
    }, LIVE_POLL_MS);
  }

  /** Reads the list again; redraws only when a file came, went or changed size. */
  async load() {
    let list;
    try {
      list = await listArtifacts(this.page.runId);
    } catch {
      return;
    }
    if (this.page.destroyed) return;
    const signature = JSON.stringify(list.map((a) => [a.name, a.size]));
    if (signature === this.signature) return;
    this.signature = signature;
    const byName = new Map(list.map((a) => [a.name, a]));
    this.media.update(byName);
    this.cards.replaceChildren(...[filtersCard(list), this.#galleryCard(byName), filesCard(list)].filter(Boolean));
  }

  #galleryCard(byName) {
    const json = byName.get("misclassified.json");
    const grid = byName.get("misclassified_grid.png");
    if (!json && !grid) return null;
    const gallery = h("div", { class: "gallery", dataset: { testid: "gallery" } });
    if (json) this.#fillGallery(gallery, json, byName);
    else gallery.append(artifactImage(grid.url, "misclassified grid", "grid-img"));
    return h(
      "section",
      { class: "card" },
      h("header", { class: "card-head" }, h("h3", {}, "Misclassified test images (fig7)"), grid ? h("div", { class: "tools" }, downloadLink(grid, "Grid PNG", { class: "button small" })) : null),
      gallery,
    );
  }

  async #fillGallery(gallery, json, byName) {
    let items;
    try {
      items = await artifactJson(json.url);
    } catch (error) {
      gallery.replaceChildren(h("p", { class: "muted" }, `Could not read misclassified.json: ${errorText(error)}`));
      return;
    }
    if (this.page.destroyed) return;
    if (!Array.isArray(items) || !items.length) {
      gallery.replaceChildren(h("p", { class: "muted" }, "No misclassified images."));
      return;
    }
    const spec = this.page.run && this.page.run.spec;
    gallery.replaceChildren(...items.map((item) => misclassified(item, byName, spec)));
  }
}

function filtersCard(list) {
  const filters = list.filter((a) => a.name.includes("filters") && a.media_type.startsWith("image/"));
  if (!filters.length) return null;
  return h(
    "section",
    { class: "card", dataset: { testid: "filters" } },
    h("h3", {}, "Filters (fig6)"),
    h(
      "div",
      { class: "figure-row" },
      filters.map((a) => h("figure", { class: "filter-figure" }, artifactImage(a.url, a.name, "filters-img"), h("figcaption", {}, filterCaption(a.name)))),
    ),
  );
}

/** Every file, grouped (checkpoints, images by kind, the rest), each with its size; collapsed until opened. */
function filesCard(list) {
  if (!list.length) return null;
  const total = list.reduce((n, a) => n + (Number(a.size) || 0), 0);
  return h(
    "details",
    { class: "card files", dataset: { testid: "files" } },
    h("summary", {}, `All files (${list.length} · ${bytes(total)})`),
    fileGroups(list).map((group) =>
      h(
        "section",
        { class: "file-group", dataset: { group: group.label } },
        h("h4", {}, group.label, h("span", { class: "muted" }, ` ${group.files.length} · ${bytes(group.size)}`)),
        h("ul", { class: "file-list" }, group.files.map((a) => h("li", {}, downloadLink(a, a.name), h("span", { class: "muted file-size" }, ` ${bytes(a.size)}`)))),
      ),
    ),
  );
}

function misclassified(item, byName, spec) {
  const artifact = item.image ? byName.get(item.image) : null;
  const confidence = confidenceText(item.confidence);
  const label = (value) => labelName(value, spec);
  return h(
    "figure",
    { class: "mis-item", dataset: { index: String(item.index ?? "") } },
    artifact ? artifactImage(artifact.url, `test image ${item.index}: true ${label(item.true)}, predicted ${label(item.pred)}`, "mis-img") : h("div", { class: "mis-missing" }, "no image"),
    h(
      "figcaption",
      {},
      h("span", { class: "mis-true" }, `true ${label(item.true)}`),
      h("span", { class: "mis-pred" }, `pred ${label(item.pred)}`),
      confidence ? h("span", { class: "mis-conf", title: "confidence of the prediction" }, confidence) : null,
    ),
  );
}

/** A link that downloads an artifact; with a token set, fetched with it (a plain link sends none) and saved. */
function downloadLink(artifact, text, attrs = {}) {
  const save = (event) => {
    if (!getToken()) return; // no token: the plain link works, and streams a large file to disk
    event.preventDefault();
    artifactBlob(artifact.url)
      .then((blob) => downloadBlob(artifact.name, blob))
      .catch((error) => toast(`Could not download ${artifact.name}: ${errorText(error)}`, "error"));
  };
  return h("a", { ...attrs, href: artifact.url, download: artifact.name, onclick: save }, text);
}
