// The launch form's command mode, drawn: the command line with the argument list it becomes (as chips, so the
// user sees exactly what runs), the config editor (key/value rows, or the whole config as JSON), device, GPUs,
// name and tags. The meaning and the problems come from command-model.js; the form (form.js) shows them.

import { h } from "../../dom.js";
import { placeholderKeys } from "../../command.js";
import { getDotted } from "../../spec.js";
import { commandState, firstValues, parseConfigJson, rowsFromConfig } from "./command-model.js";
import { FIELDS } from "./fields.js";
import { widget } from "./widgets.js";

const field = (key, changes) => ({ ...FIELDS.find((f) => f.key === key), grid: false, ...changes });
const SIMPLE_FIELDS = {
  name: field("name", { hint: "shown in the runs table; empty: the API names it" }),
  tags: field("tags", {}),
  device: field("device", { hint: "the queue it waits in: a worker with --code for this device takes it" }),
  gpus: { key: "gpus", label: "GPUs", kind: "number", section: "exec", int: true, range: { ge: 0, le: 64 }, noun: "the number of GPUs", hint: "the GPUs it holds (CUDA_VISIBLE_DEVICES); 0: none" },
};
const COMMAND_HINT = "Split like a shell splits words, then run as this list of arguments: no shell is involved (no pipes, variables or ~). {key} takes the config's value.";

export class CommandFields {
  constructor(model) {
    this.model = model;
    this.argvEl = null;
  }

  /** The mode's sections. hooks.register(key, {wrap, error, field}, problems): a field was drawn; hooks.set(key, problems?): edited. */
  sections(gridMode, hooks) {
    this.gridMode = gridMode;
    this.hooks = hooks;
    const simple = (key) => {
      const made = widget(SIMPLE_FIELDS[key], this.model[key], false, (k, values, problems) => {
        this.model[k] = values;
        hooks.set(k, problems);
      });
      hooks.register(key, { ...made, field: SIMPLE_FIELDS[key] }, made.problems);
      return made.wrap;
    };
    const section = (id, title, ...children) => h("fieldset", { class: "card form-section", dataset: { section: id } }, h("legend", {}, title), h("div", { class: "field-grid" }, children));
    return [
      section("command", "Command", this.#commandField(), this.#configField()),
      section("exec", "Execution", simple("device"), simple("gpus")),
      section("run", "Run", simple("name"), simple("tags")),
    ];
  }

  /** The meaning of the model now, the argument chips redrawn to match. */
  state() {
    const state = commandState(this.model, this.gridMode);
    if (this.argvEl) this.#drawArgv(state);
    if (this.jsonToggle) {
      const gridKeys = Object.keys(state.grid);
      this.jsonToggle.disabled = !this.model.json && gridKeys.length > 0;
      this.jsonToggle.title = this.jsonToggle.disabled ? `JSON holds one config: first give ${gridKeys.join(", ")} one value` : "";
    }
    return state;
  }

  /** Grid mode off: each config key keeps its first value. */
  singleValues() {
    this.model.rows = firstValues(this.model.rows);
  }

  #commandField() {
    const input = h("input", { id: "f-command", name: "command", type: "text", class: "mono", value: this.model.command, spellcheck: "false", placeholder: "python train.py --lr {lr}" });
    input.addEventListener("input", () => {
      this.model.command = input.value;
      this.hooks.set("command");
    });
    this.argvEl = h("ol", { class: "argv", dataset: { testid: "argv" }, "aria-label": "The arguments it runs" });
    return this.#wrap("command", "Command", [input, this.argvEl], COMMAND_HINT);
  }

