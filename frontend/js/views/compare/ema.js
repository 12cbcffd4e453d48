// Exponential moving average for the compare page's smoothing slider. No DOM: tests/frontend/ runs it in Node.

/**
 * TensorBoard's debiased EMA: each point becomes the average of the points so far, weighted by `weight`^age, so
 * the first points are not pulled toward the first value. `weight` 0 returns the values as they are; a missing
 * value (null) stays missing and does not move the average.
 */
export function ema(values, weight) {
  const w = Math.min(Math.max(Number(weight) || 0, 0), 0.999);
  if (w === 0) return [...values];
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (v === null || v === undefined || !Number.isFinite(v)) return null;
    last = last * w + (1 - w) * v;
    n += 1;
    return last / (1 - w ** n);
  });
}
