// Grouping runs by config keys for the compare page ("everything but the seed" included). No DOM: tests/frontend/
// runs it in Node.

import { differingKeys, flatten, formatValue, legendNames } from "../../spec.js";

/** The URL's word for "group by every key that varies except the seeds". */
export const ALL_BUT_SEED = "~seed";

/** Whether a dotted config key is a random seed: `seed`, or any key ending in `.seed`. */
export function isSeedKey(key) {
  return key === "seed" || key.endsWith(".seed");
}

/** Every config key that varies among the configs, except seeds: runs that differ only by seed fall together. */
export function allButSeed(configs) {
  return differingKeys(configs).filter((key) => !isSeedKey(key));
}

/** The keys to group by: the URL's list, or ALL_BUT_SEED resolved against the configs shown. */
export function groupKeys(choice, configs) {
  if (!choice || !choice.length) return [];
  if (choice.includes(ALL_BUT_SEED)) return allButSeed(configs);
  const varied = new Set(differingKeys(configs));
  return choice.filter((key) => varied.has(key));
}

/**
 * runs: [{id, config}]. One group per distinct combination of the keys' values, in the order their first run
 * comes: [{label: "lr=0.1, optimizer=adam", ids: [...]}]. Without keys, every run is its own group.
 */
export function groupRuns(runs, keys) {
  if (!keys.length) return runs.map((run) => ({ label: `#${run.id}`, ids: [run.id] }));
  const names = legendNames(keys);
  const groups = new Map();
  for (const run of runs) {
    const flat = flatten(run.config || {});
    const label = keys.map((key) => `${names.get(key)}=${formatValue(flat[key])}`).join(", ");
    if (!groups.has(label)) groups.set(label, { label, ids: [] });
    groups.get(label).ids.push(run.id);
  }
  return [...groups.values()];
}
