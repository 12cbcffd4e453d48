// The launch form's search settings (grid, random or tpe; budget, parallel, metric, goal, ranges) and how they turn
// the form's request into a sweep. No DOM, so tests/browser/test_view_helpers.py can call them directly.

export const METHODS = { grid: "Grid (every combination)", random: "Random search", tpe: "TPE (Optuna: learns from the runs)" };
export const MAX_RUNS = 256; // the API's cap on a sweep's runs

export function defaultSearch() {
  return { method: "grid", n: "10", parallel: "", metric: "valid_acc", goal: "maximize", ranges: [] };
}

/** Settings saved in the session: the known fields of the right kinds; anything else keeps its default. */
export function restoredSearch(saved) {
  const search = defaultSearch();
  if (!saved || typeof saved !== "object") return search;
  if (METHODS[saved.method]) search.method = saved.method;
  for (const key of ["n", "parallel", "metric"]) if (typeof saved[key] === "string") search[key] = saved[key];
  if (saved.goal === "minimize") search.goal = "minimize";
  if (Array.isArray(saved.ranges)) {
    search.ranges = saved.ranges
      .filter((r) => r && typeof r === "object")
      .map((r) => ({ key: String(r.key ?? ""), min: String(r.min ?? ""), max: String(r.max ?? ""), log: Boolean(r.log), integer: Boolean(r.integer) }));
  }
  return search;
}

/** A new range row: a key to draw, its low and high bound, log scale, integers only. */
export function newRange(key = "") {
  return { key, min: "", max: "", log: false, integer: false };
}

const isInt = (text) => /^\s*\d+\s*$/.test(String(text));
const number = (text) => (String(text).trim() === "" ? NaN : Number(text));

/** Every problem of the search settings, in words naming the value. */
export function searchProblems(search, { hasGrid }) {
  const problems = [];
  const learning = search.method !== "grid";
  if (learning && !(isInt(search.n) && Number(search.n) >= 1 && Number(search.n) <= MAX_RUNS)) {
    problems.push(`runs: '${search.n}' is not a whole number from 1 to ${MAX_RUNS}`);
  }
  if (String(search.parallel).trim() !== "" && !(isInt(search.parallel) && Number(search.parallel) >= 1)) {
    problems.push(`at most at once: '${search.parallel}' is not a whole number ≥ 1 (blank: all at once)`);
  }
  if (learning && !String(search.metric).trim()) problems.push("metric: give the key the runs report (e.g. valid_acc)");
  if (!learning) return problems;
  for (const range of search.ranges) {
    const name = range.key.trim() || "a range";
    const [lo, hi] = [number(range.min), number(range.max)];
    if (!range.key.trim()) problems.push("a range has no key: name the config key it draws (e.g. optimizer.lr)");
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) problems.push(`${name}: low and high must be numbers`);
    else if (hi < lo) problems.push(`${name}: high (${hi}) is below low (${lo})`);
    else if (range.log && lo <= 0) problems.push(`${name}: a log scale needs low > 0`);
  }
  if (!search.ranges.length && !hasGrid) problems.push("nothing to search: add a range, or give a field several values");
  return problems;
}

/** The form's request ({kind, body}) with the search settings: a sweep whenever the search is random or tpe. */
export function withSearch(request, search) {
  const parallel = String(search.parallel).trim() === "" ? null : Number(search.parallel);
  if (search.method === "grid") {
    if (request.kind !== "sweep" || parallel === null) return request;
    return { kind: "sweep", body: { ...request.body, parallel } };
  }
  const sweep = request.kind === "sweep" ? { ...request.body, grid: { ...request.body.grid } } : fromRun(request.body);
  for (const range of search.ranges) {
    if (!range.key.trim()) continue;
    sweep.grid[range.key.trim()] = { min: Number(range.min), max: Number(range.max), log: range.log, integer: range.integer };
  }
  Object.assign(sweep, { method: search.method, n: Number(search.n), metric: search.metric.trim(), goal: search.goal });
  if (parallel !== null) sweep.parallel = parallel;
  return { kind: "sweep", body: sweep };
}

function fromRun(body) {
  const base = { ...body };
  const name = base.name || "sweep";
  delete base.name; // each run of a sweep is named after the sweep and its values
  return { name, base, grid: {} };
}

/** "20 runs, 4 at once" for the run count, or null for a grid (its count is the product). */
export function searchCount(search) {
  if (search.method === "grid") return null;
  return { n: Number(search.n) || 0, factors: [`${METHODS[search.method].split(" (")[0].toLowerCase()}`] };
}
