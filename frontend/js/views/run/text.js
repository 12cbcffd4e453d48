// The run page's words, from a run alone: no DOM, so tests/browser/test_view_helpers.py calls them directly.

import { TERMINAL, duration, elapsed, eta, num, pct } from "../../dom.js";
import { fillCommand, isCommandRun } from "../../command.js";
import { archLabel, formatValue, runConfig } from "../../spec.js";

// The class names of the built-in datasets that have names, for a misclassified.json holding label indices (the
// worker stores each image's class names, an image folder's being its folders' names; older runs stored indices).
const CLASS_NAMES = {
  "dogs-vs-cats": ["cat", "dog"],
  cifar10: ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
  "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
};

const LIVE_LABELS = { live: "live", reconnecting: "reconnecting…", ended: "finished", closed: "closed", connecting: "connecting", paused: "paused (tab hidden)" };

// the summary keys with a label and a format of their own, in the order shown; any other key follows as it is
const SUMMARY_KEYS = [
  ["n_params", "parameters", (v) => num(v)],
  ["best_epoch", "best epoch", (v) => num(v)],
  ["best_valid_acc", "best valid accuracy", (v) => pct(v)],
  ["test_acc_at_best", "test accuracy at best", (v) => pct(v)],
  ["gen_gap", "generalization gap (train − test)", (v) => pct(v)],
  ["duration_s", "duration", (v) => duration(v)],
];

/** "mnist · mlp 800-800 · sgd lr 0.02 · batch 64 · 10 epochs": the line under the title. */
export function runSubtitle(spec = {}) {
  const tags = (spec.tags || []).length ? `tags: ${spec.tags.join(", ")}` : null;
  if (!spec.dataset) return ["a run tracked by its own script", tags].filter(Boolean).join(" · "); // free-form config
  const opt = spec.optimizer || {};
  return [
    spec.image_size ? `${spec.dataset} at ${spec.image_size} px` : spec.dataset,
    archLabel(spec),
    `${opt.name || "sgd"} lr ${num(opt.lr)}`,
    opt.weight_decay ? `weight decay ${num(opt.weight_decay)}` : null,
    `batch ${spec.batch_size}`,
    `${spec.epochs} epochs`,
    tags,
  ]
    .filter(Boolean)
    .join(" · ");
}

/** A command run's arguments filled from its config (what its worker runs), or null for any other run. */
export function commandArgs(run) {
  return isCommandRun(run) ? fillCommand(run.command, runConfig(run)) : null;
}

/** The progress bar's label: one decimal below 10 %. */
export function progressLabel(progress) {
  const p = Number(progress) || 0;
  return `${(p * 100).toFixed(p < 0.1 ? 1 : 0)} %`;
}

/**
 * "epoch 3/10": for a running run the epoch it is training (the bar is inside it), for any other the epochs it
 * finished; at 100 % a running run is evaluating its last epoch and writing its files.
 */
export function epochText(run) {
  const epochs = (run.spec && run.spec.epochs) || 0;
  const done = Number(run.epoch) || 0;
  const of = epochs ? `/${epochs}` : "";
  if (run.status !== "running") return epochs || done ? `epoch ${done}${of}` : null;
  if ((Number(run.progress) || 0) >= 1) return `epoch ${Math.max(done, epochs)}${of} · final evaluation`;
  return epochs ? `epoch ${Math.min(done + 1, epochs)}${of}` : done ? `epoch ${done}` : null;
}

/** "epoch 3/10 · elapsed 1 min 02 s · ETA 2 min 05 s (14:32)": the line under the progress bar. */
export function progressText(run, now = Date.now()) {
  const parts = [epochText(run)];
  const ended = TERMINAL.has(run.status);
  const spent = run.summary && run.summary.duration_s !== undefined && ended ? run.summary.duration_s : elapsed(run, now);
  if (spent !== null) parts.push(`${ended ? "took" : "elapsed"} ${duration(spent)}`);
  const left = eta(run, now);
  if (left !== null) parts.push(`ETA ${duration(left)} (${new Date(now + left * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })})`);
  else if (run.status === "queued") parts.push("waiting for a worker");
  else if (run.status === "running" && !(Number(run.progress) >= 1)) parts.push("ETA after the first progress report");
  return parts.filter(Boolean).join(" · ");
}

