// What the API says about its workers (GET /api/workers), in words: the top bar's "1 worker · 0 queued", the
// Workers page, and the launch form's warning about a device no online worker takes. Pure helpers, no DOM.

import { get } from "./api.js";

export const getWorkers = () => get("/workers");

const plural = (n, noun) => `${n} ${noun}${n === 1 ? "" : "s"}`;

/** "1 worker · 0 queued": online workers and the runs waiting in all queues. */
export function summaryText(overview) {
  return `${plural(overview.online, "worker")} · ${overview.queued} queued`;
}

/** The queue a run with this device waits in (trainboard/queue.py: queue_for_device). */
export function queueFor(device) {
  return device === "cpu" || device === "cuda" ? device : "any";
}

/** The devices among `devices` whose queue no online worker takes, e.g. ["cuda"]. */
export function devicesWithoutWorker(overview, devices) {
  const takers = Object.fromEntries(overview.queues.map((q) => [q.name, q.workers]));
  return [...new Set(devices)].filter((device) => !takers[queueFor(device)]);
}

/** The launch form's warning for `devices` (a grid may have several), or "" when an online worker takes each. */
export function capacityWarning(overview, devices) {
  if (overview.online === 0) return "No worker is online: this run will wait in the queue until one starts (trainboard worker).";
  const missing = devicesWithoutWorker(overview, devices);
  if (!missing.length) return "";
  const starts = missing.map((device) => `trainboard worker --device ${device}`).join(", ");
  return `No online worker takes ${missing.join(" or ")} runs: ${missing.length === 1 ? "this run" : "those runs"} will wait in the queue until one starts (${starts}).`;
}

/**
 * The launch form's warning for a command run on `devices`: command runs wait in the queues "cmd-any", "cmd-cpu"
 * and "cmd-cuda", which only workers started with --code DIR take; an API that lists none has no such worker.
 */
export function commandCapacityWarning(overview, devices) {
  const takers = Object.fromEntries(overview.queues.map((q) => [q.name, q.workers]));
  const anyWorker = overview.online > 0 && ["cmd-any", "cmd-cpu", "cmd-cuda"].some((name) => takers[name]);
  if (!anyWorker) return "No online worker runs commands: this run will wait in the queue until one starts (trainboard worker --code DIR, DIR a checkout of your code).";
  const missing = [...new Set(devices)].filter((device) => !takers[`cmd-${queueFor(device)}`]);
  if (!missing.length) return "";
  const starts = missing.map((device) => `trainboard worker --code DIR --device ${device}`).join(", ");
  return `No online worker runs commands on ${missing.join(" or ")}: ${missing.length === 1 ? "this run" : "those runs"} will wait in the queue until one starts (${starts}).`;
}

/**
 * The launch form's warning for a command run asking for `gpus` GPUs, or "": an online worker that runs commands
 * on CUDA schedules at least that many (it lists them in `gpus`). Only such a worker takes the run (a run asking
 * for two or more waits in a queue of its count, "cmd-cuda-2gpus"): until one is online, it waits.
 */
export function gpuCapacityWarning(overview, gpus) {
  if (!(gpus > 0) || !overview.workers) return "";
  const takers = overview.workers.filter((w) => w.online && (w.queues || []).includes("cmd-cuda"));
  const most = Math.max(0, ...takers.map((w) => (w.gpus || []).length));
  if (most >= gpus) return "";
  const have = takers.length ? `the most any has is ${most}` : "none runs commands on cuda";
  return `No online worker that runs commands has ${plural(gpus, "GPU")} (${have}): this run will wait in the queue until one starts on a machine with enough (trainboard worker --device cuda --gpus 0,1,… --code DIR).`;
}

/**
 * A worker's queues as one short line: the queues of multi-GPU command runs it takes ("cmd-cuda-2gpus" up to its
 * GPU count) as one range, "any, cuda, cmd-any, cmd-cuda, cmd-cuda-2…8gpus", not seven names.
 */
export function queuesText(queues) {
  const counts = [];
  const named = [];
  for (const queue of queues) {
    const match = /^cmd-cuda-(\d+)gpus$/.exec(queue);
    if (match) counts.push(Number(match[1]));
    else named.push(queue);
  }
  if (counts.length > 1) {
    const [low, high] = [Math.min(...counts), Math.max(...counts)];
    if (high - low + 1 === counts.length) return [...named, `cmd-cuda-${low}…${high}gpus`].join(", ");
  }
  return queues.join(", ");
}

/** "cpu", or "cpu, cuda · 2 × NVIDIA H200 (GPUs 0, 2)" (GPU names counted; a worker names the GPUs it schedules
 * "0: NVIDIA H200"). */
export function devicesText(worker) {
  const counts = new Map();
  const ids = [];
  for (const gpu of worker.gpus || []) {
    const [, id, name] = /^(\d+): (.*)$/.exec(gpu) || [null, null, gpu];
    if (id !== null) ids.push(id);
    counts.set(name, (counts.get(name) || 0) + 1);
  }
  const gpus = [...counts].map(([name, n]) => (n > 1 ? `${n} × ${name}` : name));
  const which = ids.length ? ` (GPU${ids.length > 1 ? "s" : ""} ${ids.join(", ")})` : "";
  return [(worker.devices || []).join(", "), ...gpus].filter(Boolean).join(" · ") + which;
}
