// A run's tags as chips, each with a remove button, and a field that adds one (Enter). Every change PATCHes the
// whole list; the chips show what the server kept.

import { errorText } from "../api.js";
import { h, toast } from "../dom.js";

const MAX_TAG = 64; // trainboard/spec.py: Tag

export class TagsEditor {
  /** onSave(tags): async, PATCHes the list and returns the tags the server kept. */
  constructor({ onSave }) {
    this.tags = [];
    this.onSave = onSave;
    this.list = h("span", { class: "tag-chips" });
    this.input = h("input", { type: "text", class: "tag-input narrow", placeholder: "+ tag", maxLength: MAX_TAG, "aria-label": "Add a tag", dataset: { testid: "tag-input" } });
    this.input.addEventListener("keydown", (e) => {
      if (e.key !== "Enter") return;
      e.preventDefault();
      this.#add();
    });
    this.el = h("div", { class: "tags-editor", dataset: { testid: "tags-editor" } }, this.list, this.input);
  }

  set(tags) {
    this.tags = [...(tags || [])];
    this.list.replaceChildren(
      ...this.tags.map((tag) =>
        h(
          "span",
          { class: "tag tag-chip", dataset: { tag } },
          tag,
          h("button", { type: "button", class: "tag-remove", title: `Remove the tag ${tag}`, "aria-label": `Remove ${tag}`, onclick: () => this.#save(this.tags.filter((t) => t !== tag)) }, "×"),
        ),
      ),
    );
  }

  #add() {
    const tag = this.input.value.trim();
    if (!tag) return;
    if (tag.includes(",")) {
      toast("A tag cannot contain a comma", "error");
      return;
    }
    this.input.value = "";
    if (!this.tags.includes(tag)) this.#save([...this.tags, tag]);
  }

  async #save(tags) {
    try {
      this.set(await this.onSave(tags));
    } catch (error) {
      toast(`Could not change the tags: ${errorText(error)}`, "error");
    }
  }
}
