// node --test tests/frontend/: the "Which examples changed" card's pure helpers (which runs, captions, headline).

import assert from "node:assert/strict";
import { test } from "node:test";

import { changeCaption, changeSummary, isBuiltIn } from "../../frontend/js/views/compare/changed.js";

test("only built-in runs store test predictions", () => {
  assert.equal(isBuiltIn({ external: false, command: null }), true);
  assert.equal(isBuiltIn({ external: true, command: null }), false);
  assert.equal(isBuiltIn({ external: false, command: ["python", "train.py"] }), false);
  assert.equal(isBuiltIn(undefined), false);
});

test("a caption reads label → A's prediction (confidence) vs B's", () => {
  assert.equal(changeCaption({ label: "7", pred_a: "1", conf_a: 0.93, pred_b: "7", conf_b: 0.875 }), "7 → 1 (0.93) vs 7 (0.88)");
});

test("the headline counts fixed and broken examples, in the singular for one", () => {
  const diff = { a: 3, b: 4, acc_a: 0.5, acc_b: 0.75, dataset: "mnist", n: 4, fixed: { count: 1 }, broken: { count: 0 } };
  assert.equal(changeSummary(diff), "#3 50.00 % → #4 75.00 % on mnist's 4: B fixes 1 test example A got wrong and breaks 0 test examples A got right");
});
