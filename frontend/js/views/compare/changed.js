// Pure helpers of the "Which examples changed" card (no DOM): which pairs it applies to, and its captions.

/** True for a built-in run (neither a script's run nor a command run): only those store test predictions. */
export function isBuiltIn(run) {
  return Boolean(run) && !run.external && !run.command;
}

/** "7 → 1 (0.93) vs 7 (0.88)": the true label, then run A's prediction and confidence, then run B's. */
export function changeCaption(example) {
  const conf = (v) => Number(v).toFixed(2);
  return `${example.label} → ${example.pred_a} (${conf(example.conf_a)}) vs ${example.pred_b} (${conf(example.conf_b)})`;
}

/** The card's headline: both accuracies and how many examples B fixed and broke. */
export function changeSummary(diff) {
  const pct = (v) => `${(100 * v).toFixed(2)} %`;
  const n = (count) => `${count} test ${count === 1 ? "example" : "examples"}`;
  return `#${diff.a} ${pct(diff.acc_a)} → #${diff.b} ${pct(diff.acc_b)} on ${diff.dataset}'s ${diff.n}: B fixes ${n(diff.fixed.count)} A got wrong and breaks ${n(diff.broken.count)} A got right`;
}