  #drawArgv({ argv, config }) {
    const missing = (arg) => placeholderKeys([arg]).some((key) => getDotted(config, key) === undefined);
    this.argvEl.replaceChildren(...argv.map((arg) => h("li", { class: `chip mono${missing(arg) ? " missing" : ""}`, title: arg }, arg === "" ? "''" : arg)));
  }

  #configField() {
    this.jsonToggle = h("input", { type: "checkbox", name: "config-json-mode", checked: this.model.json });
    this.jsonToggle.addEventListener("change", () => this.#switchJson(this.jsonToggle.checked));
    this.configBody = h("div", { class: "config-editor" });
    this.#drawConfig();
    const toggle = h("label", { class: "check config-json-toggle" }, this.jsonToggle, "JSON");
    const hint = this.gridMode
      ? "value: JSON where it parses (0.1, true, [1, 2]), else text · several values, comma-separated, make a grid (quote a text with a comma: \"a,b\")"
      : "value: JSON where it parses (0.1, true, [1, 2]), else text · dotted keys nest (optimizer.lr)";
    return this.#wrap("config", this.gridMode ? ["Config", h("span", { class: "grid-mark", title: "grid: several values allowed" }, "grid")] : "Config", [toggle, this.configBody], hint);
  }

  #drawConfig() {
    if (this.model.json) {
      const area = h("textarea", { name: "config-json", class: "mono", rows: 8, spellcheck: "false", "aria-label": "Config as JSON" }, this.model.jsonText);
      area.addEventListener("input", () => {
        this.model.jsonText = area.value;
        this.hooks.set("config");
      });
      this.configBody.replaceChildren(area);
      return;
    }
    if (!this.model.rows.length) this.model.rows.push({ key: "", text: "" });
    const rows = this.model.rows.map((row, i) => this.#row(row, i));
    const add = h("button", { type: "button", class: "small", dataset: { action: "add-key" }, onclick: () => this.#addRow() }, "+ Add key");
    this.configBody.replaceChildren(h("div", { class: "config-rows" }, rows), add);
  }

  #row(row, i) {
    const key = h("input", { type: "text", name: "config-key", class: "mono", value: row.key, placeholder: "key", spellcheck: "false", "aria-label": `Config key ${i + 1}` });
    const value = h("input", { type: "text", name: "config-value", class: "mono", value: row.text, placeholder: this.gridMode ? "0.1, 0.01" : "value", spellcheck: "false", "aria-label": `Config value ${i + 1}` });
    key.addEventListener("input", () => this.#edit(i, { key: key.value }));
    value.addEventListener("input", () => this.#edit(i, { text: value.value }));
    const remove = h("button", { type: "button", class: "small link-button", title: "Remove this key", "aria-label": `Remove config key ${i + 1}`, onclick: () => this.#removeRow(i) }, "×");
    return h("div", { class: "config-row", dataset: { row: String(i) } }, key, value, remove);
  }

  #edit(i, change) {
    Object.assign(this.model.rows[i], change);
    this.hooks.set("config");
  }

  #addRow() {
    this.model.rows.push({ key: "", text: "" });
    this.#drawConfig();
    this.configBody.querySelector(".config-row:last-child input").focus();
    this.hooks.set("config");
  }

  #removeRow(i) {
    this.model.rows.splice(i, 1);
    this.#drawConfig();
    this.hooks.set("config");
  }

  /** Rows → JSON (the config they make) and back (only from JSON that parses: else the toggle stays on). */
  #switchJson(on) {
    if (on) {
      this.model.jsonText = JSON.stringify(commandState(this.model, this.gridMode).config, null, 2);
    } else {
      const { config, problems } = parseConfigJson(this.model.jsonText);
      if (problems.length) {
        this.jsonToggle.checked = true;
        return;
      }
      this.model.rows = rowsFromConfig(config);
    }
    this.model.json = on;
    this.#drawConfig();
    this.hooks.set("config");
  }

  #wrap(key, label, controls, hint) {
    const error = h("div", { class: "field-error", role: "alert", hidden: true, dataset: { errorFor: key } });
    const wrap = h("div", { class: `field field-${key} wide`, dataset: { field: key } }, h("label", { for: key === "command" ? "f-command" : null, class: "label" }, label), controls, h("small", { class: "hint" }, hint), error);
    this.hooks.register(key, { wrap, error, field: { key } }, []);
    return wrap;
  }
}
