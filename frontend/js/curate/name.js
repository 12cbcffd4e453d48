// A page title's name that edits in place: a click turns it into an input; Enter (or leaving the field) saves,
// Escape puts it back. Used by the run and sweep pages (PATCH name).

import { errorText } from "../api.js";
import { h, toast } from "../dom.js";

const MAX_NAME = 200; // backend/schemas.py: RunPatch.name

export class EditableName {
  /** onSave(name): async, PATCHes the name; what it throws is shown and the old name kept. */
  constructor({ what, onSave }) {
    this.name = "";
    this.editing = false;
    this.onSave = onSave;
    this.el = h("button", { type: "button", class: "editable-name", title: `Rename this ${what}`, dataset: { testid: "edit-name" }, onclick: () => this.#edit() });
  }

  /** The name as the server has it now; an open input is left alone. */
  set(name) {
    this.name = name;
    if (!this.editing) this.el.textContent = name;
  }

  #edit() {
    this.editing = true;
    const input = h("input", { type: "text", class: "name-input", value: this.name, maxLength: MAX_NAME, "aria-label": "Name", dataset: { testid: "name-input" } });
    let finished = false;
    const finish = async (save) => {
      if (finished) return;
      finished = true;
      const name = input.value.trim();
      if (save && name && name !== this.name) {
        input.disabled = true;
        try {
          await this.onSave(name);
          this.name = name;
        } catch (error) {
          toast(`Could not rename: ${errorText(error)}`, "error");
        }
      } else if (save && !name) {
        toast("A name cannot be blank: the old one is kept", "error");
      }
      this.editing = false;
      input.replaceWith(this.el);
      this.el.textContent = this.name;
    };
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") finish(true);
      else if (e.key === "Escape") finish(false);
    });
    input.addEventListener("blur", () => finish(true));
    this.el.replaceWith(input);
    input.focus();
    input.select();
  }
}
