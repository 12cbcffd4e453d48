"""Dashboard: time until the runs page (1,000 runs) and a run page (four charts of 100,000 points each) are
interactive in headless Chromium, against a real `trainboard api` process.

    .venv/bin/python bench/bench_dashboard.py [--loads 5] [--runs 1000] [--points 100000]

Populated through the API: --runs external runs, and one run with four metric keys of --points points each,
one per chart of the run page (`train_acc` → accuracy, `train_loss` → loss per epoch, `loss` → loss per iteration,
`param_norm` → parameter norm). The page is the real one (`/#/runs`, `/#/runs/{id}`), loaded by navigating a
fresh tab to it; nothing in the page is told it is being measured.

Ready = its content is drawn, checked in the DOM every animation frame: the runs table has its rows and its
"1,000 runs" count; the run page has a drawn Plotly line (an SVG path with data) in each of the four charts.
Interactive = the first moment after that when the main thread runs a task (rAF, then setTimeout 0), so a long
render still counts. All times are `performance.now()` in the page, from navigation start. Each page is loaded
--loads + 1 times in fresh tabs of one browser context: the first load has a cold HTTP cache and is shown apart;
in the others the scripts (app modules, the plotly.js bundle: served with cache headers) come from the HTTP cache,
as for anyone who opened the dashboard before, while every API response is read from the server again (asserted:
the API sends no cache headers, and each load's API entries have a transfer size). The verdict is on the median
of those loads; the spread and the cold load are printed next to it.

Also measured: each plotly.js bundle alone (fetch from the HTTP cache + evaluation, blank page), and a baseline in
the same run: a naive page that fetches the four full series (no max_points) and gives them to the full plotly.js
as they are, timed from the start of its script.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import banner, running_stack  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
CHART_KEYS = {"acc": "train_acc", "loss": "train_loss", "iter_loss": "loss", "param_norm": "param_norm"}
TARGET_MS = 1_500

# Runs in the page from navigation start: resolves with {ready, interactive, longTasks} once `condition` holds.
WAIT_READY = """
async ([condition, timeoutMs]) => {
  const check = new Function(condition);
  const start = performance.now();
  while (!check()) {
    if (performance.now() - start > timeoutMs) throw new Error('not ready after ' + timeoutMs + ' ms');
    await new Promise((r) => requestAnimationFrame(r));
  }
  const ready = performance.now();
  await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  const interactive = performance.now();
  const longTasks = (window.__benchLongTasks || []).reduce((sum, t) => sum + t.duration, 0);
  // Where the time went: when each request of the page started and ended (ids and queries folded), how many
  // bytes came over the network for it (0: from the HTTP cache), and the page's own performance marks.
  const resources = {};
  for (const e of performance.getEntriesByType('resource')) {
    const name = new URL(e.name).pathname.replace(/\\/\\d+/g, '/{id}');
    resources[name] = { start: e.startTime, end: e.responseEnd, transferSize: e.transferSize };
  }
  const marks = {};
  for (const m of performance.getEntriesByType('mark')) marks[m.name] = m.startTime;
  return { ready, interactive, longTasks, resources, marks };
}
"""
RECORD_LONG_TASKS = """
window.__benchLongTasks = [];
try {
  new PerformanceObserver((list) => window.__benchLongTasks.push(...list.getEntries()))
    .observe({ type: 'longtask', buffered: true });
} catch (e) {}
"""
RUNS_READY = """
  const rows = document.querySelectorAll('main tbody tr');
  const total = document.querySelector('[data-testid="runs-total"]');
  return rows.length >= Math.min(50, %d) && total && /%s/.test(total.textContent.replace(/,/g, ''));
"""
RUN_READY = """
  return %s.every((id) => {
    const plot = document.querySelector('.plot[data-chart="' + id + '"]');
    const line = plot && plot.querySelector('.scatterlayer path.js-line');
    return Boolean(line && (line.getAttribute('d') || '').length > 10);
  });
