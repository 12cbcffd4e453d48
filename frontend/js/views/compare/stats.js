// A group's curve: the members' series aligned by step, their mean, standard deviation and count at each step.
// No DOM: tests/frontend/ runs it in Node.

const present = (v) => v !== null && v !== undefined && Number.isFinite(v);

/**
 * members: [{step: [...], value: [...], x?: [...]}]. Returns {step, mean, std, count, x}: one entry per step where
 * at least one member has a value, in step order; `std` is the population standard deviation of the values there
 * (0 for one value), `count` how many members have one, and `x` the mean of their `x` (when the members carry an
 * x per point: another logged key such as epoch or wall time), else the step.
 */
export function alignedMeanStd(members) {
  const at = new Map(); // step -> {values, xs}
  for (const member of members) {
    member.step.forEach((step, i) => {
      const value = member.value[i];
      const x = member.x ? member.x[i] : step;
      if (!present(value) || !present(x)) return;
      if (!at.has(step)) at.set(step, { values: [], xs: [] });
      at.get(step).values.push(value);
      at.get(step).xs.push(x);
    });
  }
  const out = { step: [], mean: [], std: [], count: [], x: [] };
  for (const step of [...at.keys()].sort((a, b) => a - b)) {
    const { values, xs } = at.get(step);
    const mean = average(values);
    out.step.push(step);
    out.mean.push(mean);
    out.std.push(Math.sqrt(average(values.map((v) => (v - mean) ** 2))));
    out.count.push(values.length);
    out.x.push(average(xs));
  }
  return out;
}

function average(values) {
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

/**
 * The x value at each of `steps` read from another logged key's series (both in step order): its value at the same
 * step, or interpolated between its two neighbouring steps; null before its first step, after its last or next to
 * a missing value (the run page's rule for "x axis: another key").
 */
export function xAtSteps(steps, xSeries) {
  const xs = xSeries ? xSeries.step : [];
  let j = 0;
  return steps.map((s) => {
    while (j < xs.length && xs[j] < s) j++;
    if (j === xs.length) return null;
    if (xs[j] === s) return present(xSeries.value[j]) ? xSeries.value[j] : null;
    if (j === 0) return null;
    const [x0, x1] = [xSeries.value[j - 1], xSeries.value[j]];
    if (!present(x0) || !present(x1)) return null;
    return x0 + ((x1 - x0) * (s - xs[j - 1])) / (xs[j] - xs[j - 1]);
  });
}
