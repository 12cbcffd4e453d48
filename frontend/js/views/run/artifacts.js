// The run page's files: filters (fig6), the misclassified gallery (fig7) and every file for download.

import { artifactJson, errorText, listArtifacts } from "../../api.js";
import { artifactImage } from "../../artifact-image.js";
import { h } from "../../dom.js";
import { bytes, confidenceText, fileGroups, filterCaption, labelName } from "./text.js";

export class RunArtifacts {
  /** page: {runId, run, destroyed}, kept current by the page shell. */
  constructor(page) {
    this.page = page;
    this.el = h("div", { class: "artifacts" });
    this.signature = "";
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
    this.el.replaceChildren(...[filtersCard(list), this.#galleryCard(byName), filesCard(list)].filter(Boolean));
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
      h("header", { class: "card-head" }, h("h3", {}, "Misclassified test images (fig7)"), grid ? h("div", { class: "tools" }, h("a", { class: "button small", href: grid.url, target: "_blank", rel: "noopener" }, "Grid PNG")) : null),
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
        h("ul", { class: "file-list" }, group.files.map((a) => h("li", {}, h("a", { href: a.url, download: a.name }, a.name), h("span", { class: "muted file-size" }, ` ${bytes(a.size)}`)))),
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