"""
# The baseline: a naive run page on the same origin that fetches the four full series (no max_points) and
# hands them to Plotly as they are. Timed from the start of this script, which loads plotly.js itself.
NAIVE_RUN_PAGE = """
async ([runId, keys]) => {
  const t0 = performance.now();
  await new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = '/vendor/plotly.min.js';
    s.onload = resolve;
    s.onerror = reject;
    document.head.append(s);
  });
  // every point: the API downsamples to 10,000 a key unless asked for more
  const response = await fetch('/api/runs/' + runId + '/metrics?max_points=1000000&keys=' + keys.join(','));
  const data = await response.json();
  await Promise.all(keys.map((key) => {
    const div = document.createElement('div');
    div.style.width = '640px';
    div.style.height = '320px';
    document.body.append(div);
    return Plotly.newPlot(div, [{x: data[key].step, y: data[key].value, type: 'scatter', mode: 'lines'}]);
  }));
  const ready = performance.now() - t0;
  await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  const points = keys.reduce((n, key) => n + data[key].step.length, 0);
  return { ready, interactive: performance.now() - t0, longTasks: 0, points };
}
"""


def populate(url: str, n_runs: int, n_points: int) -> int:
    """n_runs external runs, then one more with four keys of n_points points; returns that run's id."""
    with httpx.Client(base_url=url, timeout=120) as http:
        for i in range(n_runs - 1):
            response = http.post("/api/runs", json={"name": f"bench run {i}", "tags": ["bench"], "external": True})
            response.raise_for_status()
        run = http.post("/api/runs", json={"name": "bench charts", "external": True}).json()
        run_id = run["id"]
        http.headers["X-Trainboard-Lease"] = run["lease"]  # this client plays the run's script
        batch = 10_000  # the API takes up to 10,000 points per request
        for key in CHART_KEYS.values():
            for start in range(0, n_points, batch):
                points = [
                    {"key": key, "step": step, "value": 1.0 / math.sqrt(step + 1) + 0.01 * math.sin(step / 50)}
                    for step in range(start, min(start + batch, n_points))
                ]
                http.post(f"/api/runs/{run_id}/metrics", json={"points": points}).raise_for_status()
        summary = {"best_valid_acc": 0.9, "n_params": 1000}
        http.post(f"/api/runs/{run_id}/status", json={"status": "succeeded", "summary": summary}).raise_for_status()
        assert int(http.get("/api/runs", params={"limit": 1}).headers["X-Total-Count"]) == n_runs
    return run_id


def measure(browser: Any, url: str, condition: str, loads: int, settle_s: float = 0.0) -> list[dict[str, Any]]:
    results = []
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.add_init_script(RECORD_LONG_TASKS)
    try:
        for _ in range(loads + 1):  # +1: the first, cold-cache load
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
            page.goto(url, wait_until="commit")
            result = page.evaluate(WAIT_READY, [condition, 30_000])
            if errors:
                raise RuntimeError(f"{url}: page errors: {errors}")
            cached = [
                name for name, r in result["resources"].items() if name.startswith("/api/") and not r["transferSize"]
            ]
            if cached:
                raise RuntimeError(f"{url}: API responses from the HTTP cache, not the server: {cached}")
            results.append(result)
            page.close()
            time.sleep(settle_s)  # let the API finish what the closed page started
    finally:
        context.close()
    return results


PLOTLY_ALONE = """
async (src) => {
  const t0 = performance.now();
  await new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = resolve;
    s.onerror = reject;
    document.head.append(s);
  });
  return performance.now() - t0;
}
"""
BUNDLES = {
    "basic (run, compare)": "/vendor/plotly-basic-4.1.1.min.js",
    "cartesian (report)": "/vendor/plotly-cartesian-4.1.1.min.js",
    "full (sweep)": "/vendor/plotly.min.js",
}


def measure_plotly(browser: Any, url: str, src: str, loads: int) -> list[float]:
    """Fetch (from the HTTP cache after the first) and evaluate a plotly.js bundle in a blank same-origin page."""
    context = browser.new_context()
    try:
        times = []
        for _ in range(loads + 1):
            page = context.new_page()
            page.goto(f"{url}/api/health")
            times.append(page.evaluate(PLOTLY_ALONE, src))
            page.close()
        return times[1:]
    finally:
        context.close()


