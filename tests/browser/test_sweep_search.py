"""Sweeps that learn, in the browser: a random search and a TPE sweep launched from the Launch form (ranges, log
scale, budget, at most N at once, metric and goal), and the sweep page's best-so-far curve, its "Rank by" select
over the runs' own summary keys, and "Add runs".

The sweeps' runs are external (the test plays their script through the API), on an API with no worker.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import screenshot
from tests.browser.test_command_launch import record_launches
from tests.browser.test_sweeps_report import chart_data, claim, status, wait_traces
from tests.browser.test_view_helpers import _run
from tests.utils.stack import Stack, api_only_stack

pytestmark = pytest.mark.browser  # needs Chromium: the `chromium` fixture of conftest.py

BASE = {"external": True, "dataset": "mnist", "model": {"arch": "mlp", "hidden": [16]}, "epochs": 2}

stack = api_only_stack("sweep-search")


def open_search(page: Page, stack: Stack, method: str) -> None:
    page.goto(f"{stack.url}/#/launch")
    page.check('input[name="external"]')
    page.check('input[name="grid-mode"]')
    page.select_option('select[name="search-method"]', method)


def add_range(page: Page, key: str, low: str, high: str, *, log: bool = False) -> None:
    page.click('[data-testid="add-range"]')
    row = page.locator('[data-testid="range-row"]').last
    row.locator('[name="range-key"]').fill(key)
    row.locator('[name="range-min"]').fill(low)
    row.locator('[name="range-max"]').fill(high)
    if log:
        row.locator('[name="range-log"]').check()


def test_a_random_search_with_a_log_range_is_launched_from_the_form(
    page: Page, stack: Stack, api: httpx.Client
) -> None:
    sent = record_launches(page)
    open_search(page, stack, "random")
    page.fill('[name="search-n"]', "6")
    page.fill('[name="search-parallel"]', "2")
    launch = page.locator('[data-testid="launch"]')
    add_range(page, "optimizer.lr", "0.1", "0.0001", log=True)
    expect(page.locator('[data-testid="search-problems"]')).to_contain_text("optimizer.lr: high (0.0001) is below low")
    expect(launch).to_be_disabled()
    row = page.locator('[data-testid="range-row"]').last
    row.locator('[name="range-min"]').fill("0.0001")
    row.locator('[name="range-max"]').fill("0.1")
    expect(launch).to_have_text("Launch 6 runs")
    expect(page.locator('[data-testid="run-count"]')).to_contain_text("at most 2 at once")
    page.reload()  # the search settings are kept for the session, as the fields are
    expect(page.locator('select[name="search-method"]')).to_have_value("random")
    expect(page.locator('[name="range-key"]')).to_have_value("optimizer.lr")
    expect(page.locator('[name="range-log"]')).to_be_checked()
    expect(launch).to_have_text("Launch 6 runs")
    screenshot(page, "launch_random_search")
    launch.click()
    expect(page).to_have_url(re.compile(r"sweep_id=\d+"))
    expect(page.locator(".toast").last).to_contain_text("launched: 6 runs, 2 started now")
    kind, body = sent[-1]
    assert kind == "sweeps"
    assert body["method"] == "random" and body["n"] == 6 and body["parallel"] == 2
    assert body["grid"] == {"optimizer.lr": {"min": 0.0001, "max": 0.1, "log": True, "integer": False}}
    sweep = api.get("/sweeps").json()[0]
    assert len(sweep["runs"]) == 2  # two at once; the rest as they end
    lrs = [api.get(f"/runs/{r}").json()["config"]["optimizer"]["lr"] for r in sweep["runs"]]
    assert all(0.0001 <= lr <= 0.1 for lr in lrs)


def test_a_tpe_sweep_is_launched_from_the_form_with_its_metric_and_goal(
    page: Page, stack: Stack, api: httpx.Client
) -> None:
    sent = record_launches(page)
    open_search(page, stack, "tpe")
    page.fill('[name="search-n"]', "5")
    page.fill('[name="search-metric"]', "loss")
    page.select_option('select[name="search-goal"]', "minimize")
    add_range(page, "batch_size", "8", "128", log=True)
    page.locator('[data-testid="range-row"]').last.locator('[name="range-integer"]').check()
    page.locator('[data-testid="launch"]').click()
    expect(page).to_have_url(re.compile(r"sweep_id=\d+"))
    _, body = sent[-1]
    assert (body["method"], body["n"], body["metric"], body["goal"]) == ("tpe", 5, "loss", "minimize")
    assert body["grid"]["batch_size"] == {"min": 8, "max": 128, "log": True, "integer": True}
    sweep = api.get("/sweeps").json()[0]
    sizes = [api.get(f"/runs/{r}").json()["config"]["batch_size"] for r in sweep["runs"]]
    assert len(sizes) == 5 and all(isinstance(b, int) and 8 <= b <= 128 for b in sizes)


def finish(api: httpx.Client, run_id: int, summary: dict[str, Any]) -> None:
    claim(api, run_id, "script@test")
    status(api, run_id, status="succeeded", summary=summary)


def test_sweep_page_best_so_far_rank_by_a_summary_key_and_add_runs(page: Page, stack: Stack, api: httpx.Client) -> None:
    body = {
        "name": "learning",
        "base": BASE,
        "method": "tpe",
        "n": 4,
        "parallel": 2,
        "metric": "loss",
        "goal": "minimize",
        "grid": {"optimizer.lr": {"min": 0.001, "max": 0.1, "log": True}},
    }
    sweep = api.post("/sweeps", json=body).json()
    losses = [0.9, 0.5, 0.7, 0.6]  # in the order the runs finish: best so far 0.9, 0.5, 0.5, 0.5
    accs = {0.9: 0.2, 0.5: 0.3, 0.7: 0.95, 0.6: 0.4}  # the script's own key: the 0.7 run is its best
    finished: dict[float, int] = {}
    for loss in losses:
        open_ids = [
            r["run_id"] for r in api.get(f"/sweeps/{sweep['id']}").json()["results"] if r["status"] == "running"
        ]
        run_id = min(open_ids)
        finish(api, run_id, {"loss": loss, "my_acc": accs[loss]})
        finished[loss] = run_id

    page.goto(f"{stack.url}/#/sweeps/{sweep['id']}")
    rows = page.locator('[data-testid="results-table"] tbody tr')
    expect(rows).to_have_count(4)
    best = page.locator('[data-testid="results-table"] tr[data-best="true"]')
    expect(best).to_have_attribute("data-run-id", str(finished[0.5]))  # lowest loss
    wait_traces(page, "best-so-far", 2)
    best_line = page.evaluate("document.querySelector('[data-chart=\"best-so-far\"]').data[1].y")
    assert best_line == [0.9, 0.5, 0.5, 0.5]

    rank = page.locator('[data-testid="rank-by"]')
    expect(rank.locator("option")).to_have_text(["loss (the sweep's metric)", "summary.loss", "summary.my_acc"])
    rank.select_option("summary.my_acc")
    expect(page.locator('[data-testid="rank-goal"]')).to_have_value("maximize")
    expect(best).to_have_attribute("data-run-id", str(finished[0.7]))
    expect(rows.first.locator('td[data-col="rank_value"]')).to_have_text("95")  # an accuracy, in %
    expect(page.locator('[data-chart-card="heatmap"] h3')).to_have_text("my_acc (%)")
    assert "rank=summary.my_acc" in page.url
    wait_traces(page, "best-so-far", 2)
    page.wait_for_function(
        "() => JSON.stringify(document.querySelector('[data-chart=\"best-so-far\"]').data[1].y)"
        " === JSON.stringify([20, 30, 95, 95])"
    )
    assert chart_data(page, "parcoords")[0]["dims"][-1]["label"] == "my_acc (%)"
    screenshot(page, "sweep_rank_by_summary_key")

    page.fill('[data-testid="add-runs-input"]', "2")
    page.click('[data-testid="add-runs"]')
    expect(rows).to_have_count(6)  # n 4 → 6, two at once
    assert api.get(f"/sweeps/{sweep['id']}").json()["spec"]["n"] == 6


def test_search_settings_and_ranking_helpers(page: Page, stack: Stack) -> None:
    search = "{method: 'tpe', n: '8', parallel: '', metric: 'loss', goal: 'minimize', ranges: RANGES}"
    ranges = "[{key: 'lr', min: '0.001', max: '1', log: true, integer: false}]"
    request = "{kind: 'run', body: {name: 'mine', command: ['python', 't.py'], config: {lr: 0.1}}}"
    built = _run(page, stack, "views/launch/search.js", f"m.withSearch({request}, {search.replace('RANGES', ranges)})")
    assert built == {
        "kind": "sweep",
        "body": {
            "name": "mine",
            "base": {"command": ["python", "t.py"], "config": {"lr": 0.1}},
            "grid": {"lr": {"min": 0.001, "max": 1, "log": True, "integer": False}},
            "method": "tpe",
            "n": 8,
            "metric": "loss",
            "goal": "minimize",
        },
    }
    grid = _run(page, stack, "views/launch/search.js", "m.withSearch({kind: 'run', body: {a: 1}}, m.defaultSearch())")
    assert grid == {"kind": "run", "body": {"a": 1}}  # a grid of one value: one run, as before
    bad = "{method: 'random', n: '0', parallel: 'x', metric: 'm', goal: 'maximize', ranges: [{key: 'lr', min: '0', max: '1', log: true, integer: false}]}"  # noqa: E501
    assert _run(page, stack, "views/launch/search.js", f"m.searchProblems({bad}, {{hasGrid: false}})") == [
        "runs: '0' is not a whole number from 1 to 256",
        "at most at once: 'x' is not a whole number ≥ 1 (blank: all at once)",
        "lr: a log scale needs low > 0",
    ]
    empty = "{method: 'tpe', n: '3', parallel: '', metric: 'm', goal: 'maximize', ranges: []}"
    assert _run(page, stack, "views/launch/search.js", f"m.searchProblems({empty}, {{hasGrid: false}})") == [
        "nothing to search: add a range, or give a field several values"
    ]

    rows = (
        "[{run_id: 1, status: 'succeeded', finished_at: '2026-01-01T00:00:03Z', score: 0.5, summary: {f1: 0.2}},"
        " {run_id: 2, status: 'succeeded', finished_at: '2026-01-01T00:00:01Z', score: 0.9, summary: {}},"
        " {run_id: 3, status: 'running', finished_at: null, score: 0.1, summary: {f1: 0.7}},"
        " {run_id: 4, status: 'failed', finished_at: '2026-01-01T00:00:02Z', score: null, summary: {f1: 0.4}}]"
    )
    sweep = "{metric: 'loss', goal: 'minimize', summary_keys: ['f1']}"
    best = _run(page, stack, "views/sweep/ranking.js", f"m.bestSoFar({rows}, m.rankMetric({sweep}))")
    assert best == {"trial": [1, 2], "value": [0.9, 0.5], "best": [0.9, 0.5], "runIds": [2, 1]}  # finished order
    ranked = _run(
        page,
        stack,
        "views/sweep/ranking.js",
        f"m.rankedRows({rows}, m.rankMetric({sweep}, 'summary.f1', 'maximize')).map((r) => [r.run_id, r.best])",
    )
    assert ranked == [[3, True], [4, False], [1, False], [2, False]]  # no f1: last
