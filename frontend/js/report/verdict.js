// Whether our runs decide a claim of the report, or noise could: a difference counts only beyond a margin, the
// run-to-run spread where a figure has several seeds per setting, else a stated tolerance. Plain data, no DOM, so
// tests/browser/test_view_helpers.py calls it directly; the report page states the rule (MARGIN_RULE).

/** Accuracy points: the margin when a setting has a single run, so no spread to measure. */
export const TOLERANCE_PP = 1;

export const MARGIN_RULE =
  `A ✓ or ✗ comparing our runs needs a difference beyond a margin: twice the largest standard deviation across seeds where every setting compared has several seeds, otherwise a tolerance of ${TOLERANCE_PP} accuracy point (TOLERANCE_PP). ` +
  "Within the margin the verdict reads “inconclusive at this scale”: noise could decide it, and the full scale should be run.";

/** Mean and sample standard deviation (0 for a single value). */
export function meanStd(values) {
  const xs = values.filter((v) => typeof v === "number" && Number.isFinite(v));
  if (!xs.length) return { mean: null, std: null, n: 0 };
  const mean = xs.reduce((a, v) => a + v, 0) / xs.length;
  const variance = xs.length > 1 ? xs.reduce((a, v) => a + (v - mean) ** 2, 0) / (xs.length - 1) : 0;
  return { mean, std: Math.sqrt(variance), n: xs.length };
}

/**
 * The margin (in the values' unit, e.g. accuracy points) a difference between these groups of runs must exceed,
 * and how it was found: 2 × the largest std when every group has ≥ 2 seeds, else TOLERANCE_PP.
 */
export function margin(groups) {
  const stats = groups.map(meanStd);
  if (stats.length && stats.every((s) => s.n >= 2)) {
    const largest = Math.max(...stats.map((s) => s.std));
    return { pp: 2 * largest, rule: `2 × the largest std across seeds (${Math.min(...stats.map((s) => s.n))}+ seeds per setting)` };
  }
  return { pp: TOLERANCE_PP, rule: `the tolerance of ${TOLERANCE_PP} accuracy point (one run per setting)` };
}

/**
 * A verdict on a claim from how far our runs back it (`support`: positive when they side with the claim, e.g. the
 * error with weight decay minus the error without): true or false beyond the margin, "inconclusive" within it,
 * null when there is no number yet.
 */
export function verdict(support, marginPp) {
  if (typeof support !== "number" || !Number.isFinite(support)) return null;
  if (Math.abs(support) <= marginPp) return "inconclusive";
  return support > 0;
}

/** The words after a verdict's difference: what decided it, or why nothing did. */
export function verdictNote(result, m) {
  if (result === "inconclusive") return `inconclusive at this scale: within the margin of ±${m.pp.toFixed(2)} pp (${m.rule}); run the full scale`;
  if (result === null) return "";
  return `beyond the margin of ±${m.pp.toFixed(2)} pp (${m.rule})`;
}