def measure_naive(browser: Any, url: str, run_id: int, loads: int, points: int) -> list[dict[str, Any]]:
    results = []
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        for _ in range(loads + 1):
            page = context.new_page()
            page.goto(f"{url}/api/health")
            result = page.evaluate(NAIVE_RUN_PAGE, [run_id, list(CHART_KEYS.values())])
            assert result["points"] == 4 * points, result
            results.append(result)
            page.close()
    finally:
        context.close()
    return results


def breakdown(results: list[dict[str, Any]], resources: list[str], marks: list[str]) -> str:
    """Median ms from navigation start, over the warm loads: each request's start-end, each mark."""
    warm = results[1:]
    parts = []
    for name in resources:
        entries = [r["resources"][name] for r in warm if name in r["resources"]]
        if entries:
            start = statistics.median(e["start"] for e in entries)
            parts.append(f"{name} {start:.0f}-{statistics.median(e['end'] for e in entries):.0f}")
    for name in marks:
        times = [r["marks"][name] for r in warm if name in r["marks"]]
        if times:
            parts.append(f"{name} {statistics.median(times):.0f}")
    return ", ".join(parts)


def report(name: str, results: list[dict[str, Any]], target: bool = True) -> float:
    cold, warm = results[0], results[1:]
    interactive = [r["interactive"] for r in warm]
    median = statistics.median(interactive)
    verdict = f"; target < {TARGET_MS} ms: {'MET' if median < TARGET_MS else 'NOT MET'}" if target else ""
    print(
        f"{name:<40} interactive median {median:5.0f} ms{verdict} (min {min(interactive):.0f}, max "
        f"{max(interactive):.0f}, n={len(warm)}; drawn median {statistics.median(r['ready'] for r in warm):.0f} ms; "
        f"long tasks median {statistics.median(r['longTasks'] for r in warm):.0f} ms); cold-cache first load "
        f"{cold['interactive']:.0f} ms"
    )
    return median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--points", type=int, default=100_000)
    args = parser.parse_args()
    banner(f"dashboard: runs page with {args.runs:,} runs; run page with 4 charts x {args.points:,} points")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp, running_stack(Path(tmp), workers=0) as stack:
        t = time.perf_counter()
        run_id = populate(stack.url, args.runs, args.points)
        print(f"# populated through the API in {time.perf_counter() - t:.1f} s")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                runs_page = measure(browser, f"{stack.url}/#/runs", RUNS_READY % (args.runs, args.runs), args.loads)
                runs_200 = measure(browser, f"{stack.url}/#/runs?limit=200", RUNS_READY % (200, args.runs), args.loads)
                run_page = measure(
                    browser, f"{stack.url}/#/runs/{run_id}", RUN_READY % list(CHART_KEYS), args.loads, settle_s=1.0
                )
                naive = measure_naive(browser, stack.url, run_id, args.loads, args.points)
                plotly_ms = {name: measure_plotly(browser, stack.url, src, args.loads) for name, src in BUNDLES.items()}
            finally:
                browser.close()

    report(f"runs page, {args.runs:,} runs (50 a page)", runs_page)
    report(f"runs page, {args.runs:,} runs, 200 a page", runs_200)
    run_ms = report(f"run page, 4 charts x {args.points:,} points", run_page)
    vendor = sorted({name for r in run_page for name in r["resources"] if name.startswith("/vendor/")})
    print(
        "  run page, median ms from navigation start (request start-end, marks): "
        + breakdown(
            run_page,
            ["/static/js/app.js", "/static/js/views/run/page.js", *vendor, "/api/runs/{id}", "/api/runs/{id}/metrics"],
            ["trainboard:plotly-basic", "trainboard:run-metrics", "trainboard:run-charts"],
        )
    )
    for name, times in plotly_ms.items():
        print(
            f"  plotly.js bundle alone, {name:<21} (cached fetch + evaluation, blank page): median "
            f"{statistics.median(times):.0f} ms (min {min(times):.0f}, max {max(times):.0f})"
        )
    naive_ms = report("baseline: naive page, full series to Plotly", naive, target=False)
    print(f"ratio naive full-series page / run page: {naive_ms / run_ms:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
