// One launch-form field as a widget: its control by kind (several values in grid mode), label, hint and error line.
// Every edit reports the field's new values through `set(key, values)`.

import { h } from "../../dom.js";
import { BLOCK_FILTERS, BLOCK_NAMES, listText, parseList, parseScalar } from "./fields.js";

const GRID_HINT_LIST = "alternatives separated by |";

/** {wrap, error}: the field's element and its error line. */
export function widget(field, values, multi, set) {
  const id = `f-${field.key.replace(/\./g, "-")}`;
  const make = CONTROLS[field.kind] || (() => ({ control: h("span", {}, "?") }));
  const { control, hint = field.hint || "" } = make({ field, values, multi, id, set });
  const error = h("p", { class: "field-error", role: "alert", hidden: true, dataset: { errorFor: field.key } });
  const wrap = h(
    "div",
    { class: `field field-${field.kind}${multi ? " multi" : ""}`, dataset: { field: field.key } },
    field.kind === "bool"
      ? h("label", { class: "check", for: id }, control, field.label)
      : [h("label", { for: id, class: "label" }, field.label, multi ? h("span", { class: "grid-mark", title: "grid: several values allowed" }, "grid") : null), control],
    hint ? h("small", { class: "hint" }, hint) : null,
    error,
  );
  return { wrap, error };
}

const CONTROLS = { text: textControl, tags: tagsControl, bool: boolControl, select: selectControl, number: numberControl, list: listControl, blocks: blocksControl };

function textControl({ field, values, id, set }) {
  const control = h("input", { id, name: field.key, type: "text", value: values[0] ?? "", placeholder: field.placeholder || "" });
  control.addEventListener("input", () => set(field.key, [control.value]));
  return { control };
}

function tagsControl({ field, values, id, set }) {
  const control = h("input", { id, name: field.key, type: "text", value: listText(values[0]), placeholder: field.placeholder || "" });
  control.addEventListener("input", () => set(field.key, [control.value.split(",").map((t) => t.trim()).filter(Boolean)]));
  return { control };
}

function boolControl({ field, values, id, set }) {
  const control = h("input", { id, name: field.key, type: "checkbox", checked: Boolean(values[0]) });
  control.addEventListener("change", () => set(field.key, [control.checked]));
  return { control };
}

/** Grid mode: a checkbox per option (at least one stays ticked); else a select. */
function selectControl({ field, values, multi, id, set }) {
  const label = (option) => (field.labels && field.labels[option]) || option;
  if (!multi) {
    const control = h("select", { id, name: field.key }, field.options.map((option) => h("option", { value: option, selected: values[0] === option }, label(option))));
    control.addEventListener("change", () => set(field.key, [control.value]));
    return { control };
  }
  const control = h(
    "div",
    { class: "checks", id, role: "group" },
    field.options.map((option) => {
      const box = h("input", { type: "checkbox", name: field.key, value: option, checked: values.includes(option) });
      box.addEventListener("change", () => {
        const chosen = [...control.querySelectorAll("input:checked")].map((b) => b.value);
        set(field.key, chosen.length ? chosen : [field.options[0]]);
        if (!chosen.length) box.checked = option === field.options[0];
      });
      return h("label", { class: "check" }, box, label(option));
    }),
  );
  return { control };
}

/** Grid mode: comma-separated numbers. */
function numberControl({ field, values, multi, id, set }) {
  const text = values.map((v) => (v === null || v === undefined ? "" : String(v))).join(", ");
  const control = h("input", { id, name: field.key, type: "text", inputmode: "decimal", value: text, placeholder: field.placeholder || "", spellcheck: "false" });
  control.addEventListener("input", () => {
    const raw = control.value;
    const tokens = multi ? raw.split(",") : [raw];
    const parsed = tokens.filter((t, i) => t.trim() !== "" || tokens.length === 1 || i === 0).map((t) => parseScalar(t, field));
    set(field.key, parsed.length ? parsed : [field.optional ? null : ""]);
  });
  return { control, hint: multi ? `comma-separated values${field.hint ? ` · ${field.hint}` : ""}` : field.hint || "" };
}

/** A list of numbers ("800, 800"); grid mode: alternatives separated by |. A preset fills "10 … 100". */
function listControl({ field, values, multi, id, set }) {
  const input = h("input", { id, name: field.key, type: "text", value: values.map(listText).join(" | "), placeholder: field.placeholder || "", spellcheck: "false" });
  input.addEventListener("input", () => {
    const alternatives = multi ? input.value.split("|") : [input.value];
    set(field.key, alternatives.map((t) => parseList(t)).filter((v, i, all) => v.length || all.length === 1));
  });
  const hint = multi ? `${GRID_HINT_LIST}, e.g. 800, 800 | 1024${field.hint ? ` · ${field.hint}` : ""}` : field.hint || "";
  if (!field.preset) return { control: input, hint };
  const fill = () => {
    input.value = multi && input.value.trim() ? `${input.value} | ${field.preset}` : field.preset;
    input.dispatchEvent(new Event("input"));
  };
  return { control: h("div", { class: "with-button" }, input, h("button", { type: "button", class: "small link-button", onclick: fill }, "10 … 100")), hint };
}

/** VGG's conv blocks: a named configuration or custom filter counts; grid mode: several of either. */
function blocksControl({ field, values, multi, id, set }) {
  const named = values.filter((v) => typeof v === "string" && BLOCK_NAMES.includes(v));
  const custom = values.filter((v) => !(typeof v === "string" && BLOCK_NAMES.includes(v)));
  const customInput = h("input", {
    type: "text",
    name: `${field.key}.custom`,
    placeholder: multi ? "custom: 16, 32, 64 | 8, 16" : "filter counts, e.g. 16, 32, 64",
    value: custom.map(listText).join(" | "),
    "aria-label": "Custom filter counts",
  });
  const hint = Object.entries(BLOCK_FILTERS)
    .map(([k, v]) => `${k} ${v}`)
    .join(" · ");
  if (multi) {
    const boxes = BLOCK_NAMES.map((name) => h("label", { class: "check" }, h("input", { type: "checkbox", name: field.key, value: name, checked: named.includes(name) }), name));
    const el = h("div", { class: "checks", id, role: "group" }, boxes, customInput);
    const sync = () => {
      const chosen = [...el.querySelectorAll("input[type=checkbox]:checked")].map((b) => b.value);
      const lists = customInput.value.split("|").map(parseList).filter((l) => l.length);
      set(field.key, [...chosen, ...lists].length ? [...chosen, ...lists] : ["deep"]);
    };
    for (const box of el.querySelectorAll("input[type=checkbox]")) box.addEventListener("change", sync);
    customInput.addEventListener("input", sync);
    return { control: el, hint };
  }
  const select = h(
    "select",
    { id, name: field.key },
    BLOCK_NAMES.map((name) => h("option", { value: name, selected: named[0] === name && !custom.length }, `${name} (${BLOCK_FILTERS[name]})`)),
    h("option", { value: "custom", selected: custom.length > 0 }, "custom…"),
  );
  customInput.hidden = !custom.length;
  const sync = () => {
    customInput.hidden = select.value !== "custom";
    set(field.key, [select.value === "custom" ? parseList(customInput.value) : select.value]);
  };
  select.addEventListener("change", sync);
  customInput.addEventListener("input", sync);
  return { control: h("div", { class: "with-button" }, select, customInput), hint };
}
