// The launch form's own checks, run as the user types: a field's text → its valid values and every problem, each
// problem naming the offending value ("'abc' is not a number", "-1: learning rate must be > 0"). No DOM, so
// tests/browser/test_view_helpers.py calls them directly. The rules live on the fields (fields.js); the API checks
// again, and its 422s land on the same fields.

export const BLOCK_ITEM = { int: true, range: { ge: 1, le: 1024 }, noun: "a filter count" };
export const BLOCK_COUNT = { min: 1, max: 6, noun: "filter counts" };

const SEPARATORS = { ",": "comma", "|": "'|'" };
const nounOf = (field) => field.noun || field.label.toLowerCase();
const shown = (value) => (typeof value === "string" ? `'${value}'` : String(value));

const FOLDER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The problem with an image folder's NAME in "folder:NAME" (null when fine): one safe folder name, as the API wants. */
export function folderProblem(name) {
  if (FOLDER_NAME.test(name)) return null;
  const what = name === "" ? "the folder name is empty" : `'${name}' is not one folder name`;
  return `${what}: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`;
}

/** "0.02" → 0.02; anything that is not a finite number stays the text it was. */
export function toNumber(token) {
  const text = String(token).trim();
  const n = Number(text);
  return text !== "" && Number.isFinite(n) ? n : text;
}

/** The problem with one value of a number field (null when fine): not a number, not whole, or out of range. */
export function valueProblem(value, { int = false, range = {}, noun = "the value" } = {}) {
  if (typeof value !== "number" || !Number.isFinite(value)) return `${shown(value)} is not a ${int ? "whole number" : "number"}`;
  if (int && !Number.isInteger(value)) return `${value} is not a whole number`;
  const { gt, ge, lt, le } = range;
  if (gt !== undefined && !(value > gt)) return `${value}: ${noun} must be > ${gt}`;
  if (ge !== undefined && value < ge) return `${value}: ${noun} must be ≥ ${ge}`;
  if (lt !== undefined && !(value < lt)) return `${value}: ${noun} must be < ${lt}`;
  if (le !== undefined && value > le) return `${value}: ${noun} must be ≤ ${le}`;
  return null;
}

/**
 * Text split on a separator: the non-empty parts (trimmed) and a problem for each empty one. One trailing
 * separator is not a problem: the next value is being typed. `nested`: only separators outside quotes and
 * brackets split (a config value may be a list).
 */
export function splitOn(text, separator, what, { nested = false } = {}) {
  const parts = nested ? topLevelParts(String(text), separator) : String(text).split(separator);
  if (parts.length > 1 && parts[parts.length - 1].trim() === "") parts.pop();
  const problems = [];
  const tokens = [];
  parts.forEach((part, i) => {
    if (part.trim() !== "") tokens.push(part.trim());
    else if (parts.length > 1) problems.push(i === 0 ? `empty ${what} before the first ${SEPARATORS[separator]}` : `empty ${what} between ${SEPARATORS[separator]}s`);
  });
  return { tokens, problems };
}

/** The parts of `text` between the separators outside quotes ("…", '…') and brackets ([…], {…}). */
export function topLevelParts(text, separator) {
  const parts = [];
  let depth = 0;
  let quote = null;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "[" || c === "{") depth++;
    else if ((c === "]" || c === "}") && depth > 0) depth--;
    else if (c === separator && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** A number field's text → {values, problems}; grid mode takes comma-separated values, each checked. */
export function parseNumberField(field, text, multi) {
  const rules = { int: field.int, range: field.range, noun: nounOf(field) };
  const blank = (t) => t.trim() === "" || (field.optional && /^(none|null)$/i.test(t.trim()));
  if (blank(text)) return field.optional ? { values: [null], problems: [] } : { values: [], problems: ["a value is needed"] };
  if (!multi && text.includes(",")) return { values: [], problems: [`'${text.trim()}': one value here; turn on Grid search for several`] };
  const { tokens, problems } = multi ? splitOn(text, ",", "value") : { tokens: [text.trim()], problems: [] };
  const values = [];
  for (const token of tokens) {
    if (blank(token)) {
      values.push(null);
      continue;
    }
    const problem = valueProblem(toNumber(token), rules);
    if (problem) problems.push(problem);
    else values.push(toNumber(token));
  }
  return { values, problems };
}

/** One list of numbers ("800, 800" or "800 800") → {list, problems}; item and count rules as on the field. */
export function parseNumberList(text, item, count = {}) {
  const { tokens, problems } = splitOn(text, ",", "value");
  const list = [];
  for (const token of tokens.flatMap((t) => t.split(/\s+/))) {
    const problem = valueProblem(toNumber(token), item);
    if (problem) problems.push(problem);
    else list.push(toNumber(token));
  }
  const given = tokens.flatMap((t) => t.split(/\s+/)).length;
  if (count.min && given < count.min) problems.push(`${count.noun}: give at least ${count.min}`);
  if (count.max !== undefined && given > count.max) problems.push(`${count.noun}: at most ${count.max} (${given} given)`);
  return { list, problems };
}

/** A list field's text → {values, problems}: one list, or in grid mode alternatives separated by |. */
export function parseListField(field, text, multi) {
  const { tokens, problems } = multi ? splitOn(text, "|", "alternative") : { tokens: [text], problems: [] };
  const values = [];
  for (const alternative of tokens.length ? tokens : [""]) {
    const parsed = parseNumberList(alternative, field.item, field.count);
    problems.push(...parsed.problems);
    if (!parsed.problems.length) values.push(parsed.list);
  }
  return { values, problems };
}

/** VGG's custom filter counts ("16, 32 | 8" in grid mode) → {lists, problems}; blank is no custom list. */
export function parseBlocks(text, multi) {
  if (String(text).trim() === "") return { lists: [], problems: multi ? [] : [`give ${BLOCK_COUNT.noun}, e.g. 16, 32, 64`] };
  const { tokens, problems } = multi ? splitOn(text, "|", "alternative") : { tokens: [text], problems: [] };
  const lists = [];
  for (const alternative of tokens) {
    const parsed = parseNumberList(alternative, BLOCK_ITEM, BLOCK_COUNT);
    problems.push(...parsed.problems);
    if (!parsed.problems.length) lists.push(parsed.list);
  }
  return { lists, problems };
}

/** A name's problems: too long. Tags: each too long, or too many. */
export function textProblems(field, value) {
  const items = Array.isArray(value) ? value : [value ?? ""];
  const problems = items.filter((t) => t.length > field.maxLength).map((t) => `'${t.slice(0, 20)}…' is ${t.length} characters; at most ${field.maxLength}`);
  if (field.maxItems && items.length > field.maxItems) problems.push(`at most ${field.maxItems} tags (${items.length} given)`);
  return problems;
}
