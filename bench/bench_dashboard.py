"""Dashboard: time until the runs page (1,000 runs) and a run page (four charts of 100,000 points each) are
interactive in headless Chromium, against a real `trainboard api` process.

    .venv/bin/python bench/bench_dashboard.py [--loads 5] [--runs 1000] [--points 100000]

Populated through the API: --runs external runs, and one run with four metric keys of --points points each,
one per chart of the run page (`train_acc` → accuracy, `train_loss` → loss per epoch, `loss` → loss per iteration,
`param_norm` → parameter norm). The frontend has no readiness flag of its own, so the page counts as ready when
its content is drawn: the runs table has its rows and its "1,000 runs" count; the run page has a drawn Plotly
line in each of the four charts. Interactive = the first moment after that when the main thread runs a task
(rAF, then setTimeout 0), so a long render still counts. All times are `performance.now()` in the page, from
navigation start; each page is loaded --loads times in fresh tabs of one browser (the first load, with a cold
HTTP cache, is shown apart). The baseline, in the same run: a naive page that fetches the four full series
(no max_points) and gives them to Plotly as they are, timed from the start of its script.
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
  // Where the time went: when the page's own API reads and plotly.js arrived.
  const arrived = {};
  for (const e of performance.getEntriesByType('resource')) {
    const name = new URL(e.name).pathname.replace(/\\/\\d+/g, '/{id}');
    arrived[name] = Math.max(arrived[name] || 0, e.responseEnd);
  }
  return { ready, interactive, longTasks, arrived };
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
  const response = await fetch('/api/runs/' + runId + '/metrics?keys=' + keys.join(','));
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
        run_id = http.post("/api/runs", json={"name": "bench charts", "external": True}).json()["id"]
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
            results.append(result)
            page.close()
            time.sleep(settle_s)  # let the API finish what the closed page started (its stream's replay)
    finally:
        context.close()
    return results


PLOTLY_ALONE = """
async () => {
  const t0 = performance.now();
  await new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = '/vendor/plotly.min.js';
    s.onload = resolve;
    s.onerror = reject;
    document.head.append(s);
  });
  return performance.now() - t0;
}
"""


def measure_plotly(browser: Any, url: str, loads: int) -> list[float]:
    """Fetch (from the HTTP cache after the first) and evaluate plotly.min.js in a blank same-origin page."""
    context = browser.new_context()
    try:
        times = []
        for _ in range(loads + 1):
            page = context.new_page()
            page.goto(f"{url}/api/health")
            times.append(page.evaluate(PLOTLY_ALONE))
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


def breakdown(results: list[dict[str, Any]], names: list[str]) -> str:
    """Median arrival time (ms from navigation start) of the named resources over the warm loads."""
    parts = []
    for name in names:
        times = [r["arrived"][name] for r in results[1:] if name in r.get("arrived", {})]
        if times:
            parts.append(f"{name} {statistics.median(times):.0f}")
    return ", ".join(parts)


def replay_cost(url: str, run_id: int) -> tuple[float, int, int]:
    """What `GET /api/runs/{id}/events` from event 0 sends for a finished run: seconds, events, bytes."""
    start = time.perf_counter()
    events = size = 0
    with httpx.Client(base_url=url, timeout=120) as http, http.stream("GET", f"/api/runs/{run_id}/events") as r:
        for line in r.iter_lines():
            size += len(line) + 1
            if line.startswith("event:"):
                events += 1
                if line.strip() == "event: end":
                    break
    return time.perf_counter() - start, events, size


def report(name: str, results: list[dict[str, Any]], target: bool = True) -> float:
    cold, warm = results[0], results[1:]
    interactive = [r["interactive"] for r in warm]
    median = statistics.median(interactive)
    print(
        f"{name:<40} interactive median {median:7.0f} ms, max {max(interactive):7.0f} ms "
        f"(content drawn median {statistics.median(r['ready'] for r in warm):.0f} ms; long tasks median "
        f"{statistics.median(r['longTasks'] for r in warm):.0f} ms; n={len(warm)}); cold first load "
        f"{cold['interactive']:.0f} ms"
        + (f"; target < {TARGET_MS} ms: {'MET' if max(interactive) < TARGET_MS else 'NOT MET'}" if target else "")
    )
    return median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loads", type=int, default=3)
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
                    browser, f"{stack.url}/#/runs/{run_id}", RUN_READY % list(CHART_KEYS), args.loads, settle_s=3.0
                )
                naive = measure_naive(browser, stack.url, run_id, args.loads, args.points)
                plotly_ms = measure_plotly(browser, stack.url, args.loads)
            finally:
                browser.close()
        replay_s, replay_events, replay_bytes = replay_cost(stack.url, run_id)

    report(f"runs page, {args.runs:,} runs (50 a page)", runs_page)
    report(f"runs page, {args.runs:,} runs, 200 a page", runs_200)
    run_ms = report(f"run page, 4 charts x {args.points:,} points", run_page)
    print(
        "  run page, median ms from navigation start when each arrived: "
        + breakdown(
            run_page, ["/static/js/app.js", "/api/runs/{id}", "/api/runs/{id}/metrics", "/vendor/plotly.min.js"]
        )
    )
    print(
        f"  plotly.min.js alone (cached fetch + evaluation), blank page: median {statistics.median(plotly_ms):.0f} ms"
    )
    print(
        f"  then its live stream replays the run's history from event 0 (RunOut has no event_seq): "
        f"{replay_events} events, {replay_bytes / 1e6:.1f} MB, {replay_s * 1000:.0f} ms of API time per page view"
    )
    naive_ms = report("baseline: naive page, full series to Plotly", naive, target=False)
    print(f"ratio naive full-series page / run page: {naive_ms / run_ms:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
