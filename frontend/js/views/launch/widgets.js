// One launch-form field as a widget: its control by kind (several values in grid mode), label, hint and error line.
// Every edit reports the field's valid values and the problems of its text through `set(key, values, problems)`.

import { h } from "../../dom.js";
import { BLOCK_FILTERS, BLOCK_NAMES, FOLDER_PREFIX, listText } from "./fields.js";
import { folderProblem, parseBlocks, parseListField, parseNumberField, splitOn, textProblems } from "./validate.js";

const GRID_HINT_LIST = "alternatives separated by |";

/** {wrap, error, problems}: the field's element, its error line, and the problems of the values it was drawn with. */
export function widget(field, values, multi, set) {
  const id = `f-${field.key.replace(/\./g, "-")}`;
  const make = CONTROLS[field.kind] || (() => ({ control: h("span", {}, "?") }));
  const { control, hint = field.hint || "", problems = [] } = make({ field, values, multi, id, set });
  const error = h("div", { class: "field-error", role: "alert", hidden: true, dataset: { errorFor: field.key } });
  const wrap = h(
    "div",
    { class: `field field-${field.kind}${multi ? " multi" : ""}`, dataset: { field: field.key } },
    field.kind === "bool"
      ? h("label", { class: "check", for: id }, control, field.label)
      : [h("label", { for: id, class: "label" }, field.label, multi ? h("span", { class: "grid-mark", title: "grid: several values allowed" }, "grid") : null), control],
    hint ? h("small", { class: "hint" }, hint) : null,
    error,
  );
  return { wrap, error, problems };
}

const CONTROLS = { text: textControl, tags: tagsControl, bool: boolControl, select: selectControl, number: numberControl, list: listControl, blocks: blocksControl, dataset: datasetControl };

function textControl({ field, values, id, set }) {
  const control = h("input", { id, name: field.key, type: "text", value: values[0] ?? "", placeholder: field.placeholder || "" });
  control.addEventListener("input", () => set(field.key, [control.value], textProblems(field, control.value)));
  return { control, problems: textProblems(field, control.value) };
}

function tagsControl({ field, values, id, set }) {
  const control = h("input", { id, name: field.key, type: "text", value: listText(values[0]), placeholder: field.placeholder || "" });
  const tags = () => control.value.split(",").map((t) => t.trim()).filter(Boolean);
  control.addEventListener("input", () => set(field.key, [tags()], textProblems(field, tags())));
  return { control, problems: textProblems(field, tags()) };
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
    const parsed = parseNumberField(field, control.value, multi);
    set(field.key, parsed.values, parsed.problems);
  });
  const hint = multi ? `comma-separated values${field.hint ? ` · ${field.hint}` : ""}` : field.hint || "";
  return { control, hint, problems: parseNumberField(field, text, multi).problems };
}

/** A list of numbers ("800, 800"); grid mode: alternatives separated by |. A preset fills "10 … 100". */
function listControl({ field, values, multi, id, set }) {
  const input = h("input", { id, name: field.key, type: "text", value: values.map(listText).join(" | "), placeholder: field.placeholder || "", spellcheck: "false" });
  input.addEventListener("input", () => {
    const parsed = parseListField(field, input.value, multi);
    set(field.key, parsed.values, parsed.problems);
  });
  const { problems } = parseListField(field, input.value, multi);
  const hint = multi ? `${GRID_HINT_LIST}, e.g. 800, 800 | 1024${field.hint ? ` · ${field.hint}` : ""}` : field.hint || "";
  if (!field.preset) return { control: input, hint, problems };
  const fill = () => {
    input.value = multi && input.value.trim() ? `${input.value} | ${field.preset}` : field.preset;
    input.dispatchEvent(new Event("input"));
  };
  return { control: h("div", { class: "with-button" }, input, h("button", { type: "button", class: "small link-button", onclick: fill }, "10 … 100")), hint, problems };
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
    const read = () => {
      const chosen = [...el.querySelectorAll("input[type=checkbox]:checked")].map((b) => b.value);
      const { lists, problems } = parseBlocks(customInput.value, true);
      return { values: [...chosen, ...lists].length ? [...chosen, ...lists] : ["deep"], problems };
    };
    const sync = () => {
      const { values: chosen, problems } = read();
      set(field.key, chosen, problems);
    };
    for (const box of el.querySelectorAll("input[type=checkbox]")) box.addEventListener("change", sync);
    customInput.addEventListener("input", sync);
    return { control: el, hint, problems: read().problems };
  }
  const select = h(
    "select",
    { id, name: field.key },
    BLOCK_NAMES.map((name) => h("option", { value: name, selected: named[0] === name && !custom.length }, `${name} (${BLOCK_FILTERS[name]})`)),
    h("option", { value: "custom", selected: custom.length > 0 }, "custom…"),
  );
  customInput.hidden = !custom.length;
  const read = () => {
    if (select.value !== "custom") return { values: [select.value], problems: [] };
    const { lists, problems } = parseBlocks(customInput.value, false);
    return { values: lists.length ? lists.slice(0, 1) : [], problems };
  };
  const sync = () => {
    customInput.hidden = select.value !== "custom";
    const { values: chosen, problems } = read();
    set(field.key, chosen, problems);
  };
  select.addEventListener("change", sync);
  customInput.addEventListener("input", sync);
  return { control: h("div", { class: "with-button" }, select, customInput), hint, problems: read().problems };
}