/** The summary as [label, shown value, key] rows: the known keys first, in their order, then the rest. */
export function summaryRows(summary) {
  const rows = SUMMARY_KEYS.filter(([k]) => summary[k] !== undefined).map(([k, label, f]) => [label, f(summary[k]), k]);
  for (const [k, v] of Object.entries(summary)) {
    if (!SUMMARY_KEYS.some(([known]) => known === k)) rows.push([k.replace(/_/g, " "), typeof v === "number" ? num(v) : formatValue(v), k]);
  }
  return rows;
}

/** The live dot's words for a LiveStream state. */
export function liveStateLabel(state) {
  return LIVE_LABELS[state] || state;
}

/**
 * Marks the last interruption resumed once a later attempt runs. The interrupted event comes before the status
 * event that re-queues the run, so "resumed" means: running again, on an attempt past the interrupted one.
 */
export function markResumed(interruptions, run) {
  const last = interruptions[interruptions.length - 1];
  if (last && !last.resumedOn && run.status === "running" && run.worker && (run.attempts || 0) > (last.attempt || 0)) {
    last.resumedOn = run.worker;
    last.resumedAttempt = run.attempts;
  }
}

/** One interruption in words (after "Interrupted: "): who stopped responding when, and what became of the run. */
export function interruptionText(item, run) {
  const who = item.worker || "its worker";
  const after = item.epoch ? `after epoch ${item.epoch}` : "before its first epoch";
  let outcome;
  if (item.resumedOn) outcome = `resumed on ${item.resumedOn} (attempt ${item.resumedAttempt ?? "?"}).`;
  else if (run.status === "failed") outcome = "the run was not resumed (see the error below).";
  else if (TERMINAL.has(run.status)) outcome = `the run ended ${run.status}.`;
  else outcome = "re-queued to resume from its last checkpoint; waiting for another worker…";
  return `worker ${who} stopped responding ${after}; ${outcome}`;
}

/** How many times a run opened after the fact was resumed: only its attempt count tells. */
export function timesResumed(run) {
  return (run.attempts || 0) - 1;
}

/** A class label of the misclassified gallery: the class name the worker stored, or a stored index's name. */
export function labelName(value, spec) {
  const names = spec && CLASS_NAMES[spec.dataset];
  if (typeof value === "number" && names) return names[value] ?? String(value);
  return String(value);
}

export function confidenceText(confidence) {
  return typeof confidence === "number" ? `${(confidence * 100).toFixed(1)} %` : "";
}

export function filterCaption(name) {
  if (name.includes("first_layer")) return "First-layer kernels";
  if (name.includes("activation_max")) return "Deeper filters by activation maximization";
  return name;
}

export function bytes(n) {
  if (!Number.isFinite(n)) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

// The run's files in groups, in this order; a file goes to the first group whose test it passes.
const FILE_GROUPS = [
  ["Checkpoints", (a) => /\.(pt|pth|ckpt)$/i.test(a.name)],
  ["Misclassified test images", (a) => a.name.startsWith("misclassified") && a.media_type.startsWith("image/")],
  ["Filter images", (a) => a.name.includes("filters") && a.media_type.startsWith("image/")],
  ["Other images", (a) => a.media_type.startsWith("image/")],
  ["Data and other files", () => true],
];

/** Every file of the list as [{label, files, size}], the groups that have files, names in natural order. */
export function fileGroups(list) {
  const sorted = [...list].sort((a, b) => a.name.localeCompare(b.name, "en", { numeric: true }));
  const groups = FILE_GROUPS.map(([label]) => ({ label, files: [], size: 0 }));
  for (const file of sorted) {
    const group = groups[FILE_GROUPS.findIndex(([, test]) => test(file))];
    group.files.push(file);
    group.size += Number(file.size) || 0;
  }
  return groups.filter((g) => g.files.length);
}
