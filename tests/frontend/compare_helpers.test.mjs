// node --test tests/frontend/: the compare page's pure helpers (grouping, aligned mean/std, EMA, x from another key).

import assert from "node:assert/strict";
import { test } from "node:test";

import { ema } from "../../frontend/js/views/compare/ema.js";
import { ALL_BUT_SEED, allButSeed, groupKeys, groupRuns, isSeedKey } from "../../frontend/js/views/compare/groups.js";
import { alignedMeanStd, xAtSteps } from "../../frontend/js/views/compare/stats.js";

const close = (actual, expected, what) =>
  expected.forEach((e, i) => assert.ok(e === null ? actual[i] === null : Math.abs(actual[i] - e) < 1e-9, `${what}[${i}]: ${actual[i]} != ${e}`));

test("mean and std are aligned by step, only where some member has a value, with the count there", () => {
  const out = alignedMeanStd([
    { step: [1, 2, 3], value: [1, 2, 3] },
    { step: [1, 2], value: [3, 4] },
    { step: [2, 3, 4], value: [6, null, 8] },
    { step: [5], value: [null] },
  ]);
  assert.deepEqual(out.step, [1, 2, 3, 4]); // step 5: nobody has a value
  close(out.mean, [2, 4, 3, 8], "mean");
  // step 1: {1, 3} → 1; step 2: {2, 4, 6} → √(8/3); one value → 0
  close(out.std, [1, Math.sqrt(8 / 3), 0, 0], "std");
  assert.deepEqual(out.count, [2, 3, 1, 1]);
  assert.deepEqual(out.x, [1, 2, 3, 4]);
});

test("steps arrive in any order across members and x is the mean of the members' x", () => {
  const out = alignedMeanStd([
    { step: [10, 20], value: [0.5, 0.7], x: [1.0, 2.0] },
    { step: [20, 30], value: [0.9, 1.0], x: [3.0, null] },
  ]);
  assert.deepEqual(out.step, [10, 20]); // step 30's only point has no x
  close(out.mean, [0.5, 0.8], "mean");
  close(out.x, [1.0, 2.5], "x");
  assert.deepEqual(alignedMeanStd([]), { step: [], mean: [], std: [], count: [], x: [] });
});

test("EMA: weight 0 is the raw line, otherwise TensorBoard's debiased average; nulls stay", () => {
  assert.deepEqual(ema([1, 2, 3], 0), [1, 2, 3]);
  // w = 0.5: (0.5)/(0.5) = 1; (0.25 + 1)/(0.75) = 5/3; (0.625 + 1.5)/(0.875) = 17/7
  close(ema([1, 2, 3], 0.5), [1, 5 / 3, 17 / 7], "ema");
  close(ema([4, null, 4], 0.9), [4, null, 4], "ema with a gap");
  const smooth = ema([0, 10, 0, 10, 0, 10], 0.9);
  assert.ok(Math.max(...smooth.slice(2)) - Math.min(...smooth.slice(2)) < 10, "smoothing narrows the swings");
});

test("seed keys and 'everything but the seed'", () => {
  assert.ok(isSeedKey("seed") && isSeedKey("data.seed") && !isSeedKey("seeds") && !isSeedKey("seed_offset"));
  const configs = [
    { lr: 0.1, seed: 1, data: { seed: 7 }, batch: 32, name: "a" },
    { lr: 0.1, seed: 2, data: { seed: 8 }, batch: 32, name: "b" },
    { lr: 0.01, seed: 1, data: { seed: 7 }, batch: 64, name: "c" },
  ];
  assert.deepEqual(new Set(allButSeed(configs)), new Set(["lr", "batch"]));
  assert.deepEqual(new Set(groupKeys([ALL_BUT_SEED], configs)), new Set(["lr", "batch"]));
  assert.deepEqual(groupKeys(["lr", "nothing", "name"], configs), ["lr"]); // only keys that vary, never the name
  assert.deepEqual(groupKeys([], configs), []);
});

test("runs fall into one group per combination of the keys' values, in first-seen order", () => {
  const runs = [
    { id: 1, config: { optimizer: { lr: 0.1 }, seed: 1 } },
    { id: 2, config: { optimizer: { lr: 0.01 }, seed: 1 } },
    { id: 3, config: { optimizer: { lr: 0.1 }, seed: 2 } },
    { id: 4, config: { optimizer: { lr: 0.01 }, seed: 2 } },
    { id: 5, config: { optimizer: { lr: 0.1 }, seed: 3 } },
  ];
  assert.deepEqual(groupRuns(runs, ["optimizer.lr"]), [
    { label: "lr=0.1", ids: [1, 3, 5] },
    { label: "lr=0.01", ids: [2, 4] },
  ]);
  assert.deepEqual(groupRuns(runs, ["optimizer.lr", "seed"]).map((g) => g.ids), [[1], [2], [3], [4], [5]]);
  assert.deepEqual(groupRuns(runs.slice(0, 2), []), [{ label: "#1", ids: [1] }, { label: "#2", ids: [2] }]);
});

test("x from another key: the value at the same step, interpolated between steps, null outside", () => {
  const epoch = { step: [0, 100, 200], value: [1, 2, null] };
  assert.deepEqual(xAtSteps([0, 50, 100, 150, 300], epoch), [1, 1.5, 2, null, null]);
  assert.deepEqual(xAtSteps([1], undefined), [null]);
});