/** The folder names of "folder:NAME" values typed in a text box (comma-separated in grid mode), and their problems. */
function folderValues(text, multi) {
  const { tokens, problems } = multi ? splitOn(text, ",", "folder name") : { tokens: [text.trim()], problems: [] };
  const values = [];
  for (const name of tokens) {
    const problem = folderProblem(name);
    if (problem) problems.push(problem);
    else values.push(`${FOLDER_PREFIX}${name}`);
  }
  return { values, problems };
}

/** A built-in dataset or an image folder by name; grid mode: a checkbox per built-in and folder names, comma-separated. */
function datasetControl({ field, values, multi, id, set }) {
  const label = (option) => field.labels[option] || option;
  const folders = values.filter((v) => String(v).startsWith(FOLDER_PREFIX)).map((v) => v.slice(FOLDER_PREFIX.length));
  const folderInput = h("input", { type: "text", name: `${field.key}.folder`, value: folders.join(", "), placeholder: multi ? "image folders: flowers, pets" : "folder name, e.g. flowers", spellcheck: "false", "aria-label": "Image folder name" });
  if (multi) {
    const boxes = field.options.map((option) => h("label", { class: "check" }, h("input", { type: "checkbox", name: field.key, value: option, checked: values.includes(option) }), label(option)));
    const el = h("div", { class: "checks", id, role: "group" }, boxes, folderInput);
    const read = () => {
      const chosen = [...el.querySelectorAll("input[type=checkbox]:checked")].map((b) => b.value);
      const typed = folderInput.value.trim() ? folderValues(folderInput.value, true) : { values: [], problems: [] };
      const all = [...chosen, ...typed.values];
      return { values: all.length || typed.problems.length ? all : [field.options[0]], problems: typed.problems };
    };
    const sync = () => {
      const { values: chosen, problems } = read();
      set(field.key, chosen, problems);
    };
    for (const box of el.querySelectorAll("input[type=checkbox]")) box.addEventListener("change", sync);
    folderInput.addEventListener("input", sync);
    return { control: el, problems: read().problems };
  }
  const isFolder = String(values[0]).startsWith(FOLDER_PREFIX);
  const select = h(
    "select",
    { id, name: field.key },
    field.options.map((option) => h("option", { value: option, selected: values[0] === option }, label(option))),
    h("option", { value: "folder", selected: isFolder }, "image folder… (RGB at image size)"),
  );
  folderInput.hidden = !isFolder;
  const read = () => (select.value === "folder" ? folderValues(folderInput.value, false) : { values: [select.value], problems: [] });
  const sync = () => {
    folderInput.hidden = select.value !== "folder";
    const { values: chosen, problems } = read();
    set(field.key, chosen, problems);
  };
  select.addEventListener("change", sync);
  folderInput.addEventListener("input", sync);
  return { control: h("div", { class: "with-button" }, select, folderInput), problems: read().problems };
}
