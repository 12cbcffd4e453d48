"""Compare fairly: runs grouped by config keys into mean ± std bands (live), EMA smoothing, log y, another key on
x, a config/summary scatter and the hyperparameters' importance (GET /api/importance) on the compare and sweep pages.

Six script runs (2 learning rates × 3 seeds) are fed through the API with known curves: at step s a run's `score` is
base(lr) + 0.01 · seed · s, so each lr group's mean is base + 0.02 · s and its std 0.01 · s · √(2/3)."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import screenshot
from tests.utils.stack import Stack, api_only_stack

pytestmark = pytest.mark.browser

stack = api_only_stack("compare")

BASE = {0.01: 0.5, 0.1: 0.8}
STD = math.sqrt(2 / 3)


def score(lr: float, seed: int, step: int) -> float:
    return BASE[lr] + 0.01 * seed * step


def seeded_run(api: httpx.Client, lr: float, seed: int, last_step: int) -> int:
    reply = api.post(
        "/runs", json={"external": True, "name": f"lr{lr} s{seed}", "config": {"optimizer": {"lr": lr}, "seed": seed}}
    )
    assert reply.status_code == 201, reply.text
    run_id = int(reply.json()["id"])
    post_steps(api, run_id, lr, seed, range(1, last_step + 1))
    return run_id


def post_steps(api: httpx.Client, run_id: int, lr: float, seed: int, steps: range) -> None:
    points = [{"key": "score", "step": s, "value": score(lr, seed, s)} for s in steps]
    points += [{"key": "epoch", "step": s, "value": s / 2} for s in steps]
    reply = api.post(f"/runs/{run_id}/metrics", json={"points": points})
    assert reply.status_code == 200, reply.text


def finish(api: httpx.Client, run_id: int, lr: float, seed: int) -> None:
    summary = {"best_valid_acc": BASE[lr] + 0.001 * seed}
    reply = api.post(f"/runs/{run_id}/status", json={"status": "succeeded", "summary": summary})
    assert reply.status_code == 200, reply.text


TRACES_JS = """(c) => (document.querySelector(`[data-chart=${c}]`)?.data || []).map((t) => ({
  name: t.name, x: Array.from(t.x || []), y: Array.from(t.y || []), meta: t.meta ?? null, text: t.text ?? null,
  showlegend: t.showlegend }))"""
GROUP_MEANS_JS = "(document.querySelector('[data-chart=compare]')?.data || []).filter((t) => t.meta && t.meta.n)"


def traces(page: Page, chart: str) -> list[dict[str, Any]]:
    return list(page.evaluate(TRACES_JS, chart))


def means(page: Page) -> dict[str, dict[str, Any]]:
    """The group mean traces by name, once drawn."""
    return {t["name"]: t for t in traces(page, "compare") if isinstance(t["meta"], dict) and "n" in t["meta"]}


def band(page: Page, name: str, sign: str) -> list[float]:
    return next(t["y"] for t in traces(page, "compare") if t["name"] == f"{name} {sign}std")


def wait_groups(page: Page, count: int) -> None:
    page.wait_for_function(
        f"(n) => {GROUP_MEANS_JS}.length === n",
        arg=count,
    )


def test_groups_show_mean_and_std_bands_live_with_smoothing_scatter_and_importance(
    page: Page, stack: Stack, api: httpx.Client
) -> None:
    runs = {(lr, seed): seeded_run(api, lr, seed, 5) for lr in BASE for seed in (1, 2, 3) if (lr, seed) != (0.1, 3)}
    runs[(0.1, 3)] = seeded_run(api, 0.1, 3, 4)  # still training: one step behind
    for (lr, seed), run_id in runs.items():
        if (lr, seed) != (0.1, 3):
            finish(api, run_id, lr, seed)
    ids = ",".join(str(runs[k]) for k in sorted(runs))
    page.goto(f"{stack.url}/#/compare?ids={ids}&metric=score")
    page.wait_for_function("() => (document.querySelector('[data-chart=compare]')?.data || []).length === 6")

    page.check('[data-testid=group-by] input[value="optimizer.lr"]')
    wait_groups(page, 2)
    found = means(page)
    assert sorted(found) == ["lr=0.01 (n=3)", "lr=0.1 (n=3)"]
    legend = page.locator("[data-chart=compare] .legendtext")
    expect(legend).to_have_count(2)
    for text in legend.all_text_contents():
        assert "n=3" in text
    for lr in BASE:
        name = f"lr={lr} (n=3)"
        mean = found[name]
        assert mean["x"] == [1, 2, 3, 4, 5]
        at3 = mean["x"].index(3)
        assert mean["y"][at3] == pytest.approx(BASE[lr] + 0.06)
        assert band(page, name, "+")[at3] - mean["y"][at3] == pytest.approx(0.03 * STD)
        assert mean["y"][at3] - band(page, name, "−")[at3] == pytest.approx(0.03 * STD)
    # step 5 of lr=0.1: two runs so far (seeds 1 and 2)
    assert found["lr=0.1 (n=3)"]["y"][4] == pytest.approx(0.8 + 0.01 * 1.5 * 5)
    assert "group=optimizer.lr" in page.url
    expect(page.locator('[data-testid="compare-count"]')).to_contain_text("2 groups")

    # live: the running seed logs step 5 and finishes; the group's mean there moves to all three seeds
    post_steps(api, runs[(0.1, 3)], 0.1, 3, range(5, 6))
    finish(api, runs[(0.1, 3)], 0.1, 3)
    page.wait_for_function(
        f"(want) => {{ const t = {GROUP_MEANS_JS}.find((d) => d.name === 'lr=0.1 (n=3)');"
        " return t && Math.abs(t.y[4] - want) < 1e-9; }",
        arg=0.8 + 0.02 * 5,
    )

    # everything but the seed: the same two groups
    page.uncheck('[data-testid=group-by] input[value="optimizer.lr"]')
    wait_groups(page, 0)
    page.check('[data-testid=group-by] input[value="~seed"]')
    wait_groups(page, 2)
    assert sorted(means(page)) == ["lr=0.01 (n=3)", "lr=0.1 (n=3)"]

    # EMA: the mean is smoothed, the raw mean stays behind it, faint
    raw_before = means(page)["lr=0.1 (n=3)"]["y"]
    page.locator('input[name="smoothing"]').fill("0.8")
    page.wait_for_function(
        "() => (document.querySelector('[data-chart=compare]').data || []).some((t) => t.name === 'lr=0.1 (n=3) (raw)')"
    )
    smoothed = means(page)["lr=0.1 (n=3)"]["y"]
    faint = next(t for t in traces(page, "compare") if t["name"] == "lr=0.1 (n=3) (raw)")
    assert faint["y"] == pytest.approx(raw_before) and faint["showlegend"] is False
    assert smoothed[0] == pytest.approx(raw_before[0])
    assert smoothed[4] < raw_before[4] - 0.01  # a rising line smoothed lags behind it
    assert "smooth=0.8" in page.url

    # log y and another key on x
    page.check('input[name="logy"]')
    page.wait_for_function("() => document.querySelector('[data-chart=compare]').layout.yaxis.type === 'log'")
    page.select_option('select[name="x"]', "epoch")
    page.wait_for_function("() => document.querySelector('[data-chart=compare]').layout.xaxis.title.text === 'epoch'")
    wait_groups(page, 2)
    assert means(page)["lr=0.1 (n=3)"]["x"] == [0.5, 1, 1.5, 2, 2.5]

    # scatter: one point per run, its name on hover
    page.select_option('select[name="scatter-x"]', "config.seed")
    page.select_option('select[name="scatter-y"]', "summary.best_valid_acc")
    page.wait_for_function("() => document.querySelector('[data-chart=compare-scatter]')?.data?.[0]?.x.length === 6")
    points = traces(page, "compare-scatter")[0]
    assert sorted(points["x"]) == [1, 1, 2, 2, 3, 3]
    assert f"#{runs[(0.1, 2)]} lr0.1 s2" in points["text"]

    # importance: the learning rate decides the accuracy, the seed hardly
    page.wait_for_function("() => document.querySelector('[data-chart=compare-importance]')?.data?.[0]?.y.length === 2")
    bars = traces(page, "compare-importance")[0]
    weights = dict(zip(bars["y"], bars["x"], strict=True))
    assert max(weights, key=weights.__getitem__) == "optimizer.lr"
    assert weights["optimizer.lr"] > 0.5
    screenshot(page, "compare_groups")


def test_a_sweep_shows_the_importance_of_its_grid_keys(page: Page, stack: Stack, api: httpx.Client) -> None:
    base = {"name": "imp", "dataset": "mnist", "model": {"arch": "mlp", "hidden": [8]}, "epochs": 1, "limit_train": 64}
    reply = api.post(
        "/sweeps", json={"name": "imp", "base": base, "grid": {"optimizer.lr": [0.01, 0.1], "batch_size": [16, 32]}}
    )
    assert reply.status_code == 201, reply.text
    sweep = reply.json()
    page.goto(f"{stack.url}/#/sweeps/{sweep['id']}")
    card = page.locator("[data-chart-card=sweep-importance]")
    for run_id in sweep["runs"]:
        run = api.get(f"/runs/{run_id}").json()
        claim = api.post(f"/runs/{run_id}/claim", json={"worker": "w@test"})
        assert claim.status_code == 200, claim.text
        acc = 0.9 if run["config"]["optimizer"]["lr"] == 0.1 else 0.4
        acc += 0.001 * run["config"]["batch_size"] / 16
        reply = api.post(f"/runs/{run_id}/status", json={"status": "succeeded", "summary": {"best_valid_acc": acc}})
        assert reply.status_code == 200, reply.text
    expect(card).to_be_visible(timeout=20_000)
    page.wait_for_function(
        "() => document.querySelector('[data-chart=sweep-importance]')?.data?.[0]?.y.length === 2", timeout=20_000
    )
    bars = traces(page, "sweep-importance")[0]
    assert bars["y"][-1] == "optimizer.lr"  # the largest bar is drawn at the top
    screenshot(page, "sweep_importance")
