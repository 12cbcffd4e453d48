// A command run's command in the browser: the launch form's one line of text → the argument list it sends
// (split like a shell would, but no shell ever runs it), its {dotted.key} placeholders, the list filled from the
// config (the run page) and the program or script it runs (the runs table). No DOM, so
// tests/browser/test_view_helpers.py calls them directly.

import { getDotted } from "./spec.js";

// {lr}, {optimizer.lr}, {data-dir}: the placeholders the API fills from the run's config
// {dotted.key}, and {{ / }} for a literal brace (trainboard/command.py reads a command the same way)
const PLACEHOLDER = /\{\{|\}\}|\{([\w-]+(?:\.[\w-]+)*)\}/g;
const SAFE_WORD = /^[\w@%+=:,./{}-]+$/;
const SPACE = /\s/;
const DOUBLE_QUOTED_ESCAPES = new Set(['"', "\\", "$", "`"]);
const SCRIPT = /\.(py|sh|jl|r|js|rb|pl|lua)$/i;

/**
 * A command line → {argv, problems}, as POSIX shells split words: spaces separate, '…' keeps everything, "…"
 * keeps everything but \" \\ \$ \`, and a backslash outside quotes keeps the next character. An unclosed quote
 * is a problem (the words so far are still returned, for display).
 */
export function splitCommand(text) {
  const argv = [];
  const problems = [];
  let word = null; // null: between words; "" is an empty argument ('')
  let quote = null;
  let opened = 0;
  const input = String(text ?? "");
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === "\\" && DOUBLE_QUOTED_ESCAPES.has(input[i + 1])) word += input[++i];
      else word += c;
    } else if (SPACE.test(c)) {
      if (word !== null) argv.push(word);
      word = null;
    } else if (c === "'" || c === '"') {
      quote = c;
      opened = i + 1;
      word = word ?? "";
    } else if (c === "\\") {
      if (i + 1 < input.length) word = (word ?? "") + input[++i];
      else problems.push("a \\ at the end escapes nothing");
    } else {
      word = (word ?? "") + c;
    }
  }
  if (quote) problems.push(`the ${quote} opened at character ${opened} is not closed`);
  if (word !== null) argv.push(word);
  if (!argv.length && !problems.length) problems.push("a command is needed, e.g. python train.py --lr {lr}");
  return { argv, problems };
}

/** One argument as the command line shows it: quoted only when splitCommand would otherwise change it. */
export function quoteArg(arg) {
  const text = String(arg);
  if (SAFE_WORD.test(text)) return text;
  return `'${text.replace(/'/g, `'"'"'`)}'`;
}

/** An argument list → one line that splitCommand turns back into the same list. */
export function joinCommand(argv) {
  return (Array.isArray(argv) ? argv : []).map(quoteArg).join(" ");
}

/** The config keys the arguments name, each once, in order of appearance: ["lr", "optimizer.name"]. */
export function placeholderKeys(argv) {
  const keys = [];
  for (const arg of argv || []) {
    for (const match of String(arg).matchAll(PLACEHOLDER)) if (match[1] && !keys.includes(match[1])) keys.push(match[1]);
  }
  return keys;
}

/** "{lr} is not in the config", for each placeholder whose key the config lacks. */
export function missingPlaceholders(argv, config) {
  return placeholderKeys(argv)
    .filter((key) => getDotted(config || {}, key) === undefined)
    .map((key) => `{${key}} is not in the config`);
}

/** A config value as an argument: a string as it is, anything else as JSON (0.1, true, [1, 2]). */
export function argText(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** The arguments with each placeholder replaced by its config value; a key the config lacks stays {key}. */
export function fillCommand(argv, config) {
  return (argv || []).map((arg) =>
    String(arg).replace(PLACEHOLDER, (whole, key) => {
      if (!key) return whole[0]; // {{ or }}: a literal brace
      const value = getDotted(config || {}, key);
      return value === undefined ? whole : argText(value);
    }),
  );
}

const basename = (path) => String(path).split("/").filter(Boolean).pop() || String(path);

/**
 * What a command runs, in a word or two: its script ("train.py" of python train.py or torchrun … train.py), a
 * module ("python -m pkg.train"), or else its program ("my-trainer").
 */
export function commandLabel(argv) {
  if (!Array.isArray(argv) || !argv.length) return "—";
  const script = argv.slice(1).find((arg) => !String(arg).startsWith("-") && SCRIPT.test(String(arg)));
  if (script) return basename(script);
  const module = argv.indexOf("-m");
  if (module > 0 && argv[module + 1]) return `${basename(argv[0])} -m ${argv[module + 1]}`;
  return basename(argv[0]);
}

/** Whether a run is a command run (its reply carries the command it runs). */
export function isCommandRun(run) {
  return Boolean(run && Array.isArray(run.command) && run.command.length);
}
