// The notes card of a run or a sweep: the notes shown as Markdown (markdown.js: escaped first, so a note can never
// inject markup), "Edit" opens a text area beside a live preview; Save PATCHes them.

import { errorText } from "../api.js";
import { h, toast } from "../dom.js";
import { renderMarkdown } from "../markdown.js";

const MAX_NOTES_BYTES = 65536; // backend/schemas.py: MAX_NOTES_BYTES

export class NotesPanel {
  /** onSave(notes): async, PATCHes the notes. */
  constructor({ onSave }) {
    this.notes = "";
    this.onSave = onSave;
    this.view = h("div", { class: "notes-view markdown", dataset: { testid: "notes-view" } });
    this.editButton = h("button", { type: "button", dataset: { testid: "edit-notes" }, onclick: () => this.#open() }, "Edit");
    this.textarea = h("textarea", { class: "notes-input", rows: 8, "aria-label": "Notes (Markdown)", placeholder: "Notes in Markdown: **bold**, *italic*, `code`, - lists, # headings, [links](https://…)", dataset: { testid: "notes-input" } });
    this.preview = h("div", { class: "notes-preview markdown", "aria-label": "Preview", dataset: { testid: "notes-preview" } });
    this.sizeEl = h("span", { class: "muted" });
    this.textarea.addEventListener("input", () => this.#showPreview());
    this.saveButton = h("button", { type: "button", class: "primary", dataset: { testid: "save-notes" }, onclick: () => this.#save() }, "Save");
    this.editor = h(
      "div",
      { class: "notes-editor", hidden: true },
      h("div", { class: "notes-panes" }, this.textarea, this.preview),
      h("div", { class: "actions" }, this.sizeEl, h("button", { type: "button", onclick: () => this.#close() }, "Cancel"), this.saveButton),
    );
    this.el = h("section", { class: "card notes-card", dataset: { testid: "notes" } }, h("div", { class: "card-head" }, h("h2", {}, "Notes"), this.editButton), this.view, this.editor);
  }

  /** The notes as the server has them; an open editor keeps what is being typed. */
  set(notes) {
    if (this.shown && (notes || "") === this.notes) return; // a status event every few seconds: nothing to redraw
    this.shown = true;
    this.notes = notes || "";
    this.view.innerHTML = renderMarkdown(this.notes); // safe: renderMarkdown escapes before it formats
    if (!this.notes) this.view.replaceChildren(h("p", { class: "muted" }, "No notes yet."));
  }

  #open() {
    this.textarea.value = this.notes;
    this.#showPreview();
    this.editor.hidden = false;
    this.view.hidden = true;
    this.editButton.hidden = true;
    this.textarea.focus();
  }

  #close() {
    this.editor.hidden = true;
    this.view.hidden = false;
    this.editButton.hidden = false;
  }

  #showPreview() {
    this.preview.innerHTML = renderMarkdown(this.textarea.value);
    const bytes = new TextEncoder().encode(this.textarea.value).length;
    this.sizeEl.textContent = bytes > MAX_NOTES_BYTES ? `too long: ${bytes.toLocaleString("en-US")} of ${MAX_NOTES_BYTES.toLocaleString("en-US")} bytes` : "";
    this.saveButton.disabled = bytes > MAX_NOTES_BYTES;
  }

  async #save() {
    this.saveButton.disabled = true;
    try {
      await this.onSave(this.textarea.value);
      this.set(this.textarea.value);
      this.#close();
    } catch (error) {
      toast(`Could not save the notes: ${errorText(error)}`, "error");
    } finally {
      this.saveButton.disabled = false;
    }
  }
}
